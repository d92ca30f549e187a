"""Signing in and out: the form and the API, the same answer for a wrong name and a wrong
password, the cookie's attributes, the rate limit, sessions that end (expiry, a user
removed from config or whose password changed, sign-out), and no open redirect."""

from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from webapp import (
    CSRF_IN_PAGE,
    PASSWORD,
    Person,
    UserConfig,
    password_hash,
    serve,
    users,
    web_settings,
)

from copilot.surfaces.web import auth
from copilot.surfaces.web.app import SESSION_COOKIE
from copilot.surfaces.web.signin import BAD_CREDENTIALS


def test_the_sign_in_form_carries_a_token_and_signs_in(tmp_path: Path) -> None:
    # the hash exactly as `copilot users add` writes it, and the app opening its own service
    people = users(bob=UserConfig(roles=["sre"], password_hash=password_hash(cheap=False)))
    with serve(web_settings(tmp_path / "data", people=people), own_service=True) as web:
        bob = web.person("bob", sign_in=False)
        r = bob.client.get("/", follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/sign-in?")
        page = bob.client.get(r.headers["location"])
        assert page.status_code == 200
        assert CSRF_IN_PAGE.search(page.text), "the sign-in form carries a CSRF token"
        # without the form's token the form is refused, and no session starts
        r = bob.client.post(
            "/sign-in", data={"username": "bob", "password": PASSWORD}, follow_redirects=False
        )
        assert r.status_code == 403
        assert not bob.signed_in()

        r = bob.sign_in_form(next="/proposals")
        assert (r.status_code, r.headers["location"]) == (303, "/proposals")
        home = bob.client.get("/")
        assert home.status_code == 200
        assert 'data-user="bob"' in home.text
        me = bob.client.get("/api/session").json()
        assert me["user"] == "bob" and set(me["roles"]) == {"sre", "responder", "viewer"}
        # a fresh token once signed in: the one from the sign-in form is no longer valid
        assert me["csrf_token"] == bob.csrf != ""
        r = bob.client.post(
            "/api/conversations/c1/messages",
            json={"text": "hello"},
            headers={"X-CSRF-Token": CSRF_IN_PAGE.search(page.text).group(1)},  # type: ignore[union-attr]
        )
        assert r.status_code == 403


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(tmp_path: Path) -> None:
    with serve(web_settings(tmp_path / "data")) as web:
        api_answers = []
        form_answers = []
        for name, password in [("bob", "not the password"), ("mallory", PASSWORD)]:
            person = web.person(name, sign_in=False)
            r = person.sign_in(password)
            api_answers.append((r.status_code, r.json()))
            r = person.sign_in_form(password)
            form_answers.append(r.status_code)
            assert BAD_CREDENTIALS in r.text
            assert not person.signed_in()
        assert api_answers[0] == api_answers[1] == (401, {"error": BAD_CREDENTIALS, "hint": ""})
        assert form_answers == [401, 401]


def test_a_cookie_copied_before_sign_out_signs_nobody_in_after_it(tmp_path: Path) -> None:
    with serve(web_settings(tmp_path / "data")) as web:
        bob = web.person("bob")
        copied = dict(bob.client.cookies)
        assert (
            bob.client.delete("/api/session", headers={"X-CSRF-Token": bob.csrf}).status_code == 204
        )
        assert not bob.signed_in()
        assert web.client("127.0.0.66", cookies=copied).get("/api/session").status_code == 401


@pytest.mark.parametrize(
    ("web_options", "secure"),
    [
        ({}, False),
        ({"public_url": "https://copilot.example.com"}, True),
        ({"secure_cookies": "always"}, True),
        ({"public_url": "https://copilot.example.com", "secure_cookies": "never"}, False),
    ],
)
def test_the_session_cookie_is_httponly_lax_and_secure_over_https(
    tmp_path: Path, web_options: dict[str, str], secure: bool
) -> None:
    with serve(web_settings(tmp_path / "data", **web_options)) as web:
        # over https, as such a server is reached (a browser keeps a Secure cookie from http)
        alice = Person("alice", web.client("127.0.0.20", base_url="https://testserver"))
        for r in (alice.sign_in(), alice.sign_in_form()):
            cookies = [c for c in r.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)]
            assert len(cookies) == 1, r.headers
            attributes = {a.strip().split("=")[0].lower() for a in cookies[0].split(";")[1:]}
            assert "httponly" in attributes
            assert "samesite=lax" in cookies[0].lower()
            assert ("secure" in attributes) is secure, cookies[0]


def test_the_sixth_attempt_in_a_minute_is_refused_even_with_the_right_password(
    tmp_path: Path,
) -> None:
    with serve(web_settings(tmp_path / "data")) as web:
        guesser = web.person("bob", sign_in=False)
        for _ in range(5):
            assert guesser.sign_in("a wrong guess").status_code == 401
        # the limit is per user name: the right password from another address is refused
        bob = web.person("bob", sign_in=False)
        r = bob.sign_in()
        assert r.status_code == 429, r.text
        wait = int(r.headers["retry-after"])
        assert 0 < wait <= 61
        assert "too many sign-in attempts" in r.json()["error"]
        r = bob.sign_in_form()
        assert r.status_code == 429
        assert 0 < int(r.headers["retry-after"]) <= 61
        assert not bob.signed_in()
        # and per address: the guesser's address may not try another name either
        r = guesser.client.post("/api/session", json={"username": "alice", "password": PASSWORD})
        assert r.status_code == 429
        # someone else, from elsewhere, is not held up by it
        assert web.person("carol").signed_in()


