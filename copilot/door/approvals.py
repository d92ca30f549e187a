"""Votes on a proposal's approval record: approve, reject, cancel, and expiry.

An approval names one proposal and is bound to the sha256 of its exact canonical arguments
and of its dry-run plan. Policy decides who may approve and how many approvals a call needs;
this module only records what people did, each change a ``transition`` with its audit event.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from copilot.domain import Approval, ApprovalState, Decision, Principal, Proposal
from copilot.door.deps import DoorDeps
from copilot.door.transition import OPEN, hold, transition
from copilot.errors import ApprovalInvalid, InvalidInput, PolicyDenied
from copilot.policy import RequestContext
from copilot.store.records import get_approval
from copilot.store.schema import approval_votes

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
            roles = list(who.roles) + (["break-glass"] if break_glass else [])
            mine = approval_votes.c.approval_id == aid, approval_votes.c.approver == who.id
            earlier = conn.execute(select(approval_votes.c.verdict).where(*mine)).scalar()
            if earlier == "approve" and verdict == "reject":
                # An approver may still stop the call before it runs: the vote is withdrawn.
                conn.execute(update(approval_votes).where(*mine).values(verdict="reject", at=now))
            else:
                try:
                    # The break-glass mark is re-checked by policy whenever votes are counted.
                    conn.execute(
                        insert(approval_votes).values(
                            approval_id=aid, approver=who.id, verdict=verdict, at=now, roles=roles
                        )
                    )
                except IntegrityError:
                    raise ApprovalInvalid(
                        f"{who.id} already voted on {aid}", "a second approver must be someone else"
                    ) from None
            d.audit.append_decision(conn, decision, aid, ts=now)
            d.audit.append(
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
            found = get_approval(conn, aid)
            assert found is not None
            approval = found[0]
            final: ApprovalState | None = None
            data: dict[str, Any] = {}
            if verdict == "reject":
                final = ApprovalState.REJECTED
                event, data = "approval.rejected", {"reason": reason}
            elif self.quorum(approval, proposal).allowed:
                final = ApprovalState.APPROVED
                approvers = [v.approver for v in approval.votes if v.verdict == "approve"]
                event, data = "approval.approved", {"approvers": approvers}
            if final is not None:
                # The row is held since the compare-and-set above: this cannot miss.
                transition(conn, d.audit, aid, final, event, actor=who.id, now=now, data=data)
                approval = approval.model_copy(update={"state": final})
        return approval

    def quorum(self, approval: Approval, proposal: Proposal) -> Decision:
        """Policy's execute decision given the votes that still pass policy now."""
        ctx = self.execution_context(approval, proposal)
        return self.deps.policy.decide("execute", proposal.requester, proposal.tool, ctx)

    def execution_context(self, approval: Approval, proposal: Proposal) -> RequestContext:
        """Context for ``execute``: only approvals whose approver policy still accepts count."""
        return self.deps.policy.counted_context(
            approval.votes, proposal.requester, proposal.tool, self.deps.context()
        )

    def cancel(self, approval_id: str, who: Principal) -> Approval:
        """The requester withdraws a proposal that has not run."""
        d = self.deps
        approval, proposal = d.load(approval_id, who.id)
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
