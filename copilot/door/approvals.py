"""Votes on a proposal's approval record: approve, reject, cancel, and expiry.

An approval names one proposal and is bound to the sha256 of its exact canonical arguments
and of its dry-run plan. Policy decides who may approve and how many approvals a call needs;
this module only records what people did, each change a ``transition`` with its audit event.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from copilot.audit import backed_votes
from copilot.canonical import call_hash
from copilot.domain import Approval, ApprovalState, Decision, Principal, Proposal, Vote
from copilot.door.deps import DoorDeps
from copilot.door.transition import OPEN, hold, transition
from copilot.errors import ApprovalInvalid, InvalidInput, PolicyDenied
from copilot.policy import RequestContext
from copilot.store.records import get_approval
from copilot.store.schema import approval_votes
from copilot.toolkit import ToolSpec

S = ApprovalState
# A call that is approved but has not run yet (busy, rate limited) can still be stopped by
# anyone who could have approved it; only a waiting one can be approved.
_VOTABLE = {"approve": frozenset({ApprovalState.PROPOSED}), "reject": frozenset(OPEN)}


class Approvals:
    """The lifecycle of proposals up to the moment the executor takes over."""

    def __init__(self, deps: DoorDeps) -> None:
        self.deps = deps

    def expire_if_due(self, approval: Approval, actor: str) -> None:
        """Mark a waiting or approved record expired once its time is up; raise if so."""
        d = self.deps
        now = d.clock()
        if now < approval.expires_at:
            return
        err = ApprovalInvalid(
            f"approval {approval.id} expired at {approval.expires_at:%Y-%m-%d %H:%M:%S} UTC",
            "propose the call again to get a fresh approval",
        )
        due = {"expires_at": approval.expires_at.isoformat()}
        expired_now = d.move(
            approval.id, S.EXPIRED, "approval.expired", now=now, actor=actor, data=due
        )
        # Raised outside the transaction: raising inside it would roll the expiry back.
        if expired_now:
            raise err
        raise d.refuse(actor, approval.id, err)

    def bound_call(
        self, approval: Approval, proposal: Proposal, actor: str
    ) -> tuple[ToolSpec, Any]:
        """The tool and validated arguments the proposal holds, if they still hash to what
        the approval binds (tool name included); else raise, on the record."""
        d = self.deps
        try:
            spec = d.registry.get(proposal.tool)
            args = spec.validate(proposal.arguments)
        except InvalidInput as err:
            raise d.refuse(
                actor,
                approval.id,
                ApprovalInvalid(
                    f"the stored call of {approval.id} no longer validates: {err.message}",
                    "propose the call again",
                ),
            ) from None
        digest = call_hash(spec.name, args.model_dump(mode="json"))
        if not (digest == proposal.args_hash == approval.args_hash):
            raise d.refuse(
                actor,
                approval.id,
                ApprovalInvalid(
                    f"the call {approval.id} would make is not the one proposed (hash mismatch)",
                    "someone changed the stored call; propose it again and investigate",
                ),
            )
        return spec, args

    def vote(
        self,
        approval_id: str,
        who: Principal,
        verdict: str,
        *,
        break_glass: bool = False,
        reason: str = "",
    ) -> Approval:
        """Approve or reject as ``who``; approving may complete the quorum."""
        d = self.deps
        if verdict not in _VOTABLE:
            raise InvalidInput(f"unknown verdict {verdict!r}", "use approve or reject")
        approval, proposal = d.load(approval_id, who.id)
        approval_id = approval.id  # it may have been found by its proposal's id
        if approval.state not in _VOTABLE[verdict]:
            raise d.refuse(
                who.id,
                approval_id,
                ApprovalInvalid(
                    f"approval {approval_id} is {approval.state.value}, not waiting for approval",
                    "nothing to do; propose the call again if it is still needed",
                ),
            )
        self.expire_if_due(approval, who.id)
        # Policy below decides on the stored tool name: it must still be the call proposed.
        self.bound_call(approval, proposal, who.id)
        ctx = d.context(
            is_requester=who.id == proposal.requester,
            approval_count=sum(v.verdict == "approve" for v in approval.votes),
        )
        if break_glass:
            d.require(
                "break_glass",
                who.id,
                proposal.tool,
                ctx,
                subject=approval_id,
                denied=f"{who.id} may not declare break-glass",
                hint="ask an admin, or approve without --break-glass",
            )
            ctx = replace(ctx, break_glass=True)
        decision = d.require(
            "approve",
            who.id,
            proposal.tool,
            ctx,
            subject=approval_id,
            denied=f"{who.id} may not {verdict} {approval_id}",
            hint=f"it needs {approval.required}, from people other than the requester where "
            "the two-person rule applies",
        )
        try:
            return self._record_vote(
                approval, proposal, who, verdict, decision, break_glass, reason
            )
        except ApprovalInvalid as err:
            raise d.refuse(who.id, approval_id, err) from None

    def _record_vote(
        self,
        approval: Approval,
        proposal: Proposal,
        who: Principal,
        verdict: str,
        decision: Decision,
        break_glass: bool,
        reason: str,
    ) -> Approval:
        d = self.deps
        now = d.clock()
        aid = approval.id
        with d.store.write() as conn:
            # A concurrent rejection, expiry or quorum wins cleanly.
            if not hold(conn, aid, _VOTABLE[verdict], now=now, unexpired=True):
                raise ApprovalInvalid(
                    f"approval {aid} changed or expired meanwhile",
                    "look at it again with `copilot proposals`",
                )
            d.audit.append_decision(conn, decision, aid, ts=now)
            mine = approval_votes.c.approval_id == aid, approval_votes.c.approver == who.id
            earlier = conn.execute(select(approval_votes.c.verdict).where(*mine)).scalar()
            if earlier is None or (earlier, verdict) == ("approve", "reject"):
                self._put_vote(conn, approval, who, verdict, break_glass, reason, now, earlier)
            elif (earlier, verdict) != ("approve", "approve"):
                raise _voted_already(who.id, aid)
            # else: the same approval again. It adds nothing, but the quorum it was part of
            # may count now that it could not before (a change freeze lifted meanwhile).
            found = get_approval(conn, aid)
            assert found is not None
            approval = found[0]
            final: ApprovalState | None = None
            data: dict[str, Any] = {}
            if verdict == "reject":
                final = ApprovalState.REJECTED
                event, data = "approval.rejected", {"reason": reason}
            elif self.quorum(approval, proposal, conn).allowed:
                final = ApprovalState.APPROVED
                counted = self.backed(approval, conn)
                approvers = [v.approver for v in counted if v.verdict == "approve"]
                event, data = "approval.approved", {"approvers": approvers}
            elif earlier is not None:
                raise _voted_already(who.id, aid)
            if final is not None:
                # The row is held since the compare-and-set above: this cannot miss.
                transition(conn, d.audit, aid, final, event, actor=who.id, now=now, data=data)
                approval = approval.model_copy(update={"state": final})
        return approval

    def _put_vote(
        self,
        conn: Connection,
        approval: Approval,
        who: Principal,
        verdict: str,
        break_glass: bool,
        reason: str,
        now: Any,
        earlier: str | None,
    ) -> None:
        """The vote's audit event, then its row naming that event (a withdrawn approval is
        replaced by the rejection, with the rejection's event)."""
        aid = approval.id
        recorded = self.deps.audit.append(
            conn,
            "approval.vote",
            actor=who.id,
            subject=aid,
            ts=now,
            data={
                "verdict": verdict,
                "break_glass": break_glass,
                "reason": reason,
                "args_hash": approval.args_hash,
            },
        )
        backing = {"event_seq": recorded.seq, "event_hash": recorded.chain_hash}
        mine = approval_votes.c.approval_id == aid, approval_votes.c.approver == who.id
        if earlier is not None:
            # An approver may still stop the call before it runs: the vote is withdrawn.
            conn.execute(
                update(approval_votes).where(*mine).values(verdict=verdict, at=now, **backing)
            )
            return
        # The break-glass mark is re-checked by policy whenever votes are counted.
        roles = list(who.roles) + (["break-glass"] if break_glass else [])
        try:
            conn.execute(
                insert(approval_votes)
                .values(**backing)
                .values(approval_id=aid, approver=who.id, verdict=verdict, at=now, roles=roles)
            )
        except IntegrityError:  # the same person voting at the same moment elsewhere
            raise _voted_already(who.id, aid) from None

    def quorum(
        self,
        approval: Approval,
        proposal: Proposal,
        conn: Connection | None = None,
        base: RequestContext | None = None,
    ) -> Decision:
        """Policy's execute decision given the votes that still pass policy now."""
        ctx = self.execution_context(approval, proposal, conn, base)
        return self.deps.policy.decide("execute", proposal.requester, proposal.tool, ctx)

    def execution_context(
        self,
        approval: Approval,
        proposal: Proposal,
        conn: Connection | None = None,
        base: RequestContext | None = None,
    ) -> RequestContext:
        """Context for ``execute``: only votes the audit log records, by approvers whom
        policy still accepts, count."""
        return self.deps.policy.counted_context(
            self.backed(approval, conn),
            proposal.requester,
            proposal.tool,
            base or self.deps.context(),
        )

    def backed(self, approval: Approval, conn: Connection | None = None) -> list[Vote]:
        """The votes whose audit event is in the chain and records them (a vote row put in
        the database by hand never counts)."""
        if conn is not None:
            return backed_votes(conn, approval.id, approval.votes)
        with self.deps.store.read() as reading:
            return backed_votes(reading, approval.id, approval.votes)

    def held_by_freeze(self, approval_id: str) -> bool:
        """Whether this waiting call has its quorum and only the change freeze stops it."""
        approval, proposal = self.deps.load(approval_id, "copilot")
        if not self.deps.settings.change_freeze or approval.state is not ApprovalState.PROPOSED:
            return False
        unfrozen = replace(self.deps.context(), change_freeze=False)
        return self.quorum(approval, proposal, base=unfrozen).allowed

    def complete(self, approval: Approval, proposal: Proposal, who: Principal) -> Approval:
        """A waiting call whose recorded votes make a quorum now (a freeze held it back):
        approved, on the record, as the vote completing it would have done."""
        d = self.deps
        approvers = [v.approver for v in self.backed(approval) if v.verdict == "approve"]
        data = {"approvers": approvers, "completed_by": "execute"}
        now = d.clock()
        if not d.move(
            approval.id,
            ApprovalState.APPROVED,
            "approval.approved",
            actor=who.id,
            now=now,
            data=data,
            unexpired=True,
        ):
            raise d.refuse(
                who.id,
                approval.id,
                ApprovalInvalid(
                    f"approval {approval.id} changed or expired meanwhile",
                    "look at it again with `copilot proposals`",
                ),
            )
        return approval.model_copy(update={"state": ApprovalState.APPROVED, "updated_at": now})

    def cancel(self, approval_id: str, who: Principal) -> Approval:
        """The requester withdraws a proposal that has not run."""
        d = self.deps
        approval, proposal = d.load(approval_id, who.id)
        approval_id = approval.id  # it may have been found by its proposal's id
        if who.id != proposal.requester:
            raise d.refuse(
                who.id,
                approval_id,
                PolicyDenied(
                    f"only {proposal.requester} may cancel {approval_id}", "reject it instead"
                ),
            )
        if approval.state in OPEN:
            self.expire_if_due(approval, who.id)
        if not d.move(approval_id, S.CANCELLED, "approval.cancelled", actor=who.id, now=d.clock()):
            raise d.refuse(
                who.id,
                approval_id,
                ApprovalInvalid(
                    f"approval {approval_id} is {approval.state.value}",
                    "only waiting or approved calls can be cancelled",
                ),
            )
        return approval.model_copy(update={"state": ApprovalState.CANCELLED})


def _voted_already(who: str, approval_id: str) -> ApprovalInvalid:
    return ApprovalInvalid(
        f"{who} already voted on {approval_id}", "a second approver must be someone else"
    )
