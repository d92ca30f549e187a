"""Reading and writing proposal, approval, vote and execution rows as domain models."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, select

from copilot.domain import Approval, ApprovalState, Execution, Proposal, Risk, Vote
from copilot.store.schema import approval_votes, approvals, executions, proposals


def proposal_from_row(r: Row[Any]) -> Proposal:
    return Proposal(
        id=r.id,
        tool=r.tool,
        arguments=r.arguments,
        args_hash=r.args_hash,
        plan=r.plan,
        plan_hash=r.plan_hash,
        risk=Risk(r.risk),
        requester=r.requester,
        environment=r.environment,
        conversation=r.conversation,
        provenance=r.provenance or {},
        created_at=r.created_at,
    )


def _votes(conn: Connection, approval_id: str) -> list[Vote]:
    rows = conn.execute(
        select(approval_votes)
        .where(approval_votes.c.approval_id == approval_id)
        .order_by(approval_votes.c.id)
    ).all()
    return [
        Vote(approver=v.approver, verdict=v.verdict, at=v.at, roles=tuple(v.roles)) for v in rows
    ]


def approval_from_row(conn: Connection, r: Row[Any]) -> Approval:
    return Approval(
        id=r.id,
        proposal_id=r.proposal_id,
        state=ApprovalState(r.state),
        args_hash=r.args_hash,
        plan_hash=r.plan_hash,
        requester=r.requester,
        required=r.required,
        auto=r.auto,
        expires_at=r.expires_at,
        created_at=r.created_at,
        updated_at=r.updated_at,
        votes=_votes(conn, r.id),
    )


def get_approval(conn: Connection, approval_id: str) -> tuple[Approval, Proposal] | None:
    row = conn.execute(select(approvals).where(approvals.c.id == approval_id)).first()
    if row is None:
        return None
    prow = conn.execute(select(proposals).where(proposals.c.id == row.proposal_id)).one()
    return approval_from_row(conn, row), proposal_from_row(prow)


def get_execution(conn: Connection, approval_id: str) -> Execution | None:
    r = conn.execute(select(executions).where(executions.c.approval_id == approval_id)).first()
    if r is None:
        return None
    return Execution(
        approval_id=r.approval_id,
        status=ApprovalState(r.status),
        started_at=r.started_at,
        finished_at=r.finished_at,
        deadline=r.deadline,
        attempts=r.attempts,
        result=r.result,
        error=r.error,
        owner=r.owner,
    )


def list_approvals(
    conn: Connection, *, states: list[str] | None = None, limit: int = 50
) -> list[tuple[Approval, Proposal]]:
    q = select(approvals).order_by(approvals.c.created_at.desc()).limit(limit)
    if states:
        q = q.where(approvals.c.state.in_(states))
    out = []
    for a in conn.execute(q).all():
        p = conn.execute(select(proposals).where(proposals.c.id == a.proposal_id)).one()
        out.append((approval_from_row(conn, a), proposal_from_row(p)))
    return out
