"""The Slack story over HTTP: alice mentions the copilot about a leaked key, it proposes a
high-risk rotation in prod as a Block Kit card; bob approves (1 of 2), carol (mapped by her
e-mail) completes it, and the card's message moves through running, succeeded and
verified, every ``chat.update`` checked against the fake Slack and the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.slack_world import SlackWorld, approval_of, header, slack_world, text_of


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackWorld]:
    with slack_world(Path(tmp_path_factory.mktemp("slack-story"))) as found:
        yield found


def _rotations(world: SlackWorld) -> list[dict]:
    changes = world.service.sandbox_status()["recent_changes"]
    return [c for c in changes if "rotate" in str(c.get("action", ""))]


def test_a_mention_becomes_a_card_that_two_people_approve_and_that_runs_and_verifies(
    world: SlackWorld,
) -> None:
    fake = world.fake
    before = len(_rotations(world))
    answer, root = world.mention("UALICE", "the payments PSP key leaked in a public repo", "CSTORY")
    assert answer.status_code == 200

    # "looking…" at once in the thread, then replaced by the answer
    thread = fake.wait_for(lambda: world.in_thread("CSTORY", root), what="the looking message")
    looking = thread[0]
    assert "looking" in looking.args["text"]
    said = fake.wait_for(lambda: world.updates(looking), what="the answer")
    assert "Payments PSP API key leaked" in said[0].args["text"]

    # the card: its own message, high risk, two approvers, a confirm dialog on Approve
    card = world.card_message("CSTORY", root)
    aid = approval_of(card)
    assert aid
    assert header(card) == "Waiting for approval: sandbox.rotate_secret"
    shown = text_of(card)
    for expected in (
        "payments-psp-key",
        "risk: *high*",
        "*0 of 2* so far",
        "sre + oncall-lead",
        "Payments",
        "expires",
        aid,
        f"https://copilot.example.com/c/slack-CSTORY-{root}",
    ):
        assert expected.lower() in shown.lower(), expected
    approve = next(
        e
        for b in card.args["blocks"]
        for e in b.get("elements") or []
        if e.get("action_id") == "copilot_approve"
    )
    assert approve["value"] == aid and approve["confirm"]["title"]["text"] == "Approve this change?"

    # bob (sre): 1 of 2, still waiting, nothing ran
    assert world.press("UBOB", aid, card).status_code == 200
    one = fake.wait_for(
        lambda: [u for u in world.updates(card) if "approved by bob (1 of 2)" in text_of(u)],
        what="1 of 2",
    )
    assert header(one[0]) == "Waiting for approval: sandbox.rotate_secret"
    assert "*1 of 2* so far" in text_of(one[0])
    assert world.executions(aid) == []
    assert len(_rotations(world)) == before

    # carol (on-call lead, known by her e-mail): it runs, succeeds and is verified
    assert world.press("UCAROL", aid, card).status_code == 200
    fake.wait_for(
        lambda: [u for u in world.updates(card) if "verified: recovered" in text_of(u)],
        timeout=60,
        what="verified",
    )
    assert any(c.args.get("user") == "UCAROL" for c in fake.of("users.info"))
    headers = [header(u) for u in world.updates(card)]
    # "approved, about to run" lasts a few milliseconds between the second vote and the
    # run; it is drawn when a poll happens to land in it, and nowhere else
    brief = "Approved, about to run: sandbox.rotate_secret"
    if brief in headers:
        assert headers.index(brief) == 1 and headers.count(brief) == 1, headers
        headers.remove(brief)
    # every state, in order, each drawn once
    assert headers == [
        "Waiting for approval: sandbox.rotate_secret",  # 1 of 2
        "Running: sandbox.rotate_secret",
        "Succeeded: sandbox.rotate_secret",
        "Succeeded: sandbox.rotate_secret",  # and verified
    ], headers
    succeeded, last = world.updates(card)[-2:]
    assert "verified" not in text_of(succeeded)
    assert "approved by carol (2 of 2)" in text_of(last)
    assert not any(
        e.get("action_id") == "copilot_approve"
        for b in last.args["blocks"]
        for e in b.get("elements") or []
    )
    # what verify found is also said in the thread
    world.fake.wait_for(
        lambda: any("recovered" in c.args["text"] for c in world.in_thread("CSTORY", root)),
        what="the verify line in the thread",
    )

    # one execution, and the sandbox really rotated the key once
    assert len(world.executions(aid)) == 1
    assert len(_rotations(world)) == before + 1


def test_a_reply_in_the_thread_continues_its_conversation(world: SlackWorld) -> None:
    _, root = world.mention("UALICE", "is checkout healthy?", "CTHREAD")
    world.fake.wait_for(
        lambda: (
            world.updates(world.in_thread("CTHREAD", root)[0])
            if world.in_thread("CTHREAD", root)
            else None
        ),
        what="first answer",
    )
    _, again = world.mention("UBOB", "and payments?", "CTHREAD", thread_ts=root)
    assert again == root
    view = world.service.conversation(f"slack-CTHREAD-{root}")
    world.fake.wait_for(
        lambda: len(world.service.conversation(f"slack-CTHREAD-{root}").messages) >= 4,
        what="both questions and answers in one conversation",
    )
    people = [m.author for m in world.service.conversation(f"slack-CTHREAD-{root}").messages]
    assert "alice" in people and "bob" in people, (people, view)


def test_slash_commands_answer_at_once_and_ask_starts_a_thread(world: SlackWorld) -> None:
    from copilot.bench import slack_events as ev

    helped = world.send("command", ev.slash("UALICE", "CSLASH", "help"))
    assert helped.status_code == 200 and "/copilot ask" in helped.json()["text"]
    unknown = world.send("command", ev.slash("UALICE", "CSLASH", "frobnicate <!channel>"))
    assert "I do not know `/copilot frobnicate`" in unknown.json()["text"]
    assert "<!channel>" not in unknown.text
    empty = world.send("command", ev.slash("UALICE", "CSLASH", "ask"))
    assert "Ask what?" in empty.json()["text"]
    nobody = world.send("command", ev.slash("UNOBODY", "CSLASH", "status"))
    assert "not a copilot user" in nobody.json()["text"]

    asked = world.send("command", ev.slash("UALICE", "CSLASH", "ask the payments PSP key leaked"))
    assert asked.json()["text"] == "Asking in a new thread…"
    root = world.fake.wait_for(
        lambda: next(
            (
                c.answer["ts"]
                for c in world.fake.of("chat.postMessage")
                if c.args.get("channel") == "CSLASH" and "thread_ts" not in c.args
            ),
            None,
        ),
        what="the question's message",
    )
    card = world.card_message("CSLASH", root)
    aid = approval_of(card)
    status = world.send("command", ev.slash("UBOB", "CSLASH", "status")).json()["text"]
    assert f"`{aid}` sandbox.rotate_secret (high risk): 0 of 2" in status
