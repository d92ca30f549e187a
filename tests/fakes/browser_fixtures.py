"""Fixtures of the browser tests (imported by each test module: a conftest.py in
tests/browser would shadow tests/conftest.py, which other tests import by name): a real
copilot server on loopback (``fakes.live_web``) and Debian's Chromium driven by Playwright.
Without ``chromium`` they skip on a laptop and fail under CI, where ``.ci/run`` installs it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fakes.live_web import LiveServer, Person, start_server


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path / "data")
    yield server
    server.stop()
    server.service.close()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run installs Debian's chromium package")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=path,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def people(chromium: Any, live: LiveServer) -> Iterator[dict[str, Person]]:
    made: dict[str, Person] = {}

    class _People(dict[str, Person]):
        def __missing__(self, name: str) -> Person:
            person = Person(chromium, live, name).sign_in()
            made[name] = person
            self[name] = person
            return person

    yield _People()
    for person in made.values():
        person.close()
