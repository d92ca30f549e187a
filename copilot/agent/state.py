"""The graph's state, typed. Nodes read it as these models and return plain updates.

The checkpoint holds only JSON (``build_graph`` turns every update into JSON before
LangGraph stores it), so a checkpoint loads in any process with no serializer registration,
and a conversation paused before an upgrade resumes after it: unknown keys are ignored.
Cards keep only the approval id and what the agent itself knows about the change; what
the card shows (state, votes, result) is read from the store whenever it is shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from copilot.agent.events import ResumeEvent
from copilot.domain import Principal
from copilot.domain.views import FactView, HistoryTurn, RunbookView


class _Lenient(BaseModel):
    # a checkpoint written by an earlier version may hold keys this one no longer has
    model_config = ConfigDict(extra="ignore")


class Usage(_Lenient):
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


class ProposedCall(_Lenient):
    """A validated call of the model's last round, with where it came from."""

    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    provenance: dict[str, Any] = Field(default_factory=dict)


class FactCall(_Lenient):
    """A read that motivated a change: verify makes it again after the change ran."""

    id: str
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    ok: bool | None = None


class CardRef(_Lenient):
    """A card of this conversation: its approval id, and what verify needs to judge it."""

    approval_id: str
    motivating: list[FactCall] = Field(default_factory=list)
    entities: dict[str, str] = Field(default_factory=dict)
    rollback: list[str] = Field(default_factory=list)  # the runbook's rollback steps
    verified: bool | None = None  # recovered after the change (None: not known)


class TurnInput(BaseModel):
    """What starts a run: who says what in which conversation."""

    conversation: str
    principal: Principal
    request: str


class AgentState(_Lenient):
    conversation: str
    principal: Principal  # who sent the current message
    request: str
    turn: int = 0
    started_at: datetime | None = None  # when the current turn began (its time budget)
    history: list[HistoryTurn] = Field(default_factory=list)  # oldest first, capped
    runbooks: list[RunbookView] = Field(default_factory=list)  # this turn's
    no_runbook: bool = False
    no_runbook_reason: str = ""
    entities: dict[str, str] = Field(default_factory=dict)
    facts: list[FactView] = Field(default_factory=list)  # this turn's
    tool_calls: int = 0  # read calls made this turn (its read budget)
    ran_reads: bool = False  # the last decide ran reads: the model gets another round
    round: int = 1
    answer: str = ""  # the model's words this turn
    proposals: list[ProposedCall] = Field(default_factory=list)  # the last round's
    refusals: list[str] = Field(default_factory=list)
    cards: list[CardRef] = Field(default_factory=list)  # every card so far, newest last
    pending: list[str] = Field(default_factory=list)  # approval ids the graph waits on
    new_cards: list[str] = Field(default_factory=list)  # made in this run (announced once)
    event: ResumeEvent | None = None  # what resumed await_approval
    outcomes: list[str] = Field(default_factory=list)  # executions, verifications, rejections
    reply: str = ""  # the text of the last reply
    usage: Usage = Field(default_factory=Usage)

    def card(self, approval_id: str) -> CardRef | None:
        return next((c for c in self.cards if c.approval_id == approval_id), None)
