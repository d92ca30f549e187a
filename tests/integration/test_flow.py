"""The approval and execution flow on a real store (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import pytest
from conftest import approve, hold_lock, runs
from sqlalchemy import select, update

from copilot.audit import verify_chain
from copilot.domain import ApprovalState
from copilot.errors import (
    ApprovalInvalid,
    ApprovalRequired,
    InvalidInput,
    PolicyDenied,
    RateLimited,
    ResourceBusy,
)
from copilot.settings import ExecutorSettings
from copilot.store.schema import (
    approvals,
    audit_events,
    metadata,
    proposals,
    resource_locks,
)


def _kinds(svc) -> list[str]:
    return [e.kind for e in svc.door.deps.audit.events()]


def _state(svc, approval_id: str) -> str:
    return svc.door.deps.load(approval_id, "test")[0].state.value


def test_read_runs_without_approval(make_copilot, db_url):
    svc = make_copilot(db_url)
    out, ran = svc.call(svc.principal("dana"), "testpack.read_counter", {"name": "a"})
    assert out.runs_without_approval and ran is not None
    assert ran.status is ApprovalState.SUCCEEDED and ran.result == {"value": 0}
    assert runs(svc) == [["read_counter", out.approval.id]]
    assert verify_chain(svc.door.deps.store).ok


def test_medium_change_needs_an_sre_and_runs_once(make_copilot, db_url):
    svc = make_copilot(db_url)
    alice, bob = svc.principal("alice"), svc.principal("bob")
    out, ran = svc.call(alice, "bump_counter", {"name": "a", "by": 3})
    assert ran is None and out.approval.state is ApprovalState.PROPOSED
    assert out.approval.required == "1 approval: sre"
    assert out.proposal.plan == "counter a: 0 → 3"
    with pytest.raises(ApprovalRequired):
        svc.execute(out.approval.id, alice)
    with pytest.raises(PolicyDenied, match="two-person rule"):
        approve(svc, out.approval.id, alice)  # nobody approves their own medium change
    with pytest.raises(PolicyDenied):
        approve(svc, out.approval.id, svc.principal("dana"))  # viewers never approve
    assert runs(svc) == []
    ex = approve(svc, out.approval.id, bob)
    assert ex is not None and ex.status is ApprovalState.SUCCEEDED and ex.result == {"value": 3}
    # single use: a double click or a replay runs nothing twice
    with pytest.raises(ApprovalInvalid):
        svc.execute(out.approval.id, bob)
    with pytest.raises(ApprovalInvalid):
        approve(svc, out.approval.id, svc.principal("carol"))
    assert runs(svc) == [["bump_counter", out.approval.id]]
    kinds = _kinds(svc)
    for k in (
        "proposal.created",
        "approval.vote",
        "approval.approved",
        "execution.started",
        "execution.succeeded",
        "request.refused",
    ):
        assert k in kinds
    assert verify_chain(svc.door.deps.store).ok


def test_high_risk_in_prod_needs_an_oncall_lead_as_second_approver(make_copilot, db_url):
    svc = make_copilot(db_url)
    out, _ = svc.call(svc.principal("alice"), "reset_counter", {"name": "a"})
    assert out.approval.required == "2 approvals: sre + oncall-lead"
    assert approve(svc, out.approval.id, svc.principal("bob")) is None
    assert approve(svc, out.approval.id, svc.principal("sam")) is None  # two SREs: not enough
    assert _state(svc, out.approval.id) == "proposed"
    ex = approve(svc, out.approval.id, svc.principal("carol"))
    assert ex is not None and ex.status is ApprovalState.SUCCEEDED


def test_high_risk_outside_prod_needs_one_sre(make_copilot, db_url):
    svc = make_copilot(db_url, environment="staging")
    out, _ = svc.call(svc.principal("alice"), "reset_counter", {"name": "a"})
    assert out.approval.required == "1 approval: sre"
    assert approve(svc, out.approval.id, svc.principal("bob")) is not None


def test_same_person_cannot_vote_twice(make_copilot, db_url):
    svc = make_copilot(db_url)
    out, _ = svc.call(svc.principal("alice"), "reset_counter", {"name": "a"})
    approve(svc, out.approval.id, svc.principal("carol"))
    with pytest.raises(ApprovalInvalid, match="already voted"):
        approve(svc, out.approval.id, svc.principal("carol"))
    assert _state(svc, out.approval.id) == "proposed"


def test_reject_and_cancel_are_final(make_copilot, db_url):
    svc = make_copilot(db_url)
    alice, bob = svc.principal("alice"), svc.principal("bob")
    out, _ = svc.call(alice, "bump_counter", {"name": "a"})
    svc.door.approvals.vote(out.approval.id, bob, "reject", reason="not now")
    with pytest.raises(ApprovalInvalid):
        approve(svc, out.approval.id, svc.principal("carol"))
    out2, _ = svc.call(alice, "bump_counter", {"name": "a"})
    with pytest.raises(PolicyDenied):
        svc.door.approvals.cancel(out2.approval.id, bob)  # only the requester cancels
    svc.door.approvals.cancel(out2.approval.id, alice)
    with pytest.raises(ApprovalInvalid):
        approve(svc, out2.approval.id, bob)
    assert runs(svc) == []
    assert {"approval.rejected", "approval.cancelled"} <= set(_kinds(svc))


def test_expired_approval_cannot_run(make_copilot, db_url, clock):
    svc = make_copilot(db_url)
    out, _ = svc.call(svc.principal("alice"), "bump_counter", {"name": "a"})
    clock.advance(svc.settings.executor.approval_ttl_s + 1)
    with pytest.raises(ApprovalInvalid, match="expired"):
        approve(svc, out.approval.id, svc.principal("bob"))
    assert _state(svc, out.approval.id) == "expired"
    assert runs(svc) == [] and "approval.expired" in _kinds(svc)


def test_approved_but_expired_before_execution(make_copilot, db_url, clock):
    svc = make_copilot(db_url)
    out, _ = svc.call(svc.principal("alice"), "reset_counter", {"name": "a"})
    svc.door.approvals.vote(out.approval.id, svc.principal("bob"), "approve")
    svc.door.approvals.vote(out.approval.id, svc.principal("carol"), "approve")
    clock.advance(svc.settings.executor.approval_ttl_s + 1)
    with pytest.raises(ApprovalInvalid, match="expired"):
        svc.execute(out.approval.id, svc.principal("carol"))
    assert runs(svc) == []


def test_tampered_arguments_are_refused(make_copilot, db_url):
    svc = make_copilot(db_url)
    out, _ = svc.call(svc.principal("alice"), "bump_counter", {"name": "a", "by": 1})
    with svc.door.deps.store.write() as conn:
        conn.execute(
            update(proposals)
            .where(proposals.c.id == out.proposal.id)
            .values(arguments={"name": "a", "by": 99})
        )
    with pytest.raises(ApprovalInvalid, match="hash mismatch"):
        approve(svc, out.approval.id, svc.principal("bob"))
    assert runs(svc) == []
    # the vote is refused before it is recorded: nobody approves a call that is not the one
    # proposed (the executor would refuse it too, see test_executor_edges)
    approval = svc.door.deps.load(out.approval.id, "test")[0]
    assert approval.state.value == "proposed" and approval.votes == []
    assert _kinds(svc)[-1] == "request.refused"


def test_plan_change_since_approval_is_refused(make_copilot, db_url):
    svc = make_copilot(db_url)
    alice, bob = svc.principal("alice"), svc.principal("bob")
    first, _ = svc.call(alice, "bump_counter", {"name": "a", "by": 1})
    second, _ = svc.call(alice, "bump_counter", {"name": "a", "by": 1})
    approve(svc, first.approval.id, bob)  # counter is now 1: the second plan is stale
    with pytest.raises(ApprovalInvalid, match="plan"):
        approve(svc, second.approval.id, bob)
    assert runs(svc) == [["bump_counter", first.approval.id]]


def test_revoked_approver_no_longer_counts(make_copilot, db_url, tmp_path):
    svc = make_copilot(db_url)
    out, _ = svc.call(svc.principal("alice"), "bump_counter", {"name": "a"})
    svc.door.approvals.vote(out.approval.id, svc.principal("bob"), "approve")
    # bob loses the sre role before execution: policy re-checks every approver
    users = dict(svc.settings.users)
    users["bob"] = users["bob"].model_copy(update={"roles": ["responder"]})
    demoted = make_copilot(db_url, users=users)
    with pytest.raises(PolicyDenied):
        demoted.execute(out.approval.id, demoted.principal("carol"))
    assert runs(demoted) == []


def test_change_freeze_and_break_glass(make_copilot, db_url):
    svc = make_copilot(db_url, change_freeze=True)
    out, _ = svc.call(svc.principal("alice"), "bump_counter", {"name": "a"})
    assert "break-glass only" in out.approval.required
    assert approve(svc, out.approval.id, svc.principal("bob")) is None  # no quorum in a freeze
    with pytest.raises(ApprovalRequired):
        svc.execute(out.approval.id, svc.principal("bob"))
    decision = svc.door.deps.policy.decide(
        "execute",
        "alice",
        "testpack.bump_counter",
        svc.door.deps.context(
            approval_count=1, approver_roles=frozenset({"sre", "responder", "viewer"})
        ),
    )
    assert not decision.allowed and decision.policy_ids == ("change-freeze",)
    out2, _ = svc.call(svc.principal("alice"), "bump_counter", {"name": "b"})
    ex = approve(svc, out2.approval.id, svc.principal("root"), break_glass=True, reason="site down")
    assert ex is not None and ex.status is ApprovalState.SUCCEEDED
    # a read still runs in a freeze
    _, ran = svc.call(svc.principal("dana"), "read_counter", {"name": "b"})
    assert ran is not None and ran.result == {"value": 1}


def test_bad_input_is_refused_with_audit_and_no_state_change(make_copilot, db_url):
    svc = make_copilot(db_url)
    alice = svc.principal("alice")

    def snapshot():  # type: ignore[no-untyped-def]
        with svc.door.deps.store.read() as conn:
            return {
                t.name: conn.execute(select(t)).all()
                for t in metadata.sorted_tables
                if not t.name.startswith("audit")
            }

    before = snapshot()
    with pytest.raises(InvalidInput, match="unknown tool"):
        svc.call(alice, "no_such_tool", {})
    with pytest.raises(InvalidInput, match=r"by: Input should be less than or equal to 100"):
        svc.call(alice, "bump_counter", {"name": "a", "by": 1000})
    with pytest.raises(InvalidInput, match="extra: unknown argument"):
        svc.call(alice, "bump_counter", {"name": "a", "extra": 1})
    with pytest.raises(InvalidInput, match="name: required"):
        svc.call(alice, "bump_counter", {})
    with pytest.raises(InvalidInput, match="unknown user"):
        svc.principal("mallory")
    with pytest.raises(InvalidInput, match="no proposal"):
        approve(svc, "apr_missing", svc.principal("bob"))
    with pytest.raises(PolicyDenied):
        svc.call(svc.principal("dana"), "bump_counter", {"name": "a"})  # viewer proposes a write
    assert snapshot() == before  # nothing but the audit log changed
    refused = [
        e for e in svc.door.deps.audit.events() if e.kind in ("request.refused", "policy.decision")
    ]
    assert len(refused) >= 6 and verify_chain(svc.door.deps.store).ok


def test_lock_busy_names_the_holder(make_copilot, db_url, clock):
    svc = make_copilot(db_url)
    alice, bob = svc.principal("alice"), svc.principal("bob")
    out, _ = svc.call(alice, "bump_counter", {"name": "a"})
    svc.door.approvals.vote(out.approval.id, bob, "approve")
    hold_lock(svc, "counter/a", clock)  # another write is in flight on it
    clock.advance(12)
    with pytest.raises(ResourceBusy, match=r"busy: counter/a is held by sam \(apr_other\) for 12s"):
        svc.execute(out.approval.id, bob)
    assert _state(svc, out.approval.id) == "approved" and runs(svc) == []
    with svc.door.deps.store.write() as conn:
        conn.execute(resource_locks.delete())
    assert svc.execute(out.approval.id, bob).status is ApprovalState.SUCCEEDED


def test_rate_limit_per_user(make_copilot, db_url):
    svc = make_copilot(db_url, executor=ExecutorSettings(user_rate="2/minute"))
    alice, bob = svc.principal("alice"), svc.principal("bob")
    ids = [svc.call(alice, "low_note", {"name": f"n{i}"})[0].approval.id for i in range(3)]
    assert approve(svc, ids[0], bob) is not None
    assert approve(svc, ids[1], bob) is not None
    with pytest.raises(RateLimited):
        approve(svc, ids[2], bob)
    assert _state(svc, ids[2]) == "approved" and len(runs(svc)) == 2


def test_idempotent_tool_is_retried(make_copilot, db_url):
    svc = make_copilot(db_url, executor=ExecutorSettings(retry_wait_s=0))
    out, _ = svc.call(svc.principal("alice"), "flaky", {"fail_times": 2})
    ex = approve(svc, out.approval.id, svc.principal("bob"))
    assert ex is not None and ex.status is ApprovalState.SUCCEEDED and ex.attempts == 3


def test_non_idempotent_tool_is_never_retried(make_copilot, db_url):
    svc = make_copilot(db_url, executor=ExecutorSettings(retry_wait_s=0))
    out, _ = svc.call(svc.principal("alice"), "flaky_once", {})
    ex = approve(svc, out.approval.id, svc.principal("bob"))
    assert ex is not None and ex.status is ApprovalState.FAILED and ex.attempts == 1
    assert len(runs(svc)) == 1


def test_timeout_leaves_outcome_unknown(make_copilot, db_url):
    svc = make_copilot(db_url)
    out, _ = svc.call(svc.principal("alice"), "slow", {"seconds": 2})
    ex = approve(svc, out.approval.id, svc.principal("bob"))
    assert ex is not None and ex.status is ApprovalState.UNKNOWN and "unknown" in (ex.error or "")
    assert _state(svc, out.approval.id) == "unknown"


def test_failure_is_recorded(make_copilot, db_url):
    svc = make_copilot(db_url)
    out, _ = svc.call(svc.principal("alice"), "broken", {})
    ex = approve(svc, out.approval.id, svc.principal("bob"))
    assert ex is not None and ex.status is ApprovalState.FAILED and ex.error == "upstream said no"
    assert "execution.failed" in _kinds(svc)


def test_audit_rows_are_appended_in_order(make_copilot, db_url):
    svc = make_copilot(db_url)
    svc.call(svc.principal("dana"), "read_counter", {"name": "a"})
    with svc.door.deps.store.read() as conn:
        seqs = [
            r.seq for r in conn.execute(select(audit_events.c.seq).order_by(audit_events.c.seq))
        ]
        states = [r.state for r in conn.execute(select(approvals.c.state))]
    assert seqs == list(range(1, len(seqs) + 1)) and states == ["succeeded"]
