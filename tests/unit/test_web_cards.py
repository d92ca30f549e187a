"""A card drawn in every state it can reach: the words, the steps, the buttons (only while
it waits, only for people who may vote), and what verify found."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jinja2 import Environment, FileSystemLoader, select_autoescape

from copilot.domain import Card, Principal, Risk, Vote
from copilot.domain.models import ApprovalState
from copilot.surfaces import card_words as views
from copilot.surfaces.web.app import HERE

T = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
S = ApprovalState


def card(state: ApprovalState, **kw: Any) -> Card:
    base: dict[str, Any] = {
        "approval_id": "apr_bcdfghjklmnpqrst",
        "proposal_id": "prp_bcdfghjklmnpqrst",
        "tool": "sandbox.rotate_secret",
        "arguments": {"name": "payments-psp-key"},
        "risk": Risk.HIGH,
        "plan": "payments-psp-key: version 3 → 4",
        "state": state,
        "requester": "alice",
        "required": "2 approvals: sre + oncall-lead",
        "created_at": T,
        "expires_at": T + timedelta(minutes=15),
        "conversation": "web-x",
        "provenance": {"runbook": "bundled/sandbox/leaked-key.md#1", "facts": ["f1"]},
        "args_hash": "0" * 64,
    }
    return Card(**(base | kw))


def vote(who: str, minutes: int = 1, verdict: str = "approve") -> Vote:
    return Vote(approver=who, verdict=verdict, at=T + timedelta(minutes=minutes), roles=("sre",))


def draw(c: Card, me: str = "bob", may: bool = True) -> str:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True)
    )
    tpl = env.get_template("partials/card.html")
    return tpl.render(
        card=c,
        v=views,
        me=Principal(id=me, roles=("sre",)),
        may={c.approval_id: may},
        titles={},
        conversation="web-x",
        csrf="t" * 43,
        facts_msg=2,
    )


@pytest.mark.parametrize(
    ("c", "words", "steps"),
    [
        (card(S.PROPOSED), "waiting for approval", ["proposed by alice"]),
        (
            card(S.PROPOSED, votes=[vote("bob")]),
            "waiting for approval",
            ["approved by bob (1 of 2)"],
        ),
        (
            card(S.EXECUTING, votes=[vote("bob"), vote("carol", 2)]),
            "running",
            ["approved by carol (2 of 2)", "running"],
        ),
        (
            card(
                S.SUCCEEDED,
                votes=[vote("bob"), vote("carol", 2)],
                result={"version": 4},
                verified=True,
            ),
            "succeeded",
            ["succeeded", "verified: recovered"],
        ),
        (
            card(S.SUCCEEDED, votes=[vote("bob"), vote("carol", 2)], result={}, verified=False),
            "succeeded",
            ["verified: NOT recovered"],
        ),
        (
            card(S.FAILED, votes=[vote("bob"), vote("carol")], error="no such secret"),
            "failed",
            ["failed"],
        ),
        (
            card(S.UNKNOWN, votes=[vote("bob"), vote("carol")]),
            "outcome unknown",
            ["outcome unknown"],
        ),
        (card(S.REJECTED, votes=[vote("bob", verdict="reject")]), "rejected", ["reject by bob"]),
        (card(S.EXPIRED), "expired", ["expired"]),
        (card(S.CANCELLED), "withdrawn", ["withdrawn"]),
    ],
)
def test_every_state_reads_right(c: Card, words: str, steps: list[str]) -> None:
    html = draw(c)
    assert f'data-state="{c.state.value}"' in html
    assert words in html
    for step in steps:
        assert step in html
    buttons = 'name="verdict"' in html
    voted = any(v.approver == "bob" for v in c.votes)
    # only a waiting card can be decided, once per person
    assert buttons is (c.state is S.PROPOSED and not voted)
    if c.verified is False:
        assert "Not recovered" in html
    if c.error:
        assert "no such secret" in html


def test_buttons_only_for_people_who_may_vote_and_the_requester_withdraws() -> None:
    waiting = card(S.PROPOSED)
    assert 'value="approve"' not in draw(waiting, me="dana", may=False)  # a viewer
    mine = draw(waiting, me="alice", may=False)
    assert 'value="approve"' in mine and 'value="withdraw"' in mine and 'value="reject"' not in mine
    theirs = draw(waiting, me="carol", may=True)
    assert 'value="approve"' in theirs and 'value="reject"' in theirs


def test_markup_in_a_card_is_text() -> None:
    evil = card(
        S.PROPOSED,
        arguments={"name": "<script>alert(1)</script>"},
        plan="<img src=x onerror=alert(2)>",
        provenance={"why": "<b>bold</b>", "runbook": 'x"><script>alert(3)</script>'},
    )
    html = draw(evil)
    assert "<script>" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
