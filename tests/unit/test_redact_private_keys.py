"""Private key blocks are redacted however their line breaks were written, and when cut off.

Each form plants one key and asserts that no 40-character slice of its base64 body comes
out: a key in a JSON log line (breaks escaped once), in JSON inside JSON (escaped twice),
with CRLF, spaces or no breaks at all, and a block cut off before its END line.
"""

from __future__ import annotations

import base64
import io
import json
import random

import pytest

from copilot.redact.ruleset import default_redactor
from copilot.redact.stream import redact_stream

_RNG = random.Random(11)
BODY = base64.b64encode(bytes(_RNG.randrange(256) for _ in range(1190))).decode()
LINES = [BODY[i : i + 64] for i in range(0, len(BODY), 64)]
PEM = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(LINES) + "\n-----END RSA PRIVATE KEY-----\n"
ENCRYPTED = (
    "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
    "DEK-Info: AES-128-CBC,3F17F5316E2BAC89\n\n" + "\n".join(LINES) + "\n"
    "-----END RSA PRIVATE KEY-----\n"
)
CUT = PEM[: len(PEM) // 2]  # cut mid-line, before its END line


def slices(text: str = BODY) -> list[str]:
    """Every 40-character slice of the key's base64 that lies within one of its lines."""
    return [line[i : i + 40] for line in LINES for i in range(0, len(line) - 39, 8)]


def assert_no_key(out: str) -> None:
    leaked = [s for s in slices() if s in out]
    assert not leaked, f"{len(leaked)} slices of the key leaked: {out[:200]!r}"


def in_json(text: str, times: int = 1) -> str:
    for _ in range(times):
        text = json.dumps({"level": "error", "msg": "bad key", "key": text})
    return text


FORMS = {
    "real line breaks": PEM,
    "encrypted, with headers": ENCRYPTED,
    "JSON log line (\\n)": in_json(PEM),
    "JSON in JSON (\\\\n)": in_json(PEM, 2),
    "three levels of JSON": in_json(PEM, 3),
    "CRLF": PEM.replace("\n", "\r\n"),
    "CRLF in JSON (\\r\\n)": in_json(PEM.replace("\n", "\r\n")),
    "CRLF in JSON in JSON": in_json(PEM.replace("\n", "\r\n"), 2),
    "spaces": PEM.replace("\n", " "),
    "no breaks": PEM.replace("\n", ""),
    "JSON with escaped slashes": in_json(PEM).replace("/", "\\/"),
    "cut off": CUT,
    "cut off, then more log": CUT + "\nnext line of the log\n",
    "cut off in JSON": in_json(CUT) + "\n",
    "cut off in JSON in JSON": in_json(CUT, 2),
    "cut off, spaces": CUT.replace("\n", " ") + " and the log goes on",
    "cut off, no breaks": CUT.replace("\n", ""),
    "encrypted, cut off": ENCRYPTED[: len(ENCRYPTED) // 2],
}


@pytest.mark.parametrize("text", FORMS.values(), ids=FORMS.keys())
def test_a_private_key_is_redacted_in_every_form(text: str) -> None:
    assert any(s in text for s in slices())  # the plant is there
    out = default_redactor().text(text)
    assert_no_key(out)
    # The header stays (a reader sees what was there), the body is one placeholder.
    assert out.count("-----BEGIN RSA PRIVATE KEY-----") == 1
    assert "[REDACTED:private-key:1]" in out and "[REDACTED:private-key:2]" not in out


def test_text_after_a_cut_off_block_survives() -> None:
    out = default_redactor().text(CUT + "\nnext line of the log\n")
    assert out.endswith("\nnext line of the log\n")
    out = default_redactor().text(in_json(CUT) + " trailing words")
    assert out.endswith('[REDACTED:private-key:1]"} trailing words')


def test_a_mention_of_a_key_keeps_its_sentence() -> None:
    text = "the -----BEGIN RSA PRIVATE KEY----- line is missing from tls.key, see runbook"
    assert default_redactor().text(text) == text


@pytest.mark.parametrize(
    "text",
    [FORMS["JSON in JSON (\\\\n)"], FORMS["cut off in JSON"], FORMS["cut off, then more log"]],
    ids=["escaped twice", "cut off in JSON", "cut off"],
)
@pytest.mark.parametrize("block", [97, 1024, 1 << 20])
def test_a_stream_redacts_escaped_and_cut_off_keys_across_blocks(text: str, block: int) -> None:
    data = ("first line\n" + text + "\nlast line\n").encode()
    pieces = list(redact_stream(io.BytesIO(data), default_redactor(), block=block))
    out = b"".join(p for p, _ in pieces).decode()
    assert_no_key(out)
    assert out.startswith("first line\n") and out.endswith("\nlast line\n")
    assert "private-key" in {f.rule for _, found in pieces for f in found}


def test_a_stream_does_not_hold_a_cut_off_block_forever() -> None:
    """A BEGIN whose END never comes is redacted as it is once the block is longer than any
    key: the lines after it flow on instead of waiting for the end of the stream."""
    lines = "".join(f"request {i} ok\n" for i in range(5000))
    data = (CUT + "\n" + lines).encode()
    pieces = list(redact_stream(io.BytesIO(data), default_redactor(), block=4096))
    assert len(pieces) > 10  # emitted as it went, not all at the end
    out = b"".join(p for p, _ in pieces).decode()
    assert_no_key(out)
    assert out.endswith("request 4999 ok\n")
