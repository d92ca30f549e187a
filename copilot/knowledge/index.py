"""The runbook index: chunks in Chroma (dense, offline MiniLM) and BM25 (lexical), fused.

Chroma runs embedded (``PersistentClient`` in the data dir) unless ``COPILOT_CHROMA_URL``
names a server. Ingestion is incremental: a chunk is re-embedded only when its hash
changed, and chunks of files that disappeared from an ingested folder are removed. A
search ranks chunks both ways, fuses the rankings (reciprocal rank), keeps the best chunk
per runbook, and abstains when neither retriever is confident: "no runbook matches" beats
the nearest wrong one.

Secrets in a runbook are replaced by placeholders as it is read (``IngestRedaction``): the
stored chunk, its metadata and the text embedded hold only placeholders, and the report
counts them per file so the author can take them out.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from pydantic import BaseModel

from copilot.errors import ConfigError
from copilot.knowledge.lexical import LexicalIndex, reciprocal_rank_fusion
from copilot.knowledge.runbooks import Chunk, Playbook, bundled_runbooks_dir, discover_runbooks
from copilot.settings import Settings

if TYPE_CHECKING:
    from copilot.redact.engine import Redactor

COLLECTION = "runbooks"
# Abstain unless the best chunk is this similar (cosine) to the query, or its BM25 score
# is this high (an exact alert name or rare identifiers). Set on the public corpus.
MIN_SIMILARITY = 0.45
MIN_LEXICAL = 12.0


_IDENT = re.compile(r"\b[A-Za-z][A-Za-z0-9]{5,}\b")
# CamelCase with 3+ humps (KubePodCrashLooping, etcdNoLeader): alert names, not words
_ALERT_LIKE = re.compile(r"^[A-Za-z][a-z0-9]*(?:[A-Z][a-z0-9]+){2,}[A-Za-z0-9]*$")


# Kubernetes states and reasons look like alert names (CamelCase) but are words people
# use to describe a symptom: they never make a search abstain.
_STATUS_WORDS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "ErrImageNeverPull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "ContainerCreating",
        "PodInitializing",
        "ContainerCannotRun",
        "DeadlineExceeded",
        "FailedScheduling",
        "FailedMount",
        "FailedAttachVolume",
        "NodeNotReady",
        "NodeHasDiskPressure",
        "NodeHasMemoryPressure",
        "NodeHasInsufficientMemory",
        "ProgressDeadlineExceeded",
        "MinimumReplicasUnavailable",
        "FailedCreatePodSandBox",
        "BackOffLimitExceeded",
    }
)


class Hit(BaseModel):
    source: str
    title: str
    heading: str
    chunk_id: str
    text: str
    alerts: list[str]
    services: list[str] = []
    playbook: Playbook | None = None  # the runbook's executable steps, when it has them
    score: float  # fused
    similarity: float | None  # cosine of the best chunk, when the dense side found it
    lexical: float | None  # BM25 of the best chunk, when the lexical side found it


class SearchResult(BaseModel):
    query: str
    hits: list[Hit]
    abstained: bool
    reason: str = ""


class IngestReport(BaseModel):
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    runbooks: int = 0
    warnings: list[str] = []
    secrets: dict[str, int] = {}  # source -> secrets replaced by placeholders in it


def _client(settings: Settings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        return chromadb.HttpClient(
            host=url.hostname or "127.0.0.1",
            port=url.port or 8000,
            ssl=url.scheme == "https",
            settings=chroma,
        )
    from copilot.store.files import secure_data_dir

    path = settings.data_dir / "chroma"
    secure_data_dir(path.parent)  # 0700, and the files Chroma makes 0600
    path.mkdir(mode=0o700, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma)


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


def collection_name(settings: Settings) -> str:
    """``runbooks`` for the bundled model; one collection per provider model otherwise
    (vectors of different models, often of different sizes, must never mix)."""
    model = settings.embedding_model
    if not model:
        return COLLECTION
    slug = re.sub(r"[^A-Za-z0-9]+", "-", model).strip("-")[:40]
    digest = hashlib.sha256(model.encode()).hexdigest()[:8]
    return f"{COLLECTION}-{slug}-{digest}"


def _embedding_for(settings: Settings) -> Any:
    from copilot.knowledge.embedding import ChromaEmbedding

    if settings.embedding_model:
        # A provider's embeddings go through the model gateway (redaction, litellm): the
        # service builds that and hands it in (``copilot.service.open_runbook_index``).
        raise ConfigError(
            f"the embedding model {settings.embedding_model!r} needs an embedding function",
            "open the runbook index through CopilotService",
        )
    return ChromaEmbedding()


def _playbook(raw: object) -> Playbook | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return Playbook.model_validate_json(raw)
    except ValueError:  # written by another version: the hit stays usable without it
        return None


class RunbookIndex:
    def __init__(
        self, settings: Settings, embedding: Any = None, redactor: Redactor | None = None
    ) -> None:
        """``redactor`` gives the rules secrets are found with at ingest (default: the
        settings' rules)."""
        from copilot.redact.ruleset import redactor_for

        self.settings = settings
        self._rules = (redactor or redactor_for(settings)).rules
        self._embedding = embedding or _embedding_for(settings)
        self._collection = _client(settings).get_or_create_collection(
            collection_name(settings),
            embedding_function=self._embedding,  # always ours: never chroma's downloader
            configuration={"hnsw": {"space": "cosine"}},
        )
        self._lexical: LexicalIndex | None = None
        self._chunks: dict[str, dict[str, Any]] = {}
        self._alerts: set[str] = set()  # every alert some runbook covers

    def count(self) -> int:
        return int(self._collection.count())

    def ingest(self, paths: list[Path]) -> IngestReport:
        """Add new and changed chunks, drop chunks of removed files under ``paths``."""
        books, warnings = discover_runbooks(paths, self._rules)
        report = IngestReport(
            runbooks=len(books),
            warnings=warnings,
            secrets={b.source: b.secrets for b in books if b.secrets},
        )
        fresh = {c.id: c for b in books for c in b.chunks}
        stored = self._collection.get(include=["metadatas"])
        known = {i: m for i, m in zip(stored["ids"], stored["metadatas"] or [], strict=True)}
        roots = tuple(f"{p.name}/" for p in paths if p.is_dir())
        files = tuple(p.name for p in paths if p.is_file())
        stale = [
            i
            for i, meta in known.items()
            if i not in fresh and str(meta.get("source", "")).startswith(roots + files)
        ]
        if stale:
            self._collection.delete(ids=stale)
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
            self._collection.upsert(
                ids=[c.id for c in todo[start:end]],
                documents=documents[start:end],
                embeddings=vectors[start:end],
                metadatas=[_metadata(c) for c in todo[start:end]],
            )
        self._lexical = None
        return report

    def ensure_bundled(self) -> IngestReport:
        """The packaged runbooks, kept current: ingested on first use, and after an upgrade
        only their changed chunks are embedded again (an unchanged set costs one read)."""
        return self.ingest([bundled_runbooks_dir()])

    def _lexical_index(self) -> LexicalIndex:
        if self._lexical is None:
            got = self._collection.get(include=["documents", "metadatas"])
            self._chunks = {
                i: {"text": d, **(m or {})}
                for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
            }
            self._alerts = {
                a for m in self._chunks.values() for a in str(m.get("alerts", "")).split(",")
            }
            self._lexical = LexicalIndex(
                list(self._chunks),
                [f"{m['text']} {m.get('alerts', '')}" for m in self._chunks.values()],
            )
        return self._lexical

    def _unknown_alert(self, query: str) -> str | None:
        """An alert name in the query (as Alertmanager puts it) that no runbook lists: a
        similar runbook for a different alert is the wrong answer, so abstain."""
        for word in _IDENT.findall(query):
            if _ALERT_LIKE.match(word) and word not in self._alerts | _STATUS_WORDS:
                return str(word)
        return None

    def search(self, query: str, k: int = 3) -> SearchResult:
        """The ``k`` best runbooks for ``query`` (best chunk each), or an abstention."""
        if not query.strip():
            return SearchResult(query=query, hits=[], abstained=True, reason="empty query")
        lexical = self._lexical_index().search(query, k=k * 8)
        n = min(len(self._chunks), k * 8)  # the snapshot the lexical side searched
        dense: list[tuple[str, float]] = []
        if n:
            got = self._collection.query(query_texts=[query], n_results=n, include=["distances"])
            dense = [
                (i, 1.0 - float(d)) for i, d in zip(got["ids"][0], got["distances"][0], strict=True)
            ]
        fused = reciprocal_rank_fusion([[i for i, _ in dense], [i for i, _ in lexical]])
        sim, lex = dict(dense), dict(lexical)
        best_sim = max(sim.values(), default=0.0)
        best_lex = max(lex.values(), default=0.0)
        hits: list[Hit] = []
        seen: set[str] = set()
        for chunk_id, score in fused:
            meta = self._chunks.get(chunk_id)
            if meta is None or meta["source"] in seen:
                continue
            seen.add(meta["source"])
            hits.append(
                Hit(
                    source=meta["source"],
                    title=meta["title"],
                    heading=meta["heading"],
                    chunk_id=chunk_id,
                    text=meta["text"],
                    alerts=[a for a in str(meta.get("alerts", "")).split(",") if a],
                    services=[v for v in str(meta.get("services", "")).split(",") if v],
                    playbook=_playbook(meta.get("playbook")),
                    score=round(score, 6),
                    similarity=None if chunk_id not in sim else round(sim[chunk_id], 4),
                    lexical=None if chunk_id not in lex else round(lex[chunk_id], 3),
                )
            )
            if len(hits) == k:
                break
        named = self._unknown_alert(query)
        if named is not None:
            reason = f"no runbook covers the alert {named}"
            return SearchResult(query=query, hits=hits, abstained=True, reason=reason)
        if best_sim < MIN_SIMILARITY and best_lex < MIN_LEXICAL:
            reason = (
                f"no runbook matches (best similarity {best_sim:.2f} < {MIN_SIMILARITY}, "
                f"best keyword score {best_lex:.1f} < {MIN_LEXICAL})"
            )
            return SearchResult(query=query, hits=hits, abstained=True, reason=reason)
        return SearchResult(query=query, hits=hits, abstained=False)
