"""Offline MiniLM embeddings: shape, determinism, meaning, padding, truncation, sha256, chroma."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings

from copilot.errors import ConfigError
from copilot.knowledge.embedding import (
    CHROMA_NAME,
    DIMENSION,
    MODEL_SHA256,
    ChromaEmbedding,
    MiniLMEmbedder,
    default_model_path,
    embedding_throughput,
    shared_embedder,
)

RUNBOOKS = {
    "crashloop": "Pod in CrashLoopBackOff: inspect the container logs and the last exit code, "
    "check for OOMKilled, then roll back the deployment if the crash began after a release.",
    "disk": "Node disk pressure: find large files in /var/log, prune unused images and "
    "expand the volume if usage stays above ninety percent.",
    "tls": "TLS certificate expiring: renew the certificate with cert-manager and confirm "
    "the ingress serves the new chain before the old one expires.",
    "replication": "Postgres replication lag: check the replica's WAL replay position and "
    "network throughput; fail over only after the lag is back under one second.",
    "latency": "High HTTP latency on checkout: compare p99 latency by endpoint, look for "
    "slow database queries and scale out the service if CPU is saturated.",
}


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return shared_embedder()


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_shape_dtype_and_unit_norm(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed(["the pod keeps restarting", "", "disk full"])
    assert vectors.shape == (3, DIMENSION)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, DIMENSION)


def test_deterministic_and_order_preserved(embedder: MiniLMEmbedder) -> None:
    texts = [*RUNBOOKS.values(), "short", "a somewhat longer query about pods"]
    first = embedder.embed(texts, batch_size=2)
    again = embedder.embed(texts, batch_size=32)
    singles = np.stack([embedder.embed([t])[0] for t in texts])
    np.testing.assert_allclose(first, again, atol=1e-5)
    np.testing.assert_allclose(first, singles, atol=1e-5)


def test_semantic_sanity(embedder: MiniLMEmbedder) -> None:
    query, near, far = embedder.embed(
        [
            "the pod keeps restarting",
            "container in CrashLoopBackOff",
            "TLS certificate expires soon",
        ]
    )
    assert cos(query, near) > cos(query, far)


@pytest.mark.parametrize(
    ("alert", "expected"),
    [
        ("KubePodCrashLooping", "crashloop"),
        ("NodeFilesystemAlmostFull disk space", "disk"),
        ("CertificateExpiringSoon", "tls"),
        ("PostgresReplicationLagHigh", "replication"),
        ("CheckoutHighLatencyP99", "latency"),
    ],
)
def test_alert_name_nearest_to_its_runbook(
    embedder: MiniLMEmbedder, alert: str, expected: str
) -> None:
    names = list(RUNBOOKS)
    docs = embedder.embed(list(RUNBOOKS.values()))
    (query,) = embedder.embed([alert])
    assert names[int(np.argmax(docs @ query))] == expected


def test_padding_invariance(embedder: MiniLMEmbedder) -> None:
    short = "disk is full on the node"
    long = " ".join(f"log line {i}: connection reset by peer on upstream" for i in range(40))
    alone = embedder.embed([short])[0]
    batched = embedder.embed([long, short, long])[1]
    assert cos(alone, batched) >= 0.9999


def test_truncation_of_a_very_long_text(embedder: MiniLMEmbedder) -> None:
    head = "certificate renewal failed for the ingress controller " * 40
    very_long = head + "completely unrelated tail about databases " * 5000
    vectors = embedder.embed([very_long, head])
    assert vectors.shape == (2, DIMENSION)
    assert np.all(np.isfinite(vectors))
    # only the first 256 tokens count: the tail never reaches the model
    assert cos(vectors[0], vectors[1]) >= 0.9999


def test_tampered_model_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "model.onnx"
    shutil.copyfile(default_model_path(), copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    tampered = MiniLMEmbedder(copy)  # lazy: nothing is read yet
    with pytest.raises(ConfigError) as info:
        tampered.embed(["hello"])
    message = info.value.message
    assert str(copy) in message and MODEL_SHA256 in message
    assert "expected" in message and info.value.hint


def test_untampered_copy_loads(tmp_path: Path) -> None:
    copy = tmp_path / "model.onnx"
    shutil.copyfile(default_model_path(), copy)
    assert MiniLMEmbedder(copy).embed(["hello"]).shape == (1, DIMENSION)


def test_missing_model_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        MiniLMEmbedder(tmp_path / "absent.onnx").embed(["hello"])


def test_embed_rejects_a_bare_string(embedder: MiniLMEmbedder) -> None:
    with pytest.raises(TypeError):
        embedder.embed("not a list")


def test_chroma_collection_round_trip_offline(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    settings = Settings(anonymized_telemetry=False)
    ef = ChromaEmbedding(embedder)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        client = chromadb.PersistentClient(path=str(tmp_path), settings=settings)
        collection = client.create_collection("runbooks", embedding_function=ef)
        collection.add(ids=list(RUNBOOKS), documents=list(RUNBOOKS.values()))
        found = collection.query(query_texts=["pod restarting over and over"], n_results=2)
    assert found["ids"][0][0] == "crashloop"

    reopened = chromadb.PersistentClient(path=str(tmp_path), settings=settings)
    # with our function passed explicitly
    again = reopened.get_collection("runbooks", embedding_function=ChromaEmbedding(embedder))
    assert again.query(query_texts=["certificate about to expire"], n_results=1)["ids"][0] == [
        "tls"
    ]
    # and rebuilt by chroma from the persisted config (our registered name), not its default
    rebuilt = reopened.get_collection("runbooks")
    assert rebuilt.configuration["embedding_function"].name() == CHROMA_NAME
    assert rebuilt.query(query_texts=["replica is behind the primary"], n_results=1)["ids"][0] == [
        "replication"
    ]


def test_throughput_measures(embedder: MiniLMEmbedder) -> None:
    assert embedding_throughput(8, embedder) > 0


def test_batches_cover_every_row_once_within_the_token_budget():
    from copilot.knowledge.embedding import TOKENS_PER_BATCH, _batches

    widths = sorted([3] * 700 + [40] * 90 + [200] * 9 + [256] * 5 + [2000])
    slices = _batches(widths, max_rows=64)
    rows = [i for s in slices for i in range(s.start, s.stop)]
    assert rows == list(range(len(widths)))  # contiguous, in order, nothing twice
    for s in slices:
        n, width = s.stop - s.start, widths[s.stop - 1]
        assert n <= 64
        assert n == 1 or n * width <= TOKENS_PER_BATCH  # an over-wide text goes alone
    assert any(s.stop - s.start == 64 for s in slices)  # short texts fill whole batches
    assert slices[-1] == slice(len(widths) - 1, len(widths))
