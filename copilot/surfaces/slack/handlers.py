"""What the copilot does with what Slack sends, once it has been acknowledged: a mention or
a direct message starts or continues the conversation of its thread; a button press is a
vote by the Slack user's copilot user; ``/copilot`` answers help and status at once.

Everything here runs on the surface's own worker threads, after the ack (``app.py``).
Whatever was wrong with a request, the person is told in the thread or privately
(ephemeral), and an unmapped user or a button that does not belong where it was pressed
is put on the audit record: nothing runs.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any

from copilot.domain import Reply
from copilot.errors import CopilotError
from copilot.surfaces.slack.blocks import escape, looking_blocks, reply_blocks

if TYPE_CHECKING:
    from copilot.service import CopilotService
    from copilot.surfaces.slack.cards import CardMessages
    from copilot.surfaces.slack.outbox import Outbox
    from copilot.surfaces.slack.people import People

log = logging.getLogger("copilot.slack")
APPROVAL_ID = re.compile(r"apr_[a-z]{8,40}")
REJECT_VIEW = "copilot_reject_reason"
UNMAPPED = (
    "You are not a copilot user yet, so nothing was done. Ask an admin to add your Slack "
    "user id or e-mail under `[slack] users` in copilot.toml."
)
FAILED = "Something went wrong on our side and nothing more was done; try again in a moment."
_LINK = re.compile(r"<([^<>|]+)\|([^<>]*)>")
_BARE = re.compile(r"<([^<>]+)>")


def conversation_of(channel: str, thread_ts: str) -> str:
    """One conversation per Slack thread."""
    return f"slack-{channel}-{thread_ts}"


def plain(text: str, bot_user: str | None = None) -> str:
    """What a person typed, from Slack's markup: the bot's own mention dropped, links and
    channel names as their labels, the three escaped characters back."""
    if bot_user:
        text = text.replace(f"<@{bot_user}>", " ")
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = _BARE.sub(lambda m: m.group(1).lstrip("@#!"), text)
    return " ".join(text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").split())


class Handlers:
    def __init__(
        self,
        service: CopilotService,
        outbox: Outbox,
        people: People,
        cards: CardMessages,
        web_url: str | None,
    ) -> None:
        self.service = service
        self.outbox = outbox
        self.people = people
        self.cards = cards
        self.web_url = web_url

    def conversation(self, channel: str, root: str) -> str:
        """The thread's conversation: an incident's, when it is an incident's thread."""
        incident = self.service.incident_of_thread(channel, root)
        return incident.conversation if incident is not None else conversation_of(channel, root)

    # -- messages ------------------------------------------------------------------------
    def message(
        self,
        *,
        user: str,
        channel: str,
        text: str,
        ts: str,
        thread_ts: str | None,
        event_id: str | None,
    ) -> None:
        """A mention or a direct message: answered in its thread, once per event."""
        if event_id and not self.service.first_delivery("slack", event_id):
            log.info("slack event %s was delivered before; not answered again", event_id)
            return
        root = thread_ts or ts
        conversation = self.conversation(channel, root)
        principal = self.people.principal(user)
        if principal is None:
            self._refuse(user, channel, root, "not a mapped copilot user", conversation, UNMAPPED)
            return
        looking = self.outbox.post(channel, "looking…", looking_blocks(), root)
        try:
            reply = self.service.handle_message(principal, conversation, text)
        except CopilotError as err:
            self._say(channel, root, looking, f":warning: {escape(err.one_line())}")
            return
        except Exception:
            log.exception("a slack turn failed in %s", conversation)
            self._say(channel, root, looking, f":warning: {FAILED}")
            return
        self.answer(channel, root, looking, reply)

    def ask(self, *, user: str, channel: str, text: str) -> None:
        """``/copilot ask ...``: a new thread in the channel, started with the question."""
        principal = self.people.principal(user)
        if principal is None:
            self._refuse(user, channel, None, "not a mapped copilot user", None, UNMAPPED)
            return
        root = self.outbox.post(channel, f"<@{user}> asked: {escape(text)}")
        if root is None:
            self.outbox.ephemeral(
                channel,
                user,
                "Slack refused the question's message: is the "
                "copilot invited to this channel? (`/invite @copilot`)",
            )
            return
        self.message(user=user, channel=channel, text=text, ts=root, thread_ts=None, event_id=None)

    # -- buttons -------------------------------------------------------------------------
    def button(
        self,
        *,
        user: str,
        channel: str,
        message_ts: str,
        thread_ts: str | None,
        value: str,
        verdict: str,
        trigger_id: str | None,
    ) -> None:
        """Approve or Reject pressed on a card's message."""
        root = thread_ts or message_ts
        principal = self.people.principal(user)
        if principal is None:
            self._refuse(user, channel, root, "not a mapped copilot user", value[:64], UNMAPPED)
            return
        card = self._card_here(user, principal.id, channel, root, value)
        if card is None:
            return
        self.cards.adopt(card.approval_id, channel, message_ts)
        if verdict == "reject" and trigger_id and self._ask_reason(trigger_id, card, channel, root):
            return
        self._decide(user, principal, card.approval_id, verdict, "", channel, root)

    def reject_reason(self, *, user: str, metadata: str, reason: str) -> None:
        """The reject dialog was submitted: the rejection, with its reason."""
        try:
            where = json.loads(metadata)
            aid, channel, root = str(where["card"]), str(where["channel"]), str(where["root"])
        except (ValueError, KeyError, TypeError):
            self.service.refused("slack", user, "a reject dialog with a broken private_metadata")
            return
        principal = self.people.principal(user)
        if principal is None:
            self._refuse(user, channel, root, "not a mapped copilot user", aid[:64], UNMAPPED)
            return
        if self._card_here(user, principal.id, channel, root, aid) is not None:
            self._decide(user, principal, aid, "reject", reason, channel, root)

    # -- inside --------------------------------------------------------------------------
    def _card_here(self, user: str, who: str, channel: str, root: str, value: str) -> Any:
        """The card a button names, if it is a card of this thread's conversation."""
        conversation = self.conversation(channel, root)
        if not APPROVAL_ID.fullmatch(value):
            why = "a button whose value is not an approval id"
            self._refuse(user, channel, root, why, value[:64], "That button names no card.")
            return None
        try:
            card = self.service.card(value, who)
        except CopilotError:  # unknown: the door has put the attempt on the record
            self.outbox.ephemeral(channel, user, f"There is no card `{value}`.", root)
            return None
        if card.conversation != conversation:
            why = f"a button for a card of another conversation, pressed in {conversation}"
            self._refuse(user, channel, root, why, value, "That card belongs to another thread.")
            return None
        return card

    def _decide(
        self,
        user: str,
        principal: Any,
        aid: str,
        verdict: str,
        reason: str,
        channel: str,
        root: str,
    ) -> None:
        with self.cards.follow(aid):
            try:
                reply = self.service.decide(aid, principal, verdict, reason=reason)
            except CopilotError as err:
                self.outbox.ephemeral(channel, user, f":no_entry: {escape(err.one_line())}", root)
                return
            except Exception:
                log.exception("a slack decision on %s failed", aid)
                self.outbox.ephemeral(channel, user, f":warning: {FAILED}", root)
                return
        if reply.text:
            said = reply.model_copy(update={"cards": []})
            blocks = reply_blocks(said, web_url=self.web_url)
            self.outbox.post(channel, escape(reply.text), blocks, root)

    def _ask_reason(self, trigger_id: str, card: Any, channel: str, root: str) -> bool:
        meta = json.dumps({"card": card.approval_id, "channel": channel, "root": root})
        view = {
            "type": "modal",
            "callback_id": REJECT_VIEW,
            "private_metadata": meta,
            "title": {"type": "plain_text", "text": "Reject this change"},
            "submit": {"type": "plain_text", "text": "Reject"},
            "close": {"type": "plain_text", "text": "Cancel"},
            "blocks": [
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": f"*{escape(card.tool)}* `{card.approval_id}`",
                    },
                },
                {
                    "type": "input",
                    "block_id": "reason",
                    "optional": True,
                    "label": {"type": "plain_text", "text": "Why? (goes on the record)"},
                    "element": {
                        "type": "plain_text_input",
                        "action_id": "text",
                        "multiline": True,
                        "max_length": 500,
                    },
                },
            ],
        }
        return self.outbox.open_view(trigger_id, view)

    def answer(self, channel: str, root: str, looking: str | None, reply: Reply) -> None:
        said = reply.model_copy(update={"cards": []})
        blocks = reply_blocks(said, web_url=self.web_url)
        # the notification text is mrkdwn too: a "<!channel>" quoted from a runbook or a
        # tool's output must be shown, not sent as a mention
        text = escape(reply.text or "done")
        if looking is None or not self.outbox.update(channel, looking, text, blocks):
            self.outbox.post(channel, text, blocks, root)
        for card in reply.cards:
            self.cards.post(card, channel, root)

    def _say(self, channel: str, root: str, looking: str | None, text: str) -> None:
        if looking is None or not self.outbox.update(channel, looking, text, None):
            self.outbox.post(channel, text, None, root)

    def _refuse(
        self,
        user: str,
        channel: str,
        root: str | None,
        why: str,
        subject: str | None,
        told: str,
    ) -> None:
        self.service.refused("slack", user, why, subject)
        self.outbox.ephemeral(channel, user, told, root)
