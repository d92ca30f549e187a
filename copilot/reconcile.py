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
        self.clock = book.clock

    def reconcile_stale(self) -> list[str]:
        """Mark runs whose deadline passed while still *executing* as *unknown*."""
        now = self.clock()
        with self.store.read() as conn:
            stale = conn.execute(
                select(executions.c.approval_id, executions.c.owner, executions.c.started_at).where(
                    executions.c.status == ApprovalState.EXECUTING, executions.c.deadline < now
                )
            ).all()
        marked = []
        # One transaction per run, each update conditional on the state we saw: a run that
        # finished meanwhile keeps its real outcome.
        for r in stale:
            with self.store.write() as conn:
                res = conn.execute(
                    update(executions)
                    .where(
                        executions.c.approval_id == r.approval_id,
                        executions.c.status == ApprovalState.EXECUTING,
                    )
                    .values(
                        status=ApprovalState.UNKNOWN,
                        finished_at=now,
                        error="the process running it stopped; outcome unknown",
                    )
                )
                if res.rowcount != 1:
                    continue
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
        not_unknown = ApprovalInvalid(
            f"{approval_id} is {approval.state.value}, not unknown", "nothing to reconcile"
        )
        if approval.state is not ApprovalState.UNKNOWN:
            raise self.book.refuse(who.id, approval_id, not_unknown)
        # Only someone who could have approved the call may say what became of it.
        ctx = self.book.context(is_requester=who.id == proposal.requester)
        decision = self.book.policy.decide("approve", who.id, proposal.tool, ctx)
        if not decision.allowed:
            self.book.record_decision(decision, approval_id)
            raise PolicyDenied(
                f"{who.id} may not reconcile {approval_id}: {decision.reason}",
                "ask someone who could have approved it",
            )
        now = self.clock()
        try:
            with self.store.write() as conn:
                res = conn.execute(
                    update(approvals)
                    .where(
                        approvals.c.id == approval_id, approvals.c.state == ApprovalState.UNKNOWN
                    )
                    .values(state=outcome, updated_at=now)
                )
                if res.rowcount != 1:
                    raise ApprovalInvalid(
                        f"{approval_id} was reconciled meanwhile",
                        "look at it again with `copilot proposals`",
                    )
                conn.execute(
                    update(executions)
                    .where(executions.c.approval_id == approval_id)
                    .values(status=outcome)
                )
                self.audit.append_decision(conn, decision, approval_id, ts=now)
                self.audit.append(
                    conn,
                    "execution.reconciled",
                    actor=who.id,
                    subject=approval_id,
                    ts=now,
                    data={"outcome": outcome, "note": note},
                )
        except ApprovalInvalid as err:
            raise self.book.refuse(who.id, approval_id, err) from None
