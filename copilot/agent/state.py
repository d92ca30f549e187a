"""The graph's state: plain JSON-able dicts and lists only.

Checkpoints then load in any process with no serializer registration and no pickling, and
a checkpoint written by one version of a pydantic model cannot break loading in the next.
Typed views (``copilot.model.context``) are built from these dicts where they are used.
"""

from __future__ import annotations

from typing import Any, TypedDict


class Usage(TypedDict):
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


class AgentState(TypedDict, total=False):
    conversation: str
    principal: dict[str, Any]  # who sent the current message (Principal.model_dump())
    request: str
    turn: int
    started_at: str  # ISO time the current turn began (the M-seconds budget)
    history: list[dict[str, Any]]  # HistoryTurn dicts, oldest first, capped
    runbooks: list[dict[str, Any]]  # RunbookView dicts of this turn
    no_runbook: bool
    no_runbook_reason: str
    entities: dict[str, str]
    facts: list[dict[str, Any]]  # FactView dicts of this turn
    tool_calls: int  # read calls made this turn (the N budget)
    ran_reads: bool  # the last decide ran reads: the model gets another round
    round: int
    repair: str | None
    answer: str  # the model's words this turn
    proposals: list[dict[str, Any]]  # validated calls of the last round, with provenance
    refusals: list[str]
    cards: list[dict[str, Any]]  # every card of the conversation, newest last
    pending: list[str]  # approval ids the graph is waiting on
    new_cards: list[str]  # approval ids of cards made in this run (announced once)
    event: dict[str, Any] | None  # what resumed await_approval
    outcomes: list[str]  # what happened this run: executions, verifications, rejections
    reply: str  # the text of the last reply
    usage: Usage


def new_usage() -> Usage:
    return {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0}
