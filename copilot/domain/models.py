"""The core records: who asks, what policy said, what was proposed, approved and run."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Risk(StrEnum):
    """How much harm a tool can do; policy keys approval rules on it."""

    READ = "read"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def level(self) -> int:
        return _RISK_LEVELS[self]


_RISK_LEVELS = {Risk.READ: 0, Risk.LOW: 1, Risk.MEDIUM: 2, Risk.HIGH: 3, Risk.CRITICAL: 4}


class Principal(BaseModel):
    """An authenticated person. ``authenticated_by`` names the surface that vouched for them."""

    model_config = ConfigDict(frozen=True)

    id: str
    roles: tuple[str, ...] = ()
    display_name: str = ""
    authenticated_by: str = "cli"


class Decision(BaseModel):
    """One Cedar decision: allow or deny, which policies decided, and why in words."""

    model_config = ConfigDict(frozen=True)

    action: str
    principal: str
    resource: str
    allowed: bool
    policy_ids: tuple[str, ...] = ()
    reason: str = ""
    errors: tuple[str, ...] = ()

    def audit_data(self) -> dict[str, Any]:
        """The decision as it goes into the audit log (and OCSF ``actor.authorizations``)."""
        return {
            "action": self.action,
            "resource": self.resource,
            "allowed": self.allowed,
            "policy_ids": list(self.policy_ids),
            "reason": self.reason,
            "errors": list(self.errors),
        }


class ApprovalState(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    EXECUTING = "executing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"


TERMINAL_STATES = frozenset(
    {
        ApprovalState.REJECTED,
        ApprovalState.EXPIRED,
        ApprovalState.CANCELLED,
        ApprovalState.SUCCEEDED,
        ApprovalState.FAILED,
        ApprovalState.UNKNOWN,
    }
)


class Proposal(BaseModel):
    """A typed tool call someone asked for, frozen with the hashes approvals bind to."""

    id: str
    tool: str
    arguments: dict[str, Any]
    args_hash: str
    plan: str | None = None
    plan_hash: str | None = None
    risk: Risk
    requester: str
    environment: str
    conversation: str | None = None
    provenance: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime


class Vote(BaseModel):
    approver: str
    verdict: str
    at: datetime
    roles: tuple[str, ...] = ()
    # The audit event recording this vote (None: no event backs it; it never counts).
    event_seq: int | None = None
    event_hash: str | None = None


class Approval(BaseModel):
    """The server-side approval record of one proposal; its id is the idempotency key."""

    id: str
    proposal_id: str
    state: ApprovalState
    args_hash: str
    plan_hash: str | None
    requester: str
    required: str
    auto: bool = False
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    votes: list[Vote] = Field(default_factory=list)


class Execution(BaseModel):
    approval_id: str
    status: ApprovalState
    started_at: datetime
    finished_at: datetime | None = None
    deadline: datetime
    attempts: int = 0
    result: dict[str, Any] | None = None
    error: str | None = None
    owner: str = ""


class AuditEvent(BaseModel):
    """One entry of the hash chain; ``body`` is the exact canonical JSON that was hashed."""

    seq: int
    ts: datetime
    kind: str
    actor: str | None
    subject: str | None
    data: dict[str, Any]
    leaf_hash: str
    chain_hash: str


class ProposalOutcome(BaseModel):
    """What proposing a call produced: the records, policy's verdict, and whether it runs now."""

    proposal: Proposal
    approval: Approval
    decision: Decision
    runs_without_approval: bool


class ExecutionOutcome(BaseModel):
    """What running one approved call did (the executor's answer; ``Execution`` is its row)."""

    model_config = ConfigDict(frozen=True)

    approval_id: str
    tool: str
    status: ApprovalState
    result: dict[str, Any] | None = None
    error: str | None = None
    attempts: int = 0


class ToolInfo(BaseModel):
    """One tool of the catalogue, as people are shown it."""

    name: str
    description: str
    risk: Risk
    side_effects: bool
    idempotent: bool
    timeout_s: float
    has_plan: bool
    arguments: dict[str, Any] = Field(default_factory=dict)  # JSON schema of its input


class UnapprovedWrite(BaseModel):
    """A change policy lets run with no approval at all: ``policy check`` warns of it."""

    tool: str
    risk: Risk
    who: list[str]  # the roles that may run it so, or ["anyone"] (even with no role)
    policy_ids: tuple[str, ...] = ()  # the policies that allowed it


class PolicySummary(BaseModel):
    """What ``copilot policy check`` found: the policies load and match the schema; the
    changes they let run with no approval."""

    tools: int
    users: int
    unapproved: list[UnapprovedWrite] = Field(default_factory=list)
