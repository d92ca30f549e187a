"""State bound to the audit record: rows written into the database by hand run nothing, and
`audit verify` names them (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import PACKS, approve, runs
from sqlalchemy import select, text, update

from copilot.domain import ApprovalState
from copilot.errors import CopilotError
from copilot.store.schema import approval_votes, executions


def _executions(svc) -> list[str]:
    with svc.door.deps.store.read() as conn:
        return list(conn.execute(select(executions.c.approval_id)).scalars())


def _counter(svc, name: str) -> int:
    found = svc.door.deps.store.load(f"counter:{name}")
    return int(found[0]["value"]) if found else 0


def _forge_vote(svc, approval_id: str, approver: str, roles: str = '["sre"]') -> None:
    """What an attacker with write access does: a vote row, and the approval set approved,
    in raw SQL, with no audit event."""
    with svc.door.deps.store.write() as conn:
        conn.execute(
            text(
                "INSERT INTO approval_votes (approval_id, approver, verdict, roles, at) "
                f"VALUES ('{approval_id}', '{approver}', 'approve', '{roles}', CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(text(f"UPDATE approvals SET state = 'approved' WHERE id = '{approval_id}'"))


def test_an_inserted_vote_runs_nothing_and_verify_names_it(make_copilot, db_url):
    svc = make_copilot(db_url)
    alice = svc.principal("alice")
    out, _ = svc.call(alice, "bump_counter", {"name": "a", "by": 5})
    aid = out.approval.id
    assert svc.verify_audit().ok
    _forge_vote(svc, aid, "bob")
    assert svc.door.deps.load(aid, "test")[0].state is ApprovalState.APPROVED

    with pytest.raises(CopilotError):
        svc.execute(aid, alice)
    assert runs(svc) == [] and _executions(svc) == [] and _counter(svc, "a") == 0
    assert svc.door.deps.load(aid, "test")[0].state is ApprovalState.APPROVED  # nothing claimed

    report = svc.verify_audit()
    assert not report.ok
    assert f"vote by bob on {aid}: no audit event backs it" in report.unbacked
    assert f"approval {aid}: it is approved but the audit log says proposed" in report.unbacked
    assert report.problem is not None and aid in report.problem


def test_a_forged_vote_does_not_help_a_real_one_make_a_quorum(make_copilot, db_url):
    """High risk in prod needs an SRE and an on-call lead: a forged on-call lead's row next
    to a real SRE's vote completes nothing, at the vote or at execution."""
    svc = make_copilot(db_url)
    alice = svc.principal("alice")
    out, _ = svc.call(alice, "reset_counter", {"name": "a"})
    aid = out.approval.id
    with svc.door.deps.store.write() as conn:
        conn.execute(
            text(
                "INSERT INTO approval_votes (approval_id, approver, verdict, roles, at) VALUES "
                f"('{aid}', 'carol', 'approve', '[\"oncall-lead\"]', CURRENT_TIMESTAMP)"
            )
        )
    assert approve(svc, aid, svc.principal("bob")) is None
    assert svc.door.deps.load(aid, "test")[0].state is ApprovalState.PROPOSED
    with pytest.raises(CopilotError):
        svc.execute(aid, alice)
    assert runs(svc) == [] and _executions(svc) == []


def test_a_vote_pointing_at_another_event_does_not_count(make_copilot, db_url):
    """A forged row copying a real event's seq and hash is caught by the event's content."""
    svc = make_copilot(db_url)
    alice = svc.principal("alice")
    out, _ = svc.call(alice, "reset_counter", {"name": "a"})
    aid = out.approval.id
    svc.door.approvals.vote(aid, svc.principal("bob"), "approve")
    with svc.door.deps.store.read() as conn:
        bob = conn.execute(select(approval_votes).where(approval_votes.c.approver == "bob")).one()
    assert bob.event_seq is not None and bob.event_hash is not None
    with svc.door.deps.store.write() as conn:
        conn.execute(
            approval_votes.insert().values(
                approval_id=aid,
                approver="carol",
                verdict="approve",
                roles=["oncall-lead"],
                at=svc.door.deps.clock(),
                event_seq=bob.event_seq,
                event_hash=bob.event_hash,
            )
        )
        conn.execute(text(f"UPDATE approvals SET state = 'approved' WHERE id = '{aid}'"))
    with pytest.raises(CopilotError):
        svc.execute(aid, alice)
    assert runs(svc) == [] and _executions(svc) == []
    unbacked = svc.verify_audit().unbacked
    assert f"vote by carol on {aid}: audit event #{bob.event_seq} does not record it" in unbacked
    assert not any("vote by bob" in row for row in unbacked)


