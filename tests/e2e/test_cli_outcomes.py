"""Outcomes as exit codes, through the real ``copilot`` command: a run that ends *failed* or
*unknown*, a change approved but not run, and a read that failed never exit 0.

Each test also looks at what ran (the test pack records every run in the store; the
sandbox keeps its deployments), not only at the code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PACKS = Path(__file__).parent.parent / "packs"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    run_env = {
        **os.environ,
        "COPILOT_TOOL_PATHS": str(PACKS),
        "LITELLM_OFFLINE_MODE": "true",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "copilot", *args],
        capture_output=True,
        text=True,
        env=run_env,
        timeout=180,
    )


def ok(*args: str, env: dict[str, str] | None = None) -> str:
    out = cli(*args, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout


def propose(tool: str, *args: str, who: str = "alice") -> dict[str, Any]:
    card: dict[str, Any] = json.loads(ok("call", tool, *args, "--as", who, "--json"))
    return card


def ran() -> list[list[str]]:
    """What the test pack's tools actually ran, as recorded in the store."""
    from copilot.service import CopilotService
    from copilot.settings import Settings

    svc = CopilotService.open(Settings(tool_paths=str(PACKS)))
    try:
        found = svc.door.deps.store.load("runs")
        return list(found[0]["runs"]) if found else []
    finally:
        svc.close()


def state(approval_id: str) -> str:
    rows = json.loads(ok("proposals", "--all", "--json"))
    return str(next(r["state"] for r in rows if r["id"] == approval_id))


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_an_approved_change_that_fails_exits_8():
    card = propose("broken")
    out = cli("approve", card["id"], "--as", "alice")  # low risk: alice may approve it
    assert out.returncode == 8, out.stderr
    assert out.stdout.startswith("failed  testpack.broken")
    line = one_error_line(out.stderr)
    assert f"testpack.broken ({card['id']}) failed: upstream said no" in line
    assert ran() == [["broken", card["id"]]] and state(card["id"]) == "failed"
    as_json = cli("approve", propose("broken")["id"], "--as", "alice", "--json")
    assert as_json.returncode == 8 and json.loads(as_json.stdout)["execution"]["status"] == "failed"


def test_a_change_whose_outcome_is_unknown_exits_9_and_says_reconcile():
    card = propose("noisy_failure")
    out = cli("approve", card["id"], "--as", "alice")
    assert out.returncode == 9, out.stderr
    line = one_error_line(out.stderr)
    assert "ended unknown" in line and f"copilot reconcile {card['id']}" in line
    assert ran() == [["noisy_failure", card["id"]]] and state(card["id"]) == "unknown"


def test_a_read_that_fails_exits_10_and_one_that_works_exits_0():
    out = cli("call", "read_that_breaks", "--as", "dana")
    assert out.returncode == 10, out.stderr
    assert "the read testpack.read_that_breaks" in one_error_line(out.stderr)
    assert "failed  testpack.read_that_breaks" in out.stdout
    as_json = cli("call", "read_that_breaks", "--as", "dana", "--json")
    assert as_json.returncode == 10
    assert json.loads(as_json.stdout)["execution"]["status"] == "failed"
    fine = cli("call", "read_counter", "-a", "name=a", "--as", "dana")
    assert fine.returncode == 0 and fine.stderr == ""
    assert [r[0] for r in ran()] == ["read_that_breaks", "read_that_breaks", "read_counter"]


def test_execute_of_an_approved_change_that_fails_exits_8():
    slow = {"COPILOT_EXECUTOR__USER_RATE": "1/minute"}
    first = propose("low_note", "-a", "name=n")
    assert cli("approve", first["id"], "--as", "bob", env=slow).returncode == 0
    card = propose("broken")
    held = cli("approve", card["id"], "--as", "bob", env=slow)
    assert held.returncode == 7 and "approval recorded" in held.stderr  # rate limited
    assert state(card["id"]) == "approved" and [r[0] for r in ran()] == ["low_note"]
    out = cli("execute", card["id"], "--as", "bob")
    assert out.returncode == 8, out.stderr
    assert "upstream said no" in one_error_line(out.stderr)
    assert [r[0] for r in ran()] == ["low_note", "broken"] and state(card["id"]) == "failed"


