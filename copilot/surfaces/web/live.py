"""Live pages: a conversation's new messages and its cards' changes, pushed as server-sent
events (``sse-starlette``; the page swaps them in with htmx's SSE extension).

Each stream re-reads the conversation from the service: at once when this process changed
it (``Hub.notify``), every ``web.live_poll_s`` otherwise (changes made by another replica or
the CLI), and four times a second while a card is approved or running, so a second
person's page shows the change move. Reading the store keeps every replica right; the hub
only makes this process's own changes immediate.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request

from copilot.domain import Principal
from copilot.surfaces.card_words import fingerprint
from copilot.surfaces.web.context import web
from copilot.surfaces.web.render import Renderer

IN_FLIGHT = frozenset({"approved", "executing"})
IN_FLIGHT_POLL_S = 0.25
# A stream outlives the request that opened it: its session is checked again this often,
# and the stream ends once the person signed out, was signed out, or the session expired.
SESSION_RECHECK_S = 10.0


class Hub:
    """Wakes the streams of a conversation when this process changed it."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Event]] = {}

    def subscribe(self, conversation: str) -> asyncio.Event:
        event = asyncio.Event()
        self._waiting.setdefault(conversation, set()).add(event)
        return event

    def unsubscribe(self, conversation: str, event: asyncio.Event) -> None:
        found = self._waiting.get(conversation)
        if found is not None:
            found.discard(event)
            if not found:
                del self._waiting[conversation]

    def notify(self, conversation: str | None) -> None:
        for event in self._waiting.get(conversation or "", set()):
            event.set()

    def streams(self, conversation: str) -> int:
        return len(self._waiting.get(conversation, ()))


async def conversation_events(
    request: Request, conversation: str, me: Principal, after: int
) -> AsyncIterator[dict[str, Any]]:
    """Messages after ``after``, then each card whose state changed (every card once
    first: the page may have been drawn a moment before a change)."""
    ctx = web(request)
    render = Renderer(request, me)
    wake = ctx.hub.subscribe(conversation)
    drawn: dict[str, tuple[Any, ...]] = {}
    first = True
    token = request.session.get("sid")
    checked = time.monotonic()
    try:
        while not await request.is_disconnected():
            if time.monotonic() - checked > SESSION_RECHECK_S:
                checked = time.monotonic()
                live = await ctx.call(ctx.service.session_user, str(token or ""))
                if live != me.id:
                    return
            wake.clear()
            view = await ctx.call(ctx.service.conversation, conversation, after=after)
            await render.prepare(view)
            for message in view.messages:
                html = render.message(view, message)
                yield {"event": "message", "id": str(message.id), "data": html}
                after = message.id
            for aid, card in view.cards.items():
                seen = fingerprint(card)
                if drawn.get(aid) != seen:
                    if first or aid in drawn:
                        yield {"event": "card", "data": render.card(view, card, oob=True)}
                    elif aid in view.elsewhere:  # new, and in no message: added at the end
                        yield {"event": "elsewhere", "data": render.card(view, card)}
                    drawn[aid] = seen
            first = False
            busy = any(c.state.value in IN_FLIGHT for c in view.cards.values())
            timeout = IN_FLIGHT_POLL_S if busy else ctx.settings.web.live_poll_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout)
    finally:
        ctx.hub.unsubscribe(conversation, wake)
