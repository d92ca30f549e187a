"""Incidents in Slack: an alert opens a thread in the incident channel with the first
diagnosis and its card; ``/copilot incident …`` moves it; a mention in the thread
continues the incident's conversation; the timeline and the postmortem come to Slack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fakes.alerts import TOKEN, alert, payload
from fakes.slack_world import SlackWorld, approval_of, slack_world

from copilot.bench import slack_events as ev
from copilot.settings_incidents import IncidentSettings

CHANNEL = "CINCIDENTS"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SlackWorld]:
    conf = IncidentSettings(webhook_token=TOKEN, oncall="alice", slack_channel=CHANNEL)
    with slack_world(tmp_path / "data", incidents=conf) as running:
        yield running


def command(world: SlackWorld, user: str, text: str) -> str:
    r = world.send("command", ev.slash(user, CHANNEL, text))
    assert r.status_code == 200, r.text
    return str(r.json()["text"])


def test_an_alert_opens_a_thread_that_people_work_the_incident_in(world: SlackWorld) -> None:
    svc, fake = world.service, world.fake
    svc.inject_fault("bad_deploy", "checkout")
    r = httpx.post(
        f"{world.url}/webhooks/alertmanager",
        json=payload(alert(summary="checkout is failing 31% of requests")),
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    assert r.status_code == 200 and r.json()["opened"], r.text
    incident_id = r.json()["incident"]
    root_post = fake.wait_for(
        lambda: next(
            (c for c in fake.of("chat.postMessage") if c.args.get("channel") == CHANNEL), None
        ),
        what="the incident's root message",
    )
    assert "thread_ts" not in root_post.args and incident_id in root_post.args["text"]
    root = root_post.answer["ts"]
    card = world.card_message(CHANNEL, root)
    aid = approval_of(card)
    assert aid is not None
    incident = svc.incident(incident_id)
    assert (incident.slack_channel, incident.slack_ts) == (CHANNEL, root)
    assert svc.card(aid, "bob").conversation == incident.conversation

    # a later delivery: its own line in the thread
    more = httpx.post(
        f"{world.url}/webhooks/alertmanager",
        json=payload(alert(fingerprint="second", service="checkout", pod="checkout-7")),
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    assert more.json()["new_firing"] == 1
    fake.wait_for(
        lambda: [
            c for c in world.in_thread(CHANNEL, root) if "1 alert(s) firing" in c.args["text"]
        ],
        what="the delivery's line in the thread",
    )

    # /copilot incident ack, from the channel: the channel's open incident
    said = command(world, "UBOB", "incident ack")
    assert "acknowledged" in said and svc.incident(incident_id).status.value == "acknowledged"
    fake.wait_for(
        lambda: [c for c in world.in_thread(CHANNEL, root) if "acknowledged" in c.args["text"]],
        what="the ack told in the thread",
    )
    # commander by Slack mention (carol is known by her e-mail)
    said = command(world, "UBOB", f"incident commander <@UCAROL|carol> {incident_id}")
    assert svc.incident(incident_id).commander == "carol", said
    # a viewer may not move it; nothing changes
    said = command(world, "UDANA", "incident resolve")
    assert "may not change incidents" in said
    assert svc.incident(incident_id).status.value == "acknowledged"
    assert "Which incident?" in command(world, "UBOB", "incident ack INC-999")

    # a mention in the thread continues the incident's conversation
    world.mention("UBOB", "<@UCOPILOT> what is the error rate of checkout now?", CHANNEL, root)
    fake.wait_for(
        lambda: [
            m
            for m in svc.conversation(incident.conversation).messages
            if m.author == "bob" and "error rate" in m.text
        ],
        what="bob's message in the incident's conversation",
    )
    # the card in the thread is pressed like any card: it runs
    assert world.press("UBOB", aid, card).status_code == 200
    fake.wait_for(lambda: world.executions(aid), what="the rollback ran")
    fake.wait_for(
        lambda: svc.card(aid, "bob").state.value == "succeeded", timeout=60, what="succeeded"
    )
    assert command(world, "UBOB", "incident resolve").count("resolved") >= 1
    assert svc.incident(incident_id).status.value == "resolved"

    timeline = command(world, "UBOB", f"incident timeline {incident_id}")
    assert "`E1`" in timeline or "`E2`" in timeline
    assert "events; the latest" in timeline
    listed = command(world, "UBOB", "incident list")
    assert incident_id in listed and "MTTR" in listed

    assert "Drafting the postmortem" in command(world, "UBOB", f"postmortem {incident_id}")
    posted = fake.wait_for(
        lambda: [c for c in world.in_thread(CHANNEL, root) if "Postmortem of" in c.args["text"]],
        what="the postmortem in the thread",
    )
    assert "draft v1" in posted[0].args["text"] and "[E" in posted[0].args["text"]
    assert len(svc.postmortems(incident_id)) == 1
