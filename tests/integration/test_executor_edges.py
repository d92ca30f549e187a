"""Edges of the one door found in review: break-glass, leases after timeouts, stale plans,
unrecordable results, who may trigger a run, verify while others append."""

from __future__ import annotations

import threading

import pytest
from conftest import approve, hold_lock, runs
from sqlalchemy import update

from copilot.audit import verify_chain
from copilot.domain import ApprovalState
from copilot.errors import (
    ApprovalInvalid,
    InvalidInput,
    PolicyDenied,
    ResourceBusy,
    ToolTimeout,
)
from copilot.store.schema import proposals


def test_break_glass_is_for_admins_only(make_copilot, db_url):
    svc = make_copilot(db_url)
    bob = svc.principal("bob")
    out, _ = svc.call(bob, "bump_counter", {"name": "a"})
    with pytest.raises(PolicyDenied, match="may not declare break-glass"):
        approve(svc, out.approval.id, bob, break_glass=True, reason="trust me")
    assert runs(svc) == []
    last = [e.data for e in svc.door.deps.audit.events() if e.kind == "policy.decision"][-1]
    assert last["action"] == "break_glass" and last["allowed"] is False


def test_break_glass_cannot_lift_a_freeze_for_non_admins(make_copilot, db_url):
    svc = make_copilot(db_url, change_freeze=True)
    out, _ = svc.call(svc.principal("alice"), "bump_counter", {"name": "a"})
    with pytest.raises(PolicyDenied):
        approve(svc, out.approval.id, svc.principal("carol"), break_glass=True, reason="x")
    assert approve(svc, out.approval.id, svc.principal("carol")) is None  # freeze holds
    assert runs(svc) == []


def test_admin_losing_the_role_loses_break_glass(make_copilot, db_url):
    svc = make_copilot(db_url, change_freeze=True)
    out, _ = svc.call(svc.principal("alice"), "bump_counter", {"name": "a"})
    svc.door.approvals.vote(
        out.approval.id, svc.principal("root"), "approve", break_glass=True, reason="outage"
    )
    users = dict(svc.settings.users)
    users["root"] = users["root"].model_copy(update={"roles": ["sre"]})
    demoted = make_copilot(db_url, change_freeze=True, users=users)
    with pytest.raises(PolicyDenied):
        demoted.execute(out.approval.id, demoted.principal("alice"))
    assert runs(demoted) == []


def test_a_timed_out_run_keeps_its_lease(make_copilot, db_url):
    svc = make_copilot(db_url)
    alice, bob = svc.principal("alice"), svc.principal("bob")
    first, _ = svc.call(alice, "slow", {"seconds": 1.0})
    ex = approve(svc, first.approval.id, bob)
    assert ex is not None and ex.status is ApprovalState.UNKNOWN
    second, _ = svc.call(alice, "slow", {"seconds": 0})
    with pytest.raises(ResourceBusy, match=first.approval.id):
        approve(svc, second.approval.id, bob)  # the first may still be running


def test_plan_is_checked_again_under_the_lock(make_copilot, db_url, monkeypatch):
    svc = make_copilot(db_url)
    alice, bob = svc.principal("alice"), svc.principal("bob")
    out, _ = svc.call(alice, "bump_counter", {"name": "a", "by": 2})
    svc.door.approvals.vote(out.approval.id, bob, "approve")
    other, _ = svc.call(alice, "bump_counter", {"name": "a", "by": 1})
    # The world changes after the preflight check and before the lock is taken.
    real = svc.door.executor.preflight.plan_matches
    changed = []

    def change_after_check(*args, **kw):  # type: ignore[no-untyped-def]
        real(*args, **kw)
        if not changed:
            changed.append(True)
            approve(svc, other.approval.id, bob)

    monkeypatch.setattr(svc.door.executor.preflight, "plan_matches", change_after_check)
    ex = svc.execute(out.approval.id, bob)
    assert ex.status is ApprovalState.FAILED and "plan changed" in (ex.error or "")
    assert [r[1] for r in runs(svc)] == [other.approval.id]


def test_unrecordable_result_is_not_lost(make_copilot, db_url):
    svc = make_copilot(db_url)
    out, _ = svc.call(svc.principal("alice"), "huge", {})
    ex = approve(svc, out.approval.id, svc.principal("bob"))
    assert ex is not None and ex.status is ApprovalState.SUCCEEDED
    state = svc.door.deps.load(out.approval.id, "t")[0].state
    assert state is ApprovalState.SUCCEEDED and verify_chain(svc.door.deps.store).ok
    assert (
        [e for e in svc.door.deps.audit.events() if e.kind == "execution.succeeded"][-1]
        .data["error"]
        .startswith("result not recorded")
    )


def test_foreign_errors_are_one_short_line(make_copilot, db_url):
    svc = make_copilot(db_url)
    out, _ = svc.call(svc.principal("alice"), "noisy_failure", {})
    ex = approve(svc, out.approval.id, svc.principal("bob"))
    # a tool that writes and then raises something foreign may have changed things already
    assert ex is not None and ex.status is ApprovalState.UNKNOWN
    assert ex.error.startswith("tool raised RuntimeError: connection refused")
    assert ex.error.endswith("; outcome unknown")
    assert "\n" not in ex.error and len(ex.error) <= 320


