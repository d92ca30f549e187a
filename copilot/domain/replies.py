"""What every surface renders: a reply's text and its cards, with no surface in them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Card(BaseModel):
    """A proposed change waiting for (or past) its approval: what a confirm/reject card shows."""

    approval_id: str
    tool: str
    arguments: dict[str, Any]
    risk: str
    plan: str | None = None
    required: str = ""  # who must approve, in words
    verdict: str = ""  # policy's reason
    provenance: dict[str, Any] = Field(default_factory=dict)  # runbook chunk, fact ids
    state: str = "pending"
    requester: str = ""
    result: Any = None
    error: str | None = None
    verified: bool | None = None


class Reply(BaseModel):
    conversation: str
    text: str
    cards: list[Card] = Field(default_factory=list)  # cards this reply is about
    pending: list[str] = Field(default_factory=list)  # approval ids still waiting
    usage: dict[str, Any] = Field(default_factory=dict)
