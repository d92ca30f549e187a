"""The door at its seams, each test written to fail if one check were dropped or loosened
(mutation testing found these unguarded): what changes between the preflight and the claim,
the expiry instant, roles and the two-person rule re-read at execution, a policy engine that
raises, the tool name inside the call's hash, and a late result after a run was declared
unknown. Each asserts what ran: the test pack's record of runs and the executions table."""

from __future__ import annotations

from datetime import timedelta

import cedarpy
import pytest
from conftest import approve, runs
from sqlalchemy import select, update

from copilot.domain import ApprovalState
from copilot.errors import CopilotError
from copilot.store.schema import approval_votes, executions, proposals


def _executions(svc) -> list[tuple[str, str]]:
    with svc.door.deps.store.read() as conn:
        rows = conn.execute(select(executions.c.approval_id, executions.c.status)).all()
    return [(r.approval_id, r.status) for r in rows]


def _state(svc, approval_id: str) -> ApprovalState:
    return svc.door.deps.load(approval_id, "test")[0].state


def _counter(svc, name: str) -> int:
    found = svc.door.deps.store.load(f"counter:{name}")
    return int(found[0]["value"]) if found else 0


def _between_preflight_and_claim(svc, monkeypatch, meanwhile) -> None:
    """Run ``meanwhile`` right after the preflight passed, before the claim."""
    preflight = svc.door.executor.preflight
    checked = preflight.check

    def check_then(approval, proposal, who):  # type: ignore[no-untyped-def]
        found = checked(approval, proposal, who)
        meanwhile()
        return found

    monkeypatch.setattr(preflight, "check", check_then)


# -- the claim's compare-and-set ---------------------------------------------------------
@pytest.mark.parametrize("how", ["rejected", "cancelled"])
def test_a_call_stopped_between_preflight_and_claim_does_not_run(
    make_copilot, db_url, monkeypatch, how
):
    svc = make_copilot(db_url)
    other = make_copilot(db_url)  # another process's copilot, on its own connections
    alice = svc.principal("alice")
    out, _ = svc.call(alice, "bump_counter", {"name": "a", "by": 2})
    aid = out.approval.id
    svc.door.approvals.vote(aid, svc.principal("bob"), "approve")
    assert _state(svc, aid) is ApprovalState.APPROVED

    def stop() -> None:
        if how == "rejected":
            other.door.approvals.vote(aid, other.principal("carol"), "reject", reason="no")
        else:
            other.cancel(aid, other.principal("alice"))

    _between_preflight_and_claim(svc, monkeypatch, stop)
    with pytest.raises(CopilotError):
        svc.execute(aid, alice)
    assert runs(svc) == [] and _executions(svc) == [] and _counter(svc, "a") == 0
    assert _state(svc, aid).value == how


def test_a_call_expiring_between_preflight_and_claim_does_not_run(
    make_copilot, db_url, monkeypatch, clock
):
    svc = make_copilot(db_url)
    alice = svc.principal("alice")
    out, _ = svc.call(alice, "bump_counter", {"name": "a"})
    aid = out.approval.id
    svc.door.approvals.vote(aid, svc.principal("bob"), "approve")

    def expire() -> None:
        clock.now = out.approval.expires_at

    _between_preflight_and_claim(svc, monkeypatch, expire)
    with pytest.raises(CopilotError):
        svc.execute(aid, alice)
    assert runs(svc) == [] and _executions(svc) == [] and _counter(svc, "a") == 0


# -- the expiry instant: at exactly expires_at the approval is expired -------------------
def test_at_the_expiry_instant_a_call_no_longer_runs(make_copilot, db_url, clock):
    svc = make_copilot(db_url)
    alice = svc.principal("alice")
    late, _ = svc.call(alice, "bump_counter", {"name": "a"})
    svc.door.approvals.vote(late.approval.id, svc.principal("bob"), "approve")
    clock.now = late.approval.expires_at
    with pytest.raises(CopilotError):
        svc.execute(late.approval.id, alice)
    assert runs(svc) == [] and _executions(svc) == []
    assert _state(svc, late.approval.id) is ApprovalState.EXPIRED


def test_at_the_expiry_instant_a_vote_is_refused(make_copilot, db_url, clock):
    svc = make_copilot(db_url)
    out, _ = svc.call(svc.principal("alice"), "bump_counter", {"name": "a"})
    clock.now = out.approval.expires_at
    with pytest.raises(CopilotError):
        approve(svc, out.approval.id, svc.principal("bob"))
    assert runs(svc) == [] and _executions(svc) == []
    approval = svc.door.deps.load(out.approval.id, "test")[0]
    assert approval.state is ApprovalState.EXPIRED and approval.votes == []


