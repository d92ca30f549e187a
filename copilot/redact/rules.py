"""What a redaction rule is: a pattern, the group that holds the secret, and its filters."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import regex


@dataclass(frozen=True)
class Rule:
    """One detector. ``group`` names the capture group holding the secret (0: whole match).

    ``keywords`` are a cheap prefilter (case-insensitive substrings, any of them must occur
    in the line); ``entropy`` is the minimum Shannon entropy (bits per character) of the
    secret; ``allow`` patterns, matched against the secret, veto a finding.
    """

    id: str
    pattern: Any  # a compiled ``regex`` pattern
    group: int | str = 0
    keywords: tuple[str, ...] = ()
    entropy: float | None = None
    allow: tuple[Any, ...] = ()
    kind: Literal["secret", "pii"] = "secret"
    description: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
    # An extra check on the secret text (e.g. Luhn for card numbers); None: no check.
    validate: Callable[[str], bool] | None = None


def compile_rule(
    id: str,
    pattern: str,
    *,
    group: int | str = 0,
    keywords: tuple[str, ...] = (),
    entropy: float | None = None,
    allow: tuple[str, ...] = (),
    kind: Literal["secret", "pii"] = "secret",
    description: str = "",
    flags: int = 0,
    tags: tuple[str, ...] = (),
    validate: Callable[[str], bool] | None = None,
) -> Rule:
    """Build a rule from pattern text (``regex`` syntax, a superset of Python's ``re``)."""
    return Rule(
        id=id,
        pattern=regex.compile(pattern, flags | regex.VERSION0),
        group=group,
        keywords=tuple(k.lower() for k in keywords),
        entropy=entropy,
        allow=tuple(regex.compile(a) for a in allow),
        kind=kind,
        description=description,
        tags=tags,
        validate=validate,
    )


def shannon_entropy(text: str) -> float:
    """Bits per character of ``text`` (0 for empty)."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())
