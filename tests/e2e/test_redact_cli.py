"""`copilot redact` as a pipe: text in, text out; --json; extra gitleaks rules; binary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

GH = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"


def redact(*args: str, data: bytes) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "copilot", "redact", *args],
        input=data,
        capture_output=True,
        timeout=60,
    )


def test_pipe_keeps_everything_but_the_secrets():
    log = (
        f"12:00 deploy by ci token={GH}\n"
        "12:01 db url postgres://admin:hunter2@db.internal:5432/prod\n"
        f"12:02 retry with {GH}\n"
    ).encode()
    out = redact(data=log)
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode()
    assert GH not in text and "hunter2" not in text
    assert text.count("[REDACTED:github-token:1]") == 2  # same secret, same name
    assert "db.internal:5432/prod" in text and text.startswith("12:00 deploy by ci")


def test_json_lists_findings_with_spans():
    data = f"x {GH} y\n".encode()
    found = json.loads(redact("--json", data=data).stdout)
    assert [(f["rule"], f["start"], f["end"]) for f in found] == [("github-token", 2, 2 + len(GH))]


def test_extra_gitleaks_rules_and_skips_are_reported(tmp_path: Path):
    rules = tmp_path / "team.toml"
    rules.write_text(
        "[[rules]]\nid = \"acme-key\"\nregex = '''acme_[0-9a-f]{16}'''\n\n"
        "[[rules]]\nid = \"oops\"\nregex = '''('''\n"
    )
    out = redact("--rules", str(rules), data=b"key acme_0123456789abcdef\n")
    assert out.stdout == b"key [REDACTED:acme-key:1]\n"
    assert f"{rules}:6: rule oops skipped" in out.stderr.decode()
    broken = tmp_path / "broken.toml"
    broken.write_text("[[rules]\n")
    bad = redact("--rules", str(broken), data=b"x\n")
    assert bad.returncode == 78 and b"is not valid TOML" in bad.stderr


def test_binary_input_survives():
    data = b"\x00\xff\xfe" + GH.encode() + b"\xc3\x28\n"
    out = redact(data=data)
    assert out.returncode == 0 and out.stdout == b"\x00\xff\xfe[REDACTED:github-token:1]\xc3\x28\n"
