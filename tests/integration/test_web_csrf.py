"""CSRF: every state-changing route refuses a request without this session's token, with
another session's token, or from another site, before anything is recorded: no message,
no vote, no audit event, no new conversation, no sign-out. The same requests with the
token go through, so the refusals above are the token's doing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from webapp import PASSWORD, Person, Web, isolated, proposed_card, serve, web_settings

REFUSED = ("CSRF token", "another site")


@dataclass
class Site:
    web: Web
    alice: Person  # proposed the card in conversation t1
    bob: Person  # may approve it
    card: str
    foreign_token: str  # a valid token, of another session (carol's)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One app for the module: every case must leave it exactly as it was."""
    folder = tmp_path_factory.mktemp("csrf")
    with isolated(folder), serve(web_settings(folder / "data")) as web:
        alice, bob, carol = web.person("alice"), web.person("bob"), web.person("carol")
        card = proposed_card(web, alice, "t1")
        yield Site(web, alice, bob, card, foreign_token=carol.csrf)


# How a request carries (or fails to carry) the token.
Mode = Callable[[Person, Site], tuple[dict[str, str], dict[str, str]]]  # (form, headers)


def _missing(_: Person, __: Site) -> tuple[dict[str, str], dict[str, str]]:
    return {}, {}


def _wrong(_: Person, site: Site) -> tuple[dict[str, str], dict[str, str]]:
    return {"csrf_token": site.foreign_token}, {"X-CSRF-Token": site.foreign_token}


def _foreign_origin(person: Person, _: Site) -> tuple[dict[str, str], dict[str, str]]:
    return {"csrf_token": person.csrf}, {
        "X-CSRF-Token": person.csrf,
        "Origin": "https://evil.example",
    }


def _null_origin(person: Person, _: Site) -> tuple[dict[str, str], dict[str, str]]:
    # what a sandboxed frame or a redirect chain sends
    return {"csrf_token": person.csrf}, {"X-CSRF-Token": person.csrf, "Origin": "null"}


MODES: dict[str, Mode] = {
    "missing": _missing,
    "wrong": _wrong,
    "foreign origin": _foreign_origin,
    "null origin": _null_origin,
}


def _page_message(site: Site, form: dict[str, str], headers: dict[str, str]) -> httpx.Response:
    return site.alice.client.post(
        "/c/t1/messages", data={"text": "said on the page"} | form, headers=headers
    )


def _api_message(site: Site, _: dict[str, str], headers: dict[str, str]) -> httpx.Response:
    return site.alice.client.post(
        "/api/conversations/t1/messages", json={"text": "said by a script"}, headers=headers
    )


def _page_decision(site: Site, form: dict[str, str], headers: dict[str, str]) -> httpx.Response:
    return site.bob.client.post(
        f"/c/t1/cards/{site.card}", data={"verdict": "approve"} | form, headers=headers
    )


def _api_decision(site: Site, _: dict[str, str], headers: dict[str, str]) -> httpx.Response:
    return site.bob.client.post(
        f"/api/approvals/{site.card}/decision", json={"verdict": "approve"}, headers=headers
    )


def _new_conversation(site: Site, form: dict[str, str], headers: dict[str, str]) -> httpx.Response:
    return site.alice.client.post(
        "/conversations", data={"text": "a brand new incident"} | form, headers=headers
    )


def _sign_out_form(site: Site, form: dict[str, str], headers: dict[str, str]) -> httpx.Response:
    return site.alice.client.post("/sign-out", data=form, headers=headers)


def _sign_out_api(site: Site, _: dict[str, str], headers: dict[str, str]) -> httpx.Response:
    return site.alice.client.delete("/api/session", headers=headers)


ROUTES: dict[str, tuple[str, Callable[[Site, dict[str, str], dict[str, str]], httpx.Response]]] = {
    "POST /c/{id}/messages": ("alice", _page_message),
    "POST /api/conversations/{id}/messages": ("alice", _api_message),
    "POST /c/{id}/cards/{card}": ("bob", _page_decision),
    "POST /api/approvals/{card}/decision": ("bob", _api_decision),
    "POST /conversations": ("alice", _new_conversation),
    "POST /sign-out": ("alice", _sign_out_form),
    "DELETE /api/session": ("alice", _sign_out_api),
}


