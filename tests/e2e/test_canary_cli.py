"""Canaries through the real CLI: secrets typed in chat and put in runbooks appear nowhere
in the data dir (every file: the store, the checkpoints, Chroma, their WAL files, an
export written there), in no reply, export or log line, and the data dir is private.

Every step is its own ``copilot`` process, as a person runs them, with debug logs on and
spans printed, so the logs are searched too. Each file is read as bytes, after the last
process has exited (and the WAL files with it) as well as the first time round.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from fakes.canaries import (
    AWS_KEY_ID,
    GITHUB_TOKEN,
    PASSWORD,
    PASTE,
    PEM_BLOCK,
    leaks,
    leaks_in_files,
)

ASK = "checkout is returning 500s"

RUNBOOK = f"""---
title: Payments credentials {GITHUB_TOKEN}
services: [payments]
---
# Rotating the payments credentials

The deploy bot uses {GITHUB_TOKEN}; the bucket's AWS user is {AWS_KEY_ID}.

    psql "host=db.internal user=payments" password={PASSWORD}

## Signing key
{PEM_BLOCK}
"""


def _env(data_dir: Path, spans: bool = False) -> dict[str, str]:
    env = {**os.environ, "COPILOT_DATA_DIR": str(data_dir), "LITELLM_OFFLINE_MODE": "true"}
    env.pop("COPILOT_DATABASE_URL", None)
    env["COPILOT_TELEMETRY__LOG_LEVEL"] = "DEBUG"  # every log line is searched too
    # spans are printed on stdout: only for the steps whose output is not parsed as JSON
    env["COPILOT_TELEMETRY__EXPORTER"] = "console" if spans else "none"
    return env


class Run:
    """Runs ``copilot`` and keeps everything it printed, to be searched at the end."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.printed: list[str] = []

    def __call__(
        self, *args: str, stdin: str = "", spans: bool = False, ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "copilot", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=_env(self.data_dir, spans),
            timeout=300,
        )
        self.printed += [done.stdout, done.stderr]
        if ok:
            assert done.returncode == 0, f"{args[:2]} exited {done.returncode}: {done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr
        return done


def _assert_private(data_dir: Path) -> None:
    for path in [data_dir, *data_dir.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {oct(mode)}"


def test_secrets_in_chat_and_runbooks_reach_no_file_reply_export_or_log(tmp_path: Path) -> None:
    data = tmp_path / "data"
    books = tmp_path / "runbooks"
    books.mkdir()
    (books / "payments-creds.md").write_text(RUNBOOK, encoding="utf-8")
    run = Run(data)

    ingested = run("runbooks", "ingest", str(books))
    assert (
        "warning: runbooks/payments-creds.md: 4 secrets replaced by placeholders" in ingested.stderr
    )
    run("sandbox", "reset")
    run("sandbox", "inject", "bad_deploy", "--target", "checkout")

    # a conversation: the start, a follow-up while its card waits, an approval with a reason
    start = json.loads(
        run(
            "ask", f"{ASK}; deploy token {GITHUB_TOKEN}", "--as", "alice", "-c", "inc-1", "--json"
        ).stdout
    )
    assert start["pending"], start["text"]
    run("ask", f"this was in the logs:\n{PASTE}", "--as", "alice", "-c", "inc-1", "--json")
    approved = run(
        "approve", start["pending"][0], "--as", "bob", "--reason", f"ok {PASTE}", spans=True
    )
    assert "succeeded" in approved.stdout

    # `copilot chat`: a key, a password line and a pasted PEM block, one line at a time
    lines = f"{ASK}, the key is {AWS_KEY_ID}\ndb password={PASSWORD}\n{PEM_BLOCK}\n/quit\n"
    chat = run("chat", "--as", "alice", "-c", "chat-1", stdin=lines, spans=True)
    assert chat.stdout.count("[conversation chat-1]") == 3  # the block was one message

    found = json.loads(
        run("runbooks", "search", "payments credentials deploy bot", "--json").stdout
    )
    assert any(h["source"] == "runbooks/payments-creds.md" for h in found["hits"])
    assert "[REDACTED:" in json.dumps(found)
    run("runbooks", "search", PASTE, "--json")
    for fmt in ("jsonl", "ocsf"):
        run("audit", "export", "--format", fmt)
    run("audit", "export", "-o", str(data / "audit.jsonl"))
    assert (data / "audit.jsonl").stat().st_size > 0

    everything = "\n".join(run.printed)
    assert "[REDACTED:github-token:" in everything  # the secrets went through, as placeholders
    assert not leaks(everything), leaks(everything)
    assert not leaks_in_files(data)
    _assert_private(data)


def test_a_credential_named_argument_is_refused_and_stored_nowhere(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run = Run(data)
    run("sandbox", "reset")
    value = "hunter2hunter2"
    refused = run(
        "call",
        "sandbox.set_config_value",
        "-a",
        "service=checkout",
        "-a",
        "key=PAYMENTS_PASSWORD",
        "-a",
        f"value={value}",
        "--as",
        "alice",
        ok=False,
    )
    run("audit", "export", "--format", "ocsf")
    assert refused.returncode != 0
    assert value not in "\n".join(run.printed)
    assert not any(value.encode() in p.read_bytes() for p in data.rglob("*") if p.is_file())
