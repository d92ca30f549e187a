"""The checks the executor makes before it may claim an approval, all at execution time.

Each refusal is audited and leaves state as it was: the approval can be looked at again,
and nothing ran.
"""

from __future__ import annotations

from typing import Any

from copilot.canonical import canonical_hash
from copilot.domain import Approval, ApprovalState, Principal, Proposal
from copilot.door.approvals import Approvals
from copilot.door.deps import DoorDeps
from copilot.errors import (
    ApprovalInvalid,
    ApprovalRequired,
    CopilotError,
    PolicyDenied,
)
from copilot.toolkit import ToolSpec


class Preflight:
    """State, expiry, who triggers, exact arguments, quorum under current policy, plan."""

    def __init__(self, deps: DoorDeps, approvals: Approvals) -> None:
        self.deps = deps
        self.approvals = approvals

    def refuse(self, who: Principal, approval: Approval, err: CopilotError) -> CopilotError:
        return self.deps.refuse(who.id, approval.id, err)

    def check(self, approval: Approval, proposal: Proposal, who: Principal) -> tuple[ToolSpec, Any]:
        """Return the tool and validated arguments, or raise (audited) why it may not run.

        A waiting call whose recorded votes make a quorum now (a change freeze held it back
        when they were cast) passes every check below and is then approved, on the record."""
        waiting = approval.state is ApprovalState.PROPOSED
        if waiting and not self.approvals.quorum(approval, proposal).allowed:
            raise self.refuse(
                who,
                approval,
                ApprovalRequired(
                    f"{approval.id} still needs approval ({approval.required})",
                    f"ask an approver to run `copilot approve {approval.id}`",
                ),
            )
        if not waiting and approval.state is not ApprovalState.APPROVED:
            raise self.refuse(
                who,
                approval,
                ApprovalInvalid(
                    f"approval {approval.id} is {approval.state.value}; it cannot run (again)",
                    "approvals are single-use: propose the call again if it is still needed",
                ),
            )
        self.approvals.expire_if_due(approval, who.id)
        spec = self.deps.registry.get(proposal.tool)
        self._trigger(who, approval, spec)
        spec, args = self.approvals.bound_call(approval, proposal, who.id)
        decision = self.approvals.quorum(approval, proposal)
        self.deps.record_decision(decision, approval.id)
        if not decision.allowed:
            raise PolicyDenied(
                f"policy refuses to run {approval.id}: {decision.reason}",
                f"it needs {approval.required} still valid at execution time",
            )
        self.plan_matches(approval, proposal, spec, args, who)
        if waiting:
            self.approvals.complete(approval, proposal, who)
        return spec, args

    def _trigger(self, who: Principal, approval: Approval, spec: ToolSpec) -> None:
        """Whoever presses "run" must be someone who could have asked for this call."""
        if who.id == approval.requester:
            return
        self.deps.require(
            "propose",
            who.id,
            spec.name,
            self.deps.context(),
            subject=approval.id,
            denied=f"{who.id} may not run {spec.name}",
            hint="ask the requester or an approver to run it",
        )

    def current_plan(self, proposal: Proposal, spec: ToolSpec, args: Any) -> str | None:
        """The dry run as the requester would see it now."""
        return self.deps.dry_run(spec, args, proposal.requester)

    def plan_matches(
        self, approval: Approval, proposal: Proposal, spec: ToolSpec, args: Any, who: Principal
    ) -> None:
        try:
            plan = self.current_plan(proposal, spec, args)
        except CopilotError as err:
            raise self.refuse(who, approval, err) from None
        if (None if plan is None else canonical_hash(plan)) != approval.plan_hash:
            raise self.refuse(
                who,
                approval,
                ApprovalInvalid(
                    f"the plan of {approval.id} changed since it was approved (now: {plan})",
                    "the system changed under the proposal; propose the call again",
                ),
            )
