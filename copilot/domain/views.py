"""What the agent knows, as every layer sees it: runbook chunks, facts it read, chat turns
and actions it proposed. Plain data: the agent keeps them in its checkpoint as JSON, the
model is shown them, and playbooks are evaluated on them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class StepView(BaseModel):
    """One playbook step as a model sees it (templates unfilled: ``{{ service }}``)."""

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    when: str | None = None
    description: str = ""


class RunbookView(BaseModel):
    """A retrieved runbook chunk, with its runbook's playbook when it has one."""

    chunk_id: str
    source: str
    title: str
    heading: str
    text: str  # the chunk, capped; never a whole file
    alerts: list[str] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)
    score: float = 0.0
    playbook: list[StepView] = Field(default_factory=list)
    rollback: list[StepView] = Field(default_factory=list)


class FactView(BaseModel):
    """The result of one read tool call the agent made (or an error / unavailable source)."""

    id: str  # "f1", "f2", ... — what proposals cite
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    ok: bool = True
    data: Any = None  # the tool's (redacted) result
    error: str | None = None
    at: datetime | None = None
    # The read's approval id: its result is kept in the store (the checkpoint drops ``data``)
    call: str | None = None


class HistoryTurn(BaseModel):
    role: str  # "user" | "assistant"
    text: str
    author: str = ""


class ActionView(BaseModel):
    """A call proposed earlier in this conversation, and what became of it."""

    approval_id: str
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    state: str  # its approval's state: proposed, approved, rejected, expired, succeeded, ...
    result: Any = None