def test_real_votes_are_backed_and_verify_stays_ok(make_copilot, db_url):
    svc = make_copilot(db_url)
    alice = svc.principal("alice")
    out, _ = svc.call(alice, "reset_counter", {"name": "a"})
    svc.door.approvals.vote(out.approval.id, svc.principal("bob"), "approve")
    ran = approve(svc, out.approval.id, svc.principal("carol"))
    assert ran is not None and ran.status is ApprovalState.SUCCEEDED
    assert runs(svc) == [["reset_counter", out.approval.id]]
    report = svc.verify_audit()
    assert report.ok and report.unbacked == (), report


def test_an_execution_row_put_in_by_hand_is_named(make_copilot, db_url):
    svc = make_copilot(db_url)
    out, _ = svc.call(svc.principal("alice"), "low_note", {"name": "a"})
    aid = out.approval.id
    with svc.door.deps.store.write() as conn:
        conn.execute(
            text(
                "INSERT INTO executions (approval_id, status, started_at, deadline, attempts, "
                f"owner) VALUES ('{aid}', 'succeeded', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1, "
                "'nobody')"
            )
        )
    unbacked = svc.verify_audit().unbacked
    assert f"execution of {aid}: no execution.started event backs it" in unbacked


def test_an_edited_break_glass_mark_does_not_count(make_copilot, db_url):
    """The vote row's roles gain a break-glass mark its event never recorded."""
    svc = make_copilot(db_url, change_freeze=True)
    out, _ = svc.call(svc.principal("alice"), "bump_counter", {"name": "a"})
    aid = out.approval.id
    svc.door.approvals.vote(aid, svc.principal("root"), "approve")  # held by the freeze
    with svc.door.deps.store.write() as conn:
        conn.execute(
            update(approval_votes)
            .where(approval_votes.c.approval_id == aid)
            .values(roles=["admin", "break-glass"])
        )
    with pytest.raises(CopilotError):
        svc.execute(aid, svc.principal("alice"))
    assert runs(svc) == [] and _executions(svc) == []
    assert any(row.startswith(f"vote by root on {aid}") for row in svc.verify_audit().unbacked)


def test_the_cli_names_the_unbacked_row_and_exits_1(make_copilot, db_url):
    svc = make_copilot(db_url)
    out, _ = svc.call(svc.principal("alice"), "bump_counter", {"name": "a"})
    _forge_vote(svc, out.approval.id, "bob")
    svc.close()
    env = {**os.environ, "COPILOT_TOOL_PATHS": str(PACKS), "COPILOT_DATABASE_URL": db_url}
    done = subprocess.run(
        [sys.executable, "-m", "copilot", "audit", "verify"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert f"unbacked: vote by bob on {out.approval.id}: no audit event backs it" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_vote_written_before_the_migration_backs_nothing(make_copilot, db_url):
    """A vote recorded by a copilot at revision 0001 (no event columns) is kept by the
    upgrade, names no event, and counts for nothing: the call must be approved again."""
    from alembic import command
    from alembic.config import Config

    from copilot.store.migrate import MIGRATIONS

    svc = make_copilot(db_url)
    out, _ = svc.call(svc.principal("alice"), "reset_counter", {"name": "a"})
    aid = out.approval.id
    svc.door.approvals.vote(aid, svc.principal("bob"), "approve")
    svc.close()
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with svc.door.deps.store.engine.begin() as conn:  # back to 0001: the columns go
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    upgraded = make_copilot(db_url)  # opening migrates to the newest revision
    with upgraded.door.deps.store.read() as conn:
        row = conn.execute(select(approval_votes)).one()
    assert row.approver == "bob" and row.event_seq is None and row.event_hash is None
    # carol's vote would complete the quorum with bob's; bob's no longer counts
    assert approve(upgraded, aid, upgraded.principal("carol")) is None
    assert upgraded.door.deps.load(aid, "test")[0].state is ApprovalState.PROPOSED
    assert runs(upgraded) == [] and _executions(upgraded) == []
    assert f"vote by bob on {aid}: no audit event backs it" in upgraded.verify_audit().unbacked
