"""The life of an approval, in one place: which state may follow which, and how a state
changes: a compare-and-set on the state it may come from, the run's record moved in step,
and its audit event appended in the same transaction. No other code writes these states.

    proposed ─quorum→ approved ─claim→ executing ─→ succeeded | failed | unknown
        └─────────┴─→ rejected | expired | cancelled          unknown ─person→ succeeded | failed

A compare-and-set that matches nothing means someone else moved the approval first (a
concurrent vote, an expiry, a second click): the caller gets ``False`` and says so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, update

from copilot.audit import AuditLog
from copilot.domain import Approval, ApprovalState, Decision, Proposal
from copilot.store.schema import approvals, executions, proposals

S = ApprovalState
# The states each state may be entered from.
ENTERED_FROM: dict[ApprovalState, frozenset[ApprovalState]] = {
    S.APPROVED: frozenset({S.PROPOSED}),
    S.REJECTED: frozenset({S.PROPOSED, S.APPROVED}),  # an approved call not yet run can be stopped
    S.EXPIRED: frozenset({S.PROPOSED, S.APPROVED}),
    S.CANCELLED: frozenset({S.PROPOSED, S.APPROVED}),
    S.EXECUTING: frozenset({S.APPROVED}),
    S.SUCCEEDED: frozenset({S.EXECUTING, S.UNKNOWN}),  # from unknown: a person reconciled it
    S.FAILED: frozenset({S.EXECUTING, S.UNKNOWN}),
    S.UNKNOWN: frozenset({S.EXECUTING}),
}
# States in which the call has a run record (``executions``), which follows the approval.
RUN_STATES = frozenset({S.EXECUTING, S.SUCCEEDED, S.FAILED, S.UNKNOWN})
OPEN = (S.PROPOSED, S.APPROVED)


def transition(
    conn: Connection,
    audit: AuditLog,
    approval_id: str,
    to: ApprovalState,
    event: str,
    *,
    now: datetime,
    actor: str | None = None,
    data: dict[str, Any] | None = None,
    only_from: frozenset[ApprovalState] | None = None,
    unexpired: bool = False,
    run: dict[str, Any] | None = None,
) -> bool:
    """Move ``approval_id`` to ``to`` inside the caller's transaction and append ``event``.

    ``only_from`` narrows the states it may come from; ``unexpired`` also requires that its
    approval has not expired; ``run`` holds the run record's other columns (inserted when
    the call is claimed, updated with its outcome). False: it was not in such a state."""
    sources = ENTERED_FROM[to] if only_from is None else only_from
    if not sources <= ENTERED_FROM[to]:
        raise ValueError(f"{sorted(sources)} -> {to.value} is not a transition")
    if not hold(conn, approval_id, sources, now=now, unexpired=unexpired, to=to):
        return False
    if to is S.EXECUTING:
        conn.execute(insert(executions).values(approval_id=approval_id, status=to, **(run or {})))
    elif to in RUN_STATES:
        conn.execute(
            update(executions)
            .where(executions.c.approval_id == approval_id)
            .values(status=to, **(run or {}))
        )
    audit.append(conn, event, actor=actor, subject=approval_id, ts=now, data=data)
    return True


def hold(
    conn: Connection,
    approval_id: str,
    states: frozenset[ApprovalState] | tuple[ApprovalState, ...],
    *,
    now: datetime,
    unexpired: bool = False,
    to: ApprovalState | None = None,
) -> bool:
    """Compare-and-set: the approval is in one of ``states`` (and unexpired), and is moved to
    ``to``, or only held (row-locked) for the rest of the transaction when ``to`` is None."""
    cond = [approvals.c.id == approval_id, approvals.c.state.in_(list(states))]
    if unexpired:
        cond.append(approvals.c.expires_at > now)
    values: dict[str, Any] = {"updated_at": now}
    if to is not None:
        values["state"] = to
    return conn.execute(update(approvals).where(*cond).values(**values)).rowcount == 1


def create(
    conn: Connection,
    audit: AuditLog,
    proposal: Proposal,
    approval: Approval,
    decision: Decision,
    *,
    data: dict[str, Any],
) -> None:
    """A new proposal with its approval record (waiting, or approved when policy lets it
    run without one), the policy decision that allowed it, and ``proposal.created``."""
    if approval.state not in OPEN:
        raise ValueError(f"an approval starts proposed or approved, not {approval.state.value}")
    now = approval.created_at
    conn.execute(insert(proposals).values(**proposal.model_dump()))
    conn.execute(insert(approvals).values(**approval.model_dump(exclude={"votes"})))
    audit.append_decision(conn, decision, approval.id, ts=now)
    audit.append(
        conn, "proposal.created", actor=proposal.requester, subject=approval.id, ts=now, data=data
    )
