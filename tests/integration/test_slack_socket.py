"""Socket Mode: with an app token and no public URL, the server opens the WebSocket that
``apps.connections.open`` hands out (served here by the fake), acknowledges each envelope
and answers through the Web API as over HTTP. A retried envelope is answered once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fakes.slack_world import SlackWorld, approval_of, next_ts, slack_world, text_of

from copilot.bench import slack_events as ev
from copilot.bench.slack_fake import APP_TOKEN


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackWorld]:
    with slack_world(Path(tmp_path_factory.mktemp("slack-socket")), socket=True, http=False) as w:
        assert w.fake.socket is not None
        assert w.fake.socket.connected.wait(30), "the app never opened the WebSocket"
        yield w


def test_events_and_buttons_arrive_over_the_socket_and_are_acknowledged(
    world: SlackWorld,
) -> None:
    socket = world.fake.socket
    assert socket is not None
    opened = world.fake.of("apps.connections.open")
    assert opened and opened[0].token == APP_TOKEN  # the app token, not the bot's

    world.service.inject_fault("bad_deploy", "checkout")
    ts = next_ts()
    body = ev.event_body(ev.mention("UALICE", "CSOCK", "checkout is returning 500s", ts))
    socket.send("events_api", body, "env-1")
    assert socket.ack("env-1") == {"envelope_id": "env-1"}
    socket.send("events_api", body, "env-1-retry", retry=1)  # Slack's retry: same event_id
    assert socket.ack("env-1-retry")["envelope_id"] == "env-1-retry"

    card = world.card_message("CSOCK", ts)
    aid = approval_of(card)
    assert aid
    press = ev.button("UBOB", "CSOCK", card.answer["ts"], "copilot_approve", aid, ts)
    socket.send("interactive", press, "env-2")
    assert socket.ack("env-2")["envelope_id"] == "env-2"
    world.fake.wait_for(
        lambda: [u for u in world.updates(card) if "verified: recovered" in text_of(u)],
        timeout=60,
        what="verified",
    )
    assert len(world.executions(aid)) == 1
    looking = [c for c in world.in_thread("CSOCK", ts) if "looking" in c.args["text"]]
    assert len(looking) == 1  # the retried envelope was not answered again


def test_the_slash_command_over_the_socket_answers_in_its_ack(world: SlackWorld) -> None:
    socket = world.fake.socket
    assert socket is not None
    socket.send("slash_commands", ev.slash("UALICE", "CSOCK", "help"), "env-3")
    ack = socket.ack("env-3")
    assert "/copilot ask" in ack["payload"]["text"]


def test_without_a_signing_secret_http_events_are_not_taken(world: SlackWorld) -> None:
    body, headers = ev.signed("anything", "event", ev.event_body({"type": "app_mention"}))
    answer = httpx.post(f"{world.url}/slack/events", content=body, headers=headers)
    assert answer.status_code == 404
    assert "signing_secret" in answer.json()["hint"]
