"""Canary secrets never reach the terminal: tool output, errors and exports of `copilot`."""

from __future__ import annotations

import json

from packs.testpack import CANARIES, CANARY_GITHUB
from test_cli import cli


def assert_clean(text: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"canary {canary[:8]}… leaked: {text[:300]}"


def test_tool_output_error_and_export_from_the_command_line():
    read = cli("call", "leaky_read", "--as", "dana", "--json")
    assert_clean(read.stdout + read.stderr)
    assert "[REDACTED:" in read.stdout

    card = json.loads(cli("call", "leaky_failure", "--as", "alice", "--json").stdout)
    failed = cli("approve", card["id"], "--as", "bob", ok=False)
    assert_clean(failed.stdout + failed.stderr)
    assert "registry.internal" in failed.stdout + failed.stderr

    refused = cli(
        "call",
        "takes_anything",
        "--arg",
        "name=x",
        "--arg",
        f"value={CANARY_GITHUB}",
        "--as",
        "alice",
        ok=False,
    )
    assert refused.returncode == 2 and "looks like a secret" in refused.stderr
    assert_clean(refused.stdout + refused.stderr)

    for fmt in ("jsonl", "ocsf"):
        assert_clean(cli("audit", "export", "--format", fmt).stdout)
    assert cli("audit", "verify").returncode == 0


def test_console_spans_and_logs_of_the_command_line_are_redacted():
    env = {"COPILOT_TELEMETRY__EXPORTER": "console", "COPILOT_TELEMETRY__LOG_LEVEL": "INFO"}
    card = json.loads(
        cli("call", "leaky_failure", "--arg", "foreign=true", "--as", "alice", "--json").stdout
    )
    out = cli("approve", card["id"], "--as", "bob", env=env, ok=False)
    assert '"copilot.execute"' in out.stdout  # the console exporter printed the span
    assert "INFO copilot.executor" in out.stderr  # and the executor logged the outcome
    assert_clean(out.stdout + out.stderr)
