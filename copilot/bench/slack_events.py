"""What Slack sends to an app, built and signed as Slack builds and signs it: Events API
callbacks, block actions, view submissions and slash commands, for the tests and
``copilot bench slack``.

The signature is Slack's v0 scheme (api.slack.com/authentication/verifying-requests-from-slack):
``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{raw body}`` with the signing secret, in
``X-Slack-Signature``, the timestamp in ``X-Slack-Request-Timestamp``. Written here from the
description, not with the SDK's helper, so a mistake there could not hide one here.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

from copilot.bench.slack_fake import BOT_USER, TEAM

_ids = itertools.count(1)


def sign(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = f"v0:{ts}:{body}".encode()
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def event_body(event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    """An ``event_callback`` envelope (the HTTP body, or a Socket Mode payload)."""
    return {
        "token": "unused",
        "team_id": TEAM,
        "api_app_id": "AFAKE",
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_ids):08d}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
        "event": event,
    }


def mention(
    user: str, channel: str, text: str, ts: str, thread_ts: str | None = None
) -> dict[str, Any]:
    event = {
        "type": "app_mention",
        "user": user,
        "channel": channel,
        "text": f"<@{BOT_USER}> {text}",
        "ts": ts,
        "event_ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def direct_message(user: str, channel: str, text: str, ts: str) -> dict[str, Any]:
    return {
        "type": "message",
        "channel_type": "im",
        "user": user,
        "channel": channel,
        "text": text,
        "ts": ts,
        "event_ts": ts,
    }


def button(
    user: str,
    channel: str,
    message_ts: str,
    action_id: str,
    value: str,
    thread_ts: str | None = None,
) -> dict[str, Any]:
    """A ``block_actions`` payload: ``user`` pressed a button of the message at
    ``message_ts`` (in the thread ``thread_ts``)."""
    message: dict[str, Any] = {"type": "message", "ts": message_ts, "user": BOT_USER}
    if thread_ts:
        message["thread_ts"] = thread_ts
    return {
        "type": "block_actions",
        "team": {"id": TEAM},
        "user": {"id": user, "team_id": TEAM},
        "api_app_id": "AFAKE",
        "token": "unused",
        "trigger_id": f"trigger-{next(_ids)}",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
        "channel": {"id": channel},
        "message": message,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b1",
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def view_submission(
    user: str, callback_id: str, metadata: str, values: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": TEAM},
        "user": {"id": user, "team_id": TEAM},
        "api_app_id": "AFAKE",
        "token": "unused",
        "trigger_id": f"trigger-{next(_ids)}",
        "view": {
            "id": "VFAKE",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": metadata,
            "state": {"values": values},
        },
    }


def slash(user: str, channel: str, text: str, command: str = "/copilot") -> dict[str, str]:
    return {
        "token": "unused",
        "team_id": TEAM,
        "channel_id": channel,
        "user_id": user,
        "command": command,
        "text": text,
        "api_app_id": "AFAKE",
        "response_url": "http://127.0.0.1:9/unused",
        "trigger_id": f"trigger-{next(_ids)}",
    }


def http_body(kind: str, payload: dict[str, Any]) -> tuple[str, str]:
    """The raw body and content type Slack posts for ``kind`` (event, interactive, command)."""
    if kind == "event":
        return json.dumps(payload), "application/json"
    if kind == "interactive":
        return urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
    return urlencode(payload), "application/x-www-form-urlencoded"


def signed(
    secret: str, kind: str, payload: dict[str, Any], **sign_kw: Any
) -> tuple[str, dict[str, str]]:
    """The body and headers of a signed request to ``/slack/events``."""
    body, ctype = http_body(kind, payload)
    return body, {"Content-Type": ctype, **sign(secret, body, **sign_kw)}
