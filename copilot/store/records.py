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


def _vote(v: Row[Any]) -> Vote:
    return Vote(
        approver=v.approver,
        verdict=v.verdict,
        at=v.at,
        roles=tuple(v.roles),
        event_seq=v.event_seq,
        event_hash=v.event_hash,
    )


def _votes(conn: Connection, approval_id: str) -> list[Vote]:
    rows = conn.execute(
        select(approval_votes)
        .where(approval_votes.c.approval_id == approval_id)
        .order_by(approval_votes.c.id)
    ).all()
    return [_vote(v) for v in rows]


def approval_from_row(conn: Connection, r: Row[Any], votes: list[Vote] | None = None) -> Approval:
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
        votes=_votes(conn, r.id) if votes is None else votes,
    )


def get_approval(conn: Connection, approval_id: str) -> tuple[Approval, Proposal] | None:
    row = conn.execute(select(approvals).where(approvals.c.id == approval_id)).first()
    if row is None:
        return None
    prow = conn.execute(select(proposals).where(proposals.c.id == row.proposal_id)).one()
    return approval_from_row(conn, row), proposal_from_row(prow)


def get_execution(conn: Connection, approval_id: str) -> Execution | None:
    r = conn.execute(select(executions).where(executions.c.approval_id == approval_id)).first()
    return None if r is None else _execution(r)


def _execution(r: Row[Any]) -> Execution:
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


def get_records(
    conn: Connection, approval_ids: list[str]
) -> dict[str, tuple[Approval, Proposal, Execution | None]]:
    """Approval, proposal and run record of each of these approvals, in four queries
    whatever their number (a long incident's conversation holds many cards)."""
    if not approval_ids:
        return {}
    rows = conn.execute(select(approvals).where(approvals.c.id.in_(approval_ids))).all()
    wanted = [r.proposal_id for r in rows]
    props = conn.execute(select(proposals).where(proposals.c.id.in_(wanted))).all()
    by_proposal = {p.id: proposal_from_row(p) for p in props}
    votes: dict[str, list[Vote]] = {}
    for v in conn.execute(
        select(approval_votes)
        .where(approval_votes.c.approval_id.in_(approval_ids))
        .order_by(approval_votes.c.id)
    ).all():
        votes.setdefault(v.approval_id, []).append(_vote(v))
    runs = conn.execute(select(executions).where(executions.c.approval_id.in_(approval_ids)))
    by_run = {r.approval_id: _execution(r) for r in runs.all()}
    return {
        r.id: (
            approval_from_row(conn, r, votes.get(r.id, [])),
            by_proposal[r.proposal_id],
            by_run.get(r.id),
        )
        for r in rows
    }
