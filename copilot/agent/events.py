"""What resumes a conversation waiting in ``await_approval``: a message or a decision."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from copilot.domain import ApprovalState, Principal


class MessageEvent(BaseModel):
    """Someone wrote in the conversation while cards were waiting."""

    model_config = ConfigDict(extra="ignore")

    kind: Literal["message"] = "message"
    text: str
    principal: Principal


class DecisionEvent(BaseModel):
    """A card's approval ended: approved (the quorum is complete) or rejected."""

    model_config = ConfigDict(extra="ignore")

    kind: Literal["decision"] = "decision"
    approval_id: str
    verdict: Literal["approve", "reject"]
    state: ApprovalState  # the approval's state when the conversation resumed
    principal: Principal  # whose decision completed it


ResumeEvent = Annotated[MessageEvent | DecisionEvent, Field(discriminator="kind")]
