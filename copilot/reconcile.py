"""After a crash: runs left *executing* past their deadline become *unknown*, and a person
records what really happened. Nothing here re-runs a call: that is the point."""

from __future__ import annotations

from sqlalchemy import select, update

from copilot.approvals import ApprovalBook
from copilot.domain import ApprovalState, Principal
from copilot.errors import ApprovalInvalid, InvalidInput, PolicyDenied
from copilot.store.schema import approvals, executions


class Reconciler:
    """Marks stale runs *unknown* on start-up and records people's reconciliations."""

    def __init__(self, book: ApprovalBook) -> None:
        self.book = book
        self.store = book.store
        self.audit = book.audit
        self.policy = book.policy
        self.clock = book.clock

    def reconcile_stale(self) -> list[str]:
        """Mark runs whose deadline passed while still *executing* as *unknown*."""
        now = self.clock()
        marked = []
        with self.store.write() as conn:
            rows = conn.execute(
                select(executions).where(
                    executions.c.status == ApprovalState.EXECUTING, executions.c.deadline < now
                )
            ).all()
            for r in rows:
                conn.execute(
                    update(executions)
                    .where(executions.c.approval_id == r.approval_id)
                    .values(
                        status=ApprovalState.UNKNOWN,
                        finished_at=now,
                        error="the process running it stopped; outcome unknown",
                    )
                )
                conn.execute(
                    update(approvals)
                    .where(approvals.c.id == r.approval_id)
                    .values(state=ApprovalState.UNKNOWN, updated_at=now)
                )
                self.audit.append(
                    conn,
                    "execution.unknown",
                    subject=r.approval_id,
                    ts=now,
                    data={
                        "owner": r.owner,
                        "started_at": r.started_at.isoformat(),
                        "note": "not retried; a person must reconcile it",
                    },
                )
                marked.append(r.approval_id)
        return marked

    def reconcile(self, approval_id: str, who: Principal, outcome: str, note: str) -> None:
        """A person records what really happened to an *unknown* run."""
        if outcome not in ("succeeded", "failed"):
            raise InvalidInput(f"unknown outcome {outcome!r}", "use succeeded or failed")
        approval, proposal = self.book.load(approval_id, who.id)
        if approval.state is not ApprovalState.UNKNOWN:
            raise self.book.refuse(
                who.id,
                approval_id,
                ApprovalInvalid(
                    f"{approval_id} is {approval.state.value}, not unknown", "nothing to reconcile"
                ),
            )
        decision = self.policy.decide(
            "approve",
            who.id,
            proposal.tool,
            self.book.context(is_requester=who.id == proposal.requester),
        )
        if not decision.allowed:
            self.book.record_decision(decision, approval_id)
            raise PolicyDenied(
                f"{who.id} may not reconcile {approval_id}: {decision.reason}",
                "ask someone who could have approved it",
            )
        now = self.clock()
        with self.store.write() as conn:
            conn.execute(
                update(approvals)
                .where(approvals.c.id == approval_id, approvals.c.state == ApprovalState.UNKNOWN)
                .values(state=outcome, updated_at=now)
            )
            conn.execute(
                update(executions)
                .where(executions.c.approval_id == approval_id)
                .values(status=outcome)
            )
            self.audit.append(
                conn,
                "policy.decision",
                actor=who.id,
                subject=approval_id,
                data=decision.audit_data(),
                ts=now,
            )
            self.audit.append(
                conn,
                "execution.reconciled",
                actor=who.id,
                subject=approval_id,
                ts=now,
                data={"outcome": outcome, "note": note},
            )
