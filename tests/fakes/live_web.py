"""A real copilot server on loopback for browser tests, and one person's browser.

The server is ``create_app(settings)`` under uvicorn in a thread (the same app ``copilot
serve`` runs), on a free port, with its own data dir and users with real argon2 hashes.
The browser is the system's ``chromium`` (Playwright's own download cannot work offline);
without it these tests skip on a laptop and fail under CI, where ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PASSWORD = "correct horse battery staple"
PEOPLE = {
    "alice": "responder",
    "bob": "sre",
    "carol": "oncall-lead",
    "dana": "viewer",
}
ARTIFACTS = (
    Path(os.environ.get("COPILOT_ARTIFACTS_DIR", Path(__file__).parents[2] / ".artifacts"))
    / "browser"
)


@dataclass
class LiveServer:
    url: str
    service: Any
    settings: Any
    running: Any

    def stop(self) -> None:
        self.running.stop()


def start_server(data_dir: Path, **web: Any) -> LiveServer:
    from copilot.auth.passwords import hash_password
    from copilot.service import CopilotService
    from copilot.settings import SandboxSettings, Settings, UserConfig
    from copilot.settings_web import WebSettings
    from copilot.surfaces.web import create_app
    from copilot.surfaces.web.threaded import serve_in_thread

    digest = hash_password(PASSWORD)
    users = {n: UserConfig(roles=[r], password_hash=digest) for n, r in PEOPLE.items()}
    settings = Settings(
        data_dir=data_dir,
        users=users,
        # long enough that both pages see the card run; verify waits for it to settle
        sandbox=SandboxSettings(action_delay_s=1.5),
        web=WebSettings(live_poll_s=0.5, **web),
    )
    service = CopilotService.open(settings)
    service.reset_sandbox()
    running = serve_in_thread(create_app(settings, service))
    return LiveServer(running.url, service, settings, running)


class Person:
    """One person's browser context (its own cookies: a second browser)."""

    def __init__(self, browser: Any, live: LiveServer, name: str) -> None:
        self.name = name
        self.live = live
        self.context = browser.new_context(viewport={"width": 1100, "height": 900})
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.page.on("dialog", self._dialog)
        # generous: a loaded two-core CI machine runs three workers, servers and browsers at once
        self.page.set_default_timeout(60_000)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def sign_in(self) -> Person:
        page = self.page
        page.goto(self.live.url + "/")
        page.fill("#username", self.name)
        page.fill("#password", PASSWORD)
        page.click("form.stack button[type=submit]")
        page.wait_for_url(self.live.url + "/")
        return self

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


def bad_deploy_card(live: LiveServer, person: Person) -> tuple[str, str]:
    """A bad deploy of checkout, and ``person`` asking about it on the start page: the
    approval id of the card the copilot proposes, and the conversation's id."""
    live.service.inject_fault("bad_deploy", "checkout")
    person.page.fill("#first", "checkout is returning 500s")
    person.page.click("text=Start a conversation")
    card = person.page.locator("article.card")
    card.wait_for()
    return str(card.get_attribute("id")).removeprefix("card-"), person.page.url.rsplit("/", 1)[1]
