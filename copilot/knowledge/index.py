"""The runbook index: chunks in Chroma (dense, offline MiniLM) and BM25 (lexical), fused.

Chroma runs embedded (``PersistentClient`` in the data dir) unless ``COPILOT_CHROMA_URL``
names a server. Ingestion is incremental: a chunk is re-embedded only when its hash
changed, and chunks of files that disappeared from an ingested folder are removed. A
search ranks chunks both ways, fuses the rankings (reciprocal rank), keeps the best chunk
per runbook, and abstains when neither retriever is confident: "no runbook matches" beats
the nearest wrong one. The sandbox's bundled runbooks sit on a shelf of their own
(``copilot.knowledge.shelf``), searched only when the team's runbooks do not match.

Secrets in a runbook are replaced by placeholders as it is read (``IngestRedaction``): the
stored chunk, its metadata and the text embedded hold only placeholders, and the report
counts them per file so the author can take them out.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from pydantic import BaseModel

from copilot.errors import ConfigError
from copilot.knowledge.lexical import PLACEHOLDER
from copilot.knowledge.runbooks import Playbook, bundled_runbooks_dir
from copilot.knowledge.shelf import IngestReport, Shelf
from copilot.settings import Settings

if TYPE_CHECKING:
    from copilot.redact.engine import Redactor

COLLECTION = "runbooks"
BUNDLED_SUFFIX = "-bundled"  # the sandbox's runbooks, on a shelf of their own
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
    """The team's runbooks and, on a shelf of their own, the sandbox's bundled ones.

    A search ranks the team's shelf first; the bundled shelf answers only when the team's
    runbooks do not (or there are none). An alert some bundled runbook lists is not
    "unknown" to the team's shelf's abstention either way: the bundled shelf answers it.
    """

    def __init__(
        self, settings: Settings, embedding: Any = None, redactor: Redactor | None = None
    ) -> None:
        """``redactor`` gives the rules secrets are found with at ingest (default: the
        settings' rules)."""
        from copilot.redact.ruleset import redactor_for

        self.settings = settings
        rules = (redactor or redactor_for(settings)).rules
        self._embedding = embedding or _embedding_for(settings)
        client = _client(settings)
        name = collection_name(settings)
        self._team = Shelf(client, name, self._embedding, rules)
        self._bundled = Shelf(client, f"{name}{BUNDLED_SUFFIX}", self._embedding, rules)

    @property
    def _collection(self) -> Any:  # the team's (tests and provider checks look at it)
        return self._team.collection

    def count(self) -> int:
        return self._team.count() + self._bundled.count()

    def ingest(self, paths: list[Path]) -> IngestReport:
        """Add new and changed chunks of a team's runbooks, drop those of removed files."""
        return self._team.ingest(paths)

    def ensure_bundled(self) -> IngestReport:
        """The packaged runbooks on their own shelf, kept current: ingested on first use, and
        after an upgrade only their changed chunks are embedded again. Chunks an earlier
        release put on the team's shelf are moved off it."""
        report = self._bundled.ingest([bundled_runbooks_dir()])
        self._bundled.load()
        self._team.forget(list(self._bundled.chunks))
        return report

    def section(self, source: str, heading: re.Pattern[str]) -> Hit | None:
        """The first chunk of runbook ``source`` whose heading matches (e.g. Diagnosis)."""
        for shelf in (self._team, self._bundled):
            shelf.load()
            for chunk_id, meta in shelf.chunks.items():
                if meta.get("source") == source and heading.search(str(meta.get("heading"))):
                    return _hit(chunk_id, meta, 0.0, None, None)
        return None

    def chunk(self, chunk_id: str) -> Hit | None:
        """One chunk by its id (what a card's provenance names), from either shelf."""
        for shelf in (self._team, self._bundled):
            shelf.load()
            meta = shelf.chunks.get(chunk_id)
            if meta is not None:
                return _hit(chunk_id, meta, 0.0, None, None)
        return None

    def _unknown_alert(self, query: str, short_names: bool) -> str | None:
        """An alert name in the query (as Alertmanager puts it) that no runbook lists: a
        similar runbook for a different alert is the wrong answer, so abstain."""
        known = self._team.alerts | self._bundled.alerts | _STATUS_WORDS
        for word in _IDENT.findall(query):
            if not _ALERT_LIKE.match(word) or word in known:
                continue
            # A component that known alerts are named after ("KubeControllerManager has
            # disappeared", KubeControllerManagerDown) is a subject, not another alert.
            if any(a.startswith(word) for a in known):
                continue
            # People drop a rule's prefix ("HighErrorRate" for SandboxHighErrorRate).
            if short_names and _prefixed(word, known):
                continue
            return str(word)
        return None

    def search(self, query: str, k: int = 3, *, short_names: bool = True) -> SearchResult:
        """The ``k`` best runbooks for ``query`` (best chunk each), or an abstention: from
        the team's runbooks when they match, else from the bundled ones. ``short_names``:
        an alert may be named without its rule's prefix, as people do; an alert's own name
        (from Alertmanager) is searched exactly (``short_names=False``)."""
        if not PLACEHOLDER.sub(" ", query).strip():
            return SearchResult(query=query, hits=[], abstained=True, reason="empty query")
        self._team.load()
        self._bundled.load()
        named = self._unknown_alert(query, short_names)
        first: SearchResult | None = None
        for shelf in (self._team, self._bundled):
            if not shelf.chunks:
                continue
            result = _search(shelf, PLACEHOLDER.sub(" ", query), k, named, short_names)
            result.query = query
            if not result.abstained:
                return result
            first = first or result
        return first or SearchResult(
            query=query, hits=[], abstained=True, reason="no runbooks are indexed"
        )


def _hit(
    chunk_id: str, meta: dict[str, Any], score: float, sim: float | None, lex: float | None
) -> Hit:
    return Hit(
        source=meta["source"],
        title=meta["title"],
        heading=meta["heading"],
        chunk_id=chunk_id,
        text=meta["text"],
        alerts=[a for a in str(meta.get("alerts", "")).split(",") if a],
        services=[v for v in str(meta.get("services", "")).split(",") if v],
        playbook=_playbook(meta.get("playbook")),
        score=round(score, 6),
        similarity=None if sim is None else round(sim, 4),
        lexical=None if lex is None else round(lex, 3),
    )


def _prefixed(word: str, known: Iterable[str]) -> list[str]:
    """The known alerts ``word`` is the tail of, at a word boundary of the name
    ("HighErrorRate" of SandboxHighErrorRate; not "ErrorRate" of SandboxHighErrorRate's
    middle, nor "ighErrorRate")."""
    if len(word) < 8 or not word[0].isupper() or not _ALERT_LIKE.match(word):
        return []
    low = word.lower()
    return [
        a
        for a in known
        if len(a) > len(word)
        and a.lower().endswith(low)
        and a[-len(word)].isupper()
        and not a[-len(word) - 1].isupper()
    ]


def _pinned(shelf: Shelf, query: str, short_names: bool) -> list[str]:
    """Runbooks listing an alert the query names exactly (any case), in the query's order.

    An alert's name is the one field that says which runbook is meant; ranked by words
    and meaning it competed with siblings that describe the same symptom (with the name,
    recall@1 0.964 -> 1.0 on the public benchmark)."""
    out: list[str] = []
    for word in _IDENT.findall(query):
        low = word.lower()
        sources = shelf.alert_sources.get(low, set())
        if not sources and short_names:
            # the rule's name without its prefix, as people say it ("HighErrorRate"), when
            # exactly one alert ends so
            tails = _prefixed(word, shelf.alerts)
            if len(tails) == 1:
                sources = shelf.alert_sources.get(tails[0].lower(), set())
        for source in sorted(sources):
            if source not in out:
                out.append(source)
    return out


def _first_chunk(shelf: Shelf, source: str) -> str | None:
    first = f"{source}#0"  # chunk ids are "<source>#<ordinal>"
    if first in shelf.chunks:
        return first
    return next((i for i, m in shelf.chunks.items() if m.get("source") == source), None)


def _search(
    shelf: Shelf, query: str, k: int, named: str | None, short_names: bool = True
) -> SearchResult:
    """One shelf's ``k`` best runbooks (best chunk each), or its abstention."""
    ranked = shelf.rank(query, k)
    best: dict[str, tuple[str, float]] = {}  # source -> its best fused chunk
    for chunk_id, score in ranked.fused:
        meta = shelf.chunks.get(chunk_id)
        if meta is not None and meta["source"] not in best:
            best[str(meta["source"])] = (chunk_id, score)
    pinned = _pinned(shelf, query, short_names)
    for source in pinned:
        if source not in best and (first := _first_chunk(shelf, source)) is not None:
            best[source] = (first, 0.0)
    order = [s for s in pinned if s in best] + [s for s in best if s not in pinned]
    hits: list[Hit] = []
    for source in order[:k]:
        chunk_id, score = best[source]
        sim, lex = ranked.similarity.get(chunk_id), ranked.lexical.get(chunk_id)
        hits.append(_hit(chunk_id, shelf.chunks[chunk_id], score, sim, lex))
    if pinned:  # the alert is named and a runbook covers it: nothing to doubt
        return SearchResult(query=query, hits=hits, abstained=False)
    if named is not None:
        reason = f"no runbook covers the alert {named}"
        return SearchResult(query=query, hits=hits, abstained=True, reason=reason)
    best_sim, best_lex = ranked.best_similarity, ranked.best_lexical
    if best_sim < MIN_SIMILARITY and best_lex < MIN_LEXICAL:
        reason = (
            f"no runbook matches (best similarity {best_sim:.2f} < {MIN_SIMILARITY}, "
            f"best keyword score {best_lex:.1f} < {MIN_LEXICAL})"
        )
        return SearchResult(query=query, hits=hits, abstained=True, reason=reason)
    return SearchResult(query=query, hits=hits, abstained=False)