def _recorded(site: Site) -> dict[str, Any]:
    """Everything a refused request could have changed, as the API shows it."""
    reader = site.alice
    return {
        "audit": reader.audit(),
        "t1": reader.view("t1"),
        "conversations": reader.client.get("/api/conversations").json(),
        "card": reader.card(site.card),
        "signed in": (site.alice.signed_in(), site.bob.signed_in()),
    }


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("route", list(ROUTES))
def test_a_state_changing_request_without_the_token_records_nothing(
    site: Site, route: str, mode: str
) -> None:
    who, send = ROUTES[route]
    person = site.alice if who == "alice" else site.bob
    form, headers = MODES[mode](person, site)
    before = _recorded(site)
    assert before["card"]["state"] == "proposed" and before["signed in"] == (True, True)

    r = send(site, form, headers)

    assert r.status_code == 403, (route, mode, r.status_code, r.text[:300])
    assert any(reason in r.text for reason in REFUSED), r.text[:300]
    after = _recorded(site)
    assert after["audit"] == before["audit"], "a refused request left an audit event"
    assert after == before


def test_the_sign_in_form_needs_its_token_too(site: Site) -> None:
    """Else another site could sign a person's browser in as someone else (login CSRF)."""
    stranger = Person("bob", site.web.client("127.0.0.77"))
    token = stranger.form_token("/sign-in")
    for form, headers in [
        ({}, {}),
        ({"csrf_token": site.foreign_token}, {}),
        ({"csrf_token": token}, {"Origin": "https://evil.example"}),
    ]:
        r = stranger.client.post(
            "/sign-in",
            data={"username": "bob", "password": PASSWORD, "next": "/"} | form,
            headers=headers,
            follow_redirects=False,
        )
        assert r.status_code == 403, r.text[:300]
        assert not stranger.signed_in()


def test_the_sign_in_api_cannot_be_posted_from_another_site(site: Site) -> None:
    """Another site's page can post without a preflight only with no content type (as
    ``fetch`` sends a Blob) or a form's types: none of them is read as JSON, so it cannot
    sign a browser in as someone else (login CSRF)."""
    body = f'{{"username": "bob", "password": "{PASSWORD}"}}'.encode()
    evil = {"Origin": "https://evil.example"}
    for kind in (None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        stranger = Person("bob", site.web.client("127.0.0.78"))
        headers = evil | ({"Content-Type": kind} if kind else {})
        r = stranger.client.post("/api/session", content=body, headers=headers)
        assert r.status_code in (403, 422), (kind, r.text)
        assert not stranger.signed_in()
    # a script (no Origin, JSON) signs in
    assert Person("bob", site.web.client("127.0.0.79")).sign_in().status_code == 200


def test_with_the_token_the_same_requests_go_through(tmp_path: Path) -> None:
    """The control: the right token, this site's origin (an app of its own: it changes
    what the cases above must find unchanged)."""
    with serve(web_settings(tmp_path / "data")) as web:
        alice, bob = web.person("alice"), web.person("bob")
        _goes_through(alice, bob, proposed_card(web, alice, "t1"))


def _goes_through(alice: Person, bob: Person, approval_id: str) -> None:
    own = {"Origin": "http://testserver"}
    page = alice.form_token("/c/t1")
    r = alice.client.post(
        "/c/t1/messages",
        data={"text": "said on the page", "csrf_token": page},
        headers=own,
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (303, "/c/t1")
    r = alice.client.post(
        "/api/conversations/t1/messages",
        json={"text": "said by a script"},
        headers={"X-CSRF-Token": alice.csrf},
    )
    assert r.status_code == 200, r.text
    said = [m["text"] for m in alice.view("t1")["messages"] if m["role"] == "user"]
    assert said[-2:] == ["said on the page", "said by a script"]

    r = bob.client.post(
        f"/c/t1/cards/{approval_id}",
        data={"verdict": "approve", "csrf_token": bob.form_token("/c/t1")},
        headers=own,
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    card = alice.card(approval_id)
    assert card["state"] == "succeeded" and [v["approver"] for v in card["votes"]] == ["bob"]

    r = alice.client.post(
        "/conversations",
        data={"text": "a brand new incident", "csrf_token": page},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/c/web-")
    started = r.headers["location"].removeprefix("/c/")
    assert alice.view(started)["messages"][0]["text"] == "a brand new incident"

    r = alice.client.post("/sign-out", data={"csrf_token": page}, follow_redirects=False)
    assert r.status_code == 303 and not alice.signed_in()
    r = bob.client.delete("/api/session", headers={"X-CSRF-Token": bob.csrf})
    assert r.status_code == 204 and not bob.signed_in()
