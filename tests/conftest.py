"""Shared fixtures: network guard, isolated data dirs, SQLite/PostgreSQL store URLs."""

from __future__ import annotations

import ipaddress
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PACKS = Path(__file__).parent / "packs"
# The browser tests' fixtures (a live server, Debian's chromium, people signed in to it);
# a conftest.py of their own would shadow this module, which tests import by name.
pytest_plugins = ["fakes.browser_fixtures"]
POSTGRES_URL = os.environ.get("COPILOT_TEST_POSTGRES_URL", "")

os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")


# -- the network guard: anything but loopback fails the test ------------------------------
def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class NetworkBlocked(RuntimeError):
    pass


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


# Every refused attempt is also remembered, and the test fails at teardown: code under test
# that swallows exceptions (the executor records tool errors) must not hide a leak.
_BLOCKED: list[str] = []


def _refuse(what: str) -> NetworkBlocked:
    _BLOCKED.append(what)
    return NetworkBlocked(f"test tried to {what}: only loopback is allowed")


def _guard(sock: socket.socket, address: object) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0] if isinstance(address, tuple) else address
        if not _is_loopback(host):
            raise _refuse(f"reach {address!r}")


def _connect(self: socket.socket, address: object) -> None:
    _guard(self, address)
    _real_connect(self, address)  # type: ignore[arg-type]


def _connect_ex(self: socket.socket, address: object) -> int:
    _guard(self, address)
    return _real_connect_ex(self, address)  # type: ignore[arg-type]


def _getaddrinfo(host: object, *args: object, **kw: object) -> object:
    if host is not None and not _is_loopback(host if isinstance(host, str) else str(host)):
        raise _refuse(f"resolve {host!r}")
    return _real_getaddrinfo(host, *args, **kw)  # type: ignore[arg-type]


_real_sendto = socket.socket.sendto


def _sendto(self: socket.socket, data: bytes, *args: object) -> int:
    _guard(self, args[-1])
    return _real_sendto(self, data, *args)  # type: ignore[arg-type]


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _getaddrinfo  # type: ignore[assignment]
    socket.socket.sendto = _sendto  # type: ignore[method-assign,assignment]


@pytest.fixture(autouse=True)
def _no_network_attempts(request: pytest.FixtureRequest) -> Iterator[None]:
    _BLOCKED.clear()
    yield
    expected = request.node.get_closest_marker("network_guard_test")
    if _BLOCKED and not expected:
        pytest.fail(f"network access was attempted (and blocked): {_BLOCKED}")


# -- isolation ------------------------------------------------------------------------------
# Where the test machine keeps things, not configuration of the copilot under test.
_TEST_INFRA = {"COPILOT_TEST_POSTGRES_URL", "COPILOT_CORPORA_DIR", "COPILOT_ARTIFACTS_DIR"}


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own data dir and no stray config from the developer's shell.

    Tests act as the demo's people (dana, alice, bob, sam, carol, root), so they ask for
    them explicitly: without ``users = "demo"`` there are no users. Subprocesses inherit
    it; a test of the unconfigured case removes it. The config file is ./copilot.toml in
    the test's own folder (COPILOT_CONFIG unset: a named file must exist)."""
    for key in list(os.environ):
        if key.upper().startswith("COPILOT_") and key not in _TEST_INFRA:
            monkeypatch.delenv(key)
    monkeypatch.setenv("COPILOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COPILOT_USERS", "demo")
    monkeypatch.chdir(tmp_path)


@contextmanager
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    from sqlalchemy import create_engine, text

    from copilot.store.db import normalise_url

    base = normalise_url(POSTGRES_URL)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema for one test (skipped without COPILOT_TEST_POSTGRES_URL)."""
    if not POSTGRES_URL:
        pytest.skip("COPILOT_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped")
    with pg_schema_url() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on SQLite and, where configured, on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'copilot.db'}"
    return str(request.getfixturevalue("pg_url"))


class FakeClock:
    """A clock tests move by hand (expiry, deadlines)."""

    def __init__(self) -> None:
        from datetime import UTC, datetime

        self.now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_copilot(tmp_path: Path, clock: FakeClock):  # type: ignore[no-untyped-def]
    """Open a CopilotService on a given URL with the test pack loaded; closes them all."""
    from copilot.service import CopilotService
    from copilot.settings import Settings

    opened = []

    def build(url: str, use_clock: bool = True, **overrides):  # type: ignore[no-untyped-def]
        overrides.setdefault("tool_paths", str(PACKS))
        settings = Settings(data_dir=tmp_path / "data", database_url=url, **overrides)
        svc = (
            CopilotService.open(settings, clock=clock)
            if use_clock
            else CopilotService.open(settings)
        )
        opened.append(svc)
        return svc

    yield build
    for svc in opened:
        svc.close()


def approve(svc, approval_id: str, who, **kw):  # type: ignore[no-untyped-def]
    """Approve as ``who`` (as every surface does): the run this caused, if the quorum is
    complete and no conversation waits on the card."""
    return svc.decide(approval_id, who, "approve", **kw).execution


def runs(svc) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """What actually ran, as recorded by the test pack's tools."""
    found = svc.door.deps.store.load("runs")
    return found[0]["runs"] if found else []


def hold_lock(svc, resource: str, clock: FakeClock, holder: str = "sam") -> None:  # type: ignore[no-untyped-def]
    """Pretend another write holds ``resource`` for a long while."""
    from copilot.store.schema import resource_locks

    with svc.door.deps.store.write() as conn:
        conn.execute(
            resource_locks.insert().values(
                resource=resource,
                approval_id="apr_other",
                holder=holder,
                acquired_at=clock(),
                expires_at=clock().replace(year=2027),
            )
        )
