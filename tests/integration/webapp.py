"""Driving the web surface in tests: ``create_app(settings)`` served through Starlette's
``TestClient`` (the real app, store, service and sandbox; no browser, no socket), and one
client per person, each with its own cookie jar and client address (sign-in attempts are
also counted per address).

What happened is read back the way a person or an auditor would read it: the conversation
view and the cards of the JSON API, the audit export, the sandbox's own status.
"""

from __future__ import annotations

import atexit
import json
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from copilot.auth.passwords import hash_password
from copilot.redact.ruleset import redactor_for
from copilot.service import CopilotService, open_runbook_index
from copilot.settings import Settings, UserConfig
from copilot.settings_web import WebSettings
from copilot.surfaces.web import create_app

PASSWORD = "correct horse battery staple"
ASK = "checkout is returning 500s"
# The demo's people, each with a password: one per role the two-person story needs.
PEOPLE = {"alice": "responder", "bob": "sre", "carol": "oncall-lead", "dana": "viewer"}
CSRF_IN_PAGE = re.compile(r'name="csrf_token" value="([^"]+)"')


@cache
def password_hash(password: str = PASSWORD, *, cheap: bool = True) -> str:
    """An argon2id hash of ``password``. argon2 is slow on purpose, and a hash carries its
    own cost parameters: the cheapest ones keep the many sign-ins of these tests fast (a
    test that wants the real thing asks for ``cheap=False``: ``copilot users add``'s)."""
    if not cheap:
        return hash_password(password)
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(password)


_RUNBOOKS: list[Any] = []
_RUNBOOKS_LOCK = threading.Lock()


def shared_runbooks(_settings: Settings, _redactor: Any) -> Any:
    """One runbook index (the bundled runbooks, embedded once) for every app this process
    starts: indexing them is most of an app's start."""
    with _RUNBOOKS_LOCK:
        if not _RUNBOOKS:
            folder = Path(tempfile.mkdtemp(prefix="copilot-web-runbooks-"))
            atexit.register(shutil.rmtree, folder, True)
            own = Settings(data_dir=folder)
            _RUNBOOKS.append(open_runbook_index(own, redactor_for(own)))
        return _RUNBOOKS[0]


def users(**overrides: UserConfig | None) -> dict[str, UserConfig]:
    """The people above with ``PASSWORD``; an override replaces one (None: removes them)."""
    found: dict[str, UserConfig | None] = {
        name: UserConfig(roles=[role], password_hash=password_hash())
        for name, role in PEOPLE.items()
    }
    found.update(overrides)
    return {name: user for name, user in found.items() if user is not None}


def web_settings(
    data_dir: Path,
    *,
    people: dict[str, UserConfig] | None = None,
    database_url: str | None = None,
    **web: Any,
) -> Settings:
    """Settings built explicitly (the test env names the demo's users, without passwords)."""
    extra: dict[str, Any] = {"database_url": database_url} if database_url else {}
    return Settings(
        data_dir=data_dir,
        users=people if people is not None else users(),
        web=WebSettings(**web),
        **extra,
    )


@dataclass
class Person:
    """One person's browser (or script): a client with its own cookies and address."""

    name: str
    client: TestClient
    csrf: str = ""

    # -- signing in -------------------------------------------------------------------------
    def sign_in(self, password: str = PASSWORD) -> httpx.Response:
        """Sign in through the API, as a script does; keeps the CSRF token it returns."""
        r = self.client.post("/api/session", json={"username": self.name, "password": password})
        if r.status_code == 200:
            self.csrf = r.json()["csrf_token"]
        return r

    def sign_in_form(
        self, password: str = PASSWORD, next: str = "/", username: str | None = None
    ) -> httpx.Response:
        """Sign in through the page's form (the token from the form itself); no redirect
        followed, so the answer's Location can be read."""
        token = self.form_token("/sign-in")
        r = self.client.post(
            "/sign-in",
            data={
                "username": self.name if username is None else username,
                "password": password,
                "next": next,
                "csrf_token": token,
            },
            follow_redirects=False,
        )
        if r.status_code == 303:
            self.csrf = self.form_token("/")
        return r

    def form_token(self, page: str) -> str:
        found = CSRF_IN_PAGE.search(self.client.get(page).text)
        assert found, f"no CSRF field in {page}"
        return found.group(1)

    def signed_in(self) -> bool:
        return self.client.get("/api/session").status_code == 200

    # -- the JSON API -----------------------------------------------------------------------
    def post(self, path: str, body: Any, **headers: str) -> httpx.Response:
        sent = {"X-CSRF-Token": self.csrf} | headers
        return self.client.post(path, json=body, headers=sent)

    def say(self, conversation: str, text: str) -> httpx.Response:
        return self.post(f"/api/conversations/{conversation}/messages", {"text": text})

    def decide(self, approval_id: str, verdict: str = "approve", **more: Any) -> httpx.Response:
        body = {"verdict": verdict} | more
        return self.post(f"/api/approvals/{approval_id}/decision", body)

    def view(self, conversation: str) -> dict[str, Any]:
        r = self.client.get(f"/api/conversations/{conversation}")
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()
        return found

    def card(self, approval_id: str) -> dict[str, Any]:
        r = self.client.get(f"/api/approvals/{approval_id}")
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()
        return found

    def audit(self) -> list[dict[str, Any]]:
        """The whole audit log, as ``/api/audit/export`` gives it."""
        r = self.client.get("/api/audit/export")
        assert r.status_code == 200, r.text
        return [json.loads(line) for line in r.text.splitlines() if line.strip()]


