"""Human-readable and JSON rendering of replies, cards and executions for the terminal."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from copilot.domain import Card, ExecutionOutcome, ProposalOutcome, Reply


def utc(moment: datetime) -> str:
    """A full date and time in UTC, ISO 8601 (``2026-11-27T12:15:00Z``): an expiry may be
    days away, and people read it in many time zones."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        c.print(f"  needs:  {a.required}; expires {utc(a.expires_at)}")
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
            c.print(f"expires:    {utc(card.expires_at)}", markup=False)
            c.print(
                f"approve:    copilot approve {card.approval_id} --as <approver>   "
                f"(or: copilot reject {card.approval_id} --as <approver>)",
                markup=False,
            )
    if reply.conversation:
        c.print(f"[conversation {reply.conversation}]", markup=False, style="dim")


def print_cards(cards: list[Card]) -> None:
    """One line per card in aligned columns, nothing cut: ids and tool names are what
    people copy into the next command (a line wider than the terminal wraps)."""
    head = ("ID", "TOOL", "RISK", "STATE", "REQUESTER", "NEEDS", "CREATED", "EXPIRES")
    rows = [
        (
            c.approval_id,
            c.tool,
            c.risk.value,
            c.state.value,
            c.requester,
            c.required,
            utc(c.created_at),
            utc(c.expires_at) if c.state.value in ("proposed", "approved") else "-",
        )
        for c in cards
    ]
    if not rows:
        print("no proposals (--all also lists read-only calls)")
        return
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
