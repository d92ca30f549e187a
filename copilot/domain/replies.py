"""What every surface renders: a reply's text and its cards, with no surface in them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from copilot.domain.models import (
    Approval,
    ApprovalState,
    Execution,
    ExecutionOutcome,
    Proposal,
    Risk,
    Vote,
)

_OPEN = (ApprovalState.PROPOSED, ApprovalState.APPROVED)


class Card(BaseModel):
    """A proposed call and where its approval stands: what a confirm/reject card shows.

    Built only by ``from_records``, from the store's records at the moment it is shown, so
    a card can never disagree with its approval record."""

    approval_id: str
    proposal_id: str
    tool: str
    arguments: dict[str, Any]
    risk: Risk
    plan: str | None = None
    state: ApprovalState
    requester: str
    required: str  # who must approve, in words
    votes: list[Vote] = Field(default_factory=list)
    created_at: datetime
    expires_at: datetime
    conversation: str | None = None
    provenance: dict[str, Any] = Field(default_factory=dict)  # runbook chunk, fact ids
    args_hash: str
    plan_hash: str | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    verified: bool | None = None  # the agent re-read its telemetry after the change

    @classmethod
    def from_records(
        cls,
        approval: Approval,
        proposal: Proposal,
        execution: Execution | None = None,
        *,
        now: datetime | None = None,
        verified: bool | None = None,
    ) -> Card:
        """The card of one approval. With ``now``, a waiting approval whose time is up
        shows as expired (the record says so once someone next touches it)."""
        state = approval.state
        if now is not None and state in _OPEN and now >= approval.expires_at:
            state = ApprovalState.EXPIRED
        return cls(
            approval_id=approval.id,
            proposal_id=proposal.id,
            tool=proposal.tool,
            arguments=proposal.arguments,
            risk=proposal.risk,
            plan=proposal.plan,
            state=state,
            requester=proposal.requester,
            required=approval.required,
            votes=approval.votes,
            created_at=approval.created_at,
            expires_at=approval.expires_at,
            conversation=proposal.conversation,
            provenance=proposal.provenance,
            args_hash=proposal.args_hash,
            plan_hash=proposal.plan_hash,
            result=execution.result if execution else None,
            error=execution.error if execution else None,
            verified=verified,
        )

    @property
    def approvals(self) -> int:
        """Approvals so far (a withdrawn vote counts no more)."""
        return sum(v.verdict == "approve" for v in self.votes)


class Reply(BaseModel):
    conversation: str
    text: str
    cards: list[Card] = Field(default_factory=list)  # cards this reply is about
    pending: list[str] = Field(default_factory=list)  # approval ids still waiting
    usage: dict[str, Any] = Field(default_factory=dict)
    # the run this request caused outside any conversation (``copilot approve`` on a
    # card proposed with ``copilot call``)
    execution: ExecutionOutcome | None = None
