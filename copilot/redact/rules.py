"""What a redaction rule is: a pattern, the group that holds the secret, and its filters.

Also what the engine may learn about a rule to scan less text: the literal prefixes every
match starts with (:func:`literal_prefixes`), and, for digit formats (cards, phones), the
*shape* of a run of digits a match needs (:data:`SHAPE_TABLE`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
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
    # For a rule whose every match is made of digits and ``' .()+-'`` only: byte patterns over
    # the text's shape (see SHAPE_TABLE), one of which must match inside the run of such
    # characters holding any match, and the fewest digits such a run holds. The engine then
    # scans only those runs (with the ``[\w.-]`` characters after them, for lookaheads).
    shapes: tuple[Any, ...] = ()
    min_digits: int = 0


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
    shapes: tuple[bytes, ...] = (),
    min_digits: int = 0,
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
        shapes=tuple(re.compile(sh) for sh in shapes),
        min_digits=min_digits,
    )


def shannon_entropy(text: str) -> float:
    """Bits per character of ``text`` (0 for empty)."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


# --- the shape of digit runs -------------------------------------------------------------
# Each character of the text maps to one byte: a digit to ``0``, a space or ``-`` to ``1``,
# ``.`` to ``2``, ``(`` or ``)`` to ``3``, ``+`` to ``4``, anything else (letters, any
# non-ASCII character) to ``x``. A run of non-``x`` bytes is a run of the characters that
# card and phone numbers are written with.
SHAPE_TABLE = bytes(
    b"0"[0]
    if chr(i).isdigit()
    else b"1"[0]
    if chr(i) in " -"
    else b"2"[0]
    if chr(i) == "."
    else b"3"[0]
    if chr(i) in "()"
    else b"4"[0]
    if chr(i) == "+"
    else b"x"[0]
    for i in range(256)
)


def shape_of(text: str) -> bytes:
    """The shape of ``text``, one byte per character (non-ASCII characters become ``x``)."""
    return text.encode("ascii", errors="replace").translate(SHAPE_TABLE)


# --- literal prefixes ----------------------------------------------------------------------
# The non-ASCII characters that ``regex`` matches case-insensitively against an ASCII letter
# (checked by a test over all of Unicode), and the one whose lower-casing is two characters.
CASE_FOLD = str.maketrans({"\u0130": "i", "\u212a": "k", "\u017f": "s"})


def fold(text: str) -> str:
    """Lower-case ``text`` keeping its length, so that a literal found in the result by
    lower-case search sits at the same offsets as in ``text`` (and ``(?i)k`` finds the
    Kelvin sign)."""
    return text.lower() if text.isascii() else text.translate(CASE_FOLD).lower()


_MIN_PREFIX = 2
_MAX_PREFIXES = 64


def _parse(pattern: str, flags: int) -> Any:
    """Python's ``re`` parse tree of a ``regex`` pattern, or None when ``re`` cannot read it
    (``regex``-only syntax such as ``\\G``): callers then assume nothing about it."""
    from re import _parser  # type: ignore[attr-defined]

    flags &= re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE | re.ASCII
    try:
        return _parser.parse(pattern, flags)
    except Exception:  # duplicate group names (a ``regex`` feature): analyse without names
        try:
            return _parser.parse(re.sub(r"(?<!\\)\(\?P<\w+>", "(", pattern), flags)
        except Exception:
            return None


@lru_cache(maxsize=4096)
def literal_prefixes(pattern: str, flags: int = 0) -> tuple[str, ...]:
    """Lower-case strings one of which starts every match of ``pattern`` (after
    :func:`fold`), or ``()`` when that cannot be shown. Derived from the parse tree of
    Python's own ``re`` parser: literals, groups, alternations and optional literal parts
    extend a prefix; zero-width assertions are skipped; anything else ends it."""
    tree = _parse(pattern, flags)
    if tree is None:
        return ()
    heads, _ = _extend(list(tree), frozenset({""}))
    if not heads or min(len(h) for h in heads) < _MIN_PREFIX:
        return ()
    # "pass" already finds every "password": keep only the shortest of nested prefixes
    return tuple(h for h in sorted(heads) if not any(o != h and h.startswith(o) for o in heads))