@dataclass
class Web:
    """A running app and the people using it."""

    app: FastAPI
    settings: Settings
    lifespan: TestClient
    people: dict[str, Person] = field(default_factory=dict)

    @property
    def service(self) -> Any:
        """The app's service (the sandbox is set up through it, as the demo does)."""
        return self.app.state.web.service

    def client(self, address: str, **kw: Any) -> TestClient:
        """A browser at ``address``. Not entered (only ``lifespan`` starts and stops the
        app), and its requests run on the app's one event loop, as under uvicorn: a handler
        that blocked the loop would hold up every person's requests, as it would there."""
        client = TestClient(self.app, client=(address, 50000), **kw)
        client.portal = self.lifespan.portal
        return client

    def person(self, name: str, *, sign_in: bool = True) -> Person:
        """``name``'s own browser, signed in through the API unless told otherwise."""
        address = f"127.0.0.{10 + len(self.people)}"
        person = Person(name, self.client(address))
        self.people[name] = person
        if sign_in:
            r = person.sign_in()
            assert r.status_code == 200, r.text
        return person

    def error_rate(self, service: str = "checkout") -> float:
        for found in self.service.sandbox_status()["services"]:
            if found["service"] == service:
                return float(found["error_rate"])
        raise AssertionError(f"no service {service} in the sandbox")


@contextmanager
def serve(settings: Settings, *, own_service: bool = False, **service: Any) -> Iterator[Web]:
    """``create_app(settings)`` started and stopped. Its service is opened here, with the
    shared runbook index and ``service``'s other parts (a gateway, a clock), or with
    ``own_service`` by the app's lifespan exactly as ``copilot serve`` does."""
    opened = None
    if not own_service:
        service.setdefault("runbooks", shared_runbooks)
        opened = CopilotService.open(settings, **service)
    try:
        app = create_app(settings, opened)
        with TestClient(app, client=("127.0.0.2", 50000)) as lifespan:
            yield Web(app, settings, lifespan)
    finally:
        if opened is not None:
            opened.close()


def proposed_card(web: Web, person: Person, conversation: str) -> str:
    """``person`` reports the bad deploy in ``conversation``: the rollback card's id."""
    web.service.inject_fault("bad_deploy", "checkout")
    r = person.say(conversation, ASK)
    assert r.status_code == 200, r.text
    cards = [c for c in r.json()["cards"] if c["tool"] == "sandbox.rollback_deployment"]
    assert len(cards) == 1 and cards[0]["state"] == "proposed", r.json()["text"]
    approval_id: str = cards[0]["approval_id"]
    return approval_id


def events_of(audit: list[dict[str, Any]], approval_id: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in audit if e["subject"] == approval_id and e["kind"] == kind]


@contextmanager
def isolated(folder: Path) -> Iterator[None]:
    """What ``tests/conftest.py`` does for each test, for a fixture shared by a module: no
    stray ``COPILOT_*`` settings from the shell, and ``folder`` as the working directory
    (no ``copilot.toml`` or ``.env`` is read from elsewhere)."""
    import os

    import pytest

    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("COPILOT_") and key not in INFRA_ENV:
                mp.delenv(key)
        mp.chdir(folder)
        yield


INFRA_ENV = {"COPILOT_TEST_POSTGRES_URL", "COPILOT_CORPORA_DIR"}
