"""The redactor: finds secrets with a rule set and replaces them with stable placeholders.

The same secret becomes the same ``[REDACTED:<rule>:<n>]`` for the life of one
``Redactor`` (one conversation), so a model can still see that two log lines share a key.
The clear values stay only in this object's memory. Work is bounded: text is scanned in
windows of at most ``window`` characters, and every pattern search has a time limit; a
window whose scan runs out of time is replaced whole (fail closed).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from copilot.redact.rules import Rule, shannon_entropy

OVERLAP = 1024  # a secret that straddles two windows is still seen whole


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


def _windows(lo: int, hi: int, size: int) -> Iterator[tuple[int, int, int]]:
    """(scan_start, accept_end, scan_end) over [lo, hi): a match is kept if it starts before
    accept_end, and each scan reaches OVERLAP further so a boundary hides nothing."""
    start = lo
    while start < hi:
        accept = min(hi, start + size)
        yield start, accept, min(hi, accept + OVERLAP)
        start = accept


class _Scan:
    """One text's line layout and keyword hits, shared by every rule.

    All keywords of all rules are found in one Aho-Corasick pass (pyahocorasick) instead of
    one ``str.find`` pass per keyword: measured 0.07 s against 0.39 s on a 4 MB log.
    """

    # Lines around a keyword hit that a pattern may span: a little before (a key name on
    # the line above its value), a lot after (a PEM block runs ~50 lines past its BEGIN).
    BEFORE, AFTER = 5, 100

    def __init__(self, text: str, automaton: Any) -> None:
        self.text = text
        self.line_starts = [0]
        at = text.find("\n")
        while at != -1:
            self.line_starts.append(at + 1)
            at = text.find("\n", at + 1)
        self.hits: dict[str, list[int]] = {}
        if automaton is not None:
            for end, keyword in automaton.iter(text.lower()):
                line = bisect_right(self.line_starts, end) - 1
                lines = self.hits.setdefault(keyword, [])
                if not lines or lines[-1] != line:
                    lines.append(line)

    def regions(self, keywords: tuple[str, ...], context: bool) -> list[tuple[int, int]]:
        """Character ranges of the lines holding any of ``keywords`` (with the lines around
        them when ``context``), merged."""
        lines = sorted({n for k in keywords for n in self.hits.get(k, ())})
        out: list[tuple[int, int]] = []
        last = len(self.line_starts) - 1
        before, after = (self.BEFORE, self.AFTER) if context else (0, 0)
        for n in lines:
            lo = self.line_starts[max(0, n - before)]
            top = min(last, n + after) + 1
            hi = self.line_starts[top] if top <= last else len(self.text)
            if out and lo <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], hi))
            else:
                out.append((lo, hi))
        return out


def _automaton(rules: Sequence[Rule]) -> Any:
    import ahocorasick

    keywords = {k for r in rules for k in r.keywords}
    if not keywords:
        return None
    auto = ahocorasick.Automaton()
    for k in keywords:
        auto.add_word(k, k)
    auto.make_automaton()
    return auto


class Redactor:
    """Redacts text and JSON-like values with one rule set and one placeholder memory."""

    def __init__(
        self, rules: Sequence[Rule], *, window: int = 65536, timeout_s: float = 0.25
    ) -> None:
        self.rules = tuple(rules)
        self._automaton = _automaton(self.rules)
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
        """Spans (start, end, rule) of every secret in ``text``, overlaps resolved."""
        spans: list[tuple[int, int, Rule]] = []
        scan = _Scan(text, self._automaton)
        for rule in self.rules:
            if not rule.keywords:
                regions = [(0, len(text))]
            else:
                # A one-line pattern only needs the lines holding a keyword; a pattern that
                # spans lines (tag "multiline") gets the lines around them too.
                wide = "multiline" in rule.tags
                regions = scan.regions(rule.keywords, context=wide)
            for lo, hi in regions:
                for start, accept, end in _windows(lo, hi, self.window):
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
        return _resolve(spans)

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
