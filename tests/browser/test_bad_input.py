"""Bad input in a real browser: markup from people, runbooks and tools stays text; a
double click runs once; an expired session goes back to sign-in; a request without its
CSRF token, for a card that is not there or not in this conversation, or far too large,
is refused, and nothing is recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fakes.live_web import LiveServer, Person, bad_deploy_card

XSS = "<script>alert('xss')</script><img src=x onerror=\"alert('img')\">"


def audit_kinds(live: LiveServer) -> list[tuple[str, str]]:
    return [
        (e["kind"], e.get("subject") or "")
        for e in map(json.loads, live.service.export_audit("jsonl"))
    ]


def post(person: Person, path: str, body: Any, *, token: bool = True, form: bool = True) -> Any:
    """A request from the page itself (its cookies, its origin), as a script on it would."""
    return person.page.evaluate(
        """async ([path, body, token, form]) => {
            const attr = document.body.getAttribute('hx-headers') || '{}';
            const csrf = JSON.parse(attr)['X-CSRF-Token'];
            const headers = {};
            if (token) headers['X-CSRF-Token'] = csrf;
            let payload;
            if (form) { payload = new URLSearchParams(body); }
            else { headers['Content-Type'] = 'application/json'; payload = JSON.stringify(body); }
            const r = await fetch(path, {method: 'POST', headers, body: payload});
            return {status: r.status, text: await r.text()};
        }""",
        [path, body, token, form],
    )


def test_markup_from_people_runbooks_and_tools_is_text(
    live: LiveServer, people: dict[str, Person], tmp_path: Path
) -> None:
    alice = people["alice"]
    alice.page.fill("#first", f"checkout is down {XSS}")
    alice.page.click("text=Start a conversation")
    alice.page.wait_for_selector("li.msg.role-user")
    conversation = alice.page.url.rsplit("/", 1)[1]
    assert (
        "<script>alert('xss')</script>" in alice.page.locator("li.msg.role-user .text").inner_text()
    )

    # a tool's result holding markup (a log line, say), as the conversation keeps it
    live.service._record(
        conversation,
        "copilot",
        "copilot",
        "read the logs",
        facts=[
            {
                "id": "f1",
                "tool": "sandbox.get_logs",
                "arguments": {"service": "checkout"},
                "ok": True,
                "data": {"lines": [{"message": XSS}]},
            }
        ],
    )
    alice.page.reload()
    alice.page.click("details.facts summary >> nth=-1")
    assert "alert('img')" in alice.page.locator("details.facts").last.inner_text()

    # a runbook holding markup, opened from the chunk link
    books = tmp_path / "runbooks"
    books.mkdir()
    (books / "evil.md").write_text(
        f"# Evil runbook {XSS}\n\nalerts: EvilAlert\n\n## Diagnosis\n\nCheck the thing. {XSS}\n"
    )
    live.service.ingest_runbooks([books])
    hits = live.service.search_runbooks("Evil runbook check the thing").hits
    chunk = next(h.chunk_id for h in hits if h.source.endswith("evil.md"))
    alice.page.goto(f"{live.url}/runbooks/chunk?id={quote(chunk)}")
    assert "<script>alert('xss')</script>" in alice.page.locator("pre.runbook").inner_text()
    alice.page.wait_for_timeout(300)  # let anything that could run, run
    assert alice.dialogs == []


def test_double_click_and_racing_requests_run_once(
    live: LiveServer, people: dict[str, Person]
) -> None:
    alice = people["alice"]
    aid, conversation = bad_deploy_card(live, alice)
    bob = people["bob"]
    bob.page.goto(alice.page.url)
    bob.page.dblclick(f"#card-{aid} button.approve")
    # and two requests at once, straight from the page, as a script would send them
    both = bob.page.evaluate(
        """async ([path]) => {
            const csrf = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token'];
            const send = () => fetch(path, {method: 'POST', headers: {'X-CSRF-Token': csrf},
                                            body: new URLSearchParams({verdict: 'approve'})});
            const rs = await Promise.all([send(), send()]);
            return rs.map(r => r.status);
        }""",
        [f"/c/{conversation}/cards/{aid}"],
    )
    assert all(s in (200, 409, 403) for s in both)
    bob.page.wait_for_selector(f"#card-{aid}[data-state=succeeded]")
    started = [k for k in audit_kinds(live) if k == ("execution.started", aid)]
    assert len(started) == 1
    assert live.service.card(aid).approvals == 1


def test_refused_requests_record_nothing(live: LiveServer, people: dict[str, Person]) -> None:
    alice = people["alice"]
    aid, conversation = bad_deploy_card(live, alice)
    bob = people["bob"]
    bob.page.goto(f"{live.url}/")
    before = audit_kinds(live)
    messages = len(live.service.conversation(conversation).messages)

    no_token = post(bob, f"/c/{conversation}/cards/{aid}", {"verdict": "approve"}, token=False)
    assert no_token["status"] == 403 and "CSRF" in no_token["text"]
    unknown = post(bob, f"/c/{conversation}/cards/apr_bcdfghjklmnpqrst", {"verdict": "approve"})
    assert unknown["status"] == 404
    other = post(bob, f"/c/web-elsewhere/cards/{aid}", {"verdict": "approve"})
    assert other["status"] == 404
    huge = post(
        bob, f"/api/conversations/{conversation}/messages", {"text": "x" * 1_000_000}, form=False
    )
    assert huge["status"] == 413 and "larger than" in json.loads(huge["text"])["error"]
    long = post(bob, f"/c/{conversation}/messages", {"text": "y" * 4001})
    assert long["status"] == 422

    assert live.service.card(aid).state.value == "proposed"
    assert live.service.card(aid).votes == []
    after = audit_kinds(live)
    # the unknown id is refused on the record (a request.refused event); nothing else
    assert [k for k in after[len(before) :] if k[0] != "request.refused"] == []
    assert len(live.service.conversation(conversation).messages) == messages


def test_an_expired_session_goes_back_to_sign_in(
    live: LiveServer, people: dict[str, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = people["alice"]
    alice.page.fill("#first", "what is the status of checkout")
    alice.page.click("text=Start a conversation")
    alice.page.wait_for_selector("li.msg.role-copilot")
    conversation = alice.page.url.rsplit("/", 1)[1]
    messages = len(live.service.conversation(conversation).messages)
    import time

    from copilot.surfaces.web import auth

    later = time.time() + live.settings.web.session_ttl_s + 60
    monkeypatch.setattr(auth, "now", lambda: later)
    # the next page she opens (htmx's own answer, HX-Redirect, is in test_web_signin.py)
    alice.page.goto(f"{live.url}/c/{conversation}")
    alice.page.wait_for_url("**/sign-in**")
    assert "expired" in alice.page.locator(".flash").inner_text()
    assert len(live.service.conversation(conversation).messages) == messages


def test_the_card_can_be_approved_with_the_keyboard_alone(
    live: LiveServer, people: dict[str, Person]
) -> None:
    alice = people["alice"]
    aid, _ = bad_deploy_card(live, alice)
    bob = people["bob"].page
    bob.goto(alice.page.url)
    approve = bob.get_by_role("button", name=f"Approve sandbox.rollback_deployment ({aid})")
    for _ in range(60):  # Tab through the page until the card's Approve has the focus
        bob.keyboard.press("Tab")
        if approve.evaluate("el => el === document.activeElement"):
            break
    else:
        raise AssertionError("the Approve button is not reachable with Tab")
    bob.keyboard.press("Enter")
    bob.wait_for_selector(f"#card-{aid}[data-state=succeeded]")
