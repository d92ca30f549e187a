"""Commands that drive proposals: call, approve, reject, cancel, execute, reconcile, proposals."""

from __future__ import annotations

import typer

from copilot.cli.common import open_core, parse_args, print_json

AS_USER = typer.Option(..., "--as", help="the user acting (from copilot.toml [users])")
JSON = typer.Option(False, "--json", help="print JSON")


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
    """Propose a tool call; prints its id, policy verdict and plan (reads run at once)."""
    from copilot.cli.render import execution_json, outcome_json, print_execution, print_outcome

    core = open_core()
    who = core.principal(as_user)
    outcome, ran = core.call(who, tool, parse_args(arg), conversation=conversation)
    if as_json:
        print_json({**outcome_json(outcome), "execution": execution_json(ran) if ran else None})
        return
    print_outcome(outcome)
    if ran is not None:
        print_execution(ran)


def approve(
    approval_id: str = typer.Argument(..., help="the id printed by `copilot call`"),
    as_user: str = AS_USER,
    break_glass: bool = typer.Option(False, "--break-glass", help="admin emergency override"),
    reason: str = typer.Option("", help="why (recorded in the audit log)"),
    as_json: bool = JSON,
) -> None:
    """Approve a proposal; when the quorum is complete the call runs."""
    from copilot.cli.render import execution_json, print_execution
    from copilot.errors import InvalidInput

    if break_glass and not reason:
        raise InvalidInput("--break-glass needs --reason", "say why this is an emergency")
    if _resume_conversation(approval_id, as_user, "approve", reason, break_glass, as_json):
        return
    core = open_core()
    ran = core.approve(approval_id, core.principal(as_user), break_glass=break_glass, reason=reason)
    if as_json:
        print_json(
            {
                "id": approval_id,
                "execution": execution_json(ran) if ran else None,
                "state": ran.status.value if ran else _state(core, approval_id),
            }
        )
    elif ran is None:
        print(
            f"{approval_id}: approval recorded; waiting for more approvals "
            f"({_required(core, approval_id)})"
        )
    else:
        print_execution(ran)


def _resume_conversation(
    approval_id: str, as_user: str, verdict: str, reason: str, break_glass: bool, as_json: bool
) -> bool:
    """A card an agent conversation waits on is decided through the service, so the
    conversation resumes: the change runs there and is verified. False: not such a card."""
    from copilot.cli.agent_cmd import open_service, print_reply

    service = open_service()
    try:
        if not service.waiting_on(approval_id):
            return False
        who = service.core.principal(as_user)
        reply = service.decide(approval_id, who, verdict, reason=reason, break_glass=break_glass)
        if as_json:
            state = _state(service.core, approval_id)
            print_json({"id": approval_id, "state": state, "reply": reply.model_dump(mode="json")})
        else:
            print_reply(reply)
        return True
    finally:
        service.close()


def _state(core: object, approval_id: str) -> str:
    from copilot.core import Core

    assert isinstance(core, Core)
    return core.book.load(approval_id, "cli")[0].state.value


def _required(core: object, approval_id: str) -> str:
    from copilot.core import Core

    assert isinstance(core, Core)
    return core.book.load(approval_id, "cli")[0].required


def reject(
    approval_id: str = typer.Argument(...),
    as_user: str = AS_USER,
    reason: str = typer.Option("", help="why (recorded in the audit log)"),
) -> None:
    """Reject a proposal: it will never run."""
    if _resume_conversation(approval_id, as_user, "reject", reason, False, False):
        return
    core = open_core()
    core.book.vote(approval_id, core.principal(as_user), "reject", reason=reason)
    print(f"{approval_id}: rejected")


def cancel(approval_id: str = typer.Argument(...), as_user: str = AS_USER) -> None:
    """Withdraw your own proposal before it runs."""
    core = open_core()
    core.book.cancel(approval_id, core.principal(as_user))
    print(f"{approval_id}: cancelled")


def execute(
    approval_id: str = typer.Argument(...), as_user: str = AS_USER, as_json: bool = JSON
) -> None:
    """Run an approved call that could not run yet (resource busy, rate limited)."""
    from copilot.cli.render import execution_json, print_execution

    core = open_core()
    ran = core.executor.execute(approval_id, core.principal(as_user))
    if as_json:
        print_json(execution_json(ran))
    else:
        print_execution(ran)


def reconcile(
    approval_id: str = typer.Argument(...),
    outcome: str = typer.Option(..., help="what really happened: succeeded or failed"),
    note: str = typer.Option(..., help="how you know"),
    as_user: str = AS_USER,
) -> None:
    """Record the real outcome of a call whose run ended *unknown* (e.g. after a crash)."""
    core = open_core()
    core.reconciler.reconcile(approval_id, core.principal(as_user), outcome, note)
    print(f"{approval_id}: reconciled as {outcome}")


def proposals(
    state: list[str] = typer.Option([], "--state", help="filter by state (repeat)"),
    limit: int = typer.Option(50, min=1, max=1000),
    as_json: bool = JSON,
) -> None:
    """List recent proposals with their approval state."""
    from rich.console import Console
    from rich.table import Table

    from copilot.cli.render import proposal_json
    from copilot.domain import Approval, ApprovalState
    from copilot.errors import InvalidInput
    from copilot.store.records import list_approvals

    known = [s.value for s in ApprovalState]
    for s in state:
        if s not in known:
            raise InvalidInput(f"unknown state {s!r}", f"use one of {', '.join(known)}")
    core = open_core()
    now = core.book.clock()
    with core.store.read() as conn:
        rows = list_approvals(conn, states=state or None, limit=limit)

    def shown(a: Approval) -> str:
        # Expiry is recorded when someone next touches the approval; show it as it is now.
        waiting = a.state in (ApprovalState.PROPOSED, ApprovalState.APPROVED)
        return "expired" if waiting and now >= a.expires_at else a.state.value

    if as_json:
        print_json([{**proposal_json(p, a), "state": shown(a)} for a, p in rows])
        return
    table = Table()
    table.add_column("id", no_wrap=True)
    for col in ("tool", "risk", "state", "requester", "needs", "created"):
        table.add_column(col)
    for a, p in rows:
        table.add_row(
            a.id,
            p.tool,
            p.risk.value,
            shown(a),
            p.requester,
            a.required,
            f"{a.created_at:%m-%d %H:%M:%S}",
        )
    Console().print(table)
