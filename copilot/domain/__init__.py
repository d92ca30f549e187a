"""Pydantic models only, no I/O: the nouns every layer shares."""

from copilot.domain.models import (
    TERMINAL_STATES,
    Approval,
    ApprovalState,
    AuditEvent,
    Decision,
    Execution,
    Principal,
    Proposal,
    ProposalOutcome,
    Risk,
    Vote,
)

__all__ = [
    "TERMINAL_STATES",
    "Approval",
    "ApprovalState",
    "AuditEvent",
    "Decision",
    "Execution",
    "Principal",
    "Proposal",
    "ProposalOutcome",
    "Risk",
    "Vote",
]
