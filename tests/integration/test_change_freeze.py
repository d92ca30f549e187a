"""A change freeze holds votes without stranding them: approving during a freeze records the
vote and says nothing can run; once the freeze lifts (the service restarts without it), the
recorded votes still count and the call runs, through `execute` or approving again."""

from __future__ import annotations

import pytest
from conftest import approve, runs
from sqlalchemy import select

from copilot.domain import ApprovalState
from copilot.errors import ApprovalInvalid, ApprovalRequired
from copilot.store.schema import executions


def _executions(svc) -> list[tuple[str, str]]:
    with svc.door.deps.store.read() as conn:
        rows = conn.execute(select(executions.c.approval_id, executions.c.status)).all()
    return [(r.approval_id, r.status) for r in rows]


def _counter(svc, name: str) -> int:
    found = svc.door.deps.store.load(f"counter:{name}")
    return int(found[0]["value"]) if found else 0


def _frozen_vote(make_copilot, db_url):
    frozen = make_copilot(db_url, change_freeze=True)
    out, _ = frozen.call(frozen.principal("alice"), "bump_counter", {"name": "a", "by": 4})
    reply = frozen.decide(out.approval.id, frozen.principal("bob"), "approve")
    return frozen, out.approval.id, reply


def test_approving_in_a_freeze_records_the_vote_and_says_so(make_copilot, db_url):
    frozen, aid, reply = _frozen_vote(make_copilot, db_url)
    assert "recorded; nothing can run while the freeze holds (break-glass:" in reply.text
    assert reply.execution is None
    approval = frozen.door.deps.load(aid, "test")[0]
    assert approval.state is ApprovalState.PROPOSED
    assert [(v.approver, v.verdict) for v in approval.votes] == [("bob", "approve")]
    with pytest.raises(ApprovalRequired):
        frozen.execute(aid, frozen.principal("alice"))
    assert runs(frozen) == [] and _executions(frozen) == [] and _counter(frozen, "a") == 0


def test_after_the_freeze_the_recorded_vote_runs_the_call(make_copilot, db_url):
    frozen, aid, _ = _frozen_vote(make_copilot, db_url)
    frozen.close()
    thawed = make_copilot(db_url)
    done = thawed.execute(aid, thawed.principal("alice"))
    assert done.status is ApprovalState.SUCCEEDED
    assert runs(thawed) == [["bump_counter", aid]] and _counter(thawed, "a") == 4
    assert _executions(thawed) == [(aid, "succeeded")]
    events = [e for e in thawed.door.deps.audit.events() if e.subject == aid]
    kinds = [e.kind for e in events]
    assert kinds.index("approval.approved") < kinds.index("execution.started")
    approved = events[kinds.index("approval.approved")]
    assert approved.actor == "alice" and approved.data["approvers"] == ["bob"]
    assert thawed.verify_audit().ok
    with pytest.raises(ApprovalInvalid):  # single use, as ever
        thawed.execute(aid, thawed.principal("alice"))
    assert runs(thawed) == [["bump_counter", aid]]


def test_after_the_freeze_the_voter_approving_again_runs_it(make_copilot, db_url):
    frozen, aid, _ = _frozen_vote(make_copilot, db_url)
    with pytest.raises(ApprovalInvalid, match="already voted"):  # the freeze still holds
        approve(frozen, aid, frozen.principal("bob"))
    assert runs(frozen) == []
    frozen.close()
    thawed = make_copilot(db_url)
    ran = approve(thawed, aid, thawed.principal("bob"))
    assert ran is not None and ran.status is ApprovalState.SUCCEEDED
    assert runs(thawed) == [["bump_counter", aid]] and _counter(thawed, "a") == 4
    approval = thawed.door.deps.load(aid, "test")[0]
    assert [(v.approver, v.verdict) for v in approval.votes] == [("bob", "approve")]


def test_after_the_freeze_a_partial_quorum_still_needs_its_second_approver(make_copilot, db_url):
    frozen = make_copilot(db_url, change_freeze=True)
    out, _ = frozen.call(frozen.principal("alice"), "reset_counter", {"name": "a"})
    aid = out.approval.id
    reply = frozen.decide(aid, frozen.principal("bob"), "approve")  # high risk: needs two
    assert "still needs" in reply.text and "freeze holds" not in reply.text
    frozen.close()
    thawed = make_copilot(db_url)
    with pytest.raises(ApprovalRequired):
        thawed.execute(aid, thawed.principal("alice"))
    assert runs(thawed) == [] and _executions(thawed) == []
    ran = approve(thawed, aid, thawed.principal("carol"))
    assert ran is not None and ran.status is ApprovalState.SUCCEEDED
    assert runs(thawed) == [["reset_counter", aid]]


def test_a_recorded_vote_that_expired_in_the_freeze_does_not_run(make_copilot, db_url, clock):
    frozen, aid, _ = _frozen_vote(make_copilot, db_url)
    frozen.close()
    clock.advance(frozen.settings.executor.approval_ttl_s)
    thawed = make_copilot(db_url)
    with pytest.raises(ApprovalInvalid, match="expired"):
        thawed.execute(aid, thawed.principal("alice"))
    assert runs(thawed) == [] and _executions(thawed) == []
    assert thawed.door.deps.load(aid, "test")[0].state is ApprovalState.EXPIRED
