"""Everything the copilot sends to Slack goes through here: each payload passes the
redactor one last time, new messages keep to about one per second per channel (Slack's
guidance for ``chat.postMessage``; ``[slack] channel_rate``), and a 429 is waited out as
its ``Retry-After`` says (``slack_sdk``'s retry handler). A refusal from Slack is logged by
its error code only: never a token, never the payload.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from slack_sdk.models.blocks import Block

from copilot.surfaces.slack.blocks import as_json, cut

if TYPE_CHECKING:
    from copilot.service import CopilotService

log = logging.getLogger("copilot.slack")
TEXT_CHARS = 3000  # a plain-text message (errors, help): well inside Slack's 40,000
RATE_RETRIES = 3


def web_client(token: str, base_url: str) -> Any:
    """Slack's Web API client: 429s waited out (``Retry-After``) up to three times, and a
    dropped connection or a 5xx retried once."""
    from slack_sdk import WebClient
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
        ServerErrorRetryHandler,
    )

    return WebClient(
        token=token,
        base_url=base_url,
        timeout=10,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=1),
            RateLimitErrorRetryHandler(max_retry_count=RATE_RETRIES),
            ServerErrorRetryHandler(max_retry_count=1),
        ],
    )


class Outbox:
    def __init__(self, client: Any, service: CopilotService, channel_rate: str) -> None:
        from limits import parse
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        self.client = client
        self._service = service
        self._rate = parse(channel_rate)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._lock = threading.Lock()

    def post(
        self,
        channel: str,
        text: str,
        blocks: list[Block] | None = None,
        thread_ts: str | None = None,
    ) -> str | None:
        """Post a message (in a thread when ``thread_ts``); its ts, or None if Slack
        refused it."""
        self._wait_turn(channel)
        args: dict[str, Any] = {"channel": channel, "text": cut(text, TEXT_CHARS)}
        if blocks is not None:
            args["blocks"] = as_json(blocks)
        if thread_ts:
            args["thread_ts"] = thread_ts
        answer = self._call("chat_postMessage", args)
        return str(answer["ts"]) if answer else None

    def update(self, channel: str, ts: str, text: str, blocks: list[Block] | None) -> bool:
        args: dict[str, Any] = {"channel": channel, "ts": ts, "text": cut(text, TEXT_CHARS)}
        args["blocks"] = as_json(blocks) if blocks is not None else []
        return self._call("chat_update", args) is not None

    def ephemeral(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> bool:
        """A message only ``user`` sees (why nothing happened, mostly)."""
        args: dict[str, Any] = {"channel": channel, "user": user, "text": cut(text, TEXT_CHARS)}
        if thread_ts:
            args["thread_ts"] = thread_ts
        return self._call("chat_postEphemeral", args) is not None

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> bool:
        return self._call("views_open", {"trigger_id": trigger_id, "view": view}) is not None

    def _call(self, method: str, args: dict[str, Any]) -> dict[str, Any] | None:
        from slack_sdk.errors import SlackApiError

        args = self._service.redacted(args)
        try:
            answer = getattr(self.client, method)(**args)
        except SlackApiError as err:
            log.warning("slack %s refused: %s", method, err.response.get("error", "unknown"))
            return None
        except OSError as err:  # unreachable after the retries: the turn's record is kept
            log.warning("slack %s failed: %s", method, type(err).__name__)
            return None
        return dict(answer.data) if isinstance(answer.data, dict) else {}

    def _wait_turn(self, channel: str) -> None:
        """Block until ``channel`` may take another message (per process; a second
        replica keeps its own count)."""
        while True:
            with self._lock:
                if self._limiter.hit(self._rate, channel):
                    return
                reset, _ = self._limiter.get_window_stats(self._rate, channel)
            time.sleep(min(1.0, max(0.02, reset - time.time())))