def test_just_before_the_expiry_instant_a_call_runs(make_copilot, db_url, clock):
    svc = make_copilot(db_url)
    alice = svc.principal("alice")
    out, _ = svc.call(alice, "bump_counter", {"name": "a"})
    svc.door.approvals.vote(out.approval.id, svc.principal("bob"), "approve")
    clock.now = out.approval.expires_at - timedelta(microseconds=1)
    assert svc.execute(out.approval.id, alice).status is ApprovalState.SUCCEEDED
    assert runs(svc) == [["bump_counter", out.approval.id]] and _counter(svc, "a") == 1


# -- roles and the two-person rule, read from the configuration at execution -------------
def _with_roles(make_copilot, db_url, svc, **roles):  # type: ignore[no-untyped-def]
    users = dict(svc.settings.users)
    for user, granted in roles.items():
        users[user] = users[user].model_copy(update={"roles": granted})
    return make_copilot(db_url, users=users)


def test_an_oncall_lead_demoted_to_sre_no_longer_completes_a_prod_quorum(make_copilot, db_url):
    """carol, still an approver as an SRE, is no longer the on-call lead a high-risk prod
    change needs: the roles stored with her vote must not count."""
    svc = make_copilot(db_url)
    out, _ = svc.call(svc.principal("alice"), "reset_counter", {"name": "a"})
    aid = out.approval.id
    svc.door.approvals.vote(aid, svc.principal("bob"), "approve")
    svc.door.approvals.vote(aid, svc.principal("carol"), "approve")
    assert _state(svc, aid) is ApprovalState.APPROVED
    with svc.door.deps.store.read() as conn:
        stored = conn.execute(
            select(approval_votes.c.roles).where(approval_votes.c.approver == "carol")
        ).scalar()
    assert "oncall-lead" in stored  # the vote record still says she was one

    demoted = _with_roles(make_copilot, db_url, svc, carol=["sre"])
    with pytest.raises(CopilotError):
        demoted.execute(aid, demoted.principal("alice"))
    assert runs(demoted) == [] and _executions(demoted) == []
    # the same approval runs under the configuration it was approved in: only roles differed
    assert svc.execute(aid, svc.principal("alice")).status is ApprovalState.SUCCEEDED
    assert runs(svc) == [["reset_counter", aid]]


def test_a_break_glass_self_approval_stops_counting_when_the_admin_loses_admin(
    make_copilot, db_url
):
    """root approved their own medium change under break-glass; demoted to SRE (who may
    approve medium changes, but never their own), the vote no longer counts."""
    svc = make_copilot(db_url)
    root = svc.principal("root")
    out, _ = svc.call(root, "bump_counter", {"name": "a"})
    aid = out.approval.id
    svc.door.approvals.vote(aid, root, "approve", break_glass=True, reason="site down")
    assert _state(svc, aid) is ApprovalState.APPROVED

    demoted = _with_roles(make_copilot, db_url, svc, root=["sre"])
    with pytest.raises(CopilotError):
        demoted.execute(aid, demoted.principal("root"))
    assert runs(demoted) == [] and _executions(demoted) == [] and _counter(demoted, "a") == 0
    assert svc.execute(aid, root).status is ApprovalState.SUCCEEDED  # as an admin, it runs
    assert runs(svc) == [["bump_counter", aid]]


# -- a policy engine that raises denies --------------------------------------------------
def test_a_policy_engine_that_raises_runs_nothing(make_copilot, db_url, monkeypatch):
    svc = make_copilot(db_url)
    alice = svc.principal("alice")
    out, _ = svc.call(alice, "bump_counter", {"name": "a"})
    aid = out.approval.id
    svc.door.approvals.vote(aid, svc.principal("bob"), "approve")

    def broken(*args: object, **kw: object) -> object:
        raise RuntimeError("engine crashed")

    monkeypatch.setattr(cedarpy, "is_authorized_batch", broken)
    with pytest.raises(CopilotError):
        svc.execute(aid, alice)
    assert runs(svc) == [] and _executions(svc) == [] and _counter(svc, "a") == 0
    decisions = [e.data for e in svc.door.deps.audit.events() if e.kind == "policy.decision"]
    assert decisions[-1]["allowed"] is False
    monkeypatch.undo()
    assert svc.execute(aid, alice).status is ApprovalState.SUCCEEDED  # it was only the engine
    assert runs(svc) == [["bump_counter", aid]]


