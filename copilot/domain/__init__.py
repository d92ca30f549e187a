"""Pydantic models only, no I/O: the nouns every layer shares."""

from copilot.domain.models import (
    TERMINAL_STATES,
    Approval,
    ApprovalState,
    AuditEvent,
    Decision,
    Execution,
    ExecutionOutcome,
    PolicySummary,
    Principal,
    Proposal,
    ProposalOutcome,
    Risk,
    ToolInfo,
    Vote,
)
from copilot.domain.replies import Card, Reply

__all__ = [
    "TERMINAL_STATES",
    "Approval",
    "ApprovalState",
    "AuditEvent",
    "Card",
    "Decision",
    "Execution",
    "ExecutionOutcome",
    "PolicySummary",
    "Principal",
    "Proposal",
    "ProposalOutcome",
    "Reply",
    "Risk",
    "ToolInfo",
    "Vote",
]
