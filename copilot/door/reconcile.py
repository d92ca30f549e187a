"""After a crash: runs left *executing* past their deadline become *unknown*, and a person
records what really happened. Nothing here re-runs a call: that is the point."""

from __future__ import annotations

from sqlalchemy import select

from copilot.domain import ApprovalState, Principal
from copilot.door.deps import DoorDeps
from copilot.door.transition import transition
from copilot.errors import ApprovalInvalid, InvalidInput
from copilot.store.schema import executions

_OUTCOMES = {"succeeded": ApprovalState.SUCCEEDED, "failed": ApprovalState.FAILED}
_UNKNOWN = frozenset({ApprovalState.UNKNOWN})  # a person reconciles only what is unknown


class Reconciler:
    """Marks stale runs *unknown* on start-up and records people's reconciliations."""

    def __init__(self, deps: DoorDeps) -> None:
        self.deps = deps

    def reconcile_stale(self) -> list[str]:
        """Mark runs whose deadline passed while still *executing* as *unknown*."""
        d = self.deps
        now = d.clock()
        with d.store.read() as conn:
            stale = conn.execute(
                select(executions.c.approval_id, executions.c.owner, executions.c.started_at).where(
                    executions.c.status == ApprovalState.EXECUTING, executions.c.deadline < now
                )
            ).all()
        marked = []
        # One transaction per run, each conditional on the state we saw: a run that
        # finished meanwhile keeps its real outcome.
        run = {"finished_at": now, "error": "the process running it stopped; outcome unknown"}
        for r in stale:
            note = {
                "owner": r.owner,
                "started_at": r.started_at.isoformat(),
                "note": "not retried; a person must reconcile it",
            }
            unknown = ApprovalState.UNKNOWN
            if d.move(r.approval_id, unknown, "execution.unknown", now=now, data=note, run=run):
                marked.append(r.approval_id)
        return marked

    def reconcile(self, approval_id: str, who: Principal, outcome: str, note: str) -> None:
        """A person records what really happened to an *unknown* run."""
        d = self.deps
        if outcome not in _OUTCOMES:
            raise InvalidInput(f"unknown outcome {outcome!r}", "use succeeded or failed")
        approval, proposal = d.load(approval_id, who.id)
        approval_id = approval.id  # it may have been found by its proposal's id
        if approval.state is not ApprovalState.UNKNOWN:
            raise d.refuse(
                who.id,
                approval_id,
                ApprovalInvalid(
                    f"{approval_id} is {approval.state.value}, not unknown", "nothing to reconcile"
                ),
            )
        # Only someone who could have approved the call may say what became of it.
        decision = d.require(
            "approve",
            who.id,
            proposal.tool,
            d.context(is_requester=who.id == proposal.requester),
            subject=approval_id,
            denied=f"{who.id} may not reconcile {approval_id}",
            hint="ask someone who could have approved it",
        )
        now = d.clock()
        try:
            with d.store.write() as conn:
                d.audit.append_decision(conn, decision, approval_id, ts=now)
                said = {"outcome": outcome, "note": note}
                to, event = _OUTCOMES[outcome], "execution.reconciled"
                if not transition(
                    conn,
                    d.audit,
                    approval_id,
                    to,
                    event,
                    actor=who.id,
                    now=now,
                    data=said,
                    only_from=_UNKNOWN,
                ):
                    raise ApprovalInvalid(
                        f"{approval_id} was reconciled meanwhile",
                        "look at it again with `copilot proposals`",
                    )
        except ApprovalInvalid as err:
            raise d.refuse(who.id, approval_id, err) from None
