"""Bad input: ids that do not exist or belong elsewhere, bodies too large, empty or too
long messages, a secret in a conversation id, markup in a message. Each is refused with a
clear answer and leaves nothing behind; markup is shown as text; every page has its CSP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fakes.canaries import AWS_KEY_ID, GITHUB_TOKEN, leaks_in_files
from webapp import Person, Web, isolated, proposed_card, serve, web_settings


@dataclass
class Site:
    web: Web
    alice: Person
    bob: Person
    card: str  # proposed in inc-a
    other: str = "inc-b"  # a conversation of its own, without cards


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One app for the module: every refused request must leave it as it was."""
    folder = tmp_path_factory.mktemp("bad-input")
    with isolated(folder), serve(web_settings(folder / "data")) as web:
        alice, bob = web.person("alice"), web.person("bob")
        card = proposed_card(web, alice, "inc-a")
        assert alice.say("inc-b", "is the search service slow for anyone else?").status_code == 200
        yield Site(web, alice, bob, card)


def _recorded(site: Site) -> dict[str, Any]:
    reader = site.alice
    return {
        "audit": reader.audit(),
        "conversations": reader.client.get("/api/conversations").json(),
        "inc-a": reader.view("inc-a"),
        "inc-b": reader.view("inc-b"),
        "card": reader.card(site.card),
    }


@pytest.fixture
def unchanged(site: Site) -> Iterator[None]:
    """The test's requests recorded nothing: no audit event, message, vote, conversation."""
    before = _recorded(site)
    assert before["card"]["state"] == "proposed"
    yield
    after = _recorded(site)
    assert after["audit"] == before["audit"], "a refused request left an audit event"
    assert after == before


def test_a_card_that_does_not_exist_is_404(site: Site) -> None:
    bob = site.bob
    before = _recorded(site)
    for missing in ("apr_aaaaaaaaaaaaaaaa", "prp_aaaaaaaaaaaaaaaa", "x" * 41, "apr_é"):
        r = bob.client.get(f"/api/approvals/{missing}")
        assert r.status_code == 404, (missing, r.text)
        assert r.json()["error"].startswith("no card"), r.text
        r = bob.decide(missing)
        assert r.status_code == 404, (missing, r.text)
        r = bob.client.post(
            f"/c/inc-a/cards/{missing}",
            data={"verdict": "approve", "csrf_token": bob.csrf},
            follow_redirects=False,
        )
        assert r.status_code == 404, (missing, r.text)
        assert "text/html" in r.headers["content-type"]  # a page answers a page
    after = _recorded(site)
    # the lookups of ids that look like ours are on the record as refused; nothing else
    new = after.pop("audit")[len(before["audit"]) :]
    assert {e["kind"] for e in new} == {"request.refused"}, new
    assert after == {k: v for k, v in before.items() if k != "audit"}


def test_a_card_of_another_conversation_is_404_there(site: Site, unchanged: None) -> None:
    """A card's buttons name its conversation: the same id under another one is not it
    (a page of inc-b cannot approve inc-a's rollback)."""
    bob = site.bob
    r = bob.client.post(
        f"/c/{site.other}/cards/{site.card}",
        data={"verdict": "approve", "csrf_token": bob.csrf},
        follow_redirects=False,
    )
    assert r.status_code == 404, r.text
    assert "in this conversation" in r.text
    r = bob.client.post(
        f"/c/{site.other}/cards/{site.card}",
        data={"verdict": "approve"},
        headers={"X-CSRF-Token": bob.csrf, "HX-Request": "true"},
    )
    assert r.status_code == 404 and 'class="flash bad"' in r.text  # htmx gets a fragment
    r = bob.decide(site.card, conversation=site.other)
    assert r.status_code == 404, r.text
    assert r.json()["error"] == f"no card '{site.card}' in this conversation"
    r = site.alice.client.post(
        f"/c/{site.other}/cards/{site.card}",
        data={"verdict": "withdraw", "csrf_token": site.alice.csrf},
        follow_redirects=False,
    )
    assert r.status_code == 404, r.text


def test_a_body_over_the_limit_is_413_before_anything_reads_it(site: Site, unchanged: None) -> None:
    alice = site.alice
    megabyte = "x" * (1024 * 1024)
    r = alice.say("inc-a", megabyte)
    assert r.status_code == 413, r.text[:300]
    assert r.json()["error"] == "the request body is larger than 64 KB"
    r = alice.client.post("/c/inc-a/messages", data={"text": megabyte, "csrf_token": alice.csrf})
    assert r.status_code == 413
    # streamed without a length: counted as it comes in, the same answer
    for path, kind, start in [
        ("/api/conversations/inc-a/messages", "application/json", b'{"text": "'),
        ("/c/inc-a/messages", "application/x-www-form-urlencoded", b"text="),
    ]:

        def chunks(first: bytes = start) -> Iterator[bytes]:
            yield first
            for _ in range(64):
                yield b"x" * 16384

        r = alice.client.post(
            path, content=chunks(), headers={"X-CSRF-Token": alice.csrf, "Content-Type": kind}
        )
        assert r.status_code == 413, (path, r.status_code, r.text[:300])
        assert "larger than 64 KB" in r.text