def test_an_expired_session_sends_pages_to_sign_in_and_the_api_gets_401(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve(web_settings(tmp_path / "data", session_ttl_s=60)) as web:
        alice = web.person("alice")
        assert alice.client.get("/").status_code == 200
        later = time.time() + 61
        # only the session check's clock moves (the cookie's own signature is still fresh)
        monkeypatch.setattr(auth, "now", lambda: later)
        r = alice.client.get("/", follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/sign-in?reason=expired&")
        assert "your session expired" in alice.client.get(r.headers["location"]).text
        r = alice.client.get("/api/conversations")
        assert r.status_code == 401
        assert r.json()["error"] == "sign in first"  # the page's visit already signed out
        monkeypatch.undo()
        assert not alice.signed_in()  # ended, not only hidden while the clock was ahead

        bob = web.person("bob")
        monkeypatch.setattr(auth, "now", lambda: later)
        r = bob.client.get("/api/conversations")
        assert r.status_code == 401
        assert r.json()["error"] == "your session expired; sign in again"
        r = bob.client.get("/c/anything", headers={"HX-Request": "true"})
        assert r.status_code == 401 and r.headers["hx-redirect"].startswith("/sign-in?")


def test_a_user_removed_from_config_or_whose_password_changed_is_signed_out(
    tmp_path: Path,
) -> None:
    """Sessions outlive a restart (the key is kept in the data dir), but roles and
    passwords come from config: after a restart with bob removed and carol's password
    changed, their cookies sign nobody in; alice's still does."""
    data = tmp_path / "data"
    cookies = {}
    with serve(web_settings(data)) as web:
        for name in ("alice", "bob", "carol"):
            cookies[name] = dict(web.person(name).client.cookies)
    new_hash = UserConfig(roles=["oncall-lead"], password_hash=password_hash("a new password!"))
    changed = web_settings(data, people=users(bob=None, carol=new_hash))
    with serve(changed) as web:
        answers = {}
        for name, jar in cookies.items():
            client = web.client("127.0.0.50", cookies=jar)
            r = client.get("/api/session")
            answers[name] = (r.status_code, r.json().get("error") or r.json().get("user"))
            # and that ended the session: the cookie it holds now signs nobody in
            again = client.get("/api/session")
            assert again.status_code == (200 if name == "alice" else 401), name
        assert answers == {
            "alice": (200, "alice"),
            "bob": (401, "that user is no longer configured"),
            "carol": (401, "your password changed; sign in again"),
        }
        # the pages say the same, to a browser that still holds the old cookie
        for name, reason in [("bob", "reason=removed&"), ("carol", "reason=password&")]:
            client = web.client("127.0.0.51", cookies=cookies[name])
            r = client.get("/", follow_redirects=False)
            assert r.status_code == 303 and reason in r.headers["location"], r.headers


def test_sign_out_by_form_and_by_api(tmp_path: Path) -> None:
    with serve(web_settings(tmp_path / "data")) as web:
        alice = web.person("alice")
        token = alice.form_token("/")
        r = alice.client.post("/sign-out", data={"csrf_token": token}, follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, "/sign-in?reason=signed-out")
        assert not alice.signed_in()
        assert alice.client.get("/", follow_redirects=False).status_code == 303

        bob = web.person("bob")
        r = bob.client.delete("/api/session", headers={"X-CSRF-Token": bob.csrf})
        assert r.status_code == 204
        assert not bob.signed_in()
        # the old token went with the session
        assert bob.say("c1", "hello").status_code in (401, 403)
        assert bob.client.get("/api/conversations/c1").status_code == 401


# Where people are sent after signing in, as a browser would read each (tabs and newlines
# are dropped from URLs, and a backslash is a slash).
OFF_SITE = {
    "https://evil.example": "/",
    "//evil.example": "/",
    "/\\evil.example": "/",
    "\\\\evil.example": "/",
    "https:/evil.example": "/",
    "javascript:alert(1)": "/",
    # a browser drops tabs and line breaks from a URL: refused, not relied on being encoded
    "/\t/evil.example": "/",
    "/\n/evil.example": "/",
}


def _as_browser_reads(url: str) -> str:
    target = url.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    return urljoin("http://testserver/sign-in", target)


def test_next_never_leaves_the_site(tmp_path: Path) -> None:
    with serve(web_settings(tmp_path / "data", sign_in_rate="100/minute")) as web:
        for target in OFF_SITE:
            alice = web.person("alice", sign_in=False)
            page = alice.client.get("/sign-in", params={"next": target})
            kept = re.search(r'name="next" value="([^"]*)"', page.text)
            assert kept, page.text
            assert html.unescape(kept.group(1)) in ("/", target), target
            assert not kept.group(1).startswith("//") and "evil" not in kept.group(1)[:2]
            r = alice.sign_in_form(next=target)
            assert r.status_code == 303
            went = urlsplit(_as_browser_reads(r.headers["location"]))
            assert (went.scheme, went.netloc) == ("http", "testserver"), (target, r.headers)
            assert r.headers["location"] == OFF_SITE[target]
            assert alice.signed_in()


def test_sessions_are_on_the_record_and_an_operator_can_end_them_all(tmp_path: Path) -> None:
    with serve(web_settings(tmp_path / "data")) as web:
        laptop, phone = web.person("bob"), web.person("bob")
        assert laptop.signed_in() and phone.signed_in()
        assert web.service.end_sessions("bob") == 2
        assert not laptop.signed_in() and not phone.signed_in()
        again = web.person("bob")
        assert (
            again.client.delete("/api/session", headers={"X-CSRF-Token": again.csrf}).status_code
            == 204
        )
        kinds = [
            (e["kind"], e.get("actor")) for e in map(json.loads, web.service.export_audit("jsonl"))
        ]
    assert kinds.count(("session.opened", "bob")) == 3
    assert ("session.ended_all", "operator") in kinds
    assert kinds.count(("session.closed", "bob")) == 1
