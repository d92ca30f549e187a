"""Commands on cards: call, approve, reject, cancel, execute, reconcile, proposals.

A card an agent conversation waits on and one proposed with ``copilot call`` are decided
the same way (``CopilotService.decide``): the conversation resumes, or the call runs here.
"""

from __future__ import annotations

import typer

from copilot.surfaces.cli.common import AS_USER, JSON, open_service, parse_args, print_json


def register(app: typer.Typer) -> None:
    app.command("call")(call)
    app.command("approve")(approve)
    app.command("reject")(reject)
    app.command("cancel")(cancel)
    app.command("execute")(execute)
    app.command("reconcile")(reconcile)
    app.command("proposals")(proposals)


def call(
    tool: str = typer.Argument(..., help="tool name, e.g. sandbox.restart_service"),
    arg: list[str] = typer.Option([], "--arg", "-a", help="argument as key=value (repeat)"),
    as_user: str = AS_USER,
    conversation: str | None = typer.Option(None, help="conversation or incident id"),
    as_json: bool = JSON,
) -> None:
    """Propose a tool call; prints its id, policy verdict and plan (reads run at once).
    Exits 10 when a read fails, 8 or 9 when a change policy let run at once failed or
    ended unknown."""
    from copilot.surfaces.cli.outcomes import check_execution
    from copilot.surfaces.cli.render import (
        execution_json,
        outcome_json,
        print_execution,
        print_outcome,
    )

    with open_service() as service:
        who = service.principal(as_user)
        outcome, ran = service.call(who, tool, parse_args(arg), conversation=conversation)
    if as_json:
        print_json({**outcome_json(outcome), "execution": execution_json(ran) if ran else None})
    else:
        print_outcome(outcome)
        if ran is not None:
            print_execution(ran)
    if ran is not None:
        check_execution(ran, outcome.proposal.risk)


def approve(
    approval_id: str = typer.Argument(..., help="the id printed by `copilot call`"),
    as_user: str = AS_USER,
    break_glass: bool = typer.Option(False, "--break-glass", help="admin emergency override"),
    reason: str = typer.Option("", help="why (recorded in the audit log)"),
    as_json: bool = JSON,
) -> None:
    """Approve a proposal; when the quorum is complete the call runs (exit 8 if it failed
    or could not run, 9 if its outcome is unknown)."""
    _decide(approval_id, as_user, "approve", reason, break_glass, as_json)


def reject(
    approval_id: str = typer.Argument(...),
    as_user: str = AS_USER,
    reason: str = typer.Option("", help="why (recorded in the audit log)"),
    as_json: bool = JSON,
) -> None:
    """Reject a proposal: it will never run."""
    _decide(approval_id, as_user, "reject", reason, False, as_json)


def _decide(
    approval_id: str, as_user: str, verdict: str, reason: str, break_glass: bool, as_json: bool
) -> None:
    from copilot.surfaces.cli.outcomes import check_reply
    from copilot.surfaces.cli.render import execution_json, print_execution, print_reply

    with open_service() as service:
        who = service.principal(as_user)
        reply = service.decide(approval_id, who, verdict, reason=reason, break_glass=break_glass)
    card = next((c for c in reply.cards if approval_id in (c.approval_id, c.proposal_id)), None)
    if as_json:
        print_json(
            {
                "id": card.approval_id if card else approval_id,
                "state": card.state.value if card else None,
                "execution": execution_json(reply.execution) if reply.execution else None,
                "reply": reply.model_dump(mode="json"),
            }
        )
    elif reply.execution is not None:
        print_execution(reply.execution)
    else:
        print_reply(reply)
    if verdict == "approve":
        check_reply(reply, approval_id)


def cancel(approval_id: str = typer.Argument(...), as_user: str = AS_USER) -> None:
    """Withdraw your own proposal before it runs."""
    with open_service() as service:
        card = service.cancel(approval_id, service.principal(as_user))
    print(f"{card.approval_id}: {card.state.value}")


def execute(
    approval_id: str = typer.Argument(...), as_user: str = AS_USER, as_json: bool = JSON
) -> None:
    """Run an approved call that could not run yet (resource busy, rate limited); exit 8
    if it failed, 9 if its outcome is unknown."""
    from copilot.surfaces.cli.outcomes import check_execution
    from copilot.surfaces.cli.render import execution_json, print_execution

    with open_service() as service:
        ran = service.execute(approval_id, service.principal(as_user))
        risk = service.tool(ran.tool).risk
    if as_json:
        print_json(execution_json(ran))
    else:
        print_execution(ran)
    check_execution(ran, risk)


def reconcile(
    approval_id: str = typer.Argument(...),
    outcome: str = typer.Option(..., help="what really happened: succeeded or failed"),
    note: str = typer.Option(..., help="how you know"),
    as_user: str = AS_USER,
) -> None:
    """Record the real outcome of a call whose run ended *unknown* (e.g. after a crash)."""
    with open_service() as service:
        card = service.reconcile(approval_id, service.principal(as_user), outcome, note)
    print(f"{card.approval_id}: reconciled as {card.state.value}")


def proposals(
    state: list[str] = typer.Option(
        [], "--state", help="only cards in this state (repeat): pending, approved, failed, ..."
    ),
    show_all: bool = typer.Option(False, "--all", help="also read-only calls (the agent's)"),
    limit: int = typer.Option(50, min=1, max=1000),
    as_json: bool = JSON,
) -> None:
    """List recent proposed changes with their approval state (--all: reads too)."""
    from copilot.surfaces.cli.render import card_json, print_cards

    with open_service() as service:
        cards = service.cards(state or None, limit, reads=show_all)
    if as_json:
        print_json([card_json(c) for c in cards])
    else:
        print_cards(cards)
