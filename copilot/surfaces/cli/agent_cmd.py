"""``copilot ask`` and ``copilot chat``: talk to the agent from a terminal.

Both go through ``CopilotService`` like every other surface; cards are printed with their
id, so ``copilot approve ID --as USER`` (or ``/approve ID`` in chat) resumes the same
conversation, runs the change and prints the verification.
"""

from __future__ import annotations

import uuid

import typer

from copilot.surfaces.cli.common import open_service

AS_USER = typer.Option(..., "--as", help="the user asking (from copilot.toml [users])")


def ask(
    text: str = typer.Argument(..., help="what is going on, or a question"),
    as_user: str = AS_USER,
    conversation: str | None = typer.Option(
        None, "--conversation", "-c", help="continue a conversation (default: a new one)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Ask the copilot; prints its reply and any cards waiting for approval."""
    from copilot.surfaces.cli.render import print_reply

    with open_service() as service:
        conv = conversation or f"cli-{uuid.uuid4().hex[:10]}"
        reply = service.handle_message(service.principal(as_user), conv, text)
    print_reply(reply, as_json)


def chat(
    as_user: str = AS_USER,
    conversation: str | None = typer.Option(None, "--conversation", "-c"),
) -> None:
    """A conversation in the terminal. /approve ID, /reject ID, /quit."""
    from copilot.errors import CopilotError
    from copilot.redact.ruleset import default_redactor
    from copilot.surfaces.cli.render import print_reply

    with open_service() as service:
        who = service.principal(as_user)
        conv = conversation or f"cli-{uuid.uuid4().hex[:10]}"
        print(f"conversation {conv} as {who.id}; /approve ID, /reject ID, /quit")
        while True:
            try:
                line = input(f"{who.id}> ").strip()
            except EOFError:
                break
            if not line:
                continue
            if line in ("/quit", "/exit"):
                break
            line = _whole_block(line)
            try:
                verb, _, rest = line.partition(" ")
                if verb in ("/approve", "/reject") and rest.strip():
                    reply = service.decide(rest.strip(), who, verb[1:])
                else:
                    reply = service.handle_message(who, conv, line)
                print_reply(reply)
            except CopilotError as err:
                print(f"error: {default_redactor().text(err.one_line())}")


def _whole_block(line: str, max_lines: int = 200) -> str:
    """A pasted key block (``-----BEGIN ... -----``) arrives one line at a time: read on to
    its END line so it is one message, redacted whole. Sent line by line, its base64 lines
    would each look like nothing in particular and be stored in clear."""
    if "-----BEGIN " not in line or "-----END " in line:
        return line
    lines = [line]
    while len(lines) < max_lines and "-----END " not in lines[-1]:
        try:
            lines.append(input())
        except EOFError:
            break
    return "\n".join(lines)
