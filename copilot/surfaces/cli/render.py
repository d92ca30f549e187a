"""Human-readable and JSON rendering of replies, cards and executions for the terminal."""

from __future__ import annotations

import json
from typing import Any

from copilot.domain import Card, ExecutionOutcome, ProposalOutcome, Reply


def card_json(card: Card, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": card.approval_id,
        "proposal_id": card.proposal_id,
        "tool": card.tool,
        "arguments": card.arguments,
        "risk": card.risk.value,
        "state": card.state.value,
        "requester": card.requester,
        "required": card.required,
        "plan": card.plan,
        "args_hash": card.args_hash,
        "plan_hash": card.plan_hash,
        "expires_at": card.expires_at.isoformat(),
        "votes": [v.model_dump(mode="json") for v in card.votes],
        **(extra or {}),
    }


def outcome_json(out: ProposalOutcome) -> dict[str, Any]:
    return card_json(
        Card.from_records(out.approval, out.proposal),
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


def print_reply(reply: Reply, as_json: bool = False) -> None:
    from copilot.surfaces.cli.common import console, print_json

    if as_json:
        print_json(reply.model_dump(mode="json"))
        return
    c = console()
    c.print(reply.text, markup=False)
    for card in reply.cards:
        c.rule(f"card {card.approval_id}")
        c.print(f"tool:       {card.tool}", markup=False)
        c.print(f"arguments:  {card.arguments}", markup=False)
        c.print(f"risk:       {card.risk.value}   state: {card.state.value}", markup=False)
        if card.required:
            c.print(f"needs:      {card.required}", markup=False)
        prov = card.provenance
        if prov:
            facts = ", ".join(prov.get("facts", [])) or "-"
            c.print(
                f"because:    runbook {prov.get('runbook') or '-'}; facts {facts}", markup=False
            )
            if prov.get("when"):
                c.print(f"condition:  {prov['when']}", markup=False)
        if card.plan:
            c.print("plan:", markup=False)
            c.print(card.plan, markup=False)
        if card.state.value == "proposed":
            c.print(
                f"approve:    copilot approve {card.approval_id} --as <approver>   "
                f"(or: copilot reject {card.approval_id} --as <approver>)",
                markup=False,
            )
    if reply.conversation:
        c.print(f"[conversation {reply.conversation}]", markup=False, style="dim")
