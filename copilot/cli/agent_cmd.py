"""``copilot ask`` and ``copilot chat``: talk to the agent from a terminal.

Both go through ``CopilotService`` like every other surface; cards are printed with their
id, so ``copilot approve ID --as USER`` (or ``/approve ID`` in chat) resumes the same
conversation, runs the change and prints the verification.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import typer

from copilot.cli.common import print_json

if TYPE_CHECKING:
    from copilot.domain.replies import Reply
    from copilot.service import CopilotService

AS_USER = typer.Option(..., "--as", help="the user asking (from copilot.toml [users])")


def open_service() -> CopilotService:
    from copilot.service import CopilotService
    from copilot.settings import load_settings
    from copilot.telemetry import setup_process_telemetry

    settings = load_settings()
    service = CopilotService.open(settings)
    setup_process_telemetry(settings.telemetry, service.core.redactor)
    return service


def print_reply(reply: Reply, as_json: bool = False) -> None:
    if as_json:
        print_json(reply.model_dump(mode="json"))
        return
    from copilot.cli.common import console

    c = console()
    c.print(reply.text, markup=False)
    for card in reply.cards:
        c.rule(f"card {card.approval_id}")
        c.print(f"tool:       {card.tool}", markup=False)
        c.print(f"arguments:  {card.arguments}", markup=False)
        c.print(f"risk:       {card.risk}   state: {card.state}", markup=False)
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
        if card.state == "pending":
            c.print(
                f"approve:    copilot approve {card.approval_id} --as <approver>   "
                f"(or: copilot reject {card.approval_id} --as <approver>)",
                markup=False,
            )
    if reply.conversation:
        c.print(f"[conversation {reply.conversation}]", markup=False, style="dim")


def ask(
    text: str = typer.Argument(..., help="what is going on, or a question"),
    as_user: str = AS_USER,
    conversation: str | None = typer.Option(
        None, "--conversation", "-c", help="continue a conversation (default: a new one)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Ask the copilot; prints its reply and any cards waiting for approval."""
    service = open_service()
    try:
        conv = conversation or f"cli-{uuid.uuid4().hex[:10]}"
        reply = service.handle_message(service.core.principal(as_user), conv, text)
        print_reply(reply, as_json)
    finally:
        service.close()


def chat(
    as_user: str = AS_USER,
    conversation: str | None = typer.Option(None, "--conversation", "-c"),
) -> None:
    """A conversation in the terminal. /approve ID, /reject ID, /quit."""
    from copilot.errors import CopilotError

    service = open_service()
    who = service.core.principal(as_user)
    conv = conversation or f"cli-{uuid.uuid4().hex[:10]}"
    print(f"conversation {conv} as {who.id}; /approve ID, /reject ID, /quit")
    try:
        while True:
            try:
                line = input(f"{who.id}> ").strip()
            except EOFError:
                break
            if not line:
                continue
            if line in ("/quit", "/exit"):
                break
            try:
                verb, _, rest = line.partition(" ")
                if verb in ("/approve", "/reject") and rest.strip():
                    verdict = verb[1:]
                    reply = service.decide(rest.strip(), who, verdict)
                else:
                    reply = service.handle_message(who, conv, line)
                print_reply(reply)
            except CopilotError as err:
                from copilot.redact.ruleset import default_redactor

                print(f"error: {default_redactor().text(err.one_line())}")
    finally:
        service.close()
