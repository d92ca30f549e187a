"""A copilot server with Slack on, against the fake Slack on loopback.

The server is ``create_app(settings)`` under uvicorn (what ``copilot serve`` runs) with
``[slack]`` pointing at ``FakeSlack``; requests reach ``/slack/events`` signed as Slack
signs them. The people: alice (responder), bob (sre) and dana (viewer) are mapped by their
Slack user ids, carol (on-call lead) by her e-mail, which the fake's ``users.info`` gives.
A team runbook for a leaked payments key makes the copilot propose a high-risk change.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from copilot.bench import slack_events as ev
from copilot.bench.slack_fake import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, Call, FakeSlack

PEOPLE = {"alice": "responder", "bob": "sre", "carol": "oncall-lead", "dana": "viewer"}
SLACK_IDS = {"UALICE": "alice", "UBOB": "bob", "UDANA": "dana", "carol@example.com": "carol"}
EMAILS = {"UCAROL": "carol@example.com", "UNOBODY": "nobody@example.com"}
LEAKED_KEY_RUNBOOK = """---
title: Payments PSP API key leaked
services: [payments]
tags: [security, secret, leak, rotation]
playbook:
  steps:
    - tool: sandbox.list_secrets
      description: which services use the key, and its version
    - tool: sandbox.get_metrics
      args: {service: payments}
      description: payments is healthy before the rotation restarts it
    - tool: sandbox.rotate_secret
      args: {name: payments-psp-key}
      description: rotate the leaked key and restart what uses it
---
# Leaked PSP key

## Meaning
The payment service provider's API key was pushed to a public repository or pasted in chat.

## Mitigation
Rotate the key at once (`sandbox.rotate_secret`); payments restarts with the new version.
"""
_ts = [1_700_000_000.0]


def next_ts() -> str:
    _ts[0] += 1.5
    return f"{_ts[0]:.6f}"


@dataclass
class SlackWorld:
    fake: FakeSlack
    service: Any
    settings: Any
    url: str
    surface: Any = None

    # -- sending, as Slack does ------------------------------------------------------------
    def send(self, kind: str, payload: dict[str, Any], **headers: str) -> httpx.Response:
        body, signed = ev.signed(SIGNING_SECRET, kind, payload)
        return self.post(body, {**signed, **headers})

    def post(self, body: str, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(f"{self.url}/slack/events", content=body, headers=headers, timeout=30)

    def mention(
        self, user: str, text: str, channel: str, thread_ts: str | None = None
    ) -> tuple[httpx.Response, str]:
        ts = next_ts()
        payload = ev.event_body(ev.mention(user, channel, text, ts, thread_ts))
        return self.send("event", payload), thread_ts or ts

    def press(
        self, user: str, value: str, message: Call, action: str = "copilot_approve"
    ) -> httpx.Response:
        args = message.args
        payload = ev.button(
            user, args["channel"], message.answer["ts"], action, value, args.get("thread_ts")
        )
        return self.send("interactive", payload)

    # -- reading what the copilot said ----------------------------------------------------
    def in_thread(self, channel: str, root: str) -> list[Call]:
        return [
            c
            for c in self.fake.of("chat.postMessage")
            if c.args.get("channel") == channel and c.args.get("thread_ts") == root
        ]

    def card_message(self, channel: str, root: str, timeout: float = 60) -> Call:
        """The first card posted in the thread."""
        return self.fake.wait_for(
            lambda: next((c for c in self.in_thread(channel, root) if approval_of(c)), None),
            timeout,
            f"a card in {channel}/{root}",
        )

    def updates(self, message: Call) -> list[Call]:
        ts = message.answer["ts"]
        return [c for c in self.fake.of("chat.update") if c.args.get("ts") == ts]

    def ephemerals(self, user: str) -> list[str]:
        return [
            c.args["text"] for c in self.fake.of("chat.postEphemeral") if c.args["user"] == user
        ]

    def executions(self, approval_id: str) -> list[Any]:
        from sqlalchemy import select

        from copilot.store.schema import executions

        store = self.service.door.deps.store
        with store.read() as conn:
            return list(
                conn.execute(select(executions).where(executions.c.approval_id == approval_id))
            )

    def audit(self, kind: str) -> list[dict[str, Any]]:
        events = (json.loads(line) for line in self.service.export_audit("jsonl"))
        return [e for e in events if e.get("kind") == kind]


def approval_of(call: Call) -> str | None:
    """The approval id on a card message's Approve button, if it has one."""
    for block in call.args.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == "copilot_approve":
                return str(element["value"])
    return None


def header(call: Call) -> str:
    blocks = call.args.get("blocks") or []
    return next((b["text"]["text"] for b in blocks if b.get("type") == "header"), "")


def text_of(call: Call) -> str:
    return json.dumps(call.args.get("blocks") or call.args.get("text"))


@contextmanager
def slack_world(
    data_dir: Path,
    *,
    socket: bool = False,
    http: bool = True,
    incidents: Any = None,
    **slack: Any,
) -> Iterator[SlackWorld]:
    from copilot.service import CopilotService
    from copilot.settings import AgentSettings, SandboxSettings, Settings, UserConfig
    from copilot.settings_slack import SlackSettings
    from copilot.settings_web import WebSettings
    from copilot.surfaces.web import create_app
    from copilot.surfaces.web.threaded import serve_in_thread

    fake = FakeSlack(emails=EMAILS).start()
    if socket:
        fake.open_socket()
    runbooks = data_dir / "runbooks"
    runbooks.mkdir(parents=True, exist_ok=True)
    (runbooks / "leaked-psp-key.md").write_text(LEAKED_KEY_RUNBOOK)
    options: dict[str, Any] = {
        "bot_token": BOT_TOKEN,
        "signing_secret": SIGNING_SECRET if http else None,
        "app_token": APP_TOKEN if socket else None,
        "api_url": fake.url,
        "users": SLACK_IDS,
        "channel_rate": "20/second",
        **slack,
    }
    settings = Settings(
        data_dir=data_dir,
        users={name: UserConfig(roles=[role]) for name, role in PEOPLE.items()},
        # long enough that a poll sees the card running
        sandbox=SandboxSettings(action_delay_s=1.0),
        # verify re-reads after the change settles: "succeeded" shows before "verified"
        agent=AgentSettings(verify_delay_s=0.6),
        web=WebSettings(live_poll_s=0.5, public_url="https://copilot.example.com"),
        slack=SlackSettings(**options),
        **({"incidents": incidents} if incidents is not None else {}),
    )
    service = CopilotService.open(settings)
    service.reset_sandbox()
    service.ingest_runbooks([runbooks])
    app = create_app(settings, service)
    running = serve_in_thread(app)
    world = SlackWorld(fake, service, settings, running.url, app.state.slack)
    try:
        yield world
    finally:
        running.stop()
        service.close()
        fake.stop()
