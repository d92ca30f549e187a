"""Redact a byte stream block by block (pipes of any size), keeping one placeholder memory.

Input that is not UTF-8 is redacted as far as it decodes: undecodable bytes pass through
untouched (surrogateescape), so binary junk in a log never crashes the filter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from copilot.redact.engine import Finding, Redactor

BLOCK = 1 << 20
_BEGIN = "-----BEGIN"


def _split(text: str) -> tuple[str, str]:
    """Cut ``text`` after its last full line, keeping an unfinished PEM block for later."""
    cut = text.rfind("\n") + 1
    head, tail = text[:cut], text[cut:]
    begin = head.rfind(_BEGIN)
    if begin != -1 and "-----END" not in head[begin:]:
        head, tail = head[:begin], head[begin:] + tail
    return head, tail


def redact_stream(
    source: BinaryIO, redactor: Redactor, block: int = BLOCK
) -> Iterator[tuple[bytes, list[Finding]]]:
    """Yield (redacted bytes, findings with offsets into the whole decoded input)."""
    carry, base = "", 0
    while True:
        raw = source.read(block)
        text = carry + raw.decode("utf-8", errors="surrogateescape") if raw else carry
        if not raw:
            head, carry = text, ""
        else:
            head, carry = _split(text)
            if len(carry) > 4 * block:  # one enormous line: take it as it is
                head, carry = text, ""
        if head:
            out = redactor.redact(head)
            found = [
                Finding(f.rule, f.kind, f.start + base, f.end + base, f.placeholder)
                for f in out.findings
            ]
            yield out.text.encode("utf-8", errors="surrogateescape"), found
            base += len(head)
        if not raw:
            return
