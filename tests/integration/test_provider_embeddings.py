"""Runbook embeddings through a provider (COPILOT_EMBEDDING_MODEL): litellm, redacted input,
a collection of their own; tested against a loopback OpenAI-compatible server."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.openai_server import EMBEDDING_DIM, fake_openai

from copilot.errors import ConfigError
from copilot.knowledge.index import COLLECTION, RunbookIndex, collection_name
from copilot.service import CopilotService
from copilot.settings import Settings

LEAKY = """---
title: Payments API keys rotated by hand
services: [payments]
---
# Rotating the payments key

## Mitigation
Export the new key and restart: `export PAYMENTS_PASSWORD=Sup3rS3cretValue!42` then
restart the payments deployment.
"""


def test_runbooks_embed_through_the_provider_redacted(tmp_path: Path) -> None:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "payments-key.md").write_text(LEAKY)
    with fake_openai() as fake:
        settings = Settings(
            data_dir=tmp_path / "data",
            embedding_model="openai/text-embedding-3-small",
            embedding_api_base=fake.base_url,
            embedding_api_key="sk-test-not-a-real-key",
        )
        service = CopilotService.open(settings)
        index = service.parts.index
        assert isinstance(index, RunbookIndex)
        report = service.ingest_runbooks([folder])
        assert report.added >= 1 and fake.embedding_requests
        result = service.search_runbooks("checkout errors right after a deploy, roll back")
        assert not result.abstained and "bad-deploy" in result.hits[0].source
        sent = [t for body in fake.embedding_requests for t in body["input"]]
        # every runbook chunk (and the query) went out, and the secret only as a placeholder
        assert any("Rotating the payments key" in t for t in sent)
        assert any("[REDACTED:" in t for t in sent)
        assert not any("Sup3rS3cretValue" in t for t in sent)
        assert fake.embedding_requests[0]["model"] == "text-embedding-3-small"
        assert index._collection.name == collection_name(settings) != COLLECTION
        got = index._collection.get(limit=1, include=["embeddings"])
        assert len(got["embeddings"][0]) == EMBEDDING_DIM  # the provider's vectors
        service.close()


def test_a_provider_model_needs_its_embedding_function(tmp_path: Path) -> None:
    # the index never reaches for the model gateway itself: the service hands it one
    settings = Settings(data_dir=tmp_path, embedding_model="openai/text-embedding-3-small")
    with pytest.raises(ConfigError, match="embedding"):
        RunbookIndex(settings)


def test_the_bundled_model_keeps_its_own_collection(tmp_path: Path) -> None:
    assert collection_name(Settings(data_dir=tmp_path)) == COLLECTION
    a = collection_name(
        Settings(data_dir=tmp_path, embedding_model="openai/text-embedding-3-small")
    )
    b = collection_name(Settings(data_dir=tmp_path, embedding_model="ollama/nomic-embed-text"))
    assert a != b and a.startswith("runbooks-openai-text-embedding-3-small-")
