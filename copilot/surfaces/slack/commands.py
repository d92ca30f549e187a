"""``/copilot``: ``ask QUESTION`` starts a thread in the channel; ``status`` lists the cards
waiting for approval; ``help`` says what there is. Help and status are answered in the
acknowledgement itself (only the person who typed it sees them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from copilot.errors import CopilotError
from copilot.surfaces import card_words as words
from copilot.surfaces.slack.blocks import cut, escape
from copilot.surfaces.slack.handlers import UNMAPPED, plain

if TYPE_CHECKING:
    from copilot.service import CopilotService
    from copilot.surfaces.slack.incidents import IncidentThreads
    from copilot.surfaces.slack.people import People

HELP = (
    "*Incident copilot*\n"
    "• `@copilot what is going on with checkout?` in a channel: answered in its thread, "
    "one conversation per thread. Direct messages work too.\n"
    "• `/copilot ask QUESTION`: start a thread in this channel with a question.\n"
    "• `/copilot status`: the cards waiting for approval.\n"
    "• `/copilot incident help`: incidents (ack, resolve, commander, timeline) and "
    "`/copilot postmortem`.\n"
    "• `/copilot help`: this.\n"
    "Cards come with Approve and Reject; nothing runs until policy's approvers agree."
)
STATUS_CARDS = 10
ANSWER_CHARS = 2900


def command_reply(
    service: CopilotService, people: People, command: dict[str, Any], incidents: IncidentThreads
) -> tuple[str, str | None, Any]:
    """What to answer at once, the question to ask after the ack (``ask``), and other work
    to do after it (``(function, kwargs)``), if any."""
    text = plain(str(command.get("text") or ""))
    sub, _, rest = text.partition(" ")
    sub = sub.lower()
    if sub in ("", "help"):
        return HELP, None, None
    user = str(command.get("user_id") or "")
    if people.principal(user) is None:
        service.refused("slack", user, f"/copilot {sub} from a user who is not mapped")
        return UNMAPPED, None, None
    if sub == "ask":
        question = rest.strip()
        if not question:
            return "Ask what? For example `/copilot ask why is checkout slow?`", None, None
        return "Asking in a new thread…", question, None
    if sub == "status":
        return _status(service), None, None
    channel = str(command.get("channel_id") or "")
    try:
        if sub == "incident":
            answer, job = incidents.command(user, channel, rest.split())
            return answer, None, job
        if sub == "postmortem":
            answer, job = incidents.postmortem(user, channel, rest.split())
            return answer, None, job
    except CopilotError as err:
        return f":warning: {escape(err.one_line())}", None, None
    return f"I do not know `/copilot {escape(sub[:40])}`.\n\n{HELP}", None, None


def _status(service: CopilotService) -> str:
    try:
        waiting = service.cards(["pending"], limit=STATUS_CARDS, reads=False)
    except CopilotError as err:
        return f":warning: {escape(err.one_line())}"
    if not waiting:
        return "No card is waiting for approval."
    lines = [f"*{len(waiting)} card(s) waiting for approval*"]
    for card in waiting:
        lines.append(
            f"• `{card.approval_id}` {escape(card.tool)} ({card.risk.value} risk): "
            f"{card.approvals} of {words.needed(card)}, expires {words.utc(card.expires_at)}"
        )
    return cut("\n".join(lines), ANSWER_CHARS)
