"""Cards are rendered from the store whenever they are shown: one card per approval record,
never a copy that could disagree with it."""

from __future__ import annotations

from conftest import approve

from copilot.domain import ApprovalState, Card


def test_a_card_follows_its_approval_record(make_copilot, db_url, clock):
    svc = make_copilot(db_url)
    alice, bob = svc.principal("alice"), svc.principal("bob")
    ran, _ = svc.call(alice, "bump_counter", {"name": "a", "by": 2})
    waiting, _ = svc.call(alice, "bump_counter", {"name": "b", "by": 1})
    dropped, _ = svc.call(alice, "bump_counter", {"name": "c", "by": 1})
    assert approve(svc, ran.approval.id, bob) is not None
    svc.cancel(dropped.approval.id, alice)

    ids = [waiting.approval.id, "apr_gone", ran.approval.id, dropped.approval.id]
    cards = svc.door.cards_of(ids, {ran.approval.id: True})
    assert [c.approval_id for c in cards] == [ids[0], ids[2], ids[3]]  # the unknown id left out
    first, done, cancelled = cards
    assert first.state is ApprovalState.PROPOSED and first.votes == [] and first.result is None
    assert first.plan == "counter b: 0 → 1" and first.required == "1 approval: sre"
    assert done.state is ApprovalState.SUCCEEDED and done.result == {"value": 2}
    assert [v.approver for v in done.votes] == ["bob"] and done.approvals == 1
    assert done.verified is True and cancelled.state is ApprovalState.CANCELLED
    # one card, however it is asked for
    assert svc.card(ran.approval.id) == done.model_copy(update={"verified": None})
    assert svc.card(ran.proposal.id).approval_id == ran.approval.id

    # the listing shows a waiting card past its expiry as expired
    clock.advance(svc.settings.executor.approval_ttl_s + 1)
    listed = svc.cards()
    assert sorted(c.approval_id for c in listed) == sorted([ids[0], ids[2], ids[3]])
    by_id = {c.approval_id: c for c in listed}
    assert by_id[ids[0]].state is ApprovalState.EXPIRED
    assert by_id[ids[2]].state is ApprovalState.SUCCEEDED
    assert [c.approval_id for c in svc.cards(["cancelled"])] == [ids[3]]
    assert isinstance(listed[0], Card)
