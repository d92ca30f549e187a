"""Human-readable rendering of proposals and executions for the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from copilot.domain import Approval, Proposal, ProposalOutcome
    from copilot.executor import ExecutionOutcome


def proposal_json(
    proposal: Proposal, approval: Approval, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "id": approval.id,
        "proposal_id": proposal.id,
        "tool": proposal.tool,
        "arguments": proposal.arguments,
        "risk": proposal.risk.value,
        "state": approval.state.value,
        "requester": proposal.requester,
        "required": approval.required,
        "plan": proposal.plan,
        "args_hash": proposal.args_hash,
        "plan_hash": proposal.plan_hash,
        "expires_at": approval.expires_at.isoformat(),
        "votes": [v.model_dump(mode="json") for v in approval.votes],
        **(extra or {}),
    }


def outcome_json(out: ProposalOutcome) -> dict[str, Any]:
    return proposal_json(
        out.proposal,
        out.approval,
        {
            "policy": {
                "allowed": out.decision.allowed,
                "policy_ids": list(out.decision.policy_ids),
                "reason": out.decision.reason,
            },
            "runs_without_approval": out.runs_without_approval,
        },
    )


def execution_json(ex: ExecutionOutcome) -> dict[str, Any]:
    return {
        "id": ex.approval_id,
        "tool": ex.tool,
        "status": ex.status.value,
        "result": ex.result,
        "error": ex.error,
        "attempts": ex.attempts,
    }


def print_outcome(out: ProposalOutcome) -> None:
    from rich.console import Console

    c = Console(highlight=False)
    p, a = out.proposal, out.approval
    args = ", ".join(f"{k}={v!r}" for k, v in p.arguments.items())
    c.print(f"[bold]{a.id}[/bold]  {p.tool}({args})  risk={p.risk.value}")
    c.print(
        f"  policy: propose allowed ({', '.join(out.decision.policy_ids)}): {out.decision.reason}"
    )
    if p.plan:
        c.print(f"  plan:   {p.plan}")
    if out.runs_without_approval:
        c.print("  runs without approval (policy allows it)")
    else:
        c.print(f"  needs:  {a.required}; expires {a.expires_at:%H:%M:%S} UTC")
        c.print(f"  approve with: copilot approve {a.id} --as <user>")


def print_execution(ex: ExecutionOutcome) -> None:
    import json

    from rich.console import Console

    c = Console(highlight=False)
    colour = {"succeeded": "green", "failed": "red"}.get(ex.status.value, "yellow")
    c.print(
        f"[{colour}]{ex.status.value}[/{colour}]  {ex.tool}  ({ex.approval_id}, "
        f"{ex.attempts} attempt{'s' if ex.attempts != 1 else ''})"
    )
    if ex.error:
        c.print(f"  error: {ex.error}")
    if ex.result is not None:
        c.print(
            json.dumps(ex.result, indent=2, sort_keys=True, default=str, ensure_ascii=False),
            markup=False,
        )
