"""The agent's typed state and resume events, and what a checkpoint written by the previous
release holds: a conversation paused before an upgrade must resume after it."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from copilot.agent.events import DecisionEvent, MessageEvent, ResumeEvent
from copilot.agent.state import AgentState, CardRef
from copilot.domain import ApprovalState

# The values of a conversation waiting on its card, as the release before the typed state
# checkpointed them (a plain dict with whole cards in it; one runbook kept of three).
PAUSED = Path(__file__).parent / "data" / "checkpoint_2026_11.json"
EVENT = TypeAdapter(ResumeEvent)


def test_a_conversation_paused_by_the_previous_release_loads() -> None:
    raw = json.loads(PAUSED.read_text())
    state = AgentState.model_validate(raw)
    assert state.principal.id == "alice" and "responder" in state.principal.roles
    assert isinstance(state.started_at, datetime) and state.event is None
    (card,) = state.cards
    assert isinstance(card, CardRef) and card.approval_id == raw["pending"][0]
    # what verify needs survives; what the card shows now comes from the store
    assert [f.tool for f in card.motivating] == [
        "sandbox.get_metrics",
        "sandbox.list_deployments",
        "sandbox.get_logs",
    ]
    assert card.entities == {"service": "checkout"} and card.rollback
    assert not hasattr(card, "plan") and card.verified is None
    assert state.pending == [card.approval_id] and state.usage.calls == 1
    assert state.runbooks[0].playbook[-1].tool == "sandbox.rollback_deployment"


def test_resume_events_are_told_apart_by_kind() -> None:
    bob = {"id": "bob", "roles": ["sre"]}
    # as the previous release wrote a decision, and as this one writes it
    old = {
        "kind": "decision",
        "approval_id": "apr_1",
        "verdict": "approve",
        "state": "approved",
        "principal": bob,
    }
    decision = EVENT.validate_python(old)
    assert isinstance(decision, DecisionEvent) and decision.state is ApprovalState.APPROVED
    assert EVENT.validate_python(decision.model_dump(mode="json")) == decision
    message = EVENT.validate_python({"kind": "message", "text": "how bad?", "principal": bob})
    assert isinstance(message, MessageEvent) and message.principal.id == "bob"


@pytest.mark.parametrize(
    "event",
    [
        {"kind": "approve", "approval_id": "apr_1"},  # no such kind: nothing resumes
        {"kind": "decision", "approval_id": "apr_1", "verdict": "yes", "state": "approved"},
        {"kind": "message", "text": "approve apr_1"},  # no principal: nobody said it
    ],
)
def test_an_event_that_is_not_one_of_ours_is_refused(event: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        EVENT.validate_python(event)
