"""Lexical retrieval (BM25 through ``bm25s``) and the fusion of ranked lists.

Alert names and identifiers (``KubePodCrashLooping``, ``etcdNoLeader``) matter as much as
meaning, and embeddings blur them. So a chunk's text is tokenized keeping each identifier
whole *and* split at its case changes (``kubepodcrashlooping``, ``kube``, ``pod``,
``crash``, ``looping``): an exact alert name then scores far above its parts. Ranked lists
from several retrievers are combined with reciprocal-rank fusion.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*|\d+")
_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
    ]
)


# A redaction placeholder (``[REDACTED:github-token:1]``) is no word of the text: a query
# and a runbook that both held a token must not match each other on "redacted github token".
PLACEHOLDER = re.compile(r"\[REDACTED:[^\]\s]{1,80}\]")


def tokens(text: str) -> list[str]:
    """Lower-case word tokens; an identifier with case changes also yields its parts."""
    out: list[str] = []
    for word in _WORD.findall(PLACEHOLDER.sub(" ", text)):
        low = word.lower()
        if low in _STOP:
            continue
        out.append(low)
        parts = _PARTS.findall(word.replace("_", " "))
        if len(parts) > 1:
            out.extend(p.lower() for p in parts if p.lower() not in _STOP)
    return out


class LexicalIndex:
    """BM25 over a fixed list of documents (rebuilt when the runbooks change)."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        import bm25s

        self.ids = list(ids)
        self._bm25: Any = bm25s.BM25()
        if self.ids:
            self._bm25.index([tokens(t) or ["∅"] for t in texts], show_progress=False)

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        """(id, score) of the best ``k`` documents with a positive score."""
        q = tokens(query)
        if not self.ids or not q:
            return []
        import numpy as np

        scores = np.asarray(self._bm25.get_scores(q))
        k = min(k, len(self.ids))
        top = np.argpartition(-scores, k - 1)[:k]
        best = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in best if scores[i] > 0]


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], k: int = 60, weights: Sequence[float] | None = None
) -> list[tuple[str, float]]:
    """Combine ranked id lists: score(d) = Σ w / (k + rank). Best first."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[str, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        for rank, doc in enumerate(ranking, 1):
            scores[doc] = scores.get(doc, 0.0) + w / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])
