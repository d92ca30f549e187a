"""The redactor: finds secrets with a rule set and replaces them with stable placeholders.

The same secret becomes the same ``[REDACTED:<rule>:<n>]`` for the life of one
``Redactor`` (one conversation), so a model can still see that two log lines share a key.
The clear values stay only in this object's memory. Work is bounded: text is scanned in
windows of at most ``window`` characters, and every pattern search has a time limit; a
window whose scan runs out of time is replaced whole (fail closed).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import regex

from copilot.redact.rules import (
    CHEAP,
    SPAN,
    Rule,
    anchored_cost,
    fold,
    literal_prefixes,
    shannon_entropy,
    shape_of,
)

OVERLAP = 1024  # a secret that straddles two windows is still seen whole
# A region holding a prefix candidate every DENSE characters or closer is scanned whole:
# one search costs about as much as matching at 20-100 candidates.
DENSE = 32

_RUN = re.compile(rb"[^x]*")  # the rest of a run of digit-ish characters in a shape
_TAIL = regex.compile(r"[\w.-]*")  # what a digit rule's lookahead may read past its run
_OTHER_DIGIT = regex.compile(r"[^\D0-9]")  # a decimal digit other than 0-9


@dataclass(frozen=True)
class Finding:
    rule: str
    kind: str
    start: int
    end: int
    placeholder: str


@dataclass(frozen=True)
class Redacted:
    text: str
    findings: tuple[Finding, ...]


def _windows(lo: int, hi: int, size: int, reach: int) -> Iterator[tuple[int, int, int]]:
    """(scan_start, accept_end, scan_end) over [lo, hi): a match is kept if it starts before
    accept_end, and each scan reaches OVERLAP further (at most to ``reach``) so a boundary
    hides nothing."""
    start = lo
    while start < hi:
        accept = min(hi, start + size)
        yield start, accept, min(reach, accept + OVERLAP)
        start = accept


class _Scan:
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
        if automaton is not None:
            hits = self.hits
            for end, (word, n) in automaton.iter(fold(text)):
                found = hits.get(word)
                if found is None:
                    hits[word] = [end - n + 1]
                else:
                    found.append(end - n + 1)
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

    def runs(self, shapes: Sequence[Any], digits: int) -> list[tuple[int, int, int]] | None:
        """(start, end, reach) of each run of digit-ish characters holding a match of one of
        ``shapes`` and at least ``digits`` digits; ``reach`` extends past the run over
        ``[\\w.-]`` (what a lookahead after a number may read). None when the text has digits
        the shape does not map."""
        if self._shape is None:
            text = self.text
            if not text.isascii() and _OTHER_DIGIT.search(text):
                return None
            self._shape = shape_of(text)
        shape, found = self._shape, set()
        for pattern in shapes:
            covered = -1
            for m in pattern.finditer(shape):
                s = m.start()
                if s < covered:
                    continue
                while s > 0 and shape[s - 1] != 120:  # 120: b"x"
                    s -= 1
                covered = _RUN.match(shape, m.end()).end()  # type: ignore[union-attr]
                if shape.count(48, s, covered) >= digits:  # 48: b"0", a digit
                    found.add((s, covered))
        tail = _TAIL.match
        return [(s, e, tail(self.text, e).end()) for s, e in sorted(found)]


# Characters by how often they start a stretch of log text. pyahocorasick looks a
# character up among a node's children one by one, in the order they were added: adding the
# words that start with common characters first makes the pass over a log ~20% faster.
_COMMON = ' "etaoinsrlcdhupmfgybwvk.-_:/=,0123456789xjqz'


def _automaton(words: set[str]) -> Any:
    import ahocorasick

    if not words:
        return None
    auto = ahocorasick.Automaton()
    rank = {ch: i for i, ch in enumerate(_COMMON)}
    for k in sorted(words, key=lambda w: (rank.get(w[0], len(rank)), w)):
        auto.add_word(k, (k, len(k)))
    auto.make_automaton()
    return auto


@dataclass(frozen=True)
class _Plan:
    """What the engine learnt about a rule: the literal prefixes it may look for instead of
    scanning (none for rules spanning lines, which keep their wide regions), and whether
    one anchored match is cheap enough (:func:`anchored_cost`) to run without a timer."""

    rule: Rule
    prefixes: tuple[str, ...]
    cost: int | None  # anchored_cost: steps of one anchored match at worst, None: unknown

    @property
    def cheap(self) -> bool:
        return self.cost is not None

    @classmethod
    def of(cls, rule: Rule) -> _Plan:
        if rule.pattern is None:
            return cls(rule, (), False)
        source, flags = rule.pattern.pattern, rule.pattern.flags
        wide = "multiline" in rule.tags
        prefixes = () if wide else literal_prefixes(source, flags)
        return cls(rule, prefixes, anchored_cost(source, flags))


class Redactor:
    """Redacts text and JSON-like values with one rule set and one placeholder memory."""

    def __init__(
        self, rules: Sequence[Rule], *, window: int = 65536, timeout_s: float = 0.25
    ) -> None:
        self.rules = tuple(rules)
        self._plans = [_Plan.of(r) for r in self.rules]
        self._automaton = _automaton(
            {w for p in self._plans for w in (*p.rule.keywords, *p.prefixes)}
        )
        self.window = window
        self.timeout_s = timeout_s
        self._placeholders: dict[str, str] = {}
        self._counts: Counter[str] = Counter()

    def placeholder(self, rule: str, secret: str) -> str:
        """The same secret always gets the same placeholder, whichever rule found it."""
        if secret not in self._placeholders:
            self._counts[rule] += 1
            self._placeholders[secret] = f"[REDACTED:{rule}:{self._counts[rule]}]"
        return self._placeholders[secret]

    def find(self, text: str) -> list[tuple[int, int, Rule]]:
        """Spans (start, end, rule) of every secret in ``text``, overlaps resolved.

        Where a rule's pattern runs: a one-line pattern on the lines holding one of its
        keywords, a pattern spanning lines (tag ``multiline``) on the lines around them too,
        a keyword-less one everywhere; a digit rule with ``shapes`` only on the runs of
        digits that have one. Inside those regions a rule whose matches all start with a
        known literal (:func:`literal_prefixes`) is tried only where one starts, which
        finds exactly what a scan of the region finds.
        """
        spans: list[tuple[int, int, Rule]] = []
        scan = _Scan(text, self._automaton)
        for plan in self._plans:
            rule = plan.rule
            if rule.keywords:
                regions = scan.regions(rule.keywords, context="multiline" in rule.tags)
            elif rule.shapes and (runs := scan.runs(rule.shapes, rule.min_digits)) is not None:
                self._scan_runs(plan, text, runs, spans)
                continue
            else:
                regions = [(0, len(text))] if text else []
            if plan.prefixes:
                self._candidates(plan, text, scan.starts(plan.prefixes), regions, spans)
            else:
                for lo, hi in regions:
                    self._scan(rule, text, lo, hi, hi, spans)
        return _resolve(spans)

    def _scan(self, rule: Rule, text: str, lo: int, hi: int, reach: int, spans: list[Any]) -> None:
        """Every match of ``rule`` starting in [lo, hi), the pattern reading up to ``reach``;
        in windows, each search time-limited, a window out of time replaced whole."""
        windows: Any = (
            ((lo, hi, reach),)
            if hi - lo <= self.window and reach - hi <= OVERLAP
            else _windows(lo, hi, self.window, reach)
        )
        for start, accept, end in windows:
            try:
                for m in rule.pattern.finditer(
                    text, start, end, timeout=self.timeout_s, overlapped=False
                ):
                    if m.start() >= accept:
                        break
                    span = self._accept(rule, m)
                    if span is not None:
                        spans.append((*span, rule))
            except TimeoutError:
                spans.append((start, accept, _TIMEOUT_RULE))

    def _scan_runs(
        self, plan: _Plan, text: str, runs: list[tuple[int, int, int]], spans: list[Any]
    ) -> None:
        """Every match of a digit rule in its runs. A short run of a cheap pattern is
        searched without a timer (at most ``CHEAP`` x 10 steps); the runs of each window share
        one time limit, checked between runs; past it, a run is replaced (fail closed)."""
        rule, window, deadline = plan.rule, -1, 0.0
        budget = None if plan.cost is None else CHEAP * 10 // plan.cost
        for lo, hi, reach in runs:
            if budget is None or reach - lo > budget:
                self._scan(rule, text, lo, hi, reach, spans)
                continue
            now = perf_counter()
            if lo // self.window != window:
                window, deadline = lo // self.window, now + self.timeout_s
            if now >= deadline:
                spans.append((lo, hi, _TIMEOUT_RULE))
                continue
            for m in rule.pattern.finditer(text, lo, reach):
                if m.start() >= hi:
                    break
                span = self._accept(rule, m)
                if span is not None:
                    spans.append((*span, rule))

    def _candidates(
        self,
        plan: _Plan,
        text: str,
        cands: list[int],
        regions: list[tuple[int, int]],
        spans: list[Any],
    ) -> None:
        """Match ``rule`` at each candidate start inside ``regions`` (both sorted), in order,
        skipping candidates inside the last match, as a left-to-right search would; a
        region crowded with candidates is searched instead."""
        region_starts = [lo for lo, _ in regions]
        i, n = 0, len(cands)
        while i < n:
            r = bisect_right(region_starts, cands[i]) - 1
            if r < 0 or cands[i] >= regions[r][1]:  # between regions: go to the next one
                if r + 1 >= len(regions):
                    return
                i = bisect_left(cands, region_starts[r + 1], i)
                continue
            lo, hi = regions[r]
            j = bisect_left(cands, hi, i)
            if (j - i) * DENSE >= hi - lo:
                self._scan(plan.rule, text, lo, hi, hi, spans)
            else:
                self._match_at(plan, text, lo, hi, cands[i:j], spans)
            i = j

    def _match_at(
        self, plan: _Plan, text: str, lo: int, hi: int, cands: list[int], spans: list[Any]
    ) -> None:
        """Anchored matches at ``cands`` in [lo, hi). Work is bounded as in :meth:`_scan`:
        the candidates of each window share one time limit, checked before each match (a
        cheap pattern's match is not timed itself: ``regex`` reads a CPU clock per timed
        call, 1.5 us); past it, the rest of the window is replaced (fail closed)."""
        rule = plan.rule
        pattern, last, window, deadline = rule.pattern, lo, -1, 0.0
        untimed = plan.cheap and hi - lo <= SPAN
        for c in cands:
            if c < last:
                continue
            w = (c - lo) // self.window
            now = perf_counter()
            if w != window:
                window, deadline = w, now + self.timeout_s
            try:
                if now >= deadline:
                    raise TimeoutError
                if untimed:
                    m = pattern.match(text, c, hi)
                else:
                    m = pattern.match(text, c, hi, timeout=deadline - now)
            except TimeoutError:
                last = min(hi, lo + (w + 1) * self.window)
                spans.append((c, last, _TIMEOUT_RULE))
                continue
            if m is None:
                continue
            last = max(m.end(), c + 1)
            span = self._accept(rule, m)
            if span is not None:
                spans.append((*span, rule))

    @staticmethod
    def _accept(rule: Rule, m: Any) -> tuple[int, int] | None:
        group = rule.group
        if group == -1:  # the first capture group that took part, else the whole match
            group = next((g for g in range(1, m.re.groups + 1) if m.span(g)[1] > m.span(g)[0]), 0)
        start, end = m.span(group)
        if start < 0 or end <= start:
            return None
        secret = m.string[start:end]
        if rule.entropy is not None and shannon_entropy(secret) < rule.entropy:
            return None
        if any(a.search(secret) for a in rule.allow):
            return None
        if rule.validate is not None and not rule.validate(secret):
            return None
        return start, end

    def redact(self, text: str) -> Redacted:
        """Replace every secret in ``text``; return the new text and what was found."""
        spans = self.find(text)
        if not spans:
            return Redacted(text, ())
        out: list[str] = []
        findings: list[Finding] = []
        last = 0
        for start, end, rule in spans:
            ph = self.placeholder(rule.id, text[start:end])
            out.append(text[last:start])
            out.append(ph)
            findings.append(Finding(rule.id, rule.kind, start, end, ph))
            last = end
        out.append(text[last:])
        return Redacted("".join(out), tuple(findings))

    def text(self, text: str) -> str:
        return self.redact(text).text

    def value(self, value: Any) -> Any:
        """Redact every string inside a JSON-like value (keys included), keeping its shape."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


