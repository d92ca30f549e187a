"""The `copilot` command as a person runs it: real subprocesses, real SQLite, exit codes."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

PACKS = Path(__file__).parent.parent / "packs"


def cli(
    *args: str, env: dict[str, str] | None = None, ok: bool = True
) -> subprocess.CompletedProcess:
    run_env = {**os.environ, "COPILOT_TOOL_PATHS": str(PACKS), **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "copilot", *args],
        capture_output=True,
        text=True,
        env=run_env,
        timeout=120,
    )
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_help_stays_light():
    code = (
        "import sys, copilot.surfaces.cli\n"
        "heavy = [m for m in ('litellm', 'chromadb', 'torch', 'langgraph', 'sqlalchemy', 'cedarpy')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    assert "Incident copilot" in cli("--help").stdout


def test_call_approve_and_audit_from_the_command_line():
    listed = json.loads(cli("tools", "list", "--json").stdout)
    assert {"testpack.bump_counter", "testpack.read_counter"} <= {t["name"] for t in listed}

    card = json.loads(
        cli(
            "call", "bump_counter", "--arg", "name=a", "--arg", "by=2", "--as", "alice", "--json"
        ).stdout
    )
    assert card["state"] == "proposed" and card["required"] == "1 approval: sre"
    assert card["plan"] == "counter a: 0 → 2" and card["policy"]["allowed"]

    own = cli("approve", card["id"], "--as", "alice", ok=False)
    assert own.returncode == 3 and "two-person rule" in own.stderr
    assert "Traceback" not in own.stderr and len(own.stderr.strip().splitlines()) == 1

    done = json.loads(cli("approve", card["id"], "--as", "bob", "--json").stdout)
    assert done["execution"]["status"] == "succeeded" and done["execution"]["result"] == {
        "value": 2
    }

    again = cli("approve", card["id"], "--as", "carol", ok=False)
    assert again.returncode == 5 and "not waiting for approval" in again.stderr

    read = json.loads(cli("call", "read_counter", "-a", "name=a", "--as", "dana", "--json").stdout)
    assert read["execution"]["result"] == {"value": 2}

    rows = json.loads(cli("proposals", "--all", "--json").stdout)
    assert [(r["tool"], r["state"]) for r in rows] == [
        ("testpack.read_counter", "succeeded"),
        ("testpack.bump_counter", "succeeded"),
    ]
    changes = json.loads(cli("proposals", "--json").stdout)  # reads only with --all
    assert [(r["tool"], r["state"]) for r in changes] == [("testpack.bump_counter", "succeeded")]

    assert "ok: " in cli("audit", "verify").stdout
    lines = cli("audit", "export", "--format", "ocsf").stdout.splitlines()
    assert lines and all(json.loads(x)["class_uid"] == 6003 for x in lines)
    jsonl = [json.loads(x) for x in cli("audit", "export").stdout.splitlines()]
    assert [x["seq"] for x in jsonl] == list(range(1, len(jsonl) + 1))


def test_tampered_row_fails_verify_with_exit_1(tmp_path):
    cli("call", "read_counter", "-a", "name=a", "--as", "dana")
    db = Path(os.environ["COPILOT_DATA_DIR"]) / "copilot.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE audit_events SET body = replace(body, 'dana', 'mallory') WHERE seq = 2"
        )
    out = cli("audit", "verify", ok=False)
    assert out.returncode == 1 and "event #2 was edited" in out.stderr


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (("call", "nope", "--as", "alice"), 2, "unknown tool 'nope'"),
        (("call", "bump_counter", "--as", "mallory"), 2, "unknown user 'mallory'"),
        (("call", "bump_counter", "-a", "by=0", "--as", "alice"), 2, "by: Input should be greater"),
        (("call", "bump_counter", "-a", "oops", "--as", "alice"), 2, "not key=value"),
        (("approve", "apr_nothing", "--as", "bob"), 2, "no proposal with id"),
        (("audit", "export", "--format", "xml"), 2, "unknown format"),
    ],
)
def test_bad_input_is_one_clear_line(args, code, needle):
    out = cli(*args, ok=False)
    assert out.returncode == code and needle in out.stderr
    assert "Traceback" not in out.stderr


def test_broken_policy_refuses_to_start(tmp_path):
    from copilot.policy.sources import DEFAULT_DIR

    pdir = tmp_path / "pol"
    pdir.mkdir()
    (pdir / "schema.cedarschema").write_text((DEFAULT_DIR / "schema.cedarschema").read_text())
    (pdir / "p.cedar").write_text('@id("x")\npermit (principal, action, resource)\nwhen { 1 + };\n')
    out = cli("policy", "check", env={"COPILOT_POLICY_DIR": str(pdir)}, ok=False)
    assert out.returncode == 78 and f"{pdir / 'p.cedar'}:3:" in out.stderr
    out = cli(
        "call",
        "read_counter",
        "-a",
        "name=a",
        "--as",
        "dana",
        env={"COPILOT_POLICY_DIR": str(pdir)},
        ok=False,
    )
    assert out.returncode == 78


def test_sandbox_incident_from_the_cli():
    assert "bad_deploy" in cli("sandbox", "faults").stdout
    cli("sandbox", "inject", "bad_deploy", "--target", "checkout")
    status = json.loads(cli("sandbox", "status", "--json").stdout)
    assert any(f["kind"] == "bad_deploy" and f["active"] for f in status["faults"])
    card = json.loads(
        cli(
            "call",
            "sandbox.rollback_deployment",
            "-a",
            "service=checkout",
            "--as",
            "alice",
            "--json",
        ).stdout
    )
    assert card["risk"] == "medium" and "checkout: revision" in card["plan"]
    done = json.loads(cli("approve", card["id"], "--as", "bob", "--json").stdout)
    assert done["execution"]["status"] == "succeeded"
    status = json.loads(cli("sandbox", "status", "--json").stdout)
    assert not any(f["active"] for f in status["faults"])
    bad = cli("sandbox", "inject", "meteor", ok=False)
    assert bad.returncode == 2 and "meteor" in bad.stderr


def test_demo_runs_offline_and_again():
    # `make demo` is demo mode by itself: it needs no COPILOT_USERS (and nothing else does)
    env = {k: v for k, v in os.environ.items() if k != "COPILOT_USERS"}
    copilot = str(Path(sys.executable).parent / "copilot")
    runs = [
        subprocess.run(
            [copilot, "demo", "--script"] if i == 0 else [sys.executable, "-m", "copilot.demo"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        for i in range(3)
    ]
    # `make demo` any number of times on one data dir: each run a new incident, a new card
    for again in runs:
        assert again.returncode == 0, again.stdout[-2000:] + again.stderr
        assert "verify: sandbox.rollback_deployment recovered" in again.stdout
    cards = {re.search(r"card (apr_\w+)", r.stdout).group(1) for r in runs}  # type: ignore[union-attr]
    assert len(cards) == 3
    out = runs[0]
    assert "two-person rule" in out.stdout and "audit: ok" in out.stdout
    # the agent proposed the rollback from the runbook, it ran once and was verified
    assert "card apr_" in out.stdout and "bad-deploy.md" in out.stdout
    assert "succeeded" in out.stdout
    assert "verify: sandbox.rollback_deployment recovered" in out.stdout
    # the sandbox's logs dump a bearer token; the demo shows it only as a placeholder
    assert "'Bearer [REDACTED:" in out.stdout


def test_rate_limits_hold_across_processes():
    env = {"COPILOT_EXECUTOR__USER_RATE": "2/minute"}
    ids = [
        json.loads(
            cli("call", "low_note", "-a", f"name=n{i}", "--as", "alice", "--json", env=env).stdout
        )["id"]
        for i in range(3)
    ]
    for aid in ids[:2]:
        cli("approve", aid, "--as", "bob", env=env)
    third = cli("approve", ids[2], "--as", "bob", env=env, ok=False)
    assert third.returncode == 7 and "approval recorded" in third.stderr
    assert f"copilot execute {ids[2]}" in third.stderr


def test_expired_approval_from_the_cli():
    env = {"COPILOT_EXECUTOR__APPROVAL_TTL_S": "60"}  # the shortest allowed
    card = json.loads(
        cli("call", "bump_counter", "-a", "name=a", "--as", "alice", "--json", env=env).stdout
    )
    # the card was proposed an hour ago (its record moved back, as if time had passed)
    db = Path(os.environ["COPILOT_DATA_DIR"]) / "copilot.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE approvals SET created_at = datetime(created_at, '-1 hour'), "
            "expires_at = datetime(expires_at, '-1 hour')"
        )
    pending = cli("proposals", "--state", "pending").stdout
    assert "no proposals" in pending  # it shows as expired, no longer waiting
    out = cli("approve", card["id"], "--as", "bob", env=env, ok=False)
    assert (
        out.returncode == 5 and "expired" in out.stderr and "propose the call again" in out.stderr
    )
    rows = json.loads(cli("proposals", "--json").stdout)
    assert rows[0]["state"] == "expired"
    assert json.loads(cli("call", "read_counter", "-a", "name=a", "--as", "dana", "--json").stdout)[
        "execution"
    ]["result"] == {"value": 0}  # the change never ran


@pytest.mark.parametrize(
    ("env", "toml", "needle"),
    [
        ({}, "environment = [oops", "is not valid TOML"),
        (
            {"COPILOT_EXECUTOR__APPROVAL_TTL_S": "abc"},
            "",
            "invalid settings: executor.approval_ttl_s",
        ),
        ({"COPILOT_EXECUTOR__USER_RATE": "lots"}, "", "rate limit 'lots' is not a rate"),
        ({"COPILOT_DATABASE_URL": "nosuchdb://x/y"}, "", "cannot open the database"),
        (
            {"COPILOT_DATABASE_URL": "postgresql://nobody:s3cret@127.0.0.1:1/none"},
            "",
            "cannot open the database at postgresql+psycopg://nobody:***@127.0.0.1:1/none",
        ),
    ],
)
def test_bad_configuration_is_named(env, toml, needle, tmp_path):
    if toml:
        (tmp_path / "copilot.toml").write_text(toml)
    out = cli("call", "read_counter", "-a", "name=a", "--as", "dana", env=env, ok=False)
    assert out.returncode == 78 and needle in out.stderr, out.stderr
    assert "internal error" not in out.stderr and "Traceback" not in out.stderr
    assert "s3cret" not in out.stderr


def test_cli_input_mistakes():
    twice = cli("call", "bump_counter", "-a", "name=a", "-a", "name=b", "--as", "alice", ok=False)
    assert twice.returncode == 2 and "given twice" in twice.stderr
    state = cli("proposals", "--state", "bogus", ok=False)
    assert state.returncode == 2 and "unknown state 'bogus'" in state.stderr
    cli("call", "read_counter", "-a", "name=a", "--as", "dana")
    bad_path = cli("audit", "export", "-o", "/nonexistent/dir/x.jsonl", ok=False)
    assert bad_path.returncode == 2 and "cannot write" in bad_path.stderr
    card = json.loads(cli("call", "low_note", "-a", "name=x", "--as", "alice", "--json").stdout)
    by_proposal = json.loads(cli("approve", card["proposal_id"], "--as", "bob", "--json").stdout)
    assert by_proposal["execution"]["status"] == "succeeded"


def test_runbooks_search_from_the_command_line():
    found = json.loads(
        cli("runbooks", "search", "SandboxHighErrorRate on checkout", "--json").stdout
    )
    assert not found["abstained"] and found["hits"][0]["source"].endswith("bad-deploy.md")
    none = cli("runbooks", "search", "KubeDeploymentRolloutStuck")
    assert none.stdout.startswith("no runbook matches: no runbook covers the alert")
