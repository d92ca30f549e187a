"""Streaming redaction: blocks, binary input, huge and adversarial lines, PEM across blocks."""

from __future__ import annotations

import io

from copilot.redact.engine import Redactor
from copilot.redact.rules import compile_rule
from copilot.redact.stream import redact_stream

TOKEN = compile_rule("demo-token", r"\bdmo_[A-Za-z0-9]{20}\b", keywords=("dmo_",))
PEM = compile_rule(
    "private-key",
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
    keywords=("private key",),
    tags=("multiline",),  # spans lines: scanned with the lines after its keyword
)
SECRET = "dmo_abcdefghij0123456789"


def run(data: bytes, block: int = 64) -> tuple[bytes, list]:
    out, found = b"", []
    for chunk, f in redact_stream(io.BytesIO(data), Redactor([TOKEN, PEM]), block=block):
        out += chunk
        found += f
    return out, found


def test_blocks_keep_placeholders_and_offsets():
    lines = [f"line {i} token {SECRET}\n".encode() for i in range(20)]
    out, found = run(b"".join(lines), block=50)
    assert SECRET.encode() not in out
    assert out.count(b"[REDACTED:demo-token:1]") == 20  # one secret, one name, all blocks
    text = b"".join(lines).decode()
    assert all(text[f.start : f.end] == SECRET for f in found)


def test_binary_input_passes_through_around_secrets():
    data = b"\xff\xfe\x00garbage " + SECRET.encode() + b" \xc3\x28 tail\n"
    out, _ = run(data)
    assert out == b"\xff\xfe\x00garbage [REDACTED:demo-token:1] \xc3\x28 tail\n"


def test_a_pem_block_split_across_blocks_is_caught():
    key = "-----BEGIN RSA PRIVATE KEY-----\n" + "MIIEpAIBAAKCAQEA\n" * 30
    key += "-----END RSA PRIVATE KEY-----\n"
    out, found = run(("before\n" + key + "after\n").encode(), block=128)
    assert b"MIIEpAIBAAKCAQEA" not in out and [f.rule for f in found] == ["private-key"]


def test_a_one_megabyte_line_and_adversarial_input_finish():
    line = ("a" * 1_000_000 + " " + SECRET + " " + "b" * 1000 + "\n").encode()
    out, _ = run(line, block=1 << 16)
    assert SECRET.encode() not in out and len(out) > 1_000_000
    nasty = ("dmo_" * 200_000 + "\n").encode()  # keyword everywhere, no secret
    out, found = run(nasty, block=1 << 16)
    assert out == nasty and found == []
