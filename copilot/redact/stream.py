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
# The longest PEM block kept back waiting for its END line (an RSA-16384 key is ~13,000
# characters; escaped line breaks add a few more). A BEGIN further back than this whose END
# has not come was cut off: it is redacted as it is, to the end of its base64 run, rather
# than holding the rest of the stream in memory.
PEM_MAX = 32_768


def _split(text: str, line_max: int) -> tuple[str, str]:
    """Cut ``text`` after its last full line (or at its end, when the unfinished line is
    longer than ``line_max``: one enormous line is taken as it is), keeping an unfinished
    PEM block for later -- unless it is longer than any key, so it was cut off."""
    cut = text.rfind("\n") + 1
    if len(text) - cut > line_max:
        cut = len(text)
    head, tail = text[:cut], text[cut:]
    begin = head.rfind(_BEGIN)
    if begin != -1 and "-----END" not in head[begin:] and len(head) - begin <= PEM_MAX:
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
            head, carry = _split(text, 4 * block)
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
