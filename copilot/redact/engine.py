"""The redactor: finds secrets with a rule set and replaces them with stable placeholders.

The same secret becomes the same ``[REDACTED:<rule>:<n>]`` for the life of one
``Redactor`` (one conversation), so a model can still see that two log lines share a key.
The clear values stay only in this object's memory. Work is bounded: text is scanned in
windows of at most ``window`` characters, and every search has a time limit -- its own, or,
for a match whose work is bounded by its pattern (:func:`anchored_cost`), the window's,
checked between matches; a window that runs out of time is replaced (fail closed).

Speed (~22 MB/s on the bench's 8 MB incident log; 6.5 MB/s when every rule scanned all its
keyword lines): one Aho-Corasick pass finds every keyword and literal prefix; a rule is
matched only where its prefix starts, or scanned only on its keyword lines; digit rules
only on runs of digits of the right shape (:meth:`TextScan.runs`).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import regex

from copilot.ids import inside_digest, inside_system_id
from copilot.redact.patterns import CHEAP, SPAN, anchored_cost, literal_prefixes, single_line
from copilot.redact.rules import Rule, TextScan, keyword_automaton, shannon_entropy

OVERLAP = 1024  # a secret that straddles two windows is still seen whole
# A region holding a prefix candidate every DENSE characters or closer is scanned whole:
# one search costs about as much as matching at 20-100 candidates.
DENSE = 32

_TAIL = regex.compile(r"[\w.-]*")  # what a digit rule's lookahead may read past its run


@dataclass(frozen=True)
class Finding:
    rule: str
    kind: str
    start: int
    end: int
    placeholder: str


# Secrets one redactor remembers for stable placeholders before it starts afresh.
MAX_REMEMBERED = 50_000


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


@dataclass(frozen=True)
class _Plan:
    """What the engine learnt about a rule: the literal prefixes it may look for instead of
    scanning (none for rules spanning lines, which keep their wide regions); whether one
    anchored match is cheap enough (:func:`anchored_cost`) to run without a timer; whether
    its matches stay on one line (:func:`single_line`); and whether each prefix holds one of
    its keywords, so that a prefix found is a keyword line found (``gated``)."""

    rule: Rule
    prefixes: tuple[str, ...] = ()
    cost: int | None = None  # steps of one anchored match at worst; None: unknown
    single: bool = False
    gated: bool = False

    @classmethod
    def of(cls, rule: Rule) -> _Plan:
        if rule.pattern is None:
            return cls(rule)
        source, flags = rule.pattern.pattern, rule.pattern.flags
        prefixes = () if "multiline" in rule.tags else literal_prefixes(source, flags)
        single = single_line(source, flags)
        gated = single and all(any(k in p for k in rule.keywords) for p in prefixes)
        return cls(rule, prefixes, anchored_cost(source, flags), single, gated)


MEMO_MAX_CHARS = 256
MEMO_ENTRIES = 20_000  # at most ~5 MB


class Redactor:
    """Redacts text and JSON-like values with one rule set and one placeholder memory."""

    def __init__(
        self, rules: Sequence[Rule], *, window: int = 65536, timeout_s: float = 0.25
    ) -> None:
        self.rules = tuple(rules)
        self._plans = [_Plan.of(r) for r in self.rules]
        self._unkeyed = [p for p in self._plans if not p.rule.keywords]
        self._automaton = keyword_automaton(
            {w for p in self._plans for w in (*p.rule.keywords, *p.prefixes)}
        )
        self.window = window
        self.timeout_s = timeout_s
        self._placeholders: dict[str, str] = {}
        self._counts: Counter[str] = Counter()
        self._clean: set[str] = set()  # short texts known to hold no secret

    def placeholder(self, rule: str, secret: str) -> str:
        """The same secret always gets the same placeholder, whichever rule found it."""
        if secret not in self._placeholders:
            if len(self._placeholders) >= MAX_REMEMBERED:
                # A long-lived process must not grow without bound: forget the values but
                # keep counting, so a new placeholder never reuses an old one's number.
                self._placeholders.clear()
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
        finds exactly what a scan of the region finds. A span inside a proposal or approval
        id (:func:`copilot.ids.inside_system_id`) is no finding, nor is personal data inside
        a hex digest (:func:`copilot.ids.inside_digest`).
        """
        spans: list[tuple[int, int, Rule]] = []
        scan = TextScan(text, self._automaton)
        hits = scan.hits.keys()
        for plan in self._plans if hits else self._unkeyed:
            # No keyword of the rule in the text: it cannot match (a gated rule's prefixes
            # each hold a keyword). Most rules stop here, which keeps short texts cheap.
            if plan.rule.keywords and hits.isdisjoint(plan.rule.keywords):
                continue
            self._run(plan, scan, spans)
        if spans:
            # An id the copilot minted is never a secret, whatever a rule thinks of its
            # digits; nor is a run of digits in one of its hashes a card or phone number.
            spans = [
                s
                for s in spans
                if not inside_system_id(text, s[0], s[1])
                and not (s[2].kind == "pii" and inside_digest(text, s[0], s[1]))
            ]
        return _resolve(spans)

    def _run(self, plan: _Plan, scan: TextScan, spans: list[Any]) -> None:
        """One rule over one text (see :meth:`find`)."""
        rule, text = plan.rule, scan.text
        if rule.keywords and not (plan.prefixes and plan.gated):
            regions = scan.regions(rule.keywords, context="multiline" in rule.tags)
        elif rule.shapes and (runs := scan.runs(rule.shapes, rule.min_digits)) is not None:
            tail = _TAIL.match  # what a lookahead after a number may read past it
            reach = [(lo, hi, tail(text, hi).end()) for lo, hi in runs]
            self._regions(plan, text, reach, spans)
            return
        else:
            regions = [(0, len(text))] if text else []
        if plan.prefixes:
            self._candidates(plan, text, scan.starts(plan.prefixes), regions, spans)
        else:
            self._regions(plan, text, [(lo, hi, hi) for lo, hi in regions], spans)

    def _regions(
        self, plan: _Plan, text: str, regions: list[tuple[int, int, int]], spans: list[Any]
    ) -> None:
        """Every match starting in each [lo, hi), reading up to ``reach``. Where that is at
        most ``CHEAP`` steps at worst (a short region, a cheap pattern) the search is not
        timed, and the regions of each window share one time limit, checked between them;
        past it a region is replaced (fail closed). Other regions: :meth:`_scan`."""
        rule, window, deadline = plan.rule, -1, 0.0
        budget = -1 if plan.cost is None else CHEAP // plan.cost
        for lo, hi, reach in regions:
            if reach - lo > budget:
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

    def _candidates(
        self,
        plan: _Plan,
        text: str,
        cands: list[int],
        regions: list[tuple[int, int]],
        spans: list[Any],
    ) -> None:
        """Anchored matches at each candidate start inside ``regions`` (both sorted), in
        order, skipping candidates inside the last match, as a left-to-right search of each
        region would; a region crowded with candidates is searched instead (:meth:`_scan`).

        Work is bounded as in :meth:`_scan`: the candidates of each window share one time
        limit, checked before each match (a cheap pattern's match is not timed itself:
        ``regex`` reads a CPU clock per timed call, 1.5 us); past it, the rest of the window
        is replaced (fail closed)."""
        rule, starts, find = plan.rule, [lo for lo, _ in regions], text.find
        pattern, size, limit, cheap = rule.pattern, self.window, self.timeout_s, plan.cost
        lo = hi = last = window = -1
        deadline, whole, by_line = 0.0, False, False
        i, n = 0, len(cands)
        while i < n:
            c = cands[i]
            if c >= hi:  # into the region holding c, if any
                r = bisect_right(starts, c) - 1
                if r < 0 or c >= regions[r][1]:
                    if r + 1 >= len(regions):
                        return
                    i = bisect_left(cands, starts[r + 1], i)
                    continue
                lo, hi = regions[r]
                j = bisect_left(cands, hi, i)
                if (j - i) * DENSE >= hi - lo:
                    self._scan(rule, text, lo, hi, hi, spans)
                    i = j
                    continue
                last, window = lo, -1
                whole = cheap is not None and hi - lo <= SPAN  # any match in it is cheap
                by_line = cheap is not None and plan.single and not whole  # cheap on its line
            i += 1
            if c < last:
                continue
            w = (c - lo) // size
            now = perf_counter()
            if w != window:
                window, deadline = w, now + limit
            try:
                if now >= deadline:
                    raise TimeoutError
                if whole:
                    m = pattern.match(text, c, hi)
                elif by_line and (nl := find("\n", c, c + SPAN)) != -1:
                    m = pattern.match(text, c, nl + 1)  # (one-line: same as up to ``hi``)
                else:
                    m = pattern.match(text, c, hi, timeout=deadline - now)
            except TimeoutError:
                last = min(hi, lo + (w + 1) * size)
                spans.append((c, last, _TIMEOUT_RULE))
                continue
            if m is not None:
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
        # Short strings recur (JSON keys, service names, levels): one that held no secret
        # holds none next time either (``find`` depends only on the text and the rules, and
        # a timed-out scan reports a span), so it is not scanned again.
        if len(text) <= MEMO_MAX_CHARS:
            if text in self._clean:
                return text
            done = self.redact(text)
            if not done.findings:
                if len(self._clean) >= MEMO_ENTRIES:
                    self._clean.clear()
                self._clean.add(text)
            return done.text
        return self.redact(text).text

    def identity(self, text: str) -> str:
        """Redact secrets but keep personal data: for who did something. An actor's or an
        approver's e-mail address is their identity on the record, not a leak; a secret
        pasted where a name should be still goes."""
        spans = [s for s in self.find(text) if s[2].kind != "pii"]
        if not spans:
            return text
        out: list[str] = []
        last = 0
        for start, end, rule in spans:
            out += (text[last:start], self.placeholder(rule.id, text[start:end]))
            last = end
        return "".join((*out, text[last:]))

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
