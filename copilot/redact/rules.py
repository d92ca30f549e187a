"""What a redaction rule is: a pattern, the group that holds the secret, and its filters.

Also the index of a text that every rule's search starts from (:class:`TextScan`): where
each keyword and literal prefix occurs (one Aho-Corasick pass over :func:`fold`-ed text),
the lines around them, and, for digit formats (cards, phones), the *shape* of the text
(:data:`SHAPE_TABLE`). What the engine learns from a pattern is in
:mod:`copilot.redact.patterns`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
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
        shapes=tuple(re.compile(b"(?:" + sh + rb")[^x]*+") for sh in shapes),  # to the run's end
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
    raw = text.encode("ascii") if text.isascii() else text.encode("ascii", errors="replace")
    return raw.translate(SHAPE_TABLE)


# --- literal prefixes ----------------------------------------------------------------------
# The non-ASCII characters that ``regex`` matches case-insensitively against an ASCII letter
# (checked by a test over all of Unicode), and the one whose lower-casing is two characters.
CASE_FOLD = str.maketrans({"\u0130": "i", "\u212a": "k", "\u017f": "s"})


def fold(text: str) -> str:
    """Lower-case ``text`` keeping its length, so that a literal found in the result by
    lower-case search sits at the same offsets as in ``text`` (and ``(?i)k`` finds the
    Kelvin sign)."""
    return text.lower() if text.isascii() else text.translate(CASE_FOLD).lower()


_RUN = re.compile(rb"[^x]*")  # the rest of a run of digit-ish characters in a shape
_OTHER_DIGIT = regex.compile(r"[^\D0-9]")  # a decimal digit other than 0-9


class TextScan:
    """One text's keyword and prefix hits and its digit shape, shared by every rule.

    All keywords and literal prefixes of all rules are found in one Aho-Corasick pass
    (pyahocorasick) over the case-folded text; line boundaries are looked up only around
    hits (``str.find``), never for the whole text.
    """

    # Lines around a keyword hit that a pattern may span: a little before (a key name on
    # the line above its value), a lot after (a PEM block runs ~50 lines past its BEGIN).
    BEFORE, AFTER = 5, 100

    def __init__(self, text: str, automaton: Any) -> None:
        self.text = text
        self.hits: dict[str, list[int]] = {}  # literal -> start offsets, ascending
        if automaton is not None and len(text) < 4096:
            # A short text (an audit field, a chat line) has few hits: skip allocating a
            # list per literal, which would cost more than the scan.
            words = automaton.words
            for end, (i, back) in automaton.iter(fold(text)):
                self.hits.setdefault(words[i], []).append(end - back)
        elif automaton is not None:
            found: list[list[int]] = [[] for _ in range(len(automaton))]
            for end, (i, back) in automaton.iter(fold(text)):
                found[i].append(end - back)
            words = automaton.words
            self.hits = {words[i]: at for i, at in enumerate(found) if at}
        self._shape: bytes | None = None

    def starts(self, literals: Sequence[str]) -> list[int]:
        """Sorted offsets where any of ``literals`` starts (case-folded)."""
        lists = [self.hits[k] for k in literals if k in self.hits]
        if len(lists) == 1:
            return lists[0]
        return sorted(set().union(*lists))

    def regions(self, keywords: tuple[str, ...], context: bool) -> list[tuple[int, int]]:
        """Character ranges of the lines holding any of ``keywords`` (with the lines around
        them when ``context``), adjacent lines merged."""
        text, size = self.text, len(self.text)
        out: list[tuple[int, int]] = []
        line_end = -1
        for p in self.starts(keywords):
            if p < line_end:  # same line as the hit before
                continue
            lo = text.rfind("\n", 0, p) + 1
            nl = text.find("\n", p)
            hi = line_end = size if nl == -1 else nl + 1
            if context:
                for _ in range(self.BEFORE):
                    if lo == 0:
                        break
                    lo = text.rfind("\n", 0, lo - 1) + 1
                for _ in range(self.AFTER):
                    if hi >= size:
                        break
                    nl = text.find("\n", hi)
                    hi = size if nl == -1 else nl + 1
            if out and lo <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], hi))
            else:
                out.append((lo, hi))
        return out

    def runs(self, shapes: Sequence[Any], digits: int) -> list[tuple[int, int]] | None:
        """(start, end) of each run of digit-ish characters holding a match of one of
        ``shapes`` and at least ``digits`` digits. None when the text has digits the shape
        does not map."""
        if self._shape is None:
            text = self.text
            if not text.isascii() and _OTHER_DIGIT.search(text):
                return None
            self._shape = shape_of(text)
        shape, found = self._shape, set()
        for pattern in shapes:
            covered = -1
            for m in pattern.finditer(shape):
                if m.start() < covered:
                    continue
                s, covered = shape.rfind(b"x", 0, m.start()) + 1, m.end()
                if covered < len(shape) and shape[covered] != 120:  # 120: b"x"
                    covered = _RUN.match(shape, covered).end()  # type: ignore[union-attr]
                if shape.count(48, s, covered) >= digits:  # 48: b"0", a digit
                    found.add((s, covered))
        return sorted(found)


# Characters by how often they start a stretch of log text. pyahocorasick looks a
# character up among a node's children one by one, in the order they were added: adding the
# words that start with common characters first makes the pass over a log ~20% faster.
_COMMON = ' "etaoinsrlcdhupmfgybwvk.-_:/=,0123456789xjqz'


def keyword_automaton(words: set[str]) -> Any:
    import ahocorasick

    if not words:
        return None
    auto = ahocorasick.Automaton()
    rank = {ch: i for i, ch in enumerate(_COMMON)}
    ordered = sorted(words, key=lambda w: (rank.get(w[0], len(rank)), w))
    for i, k in enumerate(ordered):
        auto.add_word(k, (i, len(k) - 1))  # (its index, end - start)
    auto.make_automaton()
    return _Words(auto, ordered)


class _Words:
    """An Aho-Corasick automaton and the words it holds, by index."""

    def __init__(self, auto: Any, words: list[str]) -> None:
        self.iter, self.words = auto.iter, words

    def __len__(self) -> int:
        return len(self.words)
