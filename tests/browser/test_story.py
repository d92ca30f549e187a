"""The web chat's story in a real browser: alice asks, sees the card; her own approval is
refused with the reason; bob approves in a second browser; both pages watch the card run,
succeed and verify, live, without a reload. A viewer sees the card but no button."""

from __future__ import annotations

import json
from typing import Any

from fakes.live_web import LiveServer, Person


def start_conversation(person: Person, text: str) -> str:
    page = person.page
    page.fill("#first", text)
    page.click("text=Start a conversation")
    page.wait_for_selector("article.card")
    return str(page.url)


def executions(live: LiveServer, approval_id: str) -> list[dict[str, Any]]:
    lines = [json.loads(x) for x in live.service.export_audit("jsonl")]
    return [e for e in lines if e["kind"] == "execution.started" and e["subject"] == approval_id]


def test_two_people_approve_and_both_pages_watch_it_run(
    live: LiveServer, people: dict[str, Person]
) -> None:
    live.service.inject_fault("bad_deploy", "checkout")
    alice = people["alice"]
    url = start_conversation(alice, "checkout is returning 500s")
    card = alice.page.locator("article.card")
    aid = str(card.get_attribute("id")).removeprefix("card-")
    assert card.get_attribute("data-state") == "proposed"
    assert "waiting for approval" in card.inner_text()
    assert "revision 44 → 43" in card.locator("details.plan pre").inner_text()
    runbook = card.locator(".prov a").first
    assert runbook.inner_text() == "HTTP 500s right after a deploy"
    assert (runbook.get_attribute("href") or "").startswith("/runbooks/chunk?id=")
    assert "0 of 1" in card.locator(".needs").inner_text()
    # no reload happens from here on: the marker would be gone
    alice.page.evaluate("window.__stillHere = true")
    alice.shot("01-alice-sees-the-card")

    # her own approval: refused with policy's reason, nothing changes
    card.locator("button.approve").click()
    flash = alice.page.locator("#flash .flash.bad")
    flash.wait_for()
    assert "two-person rule" in flash.inner_text()
    assert card.get_attribute("data-state") == "proposed"
    assert executions(live, aid) == []
    alice.shot("02-alice-own-approval-refused")

    dana = people["dana"]
    dana.page.goto(url)
    dana.page.wait_for_selector(f"#card-{aid}")
    assert dana.page.locator(f"#card-{aid} button").count() == 0  # a viewer: no buttons
    dana.shot("03-dana-viewer-sees-no-button")

    bob = people["bob"]
    bob.page.goto(url)
    bob_card = bob.page.locator(f"#card-{aid}")
    assert bob_card.locator("button.reject").count() == 1
    bob_card.locator("button.approve").click()

    # both pages (and the viewer's) watch it run, then succeed and verify
    for person in (alice, dana):
        person.page.wait_for_selector(f"#card-{aid}[data-state=executing]")
    alice.shot("04-alice-watches-it-run")
    # bob's request returns once the run and verify are done: then the record is final
    bob.page.locator("#flash .flash").filter(has_text="succeeded").wait_for()
    verified = live.service.card(aid).verified
    last = live.service.conversation(url.rsplit("/", 1)[1]).messages[-1].text
    assert verified is True, last  # what verify said, if it did not find it recovered
    for person in (alice, bob, dana):
        person.page.wait_for_selector(f"#card-{aid}[data-state=succeeded][data-verified=yes]")
    text = alice.page.locator(f"#card-{aid}").inner_text()
    assert "approved by bob (1 of 1)" in text
    assert "verified: recovered" in text
    assert alice.page.evaluate("window.__stillHere") is True
    alice.shot("05-alice-sees-it-recovered")
    bob.shot("05-bob-sees-it-recovered")

    assert len(executions(live, aid)) == 1
    assert live.service.card(aid).state.value == "succeeded"
    dana_principal = live.service.principal("dana")
    _, ran = live.service.call(dana_principal, "sandbox.get_metrics", {"service": "checkout"})
    assert ran is not None and ran.result is not None
    assert ran.result["error_rate"] < 0.05
    assert alice.dialogs == bob.dialogs == dana.dialogs == []


def test_a_message_from_another_browser_appears_live(
    live: LiveServer, people: dict[str, Person]
) -> None:
    live.service.inject_fault("bad_deploy", "checkout")
    url = start_conversation(people["alice"], "checkout is returning 500s")
    bob = people["bob"]
    bob.page.goto(url)
    bob.page.evaluate("window.__stillHere = true")
    alice = people["alice"].page
    alice.fill("#text", "bob, can you look at the card?")
    alice.keyboard.press("Enter")  # Enter sends
    bob.page.wait_for_selector("li.msg:has-text('bob, can you look at the card?')")
    assert bob.page.evaluate("window.__stillHere") is True
    # the box is cleared once the send is done (the turn may still run when bob sees it)
    alice.wait_for_function("document.getElementById('text').value === ''")


def test_a_two_person_card_shows_one_of_two_live_then_runs(
    live: LiveServer, people: dict[str, Person]
) -> None:
    """A high-risk change in prod needs an SRE and an on-call lead: bob's approval shows
    as 1 of 2 on every page at once, and carol's completes it."""
    service = live.service
    alice_p = service.principal("alice")
    proposed, ran = service.call(
        alice_p, "sandbox.rotate_secret", {"name": "payments-psp-key"}, conversation="web-rotate"
    )
    assert ran is None
    aid = proposed.approval.id
    # the card enters the conversation as a reply mentioning it would
    service._record("web-rotate", "alice", "user", "rotate the leaked payments PSP key")
    service._record("web-rotate", "copilot", "copilot", f"Proposed rotation as {aid}", cards=[aid])
    url = f"{live.url}/c/web-rotate"
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    for person in (alice, bob, carol):
        person.page.goto(url)
        person.page.wait_for_selector(f"#card-{aid}")
    assert "0 of 2" in carol.page.locator(f"#card-{aid} .needs").inner_text()

    bob.page.locator(f"#card-{aid} button.approve").click()
    for person in (alice, carol):
        person.page.wait_for_selector(f"#card-{aid} .steps li:has-text('approved by bob (1 of 2)')")
        assert person.page.locator(f"#card-{aid}").get_attribute("data-state") == "proposed"
        assert "1 of 2" in person.page.locator(f"#card-{aid} .needs").inner_text()
    carol.shot("06-carol-sees-one-of-two")
    bob.page.wait_for_selector(f"#card-{aid} p:has-text('You approved')")
    assert bob.page.locator(f"#card-{aid} button").count() == 0

    carol.page.locator(f"#card-{aid} button.approve").click()
    for person in (alice, bob, carol):
        person.page.wait_for_selector(f"#card-{aid}[data-state=succeeded]")
    text = alice.page.locator(f"#card-{aid}").inner_text()
    assert "approved by carol (2 of 2)" in text and "succeeded" in text
    assert len(executions(live, aid)) == 1
    alice.shot("07-alice-sees-two-of-two-succeeded")
