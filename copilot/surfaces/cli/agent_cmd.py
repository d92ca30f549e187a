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
    """Ask the copilot; prints its reply and any cards waiting for approval (exit 8 or 9
    if a card it shows ran and failed or ended unknown)."""
    from copilot.surfaces.cli.outcomes import check_reply
    from copilot.surfaces.cli.render import print_reply

    with open_service() as service:
        conv = conversation or f"cli-{uuid.uuid4().hex[:10]}"
        reply = service.handle_message(service.principal(as_user), conv, text)
    print_reply(reply, as_json)
    check_reply(reply)


CHAT_HELP = """commands (anything else goes to the copilot):
  /approve ID [--break-glass] [REASON]   approve a card (break-glass: admins, with a reason)
  /reject ID [REASON]                    reject a card
  /help                                  this list
  /quit, /exit                           leave (Ctrl-D too)
  //TEXT                                 send TEXT starting with a slash"""


def chat(
    as_user: str = AS_USER,
    conversation: str | None = typer.Option(None, "--conversation", "-c"),
) -> None:
    """A conversation in the terminal. /approve ID, /reject ID, /help, /quit."""
    from copilot.errors import CopilotError
    from copilot.redact.ruleset import default_redactor
    from copilot.surfaces.cli.outcomes import check_reply
    from copilot.surfaces.cli.render import print_reply

    with open_service() as service:
        who = service.principal(as_user)
        conv = conversation or f"cli-{uuid.uuid4().hex[:10]}"
        print(f"conversation {conv} as {who.id}; /approve ID, /reject ID, /help, /quit")
        while True:
            try:
                line = input(f"{who.id}> ").strip()
            except EOFError:
                break
            if not line:
                continue
            line = _whole_block(line)
            try:
                if line.startswith("/") and not line.startswith("//"):
                    command = _slash(line)
                    if command is None:
                        break
                    if isinstance(command, str):  # it may quote what was typed
                        print(default_redactor().text(command))
                        continue
                    verb, approval_id, reason, glass = command
                    reply = service.decide(approval_id, who, verb, reason=reason, break_glass=glass)
                    print_reply(reply)
                    if verb == "approve":
                        check_reply(reply, approval_id)
                else:
                    text = line[1:] if line.startswith("//") else line
                    reply = service.handle_message(who, conv, text)
                    print_reply(reply)
                    check_reply(reply)
            except CopilotError as err:
                print(f"error: {default_redactor().text(err.one_line())}")


def _slash(line: str) -> tuple[str, str, str, bool] | str | None:
    """A chat command, handled here and never sent to the copilot: ``None`` to leave, text
    to print, or (verdict, approval id, reason, break-glass) for a decision."""
    verb, _, rest = line.partition(" ")
    if verb in ("/quit", "/exit"):
        return None
    if verb == "/help":
        return CHAT_HELP
    if verb not in ("/approve", "/reject"):
        return f"unknown command {verb[:40]}: /help lists the commands (//TEXT sends TEXT)"
    words = rest.split()
    glass = verb == "/approve" and "--break-glass" in words
    words = [w for w in words if w != "--break-glass"] if glass else words
    if not words:
        return (
            f"usage: {verb} ID" + (" [--break-glass]" if verb == "/approve" else "") + " [REASON]"
        )
    return verb[1:], words[0], " ".join(words[1:]), glass


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
