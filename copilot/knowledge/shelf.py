"""One Chroma collection of runbook chunks with its BM25 side: ingest and ranked search.

The index (``copilot.knowledge.index``) keeps two shelves: the team's runbooks, and the
runbooks bundled for the sandbox. They never share a ranking, so the bundled ones cannot
outrank a team's own for ordinary words ("pods keep restarting").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from copilot.knowledge.lexical import LexicalIndex, reciprocal_rank_fusion
from copilot.knowledge.runbooks import Chunk, discover_runbooks

if TYPE_CHECKING:
    from copilot.redact.rules import Rule


def _metadata(c: Chunk) -> dict[str, Any]:
    return {
        "source": c.source,
        "title": c.title,
        "heading": c.heading,
        "alerts": ",".join(c.alerts),
        "services": ",".join(c.services),
        "chunk_hash": c.chunk_hash,
        "playbook": c.playbook_json,
    }


@dataclass
class Ranked:
    """A shelf's answer to a query: fused chunk ids (best first) and each side's scores."""

    fused: list[tuple[str, float]]
    similarity: dict[str, float]
    lexical: dict[str, float]

    @property
    def best_similarity(self) -> float:
        return max(self.similarity.values(), default=0.0)

    @property
    def best_lexical(self) -> float:
        return max(self.lexical.values(), default=0.0)


class IngestReport(BaseModel):
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    runbooks: int = 0
    warnings: list[str] = []
    secrets: dict[str, int] = {}  # source -> secrets replaced by placeholders in it


class Shelf:
    """A collection of chunks, searchable both ways; the BM25 side is rebuilt lazily."""

    def __init__(
        self, client: Any, name: str, embedding: Any, rules: tuple[Rule, ...] | None
    ) -> None:
        self._embedding = embedding
        self._rules = rules  # the redactor's: secrets are found with them at ingest
        self.collection = client.get_or_create_collection(
            name,
            embedding_function=embedding,  # always ours: never chroma's downloader
            configuration={"hnsw": {"space": "cosine"}},
        )
        self._lexical: LexicalIndex | None = None
        self.chunks: dict[str, dict[str, Any]] = {}
        self.alerts: set[str] = set()  # every alert some runbook on this shelf covers
        # alert name lower-cased -> the runbooks listing it: a query naming an alert exactly
        # finds its runbook first, whatever the wording around the name
        self.alert_sources: dict[str, set[str]] = {}

    def count(self) -> int:
        return int(self.collection.count())

    def ingest(self, paths: list[Path]) -> IngestReport:
        """Add new and changed chunks, drop chunks of removed files under ``paths``."""
        books, warnings = discover_runbooks(paths, self._rules)
        report = IngestReport(
            runbooks=len(books),
            warnings=warnings,
            secrets={b.source: b.secrets for b in books if b.secrets},
        )
        fresh = {c.id: c for b in books for c in b.chunks}
        stored = self.collection.get(include=["metadatas"])
        known = {i: m for i, m in zip(stored["ids"], stored["metadatas"] or [], strict=True)}
        roots = tuple(f"{p.name}/" for p in paths if p.is_dir())
        files = tuple(p.name for p in paths if p.is_file())
        stale = [
            i
            for i, meta in known.items()
            if i not in fresh and str(meta.get("source", "")).startswith(roots + files)
        ]
        if stale:
            self.collection.delete(ids=stale)
        report.removed = len(stale)
        todo = [c for i, c in fresh.items() if known.get(i, {}).get("chunk_hash") != c.chunk_hash]
        report.unchanged = len(fresh) - len(todo)
        report.updated = sum(1 for c in todo if c.id in known)
        report.added = len(todo) - report.updated
        # Embed everything in one call: the embedder sorts all texts by length before it
        # batches, so batches pad little (per-upsert batches of mixed lengths padded most
        # rows to 256 tokens and cost 2.5x the time).
        documents = [f"{c.heading}\n{c.text}" for c in todo]
        vectors = self._embedding(documents) if documents else []
        for start in range(0, len(todo), 256):
            end = start + 256
            self.collection.upsert(
                ids=[c.id for c in todo[start:end]],
                documents=documents[start:end],
                embeddings=vectors[start:end],
                metadatas=[_metadata(c) for c in todo[start:end]],
            )
        self._lexical = None
        return report

    def forget(self, ids: list[str]) -> int:
        """Drop these chunk ids if present (chunks that moved to another shelf)."""
        present = self.collection.get(ids=ids, include=[])["ids"] if ids else []
        if present:
            self.collection.delete(ids=present)
            self._lexical = None
        return len(present)

    def load(self) -> LexicalIndex:
        if self._lexical is None:
            got = self.collection.get(include=["documents", "metadatas"])
            self.chunks = {
                i: {"text": d, **(m or {})}
                for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
            }
            self.alert_sources = {}
            for m in self.chunks.values():
                for a in str(m.get("alerts", "")).split(","):
                    if a:
                        self.alert_sources.setdefault(a.lower(), set()).add(str(m["source"]))
            self.alerts = {
                a for m in self.chunks.values() for a in str(m.get("alerts", "")).split(",") if a
            }
            self._lexical = LexicalIndex(
                list(self.chunks),
                [f"{m['text']} {m.get('alerts', '')}" for m in self.chunks.values()],
            )
        return self._lexical

    def rank(self, query: str, k: int) -> Ranked:
        """Chunks ranked by meaning (Chroma) and by words (BM25), fused."""
        lexical = self.load().search(query, k=k * 8)
        n = min(len(self.chunks), k * 8)  # the snapshot the lexical side searched
        dense: list[tuple[str, float]] = []
        if n:
            got = self.collection.query(query_texts=[query], n_results=n, include=["distances"])
            dense = [
                (i, 1.0 - float(d)) for i, d in zip(got["ids"][0], got["distances"][0], strict=True)
            ]
        fused = reciprocal_rank_fusion([[i for i, _ in dense], [i for i, _ in lexical]])
        return Ranked(fused=fused, similarity=dict(dense), lexical=dict(lexical))
