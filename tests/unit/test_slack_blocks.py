"""Cards as Block Kit: every block valid by slack_sdk's own rules, cut at Slack's limits
with a link to the web card, markup shown as text, buttons carrying only the id."""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from test_web_cards import card, vote

from copilot.domain import Reply, Risk
from copilot.domain.models import ApprovalState
from copilot.surfaces.slack.blocks import (
    APPROVE,
    FIELD_CHARS,
    MAX_BLOCKS,
    REJECT,
    SECTION_CHARS,
    as_json,
    card_blocks,
    reply_blocks,
)

S = ApprovalState
WEB = "https://copilot.example.com"


def valid(blocks: list[Any]) -> list[dict[str, Any]]:
    out = as_json(blocks)
    for raw in out:  # parsed back from JSON, as Slack would read it, and checked again
        parsed = Block.parse(json.loads(json.dumps(raw)))
        assert parsed is not None
        parsed.validate_json()
    assert len(out) <= MAX_BLOCKS
    return out


def texts(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


@pytest.mark.parametrize("state", list(S))
def test_every_state_is_valid_and_only_a_waiting_card_has_votes(state: ApprovalState) -> None:
    blocks = valid(card_blocks(card(state, votes=[vote("bob")]), web_url=WEB))
    voting = [b for b in buttons(blocks) if b.get("action_id") in (APPROVE, REJECT)]
    assert bool(voting) is (state is S.PROPOSED)
    for b in voting:
        assert b["value"] == "apr_bcdfghjklmnpqrst"  # only the id


def test_a_waiting_two_person_card_says_one_of_two_and_confirms_high_risk() -> None:
    blocks = valid(card_blocks(card(S.PROPOSED, votes=[vote("bob")]), web_url=WEB))
    assert "*1 of 2* so far" in texts(blocks)
    assert "approved by bob (1 of 2)" in texts(blocks)
    approve = next(b for b in buttons(blocks) if b.get("action_id") == APPROVE)
    assert approve["confirm"]["confirm"]["text"] == "Approve"
    medium = valid(card_blocks(card(S.PROPOSED, risk=Risk.MEDIUM)))
    assert "confirm" not in next(b for b in buttons(medium) if b.get("action_id") == APPROVE)


def test_long_arguments_plans_and_many_arguments_are_cut_with_a_link() -> None:
    many = {f"arg{i}": "v" * 5000 for i in range(15)}
    big = card(S.PROPOSED, arguments=many, plan="step\n" * 5000)
    blocks = valid(card_blocks(big, web_url=WEB))
    link = f"<{WEB}/c/web-x#card-apr_bcdfghjklmnpqrst|the whole card on the web>"
    fields = next(b["fields"] for b in blocks if b.get("fields"))
    assert len(fields) == 10 and all(len(f["text"]) <= FIELD_CHARS for f in fields)
    assert all(link in f["text"] for f in fields)
    assert "5 more arguments" in texts(blocks)
    plan = next(b for b in blocks if "Dry-run plan" in b.get("text", {}).get("text", ""))
    assert len(plan["text"]["text"]) <= SECTION_CHARS and link in plan["text"]["text"]


def test_markup_is_shown_not_sent() -> None:
    evil = card(S.PROPOSED, arguments={"name": "<!channel> <https://evil.example|click>"})
    text = texts(valid(card_blocks(evil)))
    assert "<!channel>" not in text and "<https://evil.example" not in text
    assert "&lt;!channel&gt;" in text


def test_a_reply_with_many_cards_stays_within_fifty_blocks() -> None:
    reply = Reply(conversation="web-x", text="x" * 10_000, cards=[card(S.PROPOSED)] * 40)
    blocks = valid(reply_blocks(reply, web_url=WEB))
    assert len(blocks) <= MAX_BLOCKS
    assert "more cards" in texts(blocks)
    assert len(blocks[0]["text"]["text"]) <= SECTION_CHARS