@pytest.mark.parametrize(
    ("text", "api_says", "page_says"),
    [
        ("", "text: String should have at least 1 character", "the message is empty"),
        ("   \n\t ", "the message is empty", "the message is empty"),
        ("y" * 4001, "at most 4000 characters", "at most 4000 characters"),
    ],
    ids=["empty", "blank", "4001 characters"],
)
def test_an_empty_or_too_long_message_is_422_and_says_why(
    site: Site, unchanged: None, text: str, api_says: str, page_says: str
) -> None:
    alice = site.alice
    r = alice.say("inc-b", text)
    assert r.status_code == 422, r.text
    assert api_says in r.json()["error"], r.json()
    r = alice.client.post(
        "/c/inc-b/messages",
        data={"text": text},
        headers={"X-CSRF-Token": alice.csrf, "HX-Request": "true"},
    )
    assert r.status_code == 422
    assert 'class="flash bad"' in r.text and page_says in r.text, r.text


@pytest.mark.parametrize(
    "conversation",
    [AWS_KEY_ID, f"inc-{AWS_KEY_ID}", f"inc_{AWS_KEY_ID}", f"ops-{GITHUB_TOKEN}"],
    ids=["alone", "after a dash", "after an underscore", "github token after a dash"],
)
def test_a_conversation_id_holding_a_secret_is_refused(
    site: Site, unchanged: None, conversation: str
) -> None:
    """An id names a checkpoint thread and cannot be rewritten: it is refused, and the
    key is nowhere in the data dir afterwards."""
    alice = site.alice
    r = alice.say(conversation, "checkout is returning 500s")
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "the conversation id looks like it holds a secret"
    assert AWS_KEY_ID not in r.text and GITHUB_TOKEN not in r.text
    r = alice.client.post(
        f"/c/{conversation}/messages",
        data={"text": "hello"},
        headers={"X-CSRF-Token": alice.csrf, "HX-Request": "true"},
    )
    assert r.status_code == 422, r.text
    assert not leaks_in_files(site.web.settings.data_dir)


def test_a_valid_request_still_goes_through(site: Site) -> None:
    """The control of the refusals above (runs last in this module: it records things)."""
    r = site.alice.say("inc-2026-11-27-checkout", "y" * 4000)
    assert r.status_code == 200, r.text
    assert site.alice.view("inc-2026-11-27-checkout")["messages"][0]["text"] == "y" * 4000


def test_markup_in_a_message_is_shown_as_text(tmp_path: Any) -> None:
    with serve(web_settings(tmp_path / "data")) as web:
        alice = web.person("alice")
        attack = "<script>alert(1)</script> <img src=x onerror=alert(2)> \" onmouseover='x'"
        assert alice.say("inc-x", attack).status_code == 200
        for page in ("/c/inc-x", "/"):
            html = alice.client.get(page).text
            assert "<script>alert(1)" not in html and "<img src=x" not in html, page
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, page
        # the sign-in page echoes the name typed, escaped, and never a link's own reason
        stranger = Person("<b>x</b>", web.client("127.0.0.90"))
        html = stranger.client.get("/sign-in", params={"reason": "<script>alert(3)</script>"}).text
        assert "alert(3)" not in html
        html = stranger.sign_in_form("a wrong password").text
        assert "<b>x</b>" not in html and 'value="&lt;b&gt;x&lt;/b&gt;"' in html


def test_every_page_has_the_content_security_policy(tmp_path: Any) -> None:
    with serve(web_settings(tmp_path / "data")) as web:
        alice = web.person("alice")
        card = proposed_card(web, alice, "inc-csp")
        runbook = alice.card(card)["provenance"]["runbook"]
        pages = [
            "/",
            "/c/inc-csp",
            "/proposals",
            "/audit",
            f"/runbooks/chunk?id={runbook}",
            "/c/inc-csp/cards/nope",  # an error page
            "/runbooks/chunk?id=nope",
        ]
        answers = [alice.client.get(p) for p in pages[:-2]]
        answers.append(alice.client.post(pages[-2], data={"verdict": "approve"}))  # 403 page
        answers.append(alice.client.get(pages[-1]))  # 404 page
        answers.append(web.client("127.0.0.91").get("/sign-in"))
        for r in answers:
            policy = r.headers.get("content-security-policy", "")
            assert "script-src 'self'" in policy and "unsafe-inline" not in policy, r.url
            assert "frame-ancestors 'none'" in policy, r.url
            assert r.headers["x-frame-options"] == "DENY"
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["cache-control"] == "no-store"
        # no inline script anywhere (the CSP would block it: the page must not need one)
        for r in answers:
            assert "<script>" not in r.text and "onclick=" not in r.text, r.url