@pytest.fixture
def auto_run_low(tmp_path: Path) -> dict[str, str]:
    """A policy folder that lets low-risk changes run with no approval."""
    from copilot.policy.sources import DEFAULT_DIR

    pdir = tmp_path / "policy"
    pdir.mkdir()
    for f in DEFAULT_DIR.iterdir():
        (pdir / f.name).write_text(f.read_text())
    (pdir / "auto.cedar").write_text(
        '@id("auto-low")\n'
        'permit (principal in Copilot::Role::"responder", action == Copilot::Action::"execute",'
        " resource)\nwhen { resource.risk_level == 1 };\n"
    )
    return {"COPILOT_POLICY_DIR": str(pdir)}


def test_a_change_policy_runs_at_once_exits_8_when_it_fails(auto_run_low: dict[str, str]):
    out = cli("call", "broken", "--as", "alice", env=auto_run_low)
    assert out.returncode == 8, out.stderr
    assert "runs without approval" in out.stdout
    assert [r[0] for r in ran()] == ["broken"]


def test_policy_check_warns_of_changes_that_run_with_no_approval(
    auto_run_low: dict[str, str], tmp_path: Path
):
    clean = cli("policy", "check")
    assert clean.returncode == 0 and clean.stdout.startswith("ok: ") and clean.stderr == ""

    out = cli("policy", "check", env=auto_run_low)
    assert out.returncode == 11 and not out.stdout.startswith("ok")
    warnings = [ln for ln in out.stderr.splitlines() if ln.startswith("warning: ")]
    assert "warning: testpack.broken (low risk) runs with no approval for responder, sre" in (
        out.stderr
    )
    assert all("auto-low" in w for w in warnings)
    assert not any("bump_counter" in w for w in warnings)  # medium still needs an SRE
    assert out.stderr.splitlines()[-1].startswith("error: policy lets ")

    # the issue's own example: a blanket permit lets even a viewer roll back, unapproved
    wide = Path(auto_run_low["COPILOT_POLICY_DIR"]) / "auto.cedar"
    wide.write_text("permit (principal, action, resource);\n")
    out = cli("policy", "check", env=auto_run_low)
    assert out.returncode == 11
    assert (
        "warning: sandbox.rollback_deployment (medium risk) runs with no approval for anyone"
        in out.stderr
    )


def test_approving_a_card_whose_plan_drifted_in_a_conversation_exits_8():
    """The agent's card is approved after the sandbox changed under it: the conversation
    reports it did not run, and so does the exit code; nothing was rolled back."""
    env = {"COPILOT_TOOL_PATHS": ""}  # the sandbox and the agent only
    assert cli("sandbox", "inject", "bad_deploy", "--target", "checkout", env=env).returncode == 0
    asked = cli("ask", "checkout is returning 500s", "--as", "alice", "--json", env=env)
    assert asked.returncode == 0, asked.stderr
    card = json.loads(asked.stdout)["cards"][0]
    assert card["tool"] == "sandbox.rollback_deployment" and card["state"] == "proposed"

    assert cli("sandbox", "reset", env=env).returncode == 0  # someone fixed it by hand
    before = _revisions(env)

    out = cli("approve", card["approval_id"], "--as", "bob", env=env)
    assert out.returncode == 8, out.stdout + out.stderr
    assert "plan of" in out.stdout and "changed since it was approved" in out.stdout
    assert "was approved but did not run" in one_error_line(out.stderr)
    assert _revisions(env) == before and before["checkout"] == 43  # no rollback happened
    rows = json.loads(ok("proposals", "--json", env=env))
    assert [(r["tool"], r["state"]) for r in rows] == [("sandbox.rollback_deployment", "approved")]


def _revisions(env: dict[str, str]) -> dict[str, int]:
    services = json.loads(ok("sandbox", "status", "--json", env=env))["services"]
    return {s["service"]: s["revision"] for s in services}
