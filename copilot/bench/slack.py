"""`copilot bench slack`: the Slack surface under load, on loopback, on the embedded default.

A real server (``create_app`` under uvicorn in a thread) with Slack on over HTTP, against
the fake Slack Web API. ``threads`` senders at once, each in a channel of its own, send
what Slack sends, signed as Slack signs it:

- a mention ("checkout is returning 500s": a turn with retrieval, reads and a card), then
  Slack's retry of the same event (``X-Slack-Retry-Num: 1``, the same ``event_id``);
- a press of Approve on a waiting two-person card of their thread (a vote: 1 of 2);

each after a random pause (``pace_s``, 0.25 s on average: together about 100 requests a
second; ``--pace 0`` sends back to back, a saturation test).

Measured: the latency of each acknowledgement (Slack's limit is 3 s; the goal p99 ≤ 100 ms),
requests that were not acknowledged with 200 or never answered (errors, goal 0), and
events answered more than once (duplicates, goal 0).
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from copilot.bench.core import machine
from copilot.bench.web import _pct

ASK = "checkout is returning 500s"
# Each sender waits a random 0..2*PACE_S before each request: 50 senders then reach the
# server at about 100 requests a second (a busy incident is a few a second), all at once
# within that second. 0: every sender fires back to back (a saturation test).
PACE_S = 0.25
ANSWER_TIMEOUT_S = 300.0


def run_slack_bench(threads: int = 50, pace_s: float = PACE_S) -> dict[str, Any]:
    import httpx

    from copilot.bench import slack_events as ev
    from copilot.bench.slack_fake import BOT_TOKEN, SIGNING_SECRET, FakeSlack
    from copilot.service import CopilotService
    from copilot.settings import Settings, UserConfig
    from copilot.settings_slack import SlackSettings

    fake = FakeSlack().start()
    with tempfile.TemporaryDirectory(prefix="copilot-bench-slack-") as tmp:
        people = {f"sre{i}": UserConfig(roles=["sre"]) for i in range(threads)}
        people["asker"] = UserConfig(roles=["responder"])
        slack = SlackSettings(
            bot_token=BOT_TOKEN,
            signing_secret=SIGNING_SECRET,
            api_url=fake.url,
            users={f"U{i:04d}": f"sre{i}" for i in range(threads)},
            channel_rate="1/second",
        )
        settings = Settings(data_dir=Path(tmp) / "data", users=people, slack=slack)
        service = CopilotService.open(settings)
        service.reset_sandbox()
        service.inject_fault("bad_deploy", "checkout")
        cards = _cards(service, threads)
        # The server runs in a process of its own, as in production: the senders here are
        # Slack, and must not share an interpreter lock with what they measure.
        server = _serve(Path(tmp), settings)
        try:
            acks, errors = _send(httpx, ev, server.url, SIGNING_SECRET, cards, pace_s)
            answered, answer_errors, duplicates = _answers(fake, service, cards)
        finally:
            server.stop()
            service.close()
            fake.stop()
    return {
        "machine": machine(),
        "threads": threads,
        "pace_s": pace_s,
        "requests": len(acks),
        "ack_p50_ms": _pct(acks, 0.5),
        "ack_p99_ms": _pct(acks, 0.99),
        "ack_max_ms": round(max(acks), 2) if acks else 0.0,
        "errors": errors + answer_errors,
        "duplicates_answered": duplicates,
        "turns_answered": answered,
    }


@dataclass
class _Server:
    url: str
    process: subprocess.Popen[str]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _serve(folder: Path, settings: Any) -> _Server:
    """``copilot serve`` on a free port with these settings (written as its config)."""
    import tomlkit

    config = folder / "copilot.toml"
    data = settings.model_dump(
        mode="json", include={"data_dir", "users", "slack"}, exclude_none=True
    )
    config.write_text(tomlkit.dumps(data))
    # only this config speaks: a COPILOT_* variable of the caller would override it
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("COPILOT_", "SLACK_"))},
        "COPILOT_CONFIG": str(config),
        "LITELLM_OFFLINE_MODE": "true",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "copilot", "serve", "--port", "0"],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 120
    url = ""
    while time.monotonic() < deadline and not url:
        line = process.stdout.readline()
        if not line:
            break
        found = re.search(r"serving on (http://\S+?)/? ", line)
        url = found.group(1).rstrip("/") if found else ""
    if not url:
        process.kill()
        raise RuntimeError("copilot serve did not start")
    server = _Server(url, process)
    _ready(server)
    return server


def _ready(server: _Server) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{server.url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError("copilot serve never became ready")


def _cards(service: Any, threads: int) -> list[tuple[str, str, str]]:
    """For each sender: its channel, its thread and a waiting two-person card in it."""
    asker = service.principal("asker", via="bench")
    out = []
    for i in range(threads):
        channel, root = f"CB{i:04d}", f"1700000{i:03d}.000100"
        proposed, _ = service.call(
            asker,
            "sandbox.rotate_secret",
            {"name": "payments-psp-key"},
            conversation=f"slack-{channel}-{root}",
        )
        out.append((channel, root, proposed.approval.id))
    return out


def _send(
    httpx: Any, ev: Any, url: str, secret: str, cards: list[tuple[str, str, str]], pace_s: float
) -> tuple[list[float], int]:
    acks: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start = threading.Barrier(len(cards))
    jitter = random.Random(7)

    def sender(i: int, channel: str, root: str, aid: str) -> None:
        user = f"U{i:04d}"
        event = ev.event_body(ev.mention(user, channel, ASK, f"1800000{i:03d}.000200"))
        press = ev.button(user, channel, f"1700000{i:03d}.000300", "copilot_approve", aid, root)
        requests = [("event", event, {}), ("event", event, {"X-Slack-Retry-Num": "1"})]
        requests.append(("interactive", press, {}))
        with httpx.Client(base_url=url, timeout=30) as client:
            start.wait()
            for kind, payload, extra in requests:
                time.sleep(jitter.uniform(0, 2 * pace_s))
                body, headers = ev.signed(secret, kind, payload)
                began = time.perf_counter()
                answer = client.post("/slack/events", content=body, headers={**headers, **extra})
                took = (time.perf_counter() - began) * 1000
                with lock:
                    acks.append(took)
                    errors[0] += answer.status_code != 200

    workers = [threading.Thread(target=sender, args=(i, *c)) for i, c in enumerate(cards)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return acks, errors[0]


def _answers(fake: Any, service: Any, cards: list[tuple[str, str, str]]) -> tuple[int, int, int]:
    """Turns answered, requests never answered (a mention with no reply, a press with no
    vote), and events answered more than once."""

    def looking(channel: str) -> list[Any]:
        return [
            c
            for c in fake.of("chat.postMessage")
            if c.args.get("channel") == channel and "looking" in c.args.get("text", "")
        ]

    def answered(channel: str) -> bool:
        ts = {c.answer.get("ts") for c in looking(channel)}
        return any(u.args.get("ts") in ts for u in fake.of("chat.update"))

    def voted(aid: str) -> bool:
        return bool(service.card(aid).votes)

    deadline = time.monotonic() + ANSWER_TIMEOUT_S
    while time.monotonic() < deadline:
        if all(answered(c) and voted(a) for c, _, a in cards):
            break
        time.sleep(0.25)
    time.sleep(1.0)  # a duplicate answer would arrive about now
    done = sum(answered(c) for c, _, _ in cards)
    missing = (len(cards) - done) + sum(not voted(a) for _, _, a in cards)
    duplicates = sum(max(0, len(looking(c)) - 1) for c, _, _ in cards)
    return done, missing, duplicates


def print_table(figures: dict[str, Any]) -> None:
    print(f"slack surface on {figures['machine']}")
    print(f"  {figures['threads']} senders, {figures['requests']} signed requests")
    print(
        f"  ack p50 {figures['ack_p50_ms']} ms, p99 {figures['ack_p99_ms']} ms "
        f"(max {figures['ack_max_ms']} ms; Slack's limit is 3000 ms)"
    )
    print(
        f"  errors {figures['errors']}, duplicates answered {figures['duplicates_answered']}, "
        f"turns answered {figures['turns_answered']}"
    )
