"""What Slack-shaped bad input does: nothing runs, the person is told, the record says so.

Each test works in a channel of its own on one server (module scope), and asserts what
happened (executions, the sandbox's changes, the calls the fake Slack received, the audit
log), not only the status code.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import canaries
from fakes.slack_world import SlackWorld, approval_of, slack_world, text_of

from copilot.bench import slack_events as ev
from copilot.bench.slack_fake import SIGNING_SECRET


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackWorld]:
    with slack_world(Path(tmp_path_factory.mktemp("slack-bad"))) as found:
        found.service.inject_fault("bad_deploy", "checkout")
        yield found


def _looked(world: SlackWorld, channel: str) -> list:
    return [c for c in world.fake.of("chat.postMessage") if c.args.get("channel") == channel]


def _rollbacks(world: SlackWorld) -> int:
    changes = world.service.sandbox_status()["recent_changes"]
    return sum(1 for c in changes if "rollback" in str(c.get("action", "")))


def _rollback_card(world: SlackWorld, channel: str) -> tuple[str, object]:
    """A medium-risk card (one SRE approves) in a thread of ``channel``: a bad deploy of
    checkout (again: an earlier test may have rolled the last one back)."""
    world.service.inject_fault("bad_deploy", "checkout")
    _, root = world.mention("UALICE", "checkout is returning 500s", channel)
    card = world.card_message(channel, root)
    aid = approval_of(card)
    assert aid
    return aid, card


def test_a_wrong_signature_is_refused_and_nothing_is_answered(world: SlackWorld) -> None:
    payload = ev.event_body(ev.mention("UALICE", "CSIG", "checkout is returning 500s", "1.1"))
    body, headers = ev.signed("not-the-secret", "event", payload)
    assert world.post(body, headers).status_code == 401
    body, headers = ev.signed(SIGNING_SECRET, "event", payload)
    tampered = body.replace("500s", "400s")
    assert world.post(tampered, headers).status_code == 401
    unsigned = {"Content-Type": "application/json"}
    assert world.post(body, unsigned).status_code == 401
    time.sleep(1.0)  # an answer would have been posted by now
    assert _looked(world, "CSIG") == []
    assert world.service.conversation("slack-CSIG-1.1").messages == []


def test_a_stale_timestamp_is_refused_even_when_signed_right(world: SlackWorld) -> None:
    payload = ev.event_body(ev.mention("UALICE", "CSTALE", "checkout is returning 500s", "2.2"))
    old = int(time.time()) - 6 * 60
    body, headers = ev.signed(SIGNING_SECRET, "event", payload, timestamp=old)
    assert world.post(body, headers).status_code == 401
    time.sleep(1.0)
    assert _looked(world, "CSTALE") == []


def test_a_retried_event_is_answered_once(world: SlackWorld) -> None:
    payload = ev.event_body(ev.mention("UALICE", "CRETRY", "is checkout healthy?", "3.3"))
    first = world.send("event", payload)
    again = world.send(
        "event", payload, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    third = world.send("event", payload, **{"X-Slack-Retry-Num": "2"})
    assert [r.status_code for r in (first, again, third)] == [200, 200, 200]
    world.fake.wait_for(lambda: _looked(world, "CRETRY"), what="the answer")
    time.sleep(1.5)  # a second answer would have been posted by now
    assert len(_looked(world, "CRETRY")) == 1
    users = [m for m in world.service.conversation("slack-CRETRY-3.3").messages if m.role == "user"]
    assert len(users) == 1


def test_a_forged_approval_id_runs_nothing_and_is_on_the_record(world: SlackWorld) -> None:
    aid, card = _rollback_card(world, "CFORGE")
    before = _rollbacks(world)
    for forged in ("apr_doesnotexistatall", "'; drop table approvals; --", aid + "x"):
        assert world.press("UBOB", forged, card).status_code == 200
    told = world.fake.wait_for(
        lambda: len(world.ephemerals("UBOB")) >= 3 and world.ephemerals("UBOB"),
        what="three ephemerals",
    )
    assert any("no card `apr_doesnotexistatall`" in t for t in told)
    assert any("names no card" in t for t in told)
    refused = world.audit("slack.refused")
    assert any("not an approval id" in e["data"]["reason"] for e in refused)
    assert world.service.card(aid).state.value == "proposed"
    assert world.service.card(aid).votes == []
    assert world.executions(aid) == [] and _rollbacks(world) == before


def test_a_card_of_another_thread_cannot_be_approved_from_here(world: SlackWorld) -> None:
    aid, _ = _rollback_card(world, "CHOME")
    _, other = _rollback_card(world, "CAWAY")  # a card message in another channel's thread
    assert world.press("UBOB", aid, other).status_code == 200
    world.fake.wait_for(
        lambda: [t for t in world.ephemerals("UBOB") if "belongs to another thread" in t],
        what="the ephemeral",
    )
    assert any(e["subject"] == aid for e in world.audit("slack.refused"))
    assert world.service.card(aid).votes == []
    assert world.executions(aid) == []


def test_a_button_pressed_twice_at_once_runs_once(world: SlackWorld) -> None:
    aid, card = _rollback_card(world, "CTWICE")
    before = _rollbacks(world)
    codes: list[int] = []
    presses = [
        threading.Thread(target=lambda: codes.append(world.press("UBOB", aid, card).status_code))
        for _ in range(2)
    ]
    for t in presses:
        t.start()
    for t in presses:
        t.join()
    assert codes == [200, 200]
    world.fake.wait_for(
        lambda: [u for u in world.updates(card) if "Succeeded" in json.dumps(u.args)],
        timeout=60,
        what="succeeded",
    )
    world.fake.wait_for(
        lambda: world.ephemerals("UBOB"), what="the second press told why nothing happened"
    )
    assert len(world.executions(aid)) == 1
    assert _rollbacks(world) == before + 1
    assert [v.approver for v in world.service.card(aid).votes] == ["bob"]


def test_an_unmapped_user_is_told_privately_and_put_on_the_record(world: SlackWorld) -> None:
    aid, card = _rollback_card(world, "CUNMAPPED")
    before = len(world.audit("slack.refused"))
    world.mention("UNOBODY", "checkout is returning 500s", "CUNMAPPED")
    world.press("UNOBODY", aid, card)
    told = world.fake.wait_for(
        lambda: len(world.ephemerals("UNOBODY")) >= 2 and world.ephemerals("UNOBODY"),
        what="two ephemerals",
    )
    assert all("not a copilot user" in t for t in told)
    refused = world.audit("slack.refused")[before:]
    assert {e["actor"] for e in refused} == {"slack:UNOBODY"}
    assert len(refused) == 2
    assert world.service.card(aid).votes == [] and world.executions(aid) == []
    # nobody's message reached no conversation, and no "looking…" was posted for it
    assert len(_looked(world, "CUNMAPPED")) == 2  # alice's looking + her card


def test_a_viewer_cannot_approve_and_is_told_why(world: SlackWorld) -> None:
    aid, card = _rollback_card(world, "CVIEWER")
    world.press("UDANA", aid, card)
    told = world.fake.wait_for(lambda: world.ephemerals("UDANA"), what="the ephemeral")
    assert "no_entry" in told[0]
    assert world.service.card(aid).votes == [] and world.executions(aid) == []


def test_a_message_over_the_limit_gets_a_clear_answer(world: SlackWorld) -> None:
    _, root = world.mention("UALICE", "logs: " + "x" * 5000, "CLONG")
    looking = world.fake.wait_for(lambda: world.in_thread("CLONG", root), what="looking")[0]
    said = world.fake.wait_for(lambda: world.updates(looking), what="the answer")
    assert "at most 4000" in said[0].args["text"] and "summarise" in said[0].args["text"]


def test_a_card_too_big_for_slack_is_cut_and_slack_takes_it(world: SlackWorld) -> None:
    aid, _ = _rollback_card(world, "CBIG")
    card = world.service.card(aid)
    huge = card.model_copy(
        update={
            "approval_id": "apr_bigcardbigcardbig",
            "arguments": {f"arg{i}": "v" * 5000 for i in range(30)},
            "plan": "step\n" * 4000,
            "error": "e" * 9000,
        }
    )
    ts = world.surface.cards.post(huge, "CBIG", None)
    assert ts is not None  # the fake checks Block Kit's limits as Slack does
    posted = next(c for c in world.fake.of("chat.postMessage") if c.answer.get("ts") == ts)
    assert "the whole card on the web" in text_of(posted)
    refused = [c for c in world.fake.calls if c.answer.get("error") == "invalid_blocks"]
    assert refused == []


def test_a_429_is_waited_out_and_the_message_still_arrives(world: SlackWorld) -> None:
    world.fake.rate_limit("chat.postMessage", times=1, retry_after=1)
    _, root = world.mention("UALICE", "is payments healthy?", "CRATE")
    looking = world.fake.wait_for(lambda: world.in_thread("CRATE", root), what="looking")[0]
    limited = [c for c in world.fake.calls if c.status == 429]
    assert len(limited) == 1
    assert looking.at - limited[0].at >= 1.0  # Retry-After honoured
    world.fake.wait_for(lambda: world.updates(looking), what="the answer")


def test_secrets_typed_in_slack_never_come_back_out(world: SlackWorld) -> None:
    _, root = world.mention("UALICE", f"is checkout ok? {canaries.PASTE}", "CSECRET")
    looking = world.fake.wait_for(lambda: world.in_thread("CSECRET", root), what="looking")[0]
    world.fake.wait_for(lambda: world.updates(looking), what="the answer")
    _, other = world.mention("UALICE", "checkout is returning 500s", "CSECRET2")
    card = world.card_message("CSECRET2", other)
    world.press("UBOB", str(approval_of(card)), card, action="copilot_reject")
    world.fake.wait_for(lambda: world.fake.of("views.open"), what="the reject dialog")
    view = world.fake.of("views.open")[-1].args["view"]
    values = {"reason": {"text": {"type": "plain_text_input", "value": canaries.PASTE}}}
    world.send(
        "interactive",
        ev.view_submission("UBOB", view["callback_id"], view["private_metadata"], values),
    )
    world.fake.wait_for(
        lambda: [u for u in world.updates(card) if "Rejected" in text_of(u)], what="rejected"
    )
    sent = json.dumps([c.args for c in world.fake.calls])
    assert canaries.leaks(sent) == []
    for conversation in (f"slack-CSECRET-{root}", f"slack-CSECRET2-{other}"):
        stored = json.dumps([m.text for m in world.service.conversation(conversation).messages])
        assert canaries.leaks(stored) == []
    assert canaries.leaks("\n".join(world.service.export_audit("jsonl"))) == []
    assert canaries.leaks_in_files(world.settings.data_dir) == {}  # the store, checkpoints
