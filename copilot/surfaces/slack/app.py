"""The Slack app: slack-bolt's ``App`` with the copilot's listeners, and its lifecycle
inside ``copilot serve`` (events over HTTP at ``/slack/events``, or Socket Mode).

Acknowledge first, think after: each listener acknowledges (bolt answers Slack when
``ack`` is called, or at once for events) and hands the work to the surface's own worker
threads, so a slow turn never holds an acknowledgement, nor a thread bolt needs for the
next one. Bolt checks every HTTP request's v0 signature and refuses timestamps older than
five minutes; that stays on.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from copilot.surfaces.slack.blocks import APPROVE, REJECT
from copilot.surfaces.slack.cards import CardMessages
from copilot.surfaces.slack.commands import command_reply
from copilot.surfaces.slack.handlers import REJECT_VIEW, Handlers, plain
from copilot.surfaces.slack.incidents import IncidentThreads
from copilot.surfaces.slack.outbox import Outbox, web_client
from copilot.surfaces.slack.people import People

if TYPE_CHECKING:
    from copilot.service import CopilotService
    from copilot.settings import Settings

log = logging.getLogger("copilot.slack")
# Turns run on these workers, never on the thread that acknowledges: a turn is CPU work
# (retrieval, the planner), and two at a time keep the acknowledgements quick on 2 cores.
WORKERS = 2


class SlackSurface:
    """The bolt app and everything behind it, for one server process."""

    def __init__(self, settings: Settings, service: CopilotService) -> None:
        from slack_bolt import App

        slack = settings.slack
        assert slack.bot_token, "the Slack surface needs [slack] bot_token"
        self.mode = slack.mode
        self.verifies_http = bool(slack.signing_secret)
        self.client = web_client(slack.bot_token, slack.api_url)
        web_url = settings.web.public_url
        self.outbox = Outbox(self.client, service, slack.channel_rate)
        self.people = People(service, slack.users, self.client)
        self.cards = CardMessages(service, self.outbox, web_url, settings.web.live_poll_s)
        self.handlers = Handlers(service, self.outbox, self.people, self.cards, web_url)
        self.incidents = IncidentThreads(
            service,
            self.outbox,
            self.people,
            self.handlers,
            web_url,
            settings.incidents.slack_channel,
        )
        self.service = service
        self.work = ThreadPoolExecutor(WORKERS, thread_name_prefix="slack-turn")
        self.app = App(
            signing_secret=slack.signing_secret or "",
            client=self.client,  # carries the bot token
            # the token is checked with auth.test on the first request, not at start: a
            # server must start (and serve the web chat) while Slack is unreachable
            token_verification_enabled=False,
            request_verification_enabled=bool(slack.signing_secret),
            # Our listeners only acknowledge and hand over, so they run in the request's
            # own thread and the answer goes back the moment they return (bolt's other
            # mode polls for the ack every 10 ms, a floor under every acknowledgement).
            process_before_response=True,
            logger=_bolt_logger(),
        )
        self._socket: Any = None
        _listen(self)

    def start(self, app_token: str | None) -> None:
        """Start sweeping card messages, and connect Socket Mode when there is an app token."""
        self.cards.start()
        if app_token:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            self._socket = SocketModeHandler(self.app, app_token, ping_interval=10)
            self._socket.connect()

    def stop(self) -> None:
        if self._socket is not None:
            self._socket.close()
        self.cards.stop()
        self.work.shutdown(wait=True, cancel_futures=True)

    def incident_opened(self, incident_id: str) -> None:
        """An alert opened an incident: its thread in the channel, its first diagnosis."""
        self.incidents.opened(incident_id)

    def incident_updated(self, incident_id: str, line: str) -> None:
        self.incidents.updated(incident_id, line)

    def submit(self, job: Any, **kwargs: Any) -> None:
        """Run ``job`` on a worker; a failure is logged (by type), never lost silently."""

        def run() -> None:
            try:
                job(**kwargs)
            except Exception:
                log.exception("slack work failed")

        self.work.submit(run)


class _ClientCarriesToken(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and then notes that the client we give it (which
    carries that token) wins: true, and noise at every start."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def _bolt_logger() -> logging.Logger:
    found = logging.getLogger("copilot.slack.bolt")
    if not any(isinstance(f, _ClientCarriesToken) for f in found.filters):
        found.addFilter(_ClientCarriesToken())
    return found


def _listen(surface: SlackSurface) -> None:
    app, h = surface.app, surface.handlers

    def said(body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
        surface.submit(
            h.message,
            user=event["user"],
            channel=event["channel"],
            text=plain(event.get("text", ""), context.get("bot_user_id")),
            ts=event["ts"],
            thread_ts=event.get("thread_ts"),
            event_id=body.get("event_id"),
        )

    @app.event("app_mention")
    def mention(body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
        if not event.get("bot_id") and event.get("user"):
            said(body, event, context)

    @app.event("message")
    def direct(body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
        # only direct messages from people: not channel chatter, edits, joins or bots
        im = event.get("channel_type") == "im" and event.get("user")
        if im and not event.get("subtype") and not event.get("bot_id"):
            said(body, event, context)

    @app.command("/copilot")
    def command(ack: Any, command: dict[str, Any]) -> None:
        answer, question, job = command_reply(
            surface.service, surface.people, command, surface.incidents
        )
        ack(text=answer, response_type="ephemeral")
        if job is not None:
            surface.submit(job[0], **job[1])
        if question:
            surface.submit(
                h.ask, user=command["user_id"], channel=command["channel_id"], text=question
            )

    def pressed(verdict: str) -> Any:
        def listener(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
            ack()
            message = body.get("message") or {}
            container = body.get("container") or {}
            surface.submit(
                h.button,
                user=(body.get("user") or {}).get("id", ""),
                channel=(body.get("channel") or {}).get("id") or container.get("channel_id", ""),
                message_ts=message.get("ts") or container.get("message_ts", ""),
                thread_ts=message.get("thread_ts"),
                value=str(action.get("value") or ""),
                verdict=verdict,
                trigger_id=body.get("trigger_id"),
            )

        return listener

    app.action(APPROVE)(pressed("approve"))
    app.action(REJECT)(pressed("reject"))

    @app.action("copilot_open")
    def opened(ack: Any) -> None:  # a link button still sends an action
        ack()

    @app.view(REJECT_VIEW)
    def reject_reason(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        ack()
        values = (view.get("state") or {}).get("values") or {}
        reason = ((values.get("reason") or {}).get("text") or {}).get("value") or ""
        surface.submit(
            h.reject_reason,
            user=(body.get("user") or {}).get("id", ""),
            metadata=str(view.get("private_metadata") or ""),
            reason=str(reason),
        )
