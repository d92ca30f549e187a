"""The agent from the command line, as a person runs it: the offline model, no network, no key.

Every step is its own ``copilot`` process, so a card written by ``copilot ask`` is approved
by another process that has only the checkpoint and the store to go on (a restart between
the card and the approval). Each process imports litellm (seconds): the module keeps their
number small and runs the independent ones side by side.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ASK = "checkout is returning 500s"


def _env(data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    env = {**os.environ, "COPILOT_DATA_DIR": str(data_dir), "LITELLM_OFFLINE_MODE": "true"}
    env.pop("COPILOT_DATABASE_URL", None)
    if database_url:
        env["COPILOT_DATABASE_URL"] = database_url
    return env


def _start(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "copilot", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdin is not None
    proc.stdin.write(stdin or "")  # all of it at once (a few lines fit the pipe's buffer)
    proc.stdin.close()
    proc.stdin = None  # so communicate() does not touch it again
    return proc


def _finish(proc: subprocess.Popen[str], ok: bool = True) -> subprocess.CompletedProcess[str]:
    out, err = proc.communicate(timeout=180)
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    if ok:
        assert done.returncode == 0, f"{proc.args[3:]} exited {done.returncode}: {err}"
        assert "Traceback" not in err
    return done


def cli(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    return _finish(_start(env, *args), ok)


def _prepare_world(data_dir: Path) -> None:
    """Reset the sandbox and break checkout, in this process (the operator's part)."""
    from copilot.service import CopilotService
    from copilot.settings import Settings

    svc = CopilotService.open(Settings(data_dir=data_dir))
    try:
        svc.reset_sandbox()
        svc.inject_fault("bad_deploy", "checkout")
    finally:
        svc.close()


def _look(data_dir: Path) -> tuple[dict[str, Any], list[tuple[str, str, str, str]]]:
    """(checkout's status, every proposal as (tool, requester, state, risk)) in a data dir."""
    from copilot.service import CopilotService
    from copilot.settings import Settings

    svc = CopilotService.open(Settings(data_dir=data_dir))
    try:
        status = svc.sandbox_status()
        cards = svc.cards(limit=1000)
    finally:
        svc.close()
    checkout = next(s for s in status["services"] if s["service"] == "checkout")
    active = [f["kind"] for f in status["faults"] if f["active"]]
    return {**checkout, "active_faults": active}, [
        (c.tool, c.requester, c.state.value, c.risk.value) for c in cards
    ]


def _checkpoint_tables(url: str) -> set[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema()"
                )
            )
            return {r[0] for r in rows}
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_bad_deploy_card_then_approval_in_a_new_process_recovers(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue("pg_url")) if backend == "postgres" else None
    env = _env(tmp_path / "data", url)

    assert cli(env, "sandbox", "reset").stdout.strip() == "sandbox reset"
    injected = cli(env, "sandbox", "inject", "bad_deploy", "--target", "checkout").stdout
    found = re.search(r"revision (\d+) → (\d+)", injected)
    assert found, injected
    good, bad = int(found.group(1)), int(found.group(2))

    reply = json.loads(cli(env, "ask", ASK, "--as", "alice", "--json").stdout)
    assert len(reply["cards"]) == 1, reply
    card = reply["cards"][0]
    assert card["tool"] == "sandbox.rollback_deployment"
    assert card["arguments"]["service"] == "checkout"
    assert card["risk"] == "medium" and card["state"] == "proposed"
    assert card["requester"] == "alice" and "sre" in card["required"]
    assert f"revision {bad} → {good}" in card["plan"]
    provenance = card["provenance"]
    assert provenance["runbook"].startswith("bundled/sandbox/bad-deploy.md#")
    assert provenance["facts"] and all(re.fullmatch(r"f\d+", f) for f in provenance["facts"])
    assert "error_rate" in provenance["when"]
    assert reply["pending"] == [card["approval_id"]]
    assert "bad-deploy.md" in reply["text"] and card["approval_id"] in reply["text"]
    approval = card["approval_id"]

    # The requester may not approve her own medium change: one clear line, no stack trace.
    own = cli(env, "approve", approval, "--as", "alice", "--json", ok=False)
    assert own.returncode != 0 and own.stdout == ""
    assert "two-person rule" in own.stderr and "Traceback" not in own.stderr
    assert len(own.stderr.strip().splitlines()) == 1

    # A new process resumes the conversation from its checkpoint: run, then verify.
    done = json.loads(cli(env, "approve", approval, "--as", "bob", "--json").stdout)
    assert done["id"] == approval and done["state"] == "succeeded"
    text = done["reply"]["text"]
    assert f"sandbox.rollback_deployment ({approval}) succeeded" in text
    assert "verify: sandbox.rollback_deployment recovered" in text
    assert done["reply"]["conversation"] == reply["conversation"]
    assert done["reply"]["pending"] == []
    (ran,) = done["reply"]["cards"]
    assert ran["state"] == "succeeded" and ran["verified"] is True
    assert ran["result"]["before_revision"] == bad and ran["result"]["after_revision"] == good

    status = json.loads(cli(env, "sandbox", "status", "--json").stdout)
    checkout = next(s for s in status["services"] if s["service"] == "checkout")
    assert checkout["health"] == "healthy" and checkout["revision"] == good
    assert checkout["error_rate"] < 0.01
    assert not [f for f in status["faults"] if f["active"]]

    # The conversation lived where the store lives: the data dir, or this test's own schema.
    if url is None:
        assert (tmp_path / "data" / "checkpoints.db").is_file()
    else:
        tables = _checkpoint_tables(url)
        assert {"checkpoints", "checkpoint_writes", "checkpoint_blobs"} <= tables
        assert "approvals" in tables


