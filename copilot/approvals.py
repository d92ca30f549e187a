"""Proposals and their approval records: create, vote, reject, cancel, expire.

An approval names one proposal and is bound to the sha256 of its exact canonical arguments
and of its dry-run plan. Policy decides who may approve and how many approvals a call needs;
this module only records what people did, each change in one transaction with its audit event.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from copilot.audit import AuditLog
from copilot.domain import (
    Approval,
    ApprovalState,
    Decision,
    Principal,
    Proposal,
)
from copilot.errors import ApprovalInvalid, CopilotError, InvalidInput, PolicyDenied
from copilot.policy import PolicyEngine, RequestContext
from copilot.redact.engine import Redactor
from copilot.registry import Registry
from copilot.settings import Settings
from copilot.store import Store
from copilot.store.records import get_approval
from copilot.store.schema import approval_votes, approvals
from copilot.toolkit import ToolContext, ToolSpec, run_with_timeout

_OPEN = (ApprovalState.PROPOSED, ApprovalState.APPROVED)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


class ApprovalBook:
    """The lifecycle of proposals up to the moment the executor takes over."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        registry: Registry,
        policy: PolicyEngine,
        audit: AuditLog,
        clock: Callable[[], datetime],
        redactor: Redactor,
    ) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry
        self.policy = policy
        self.audit = audit
        self.clock = clock
        self.redactor = redactor

    # -- helpers --------------------------------------------------------------------------
    def context(self, **kw: Any) -> RequestContext:
        return RequestContext(
            environment=self.settings.environment, change_freeze=self.settings.change_freeze, **kw
        )

    def refuse(self, actor: str, subject: str | None, err: CopilotError) -> CopilotError:
        """Record a refused request (bad input, denial) and hand the error back to raise.

        Its text may quote arguments or a plan: it is redacted before anyone sees it."""
        err.redact_with(self.redactor.text)
        self.audit.record(
            "request.refused",
            actor=actor,
            subject=subject,
            data={"error": type(err).__name__, "message": err.message},
        )
        return err

    def record_decision(self, d: Decision, subject: str | None) -> None:
        self.audit.record(
            "policy.decision", actor=d.principal, subject=subject, data=d.audit_data()
        )

    def tool_context(self, principal: str, approval_id: str | None = None) -> ToolContext:
        return ToolContext(
            state=self.store,
            settings=self.settings,
            principal=principal,
            approval_id=approval_id,
            clock=self.clock,
        )

    def dry_run(self, spec: ToolSpec, args: Any, requester: str) -> str | None:
        """The tool's plan as ``requester`` would see it now, bounded by the tool's timeout.

        The plan is redacted with placeholders numbered afresh for each plan, so the same
        plan always reads (and hashes) the same: approvers approve what they were shown,
        and no secret a plan quotes reaches the store."""
        if spec.plan_fn is None:  # most reads: no thread, no context
            return None
        ctx = self.tool_context(requester)
        plan = run_with_timeout(lambda: spec.plan(ctx, args), spec.timeout_s)
        return None if plan is None else Redactor(self.redactor.rules).text(plan)

    # -- votes ----------------------------------------------------------------------------
    def load(self, approval_id: str, actor: str) -> tuple[Approval, Proposal]:
        """An approval and its proposal, by approval id (or by the proposal's id)."""
        with self.store.read() as conn:
            if approval_id.startswith("prp_"):
                approval_id = (
                    conn.execute(
                        select(approvals.c.id).where(approvals.c.proposal_id == approval_id)
                    ).scalar()
                    or approval_id
                )
            found = get_approval(conn, approval_id)
        if found is None:
            raise self.refuse(
                actor,
                approval_id,
                InvalidInput(
                    f"no proposal with id {approval_id!r}", "list them with `copilot proposals`"
                ),
            )
        return found

    def expire_if_due(self, approval: Approval, actor: str) -> None:
        """Mark a waiting or approved record expired once its time is up; raise if so."""
        now = self.clock()
        if now < approval.expires_at:
            return
        err = ApprovalInvalid(
            f"approval {approval.id} expired at {approval.expires_at:%Y-%m-%d %H:%M:%S} UTC",
            "propose the call again to get a fresh approval",
        )
        with self.store.write() as conn:
            res = conn.execute(
                update(approvals)
                .where(
                    approvals.c.id == approval.id,
                    approvals.c.state.in_([ApprovalState.PROPOSED, ApprovalState.APPROVED]),
                )
                .values(state=ApprovalState.EXPIRED, updated_at=now)
            )
            expired_now = res.rowcount == 1
            if expired_now:
                self.audit.append(
                    conn,
                    "approval.expired",
                    actor=actor,
                    subject=approval.id,
                    ts=now,
                    data={"expires_at": approval.expires_at.isoformat()},
                )
        # Raised outside the transaction: raising inside it would roll the expiry back.
        if expired_now:
            raise err
        raise self.refuse(actor, approval.id, err)

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
        if verdict not in ("approve", "reject"):
            raise InvalidInput(f"unknown verdict {verdict!r}", "use approve or reject")
        approval, proposal = self.load(approval_id, who.id)
        # A call that is approved but has not run yet (busy, rate limited) can still be
        # stopped by anyone who could have approved it.
        open_states = _OPEN if verdict == "reject" else (ApprovalState.PROPOSED,)
        if approval.state not in open_states:
            raise self.refuse(
                who.id,
                approval_id,
                ApprovalInvalid(
                    f"approval {approval_id} is {approval.state.value}, not waiting for approval",
                    "nothing to do; propose the call again if it is still needed",
                ),
            )
        self.expire_if_due(approval, who.id)
        ctx = self.context(
            is_requester=who.id == proposal.requester,
            approval_count=sum(v.verdict == "approve" for v in approval.votes),
        )
        if break_glass:
            glass = self.policy.decide("break_glass", who.id, proposal.tool, ctx)
            if not glass.allowed:
                self.record_decision(glass, approval_id)
                raise PolicyDenied(
                    f"{who.id} may not declare break-glass: {glass.reason}",
                    "ask an admin, or approve without --break-glass",
                )
            ctx = replace(ctx, break_glass=True)
        decision = self.policy.decide("approve", who.id, proposal.tool, ctx)
        if not decision.allowed:
            self.record_decision(decision, approval_id)
            raise PolicyDenied(
                f"{who.id} may not {verdict} {approval_id}: {decision.reason}",
                f"it needs {approval.required}, from people other than the requester where the "
                "two-person rule applies",
            )
        try:
            return self._record_vote(
                approval, proposal, who, verdict, decision, break_glass, reason
            )
        except ApprovalInvalid as err:
            raise self.refuse(who.id, approval_id, err) from None

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
        now = self.clock()
        aid = approval.id
        with self.store.write() as conn:
            # Compare-and-set: a concurrent rejection, expiry or quorum wins cleanly.
            res = conn.execute(
                update(approvals)
                .where(
                    approvals.c.id == aid,
                    approvals.c.state.in_(
                        _OPEN if verdict == "reject" else [ApprovalState.PROPOSED]
                    ),
                    approvals.c.expires_at > now,
                )
                .values(updated_at=now)
            )
            if res.rowcount != 1:
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
            self.audit.append_decision(conn, decision, aid, ts=now)
            self.audit.append(
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
            final: ApprovalState | None = None
            found = get_approval(conn, aid)
            assert found is not None
            approval = found[0]
            if verdict == "reject":
                final = ApprovalState.REJECTED
                self.audit.append(
                    conn,
                    "approval.rejected",
                    actor=who.id,
                    subject=aid,
                    ts=now,
                    data={"reason": reason},
                )
            elif self.quorum(approval, proposal).allowed:
                final = ApprovalState.APPROVED
                self.audit.append(
                    conn,
                    "approval.approved",
                    actor=who.id,
                    subject=aid,
                    ts=now,
                    data={
                        "approvers": [v.approver for v in approval.votes if v.verdict == "approve"]
                    },
                )
            if final is not None:
                conn.execute(update(approvals).where(approvals.c.id == aid).values(state=final))
                approval = approval.model_copy(update={"state": final})
        return approval

    def quorum(self, approval: Approval, proposal: Proposal) -> Decision:
        """Policy's execute decision given the votes that still pass policy now."""
        ctx = self.execution_context(approval, proposal)
        return self.policy.decide("execute", proposal.requester, proposal.tool, ctx)

    def execution_context(self, approval: Approval, proposal: Proposal) -> RequestContext:
        """Context for ``execute``: only approvals whose approver policy still accepts count."""
        return self.policy.counted_context(
            approval.votes, proposal.requester, proposal.tool, self.context()
        )

    def cancel(self, approval_id: str, who: Principal) -> Approval:
        """The requester withdraws a proposal that has not run."""
        approval, proposal = self.load(approval_id, who.id)
        if who.id != proposal.requester:
            raise self.refuse(
                who.id,
                approval_id,
                PolicyDenied(
                    f"only {proposal.requester} may cancel {approval_id}", "reject it instead"
                ),
            )
        if approval.state in (ApprovalState.PROPOSED, ApprovalState.APPROVED):
            self.expire_if_due(approval, who.id)
        now = self.clock()
        try:
            with self.store.write() as conn:
                res = conn.execute(
                    update(approvals)
                    .where(
                        approvals.c.id == approval_id,
                        approvals.c.state.in_([ApprovalState.PROPOSED, ApprovalState.APPROVED]),
                    )
                    .values(state=ApprovalState.CANCELLED, updated_at=now)
                )
                if res.rowcount != 1:
                    raise ApprovalInvalid(
                        f"approval {approval_id} is {approval.state.value}",
                        "only waiting or approved calls can be cancelled",
                    )
                self.audit.append(
                    conn, "approval.cancelled", actor=who.id, subject=approval_id, ts=now
                )
        except ApprovalInvalid as err:
            raise self.refuse(who.id, approval_id, err) from None
        return approval.model_copy(update={"state": ApprovalState.CANCELLED})
