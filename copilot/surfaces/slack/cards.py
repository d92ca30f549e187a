"""Cards posted in Slack, kept up to date: each card is its own message, rewritten with
``chat.update`` whenever its state moves (approved by @x, 1 of 2 → running → succeeded /
failed / unknown → verified), whoever moved it: a button here, the web chat, the CLI.

Every update reads the card from the service under the card's lock and sends it only if
it changed, so two threads updating one message cannot leave an older state on top. While
a decision runs here the card is watched closely (``follow``); the others are swept every
few seconds, until their story has ended.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from copilot.errors import CopilotError
from copilot.surfaces import card_words as words
from copilot.surfaces.slack.blocks import card_blocks

if TYPE_CHECKING:
    from copilot.domain import Card
    from copilot.service import CopilotService
    from copilot.surfaces.slack.outbox import Outbox

log = logging.getLogger("copilot.slack")
ENDED = frozenset({"succeeded", "failed", "rejected", "expired", "cancelled", "unknown"})
FOLLOW_POLL_S = 0.2
# A card that ended is still watched this long for what verify finds.
AFTER_END_S = 600.0


@dataclass
class Posted:
    channel: str
    ts: str
    drawn: tuple[Any, ...] | None
    ended_at: float | None = None


class CardMessages:
    def __init__(
        self, service: CopilotService, outbox: Outbox, web_url: str | None, sweep_s: float
    ) -> None:
        self._service = service
        self._outbox = outbox
        self._web_url = web_url
        self._sweep_s = sweep_s
        self._posted: dict[str, Posted] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None

    # -- posting ------------------------------------------------------------------------
    def post(self, card: Card, channel: str, thread_ts: str | None) -> str | None:
        """Post ``card`` as a message of its own in the thread; it is kept up to date."""
        with self._card_lock(card.approval_id):
            if card.approval_id in self._posted:  # shown here already: redrawn, not repeated
                self._redraw(card.approval_id)
                return self._posted[card.approval_id].ts
            ts = self._outbox.post(channel, _text(card), self._blocks(card), thread_ts)
            if ts is not None:
                self._posted[card.approval_id] = Posted(channel, ts, words.fingerprint(card))
            return ts

    def adopt(self, approval_id: str, channel: str, ts: str) -> None:
        """A card message this process did not post (another replica, before a restart),
        learnt from a button pressed on it: kept up to date from now on."""
        with self._lock:
            self._posted.setdefault(approval_id, Posted(channel, ts, None))

    def where(self, approval_id: str) -> Posted | None:
        return self._posted.get(approval_id)

    # -- updating ------------------------------------------------------------------------
    def refresh(self, approval_id: str) -> Card | None:
        """Redraw the card's message if the card changed; the card as it is now."""
        with self._card_lock(approval_id):
            return self._redraw(approval_id)

    @contextlib.contextmanager
    def follow(self, approval_id: str) -> Iterator[None]:
        """Watch one card closely while a decision on it runs in this thread (the call
        and verify run inside it): running shows while it runs."""
        done = threading.Event()

        def watch() -> None:
            while not done.wait(FOLLOW_POLL_S):
                self.refresh(approval_id)

        watcher = threading.Thread(target=watch, name="slack-follow", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            done.set()
            watcher.join(timeout=5)
            self.refresh(approval_id)

    def start(self) -> None:
        self._sweeper = threading.Thread(target=self._sweep_loop, name="slack-cards", daemon=True)
        self._sweeper.start()

    def stop(self) -> None:
        self._stop.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout=5)

    def sweep(self) -> None:
        """Redraw every card still moving (changed elsewhere: the web chat, the CLI)."""
        now = time.monotonic()
        for aid, posted in list(self._posted.items()):
            if posted.ended_at is not None and now - posted.ended_at > AFTER_END_S:
                with self._lock:
                    self._posted.pop(aid, None)
                continue
            self.refresh(aid)

    # -- inside --------------------------------------------------------------------------
    def _sweep_loop(self) -> None:
        while not self._stop.wait(self._sweep_s):
            try:
                self.sweep()
            except Exception:  # a sweep must never end the loop; the next one tries again
                log.exception("sweeping slack cards failed")

    def _redraw(self, approval_id: str) -> Card | None:
        posted = self._posted.get(approval_id)
        try:
            card = self._service.card(approval_id, "slack")
        except CopilotError:
            return None
        if posted is None:
            return card
        seen = words.fingerprint(card)
        changed = seen != posted.drawn
        if changed and self._outbox.update(
            posted.channel, posted.ts, _text(card), self._blocks(card)
        ):
            posted.drawn = seen
        state = card.state.value
        if state in ENDED and posted.ended_at is None:
            posted.ended_at = time.monotonic()
        if state in ENDED and (state != "succeeded" or card.verified is not None):
            posted.ended_at = min(posted.ended_at or 0.0, time.monotonic() - AFTER_END_S + 30)
        return card

    def _blocks(self, card: Card) -> list[Any]:
        return card_blocks(card, web_url=self._web_url)

    def _card_lock(self, approval_id: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(approval_id, threading.Lock())


def _text(card: Card) -> str:
    """The notification text of a card's message (previews, screen readers)."""
    state = words.STATE_WORDS.get(card.state.value, card.state.value)
    return f"{card.tool} ({card.risk.value} risk): {state}"