_TIMEOUT_RULE = Rule(id="scan-timeout", pattern=None, description="scan ran out of time")


def _resolve(spans: list[tuple[int, int, Rule]]) -> list[tuple[int, int, Rule]]:
    """Merge overlapping spans. Secrets win over PII (``user:pass@host`` is a credential,
    not an e-mail address); among secrets the earliest, then the longest, names the rule."""
    secrets = _merge([s for s in spans if s[2].kind != "pii"])
    starts = [s[0] for s in secrets]

    def overlaps_secret(start: int, end: int) -> bool:
        # merged secrets are sorted and disjoint: only the neighbours can overlap
        i = bisect_right(starts, start) - 1
        near = (j for j in (i, i + 1) if 0 <= j < len(secrets))
        return any(secrets[j][0] < end and start < secrets[j][1] for j in near)

    pii = [p for p in spans if p[2].kind == "pii" and not overlaps_secret(p[0], p[1])]
    return _merge(secrets + pii)


def _merge(spans: list[tuple[int, int, Rule]]) -> list[tuple[int, int, Rule]]:
    spans.sort(key=lambda s: (s[0], -s[1]))
    merged: list[tuple[int, int, Rule]] = []
    for start, end, rule in spans:
        if merged and start < merged[-1][1]:
            prev = merged[-1]
            merged[-1] = (prev[0], max(prev[1], end), prev[2])
        else:
            merged.append((start, end, rule))
    return merged