# -- the tool name is part of the call's hash --------------------------------------------
def _swap_tool(svc, proposal_id: str, tool: str) -> None:
    with svc.door.deps.store.write() as conn:
        conn.execute(update(proposals).where(proposals.c.id == proposal_id).values(tool=tool))


def test_a_swapped_tool_of_the_same_risk_and_shape_does_not_run(make_copilot, db_url):
    """``broken`` and ``huge``: both low risk, no arguments, no plan, no resource; only the
    hash over the tool's name tells them apart."""
    svc = make_copilot(db_url)
    alice = svc.principal("alice")
    out, _ = svc.call(alice, "broken", {})
    svc.door.approvals.vote(out.approval.id, alice, "approve")  # low risk: may self-approve
    assert _state(svc, out.approval.id) is ApprovalState.APPROVED
    _swap_tool(svc, out.proposal.id, "testpack.huge")
    with pytest.raises(CopilotError):
        svc.execute(out.approval.id, alice)
    assert runs(svc) == [] and _executions(svc) == []
    assert _state(svc, out.approval.id) is ApprovalState.APPROVED  # nothing consumed


@pytest.mark.parametrize("how", ["tool", "arguments", "approval-hash"])
def test_a_vote_on_a_tampered_proposal_is_refused_and_audited(make_copilot, db_url, how):
    svc = make_copilot(db_url)
    alice = svc.principal("alice")
    out, _ = svc.call(alice, "bump_counter", {"name": "a"})
    aid = out.approval.id
    with svc.door.deps.store.write() as conn:
        if how == "tool":  # the stored name decides who may approve: it must be checked
            conn.execute(
                update(proposals)
                .where(proposals.c.id == out.proposal.id)
                .values(tool="testpack.low_note")
            )
        elif how == "arguments":
            conn.execute(
                update(proposals)
                .where(proposals.c.id == out.proposal.id)
                .values(arguments={"name": "b", "by": 1})
            )
        else:
            from copilot.store.schema import approvals

            conn.execute(update(approvals).where(approvals.c.id == aid).values(args_hash="0" * 64))
    with pytest.raises(CopilotError):
        svc.door.approvals.vote(aid, alice, "approve")  # alice may approve a low_note
    with pytest.raises(CopilotError):
        approve(svc, aid, svc.principal("bob"))
    approval = svc.door.deps.load(aid, "test")[0]
    assert approval.state is ApprovalState.PROPOSED and approval.votes == []
    assert runs(svc) == [] and _executions(svc) == []
    refused = [e for e in svc.door.deps.audit.events() if e.kind == "request.refused"]
    assert [e.subject for e in refused[-2:]] == [aid, aid]
    assert not any(e.kind == "approval.vote" for e in svc.door.deps.audit.events())


# -- a late result never overwrites a run declared unknown ---------------------------------
def test_a_late_result_does_not_overwrite_a_reconciled_unknown(
    make_copilot, db_url, monkeypatch, clock
):
    """The sweep declares the run unknown while the tool is still running (its deadline
    passed); when the tool then returns, its result goes on the record as a late result and
    the run stays unknown for a person to reconcile."""
    import copilot.door.executor as executor_module

    svc = make_copilot(db_url)
    alice = svc.principal("alice")
    out, _ = svc.call(alice, "low_note", {"name": "a"})
    aid = out.approval.id
    svc.door.approvals.vote(aid, alice, "approve")
    real = executor_module.run_with_timeout
    swept: list[list[str]] = []

    def sweep_then_run(fn, timeout_s):  # type: ignore[no-untyped-def]
        clock.advance(3600)  # past the run's deadline
        swept.append(svc.door.reconciler.reconcile_stale())
        return real(fn, timeout_s)

    monkeypatch.setattr(executor_module, "run_with_timeout", sweep_then_run)
    svc.execute(aid, alice)
    assert swept == [[aid]]
    assert runs(svc) == [["low_note", aid]]  # the tool did run, once
    assert _state(svc, aid) is ApprovalState.UNKNOWN
    assert _executions(svc) == [(aid, "unknown")]
    late = [e for e in svc.door.deps.audit.events() if e.kind == "execution.late_result"]
    assert [(e.subject, e.data["status"]) for e in late] == [(aid, "succeeded")]
    assert svc.verify_audit().ok
