"""`cancel` and `reconcile` accept a proposal's id (prp_...) as well as its approval's, and act
on the approval it names (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from conftest import approve, runs

from copilot.domain import ApprovalState


def test_cancel_by_proposal_id(make_copilot, db_url):
    svc = make_copilot(db_url)
    alice = svc.principal("alice")
    out, _ = svc.call(alice, "bump_counter", {"name": "a"})
    card = svc.cancel(out.proposal.id, alice)
    assert card.approval_id == out.approval.id and card.state == "cancelled"
    assert svc.door.deps.load(out.approval.id, "test")[0].state is ApprovalState.CANCELLED
    cancelled = [e for e in svc.door.deps.audit.events() if e.kind == "approval.cancelled"]
    assert [e.subject for e in cancelled] == [out.approval.id]
    assert runs(svc) == []


def test_reconcile_by_proposal_id(make_copilot, db_url):
    svc = make_copilot(db_url)
    alice = svc.principal("alice")
    out, _ = svc.call(alice, "slow", {"seconds": 1.0})
    ran = approve(svc, out.approval.id, alice)  # low risk: the requester may approve it
    assert ran is not None and ran.status is ApprovalState.UNKNOWN
    card = svc.reconcile(out.proposal.id, svc.principal("bob"), "succeeded", "it did finish")
    assert card.approval_id == out.approval.id and card.state == "succeeded"
    assert svc.door.deps.execution(out.approval.id).status is ApprovalState.SUCCEEDED
    reconciled = [e for e in svc.door.deps.audit.events() if e.kind == "execution.reconciled"]
    assert [e.subject for e in reconciled] == [out.approval.id]
    assert svc.verify_audit().ok


def test_vote_by_proposal_id_is_recorded_on_the_approval(make_copilot, db_url):
    svc = make_copilot(db_url)
    out, _ = svc.call(svc.principal("alice"), "reset_counter", {"name": "a"})
    approval = svc.door.approvals.vote(out.proposal.id, svc.principal("bob"), "approve")
    assert approval.id == out.approval.id
    stored = svc.door.deps.load(out.approval.id, "test")[0]
    assert [v.approver for v in stored.votes] == ["bob"]
    assert svc.verify_audit().ok
