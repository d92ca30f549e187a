"""Secrets typed where people type (a message, the first words of a new conversation, the
reason of a decision): replaced by placeholders at the service's door, so no page, no API
answer and no byte of the data dir holds them afterwards."""

from __future__ import annotations

from pathlib import Path

import httpx
from fakes.canaries import GITHUB_TOKEN, PASTE, leaks, leaks_in_files
from webapp import ASK, serve, web_settings


def test_a_token_typed_in_the_chat_is_nowhere_afterwards(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serve(web_settings(data)) as web:
        alice, bob = web.person("alice"), web.person("bob")
        web.service.inject_fault("bad_deploy", "checkout")
        answers: list[httpx.Response] = []

        # a script's message, with the token in it
        r = alice.say("inc-s", f"{ASK}; the deploy bot used {GITHUB_TOKEN} to ship it")
        assert r.status_code == 200, r.text
        answers.append(r)
        card = next(c["approval_id"] for c in r.json()["cards"])
        # a paste with every kind of canary, through the page's form
        page_token = alice.form_token("/c/inc-s")
        r = alice.client.post(
            "/c/inc-s/messages",
            data={"text": f"more from the logs:\n{PASTE}", "csrf_token": page_token},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        # a new conversation whose first words (its title) hold the token
        r = alice.client.post(
            "/conversations",
            data={"text": f"rotate {GITHUB_TOKEN} now", "csrf_token": page_token},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        started = r.headers["location"].removeprefix("/c/")
        # the reason of a decision
        r = bob.decide(card, "reject", reason=f"not with {GITHUB_TOKEN} still valid")
        assert r.status_code == 200, r.text
        answers.append(r)

        # every page and every API answer, as both people see them
        for person in (alice, bob):
            for page in ("/", "/c/inc-s", f"/c/{started}", "/proposals", "/audit"):
                answers.append(person.client.get(page))
            for path in (
                "/api/conversations",
                "/api/conversations/inc-s",
                f"/api/conversations/{started}",
                f"/api/approvals/{card}",
                "/api/proposals?reads=true",
                "/api/audit/export?format=jsonl",
                "/api/audit/export?format=ocsf",
            ):
                answers.append(person.client.get(path))
        for r in answers:
            assert r.status_code == 200, (r.url, r.status_code)
            assert not leaks(r.text), (str(r.url), leaks(r.text))

        # what was said is there, with placeholders where the secrets were
        said = [m["text"] for m in alice.view("inc-s")["messages"]]
        assert "[REDACTED:github-token:" in said[0] and ASK in said[0]
        assert any("[REDACTED:private-key:" in text for text in said)
        assert "[REDACTED:github-token:" in alice.view(started)["messages"][0]["text"]
        listed = {c["id"]: c["title"] for c in alice.client.get("/api/conversations").json()}
        assert listed[started].startswith("rotate [REDACTED:github-token:")
        event = next(m for m in alice.view("inc-s")["messages"] if m["role"] == "event")
        assert event["text"].endswith(": not with [REDACTED:github-token:1] still valid")

        assert not leaks_in_files(data)  # while open: the WAL files are there too
    assert not leaks_in_files(data)