def test_viewer_unrelated_request_and_rejection(tmp_path: Path) -> None:
    """Two conversations in two data dirs, side by side (independent processes).

    - dana (viewer) asks about the bad deploy: the model is offered only the tools she could
      be allowed to propose (a policy dry run: reads), so no rollback card can appear; the
      offline planner names the runbook's step and says she cannot propose it.
    - alice, in ``copilot chat``, first asks about the coffee machine: no runbook covers it,
      the planner abstains and nothing is proposed or read; then about the bad deploy, which
      gets a card that bob rejects with ``copilot reject``: nothing runs, the world stays
      broken.
    """
    viewer, chat = tmp_path / "viewer", tmp_path / "chat"
    for data_dir in (viewer, chat):
        _prepare_world(data_dir)
    lines = f"the coffee machine is broken\n{ASK}\n/quit\n"
    procs = [
        _start(_env(viewer), "ask", ASK, "--as", "dana", "--json"),
        _start(_env(chat), "chat", "--as", "alice", "-c", "chat-1", stdin=lines),
    ]
    dana, talk = json.loads(_finish(procs[0]).stdout), _finish(procs[1]).stdout

    assert dana["cards"] == [] and dana["pending"] == []
    assert "sandbox.rollback_deployment" in dana["text"]
    assert "not among the ones you may propose" in dana["text"]
    _, proposed = _look(viewer)
    # what ran for her were reads, as her: the playbook's read steps
    assert proposed and {p[1:] for p in proposed} == {("dana", "succeeded", "read")}

    coffee, rollback, _ = talk.split("[conversation chat-1]")
    assert "No runbook covers this request" in coffee and "not proposing any action" in coffee
    assert "card apr_" not in coffee and "Proposed" not in coffee
    found = re.search(r"card (apr_[a-z0-9]+)", rollback)
    assert found and "tool:       sandbox.rollback_deployment" in rollback, rollback
    approval = found.group(1)
    facts = re.search(r"because: +runbook bundled/sandbox/bad-deploy\.md#\d+; facts (.*)", rollback)
    assert facts, rollback

    before, proposed = _look(chat)
    # the coffee turn read nothing: every read is one of the checkout turn's facts
    assert len([p for p in proposed if p[3] == "read"]) == len(facts.group(1).split(", "))
    out = cli(_env(chat), "reject", approval, "--as", "bob").stdout
    assert f"{approval} rejected by bob: nothing ran" in out
    after, proposed = _look(chat)
    assert ("sandbox.rollback_deployment", "alice", "rejected", "medium") in proposed
    assert not [p for p in proposed if p[2] not in ("rejected", "succeeded")]
    for key in ("revision", "image", "health", "active_faults"):
        assert after[key] == before[key], key
    assert after["health"] == "degraded" and after["active_faults"] == ["bad_deploy"]