def test_arguments_that_cannot_be_hashed_are_refused(make_copilot, db_url):
    svc = make_copilot(db_url)
    with pytest.raises(InvalidInput, match="cannot be hashed"):
        svc.call(svc.principal("alice"), "low_note", {"name": "bad \ud800 surrogate"})


def test_a_viewer_cannot_trigger_someone_elses_run(make_copilot, db_url):
    svc = make_copilot(db_url)
    out, _ = svc.call(svc.principal("alice"), "bump_counter", {"name": "a"})
    svc.door.approvals.vote(out.approval.id, svc.principal("bob"), "approve")
    with pytest.raises(PolicyDenied, match="dana may not run"):
        svc.execute(out.approval.id, svc.principal("dana"))
    ex = svc.execute(out.approval.id, svc.principal("alice"))
    assert ex.status is ApprovalState.SUCCEEDED
    started = [e for e in svc.door.deps.audit.events() if e.kind == "execution.started"][-1]
    assert started.data["triggered_by"] == "alice"


def test_reconciling_twice_is_refused(make_copilot, db_url):
    svc = make_copilot(db_url)
    out, _ = svc.call(svc.principal("alice"), "slow", {"seconds": 0.6})
    approve(svc, out.approval.id, svc.principal("bob"))
    carol = svc.principal("carol")
    svc.door.reconciler.reconcile(out.approval.id, carol, "succeeded", "checked")
    with pytest.raises(ApprovalInvalid):
        svc.door.reconciler.reconcile(out.approval.id, carol, "failed", "changed my mind")


def test_verify_while_others_append(make_copilot, db_url):
    svc = make_copilot(db_url)
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set() and i < 3000:
            svc.door.deps.audit.record("test.load", actor="w", data={"i": i})
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        results = [verify_chain(svc.door.deps.store) for _ in range(15)]
    finally:
        stop.set()
        t.join()
    assert all(r.ok for r in results), [r.problem for r in results if not r.ok]


def test_missing_head_is_tampering(make_copilot, db_url):
    svc = make_copilot(db_url)
    svc.call(svc.principal("dana"), "read_counter", {"name": "a"})
    with svc.door.deps.store.write() as conn:
        conn.exec_driver_sql("DELETE FROM audit_head")
    report = verify_chain(svc.door.deps.store)
    assert not report.ok and "head" in report.problem


def test_the_tool_name_is_part_of_what_was_approved(make_copilot, db_url):
    svc = make_copilot(db_url)
    out, _ = svc.call(svc.principal("alice"), "low_note", {"name": "a"})
    svc.door.approvals.vote(out.approval.id, svc.principal("alice"), "approve")
    with svc.door.deps.store.write() as conn:  # same arguments, a more dangerous tool
        conn.execute(
            update(proposals)
            .where(proposals.c.id == out.proposal.id)
            .values(tool="testpack.reset_counter")
        )
    with pytest.raises((ApprovalInvalid, PolicyDenied)):
        svc.execute(out.approval.id, svc.principal("carol"))
    assert runs(svc) == []


def test_an_approved_call_can_still_be_stopped(make_copilot, db_url):
    svc = make_copilot(db_url)
    alice, bob, carol = (svc.principal(u) for u in ("alice", "bob", "carol"))
    out, _ = svc.call(alice, "bump_counter", {"name": "a"})
    svc.door.approvals.vote(out.approval.id, bob, "approve")
    assert svc.door.deps.load(out.approval.id, "t")[0].state is ApprovalState.APPROVED
    svc.door.approvals.vote(
        out.approval.id, bob, "reject", reason="wrong service"
    )  # changes his mind
    with pytest.raises(ApprovalInvalid):
        svc.execute(out.approval.id, alice)
    second, _ = svc.call(alice, "bump_counter", {"name": "b"})
    svc.door.approvals.vote(second.approval.id, bob, "approve")
    svc.door.approvals.vote(second.approval.id, carol, "reject")
    assert svc.door.deps.load(second.approval.id, "t")[0].state is ApprovalState.REJECTED
    assert runs(svc) == []


def test_approving_into_a_busy_resource_says_the_vote_counted(make_copilot, db_url, clock):
    svc = make_copilot(db_url)
    out, _ = svc.call(svc.principal("alice"), "bump_counter", {"name": "a"})
    hold_lock(svc, "counter/a", clock)  # another write is in flight on it
    with pytest.raises(ResourceBusy) as err:
        approve(svc, out.approval.id, svc.principal("bob"))
    assert err.value.message.startswith("approval recorded")
    assert f"copilot execute {out.approval.id}" in err.value.hint
    assert svc.door.deps.load(out.approval.id, "t")[0].state is ApprovalState.APPROVED


def test_a_hanging_dry_run_is_bounded(make_copilot, db_url):
    svc = make_copilot(db_url)
    with pytest.raises(ToolTimeout):
        svc.call(svc.principal("alice"), "slow_plan", {})
    assert runs(svc) == []


def test_a_read_that_raises_is_failed_not_unknown(make_copilot, db_url):
    svc = make_copilot(db_url)
    _, ran = svc.call(svc.principal("dana"), "read_that_breaks", {})
    assert ran is not None and ran.status is ApprovalState.FAILED
