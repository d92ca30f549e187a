"""A conversation as people see it: its messages in order, and the cards they are about."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from copilot.domain.replies import Card
from copilot.domain.views import FactView

Role = Literal["user", "copilot", "event"]


class Message(BaseModel):
    """One thing said in a conversation: a person's message, the copilot's reply, or an
    event (a decision on a card) told in words. Stored redacted."""

    id: int
    conversation: str
    at: datetime
    author: str  # a user id, or "copilot"
    role: Role
    text: str
    cards: list[str] = Field(default_factory=list)  # approval ids, in the order shown
    facts: list[FactView] = Field(default_factory=list)  # the reads behind a reply


class ConversationSummary(BaseModel):
    id: str
    title: str  # the first message, shortened
    started_at: datetime
    last_at: datetime
    messages: int


class ConversationView(BaseModel):
    """Everything a page shows of one conversation: messages after ``after`` (all by
    default), and the current state of every card they mention."""

    id: str
    messages: list[Message] = Field(default_factory=list)
    cards: dict[str, Card] = Field(default_factory=dict)  # approval id -> card, as now
    # approval id -> the message that first mentions it (where a page shows the card whole)
    first_mention: dict[str, int] = Field(default_factory=dict)
    # changes proposed in this conversation that no message mentions (``copilot call
    # --conversation``, another surface): shown after the messages
    elsewhere: list[str] = Field(default_factory=list)
    pending: list[str] = Field(default_factory=list)  # approval ids the agent waits on