# Steps of one anchored match that need no time limit (well under a millisecond): the
# engine checks its clock between such matches instead, so a window still ends on time.
CHEAP = 100_000
# The most characters an anchored match may read for :func:`anchored_cost` to hold: an
# unbounded quantifier over something at least one character wide repeats at most this often.
SPAN = 4096


@lru_cache(maxsize=4096)
def anchored_cost(pattern: str, flags: int = 0) -> int | None:
    """An upper bound on the steps of one anchored match of ``pattern`` reading at most
    ``SPAN`` characters, with every backtracking path explored; None when unknown (a
    back-reference, an unbounded repeat of something that can be empty) or above ``CHEAP``.

    Along a sequence each path of an item continues with the rest; alternatives add;
    ``{m,n}`` of one character costs its consumption and its give-backs, of more, every
    count; possessive, atomic and lookaround parts are explored once, never re-entered."""
    tree = _parse(pattern, flags)
    if tree is None:
        return None
    cost = _cost(list(tree))
    return None if cost is None else cost[1]


def _cost(items: list[Any]) -> tuple[int, int] | None:
    """(paths, steps to explore them all) of a sequence, None when unbounded or too dear."""
    from re import _constants as c  # type: ignore[attr-defined]

    parts: list[tuple[int, int]] = []
    for op, av in items:
        if op in (c.LITERAL, c.NOT_LITERAL, c.IN, c.ANY, c.AT, c.CATEGORY):
            parts.append((1, 1))
            continue
        if op in (c.ASSERT, c.ASSERT_NOT, c.ATOMIC_GROUP, c.SUBPATTERN):
            inner = _cost(list(av if op is c.ATOMIC_GROUP else av[-1]))
            if inner is None:
                return None
            parts.append(inner if op is c.SUBPATTERN else (1, inner[1]))
        elif op is c.BRANCH:
            alts = [x for x in (_cost(list(alt)) for alt in av[1]) if x is not None]
            if len(alts) != len(av[1]):
                return None
            parts.append((sum(x[0] for x in alts), sum(x[1] for x in alts)))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            lo, hi, sub = av
            inner = _cost(list(sub))
            if inner is None or (hi is c.MAXREPEAT and sub.getwidth()[0] == 0):
                return None
            hi = min(hi, SPAN)
            lo = min(lo, hi)
            ip, ie = inner
            if ip == 1:
                paths, steps = hi - lo + 1, hi * ie + (hi - lo)
            else:
                paths = sum(ip**k for k in range(lo, hi + 1))
                steps = sum(ie * (ip**k - 1) // (ip - 1) for k in range(lo, hi + 1))
            parts.append((1, steps) if op is c.POSSESSIVE_REPEAT else (paths, steps))
        else:
            return None
        if parts[-1][0] > CHEAP or parts[-1][1] > CHEAP:
            return None
    paths, steps = 1, 0
    for p, e in reversed(parts):
        paths, steps = paths * p, e + p * steps
        if steps > CHEAP:
            return None
    return paths, steps


def _extend(items: list[Any], heads: frozenset[str]) -> tuple[frozenset[str], bool]:
    """(prefixes after ``items``, whether ``items`` were literal text to the end)."""
    from re import _constants as c  # type: ignore[attr-defined]

    for op, av in items:
        if op is c.LITERAL:
            ch = chr(av)
            if not ch.isascii():
                return heads, False
            heads = frozenset(h + ch.lower() for h in heads)
        elif op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue  # zero-width
        elif op is c.SUBPATTERN or op is c.ATOMIC_GROUP:
            heads, whole = _extend(list(av[-1] if op is c.SUBPATTERN else av), heads)
            if not whole:
                return heads, False
        elif op is c.BRANCH:
            results = [_extend(list(alt), heads) for alt in av[1]]
            joined = frozenset().union(*(r[0] for r in results))
            if len(joined) > _MAX_PREFIXES:
                return heads, False
            heads = joined
            if not all(r[1] for r in results):
                return heads, False
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            lo, hi, sub = av
            inner, whole = _extend(list(sub), heads)
            if len(inner) > _MAX_PREFIXES:
                return heads, False
            if lo == 0 and hi == 1 and whole:  # optional literal text: with or without it
                heads = heads | inner
            elif lo == 0:
                return heads, False
            elif lo == hi == 1 and whole:
                heads = inner
            else:  # at least one pass through ``sub``
                return inner, False
        else:
            return heads, False
    return heads, True
