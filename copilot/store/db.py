"""Engine set-up for SQLite (WAL) and PostgreSQL, transactions, and migrations on open."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError

from copilot.errors import ConfigError, CopilotError
from copilot.store.files import private_umask, tighten
from copilot.store.schema import tool_state

T = TypeVar("T")


class StateConflict(CopilotError):
    """A versioned document changed under us (optimistic concurrency)."""


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given without a driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so BEGIN IMMEDIATE is ours to emit.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front: a deferred transaction that later upgrades
        # can fail with SQLITE_BUSY instead of waiting, which breaks compare-and-set.
        mode = "BEGIN" if conn.get_execution_options().get("readonly") else "BEGIN IMMEDIATE"
        conn.exec_driver_sql(mode)

    return engine


class Store:
    """One database: the engine plus the few transaction shapes the core uses."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on any error."""
        with self.engine.begin() as conn:
            yield conn

    def write_retrying(self, work: Callable[[Connection], T], attempts: int = 3) -> T:
        """``work`` in a write transaction, run again from the start (a new transaction)
        when a unique constraint refused it: another writer took the key it meant to
        insert (a new incident's group, the next timeline id or postmortem version)."""
        from tenacity import retry, retry_if_exception_type, stop_after_attempt

        @retry(
            retry=retry_if_exception_type(IntegrityError),
            stop=stop_after_attempt(attempts),
            reraise=True,
        )
        def once() -> T:
            with self.write() as conn:
                return work(conn)

        return once()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as raw:
            conn = raw.execution_options(readonly=True)
            with conn.begin():
                yield conn

    def migrate(self) -> None:
        from copilot.store.migrate import upgrade

        upgrade(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    # -- StateStore for tool packs --------------------------------------------------------
    def load(self, name: str) -> tuple[dict[str, Any], int] | None:
        with self.read() as conn:
            row = conn.execute(
                select(tool_state.c.doc, tool_state.c.version).where(tool_state.c.name == name)
            ).first()
        return None if row is None else (dict(row.doc), int(row.version))

    def save(self, name: str, doc: dict[str, Any], expected_version: int | None) -> int:
        now = datetime.now(UTC)
        with self.write() as conn:
            if expected_version is None:
                try:
                    conn.execute(
                        insert(tool_state).values(name=name, doc=doc, version=1, updated_at=now)
                    )
                except IntegrityError:
                    raise StateConflict(
                        f"state {name!r} was created concurrently", "retry the call"
                    ) from None
                return 1
            res = conn.execute(
                update(tool_state)
                .where(tool_state.c.name == name, tool_state.c.version == expected_version)
                .values(doc=doc, version=expected_version + 1, updated_at=now)
            )
            if res.rowcount != 1:
                raise StateConflict(f"state {name!r} changed concurrently", "retry the call")
            return expected_version + 1


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open (and by default migrate) the database at ``url``."""
    url = normalise_url(url)
    try:
        safe = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        raise ConfigError(
            "the database URL is not a URL",
            "set COPILOT_DATABASE_URL like postgresql://user@host/db, or unset it for SQLite",
        ) from None
    try:
        path = url.split("///", 1)[-1] if url.startswith("sqlite") else ""
        if url.startswith("sqlite"):
            if path and path != ":memory:":
                # SQLite makes the db, -wal and -shm files itself: born private (files.py)
                private_umask()
                Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            engine = _sqlite_engine(url)
        else:
            engine = create_engine(url, pool_pre_ping=True)
        store = Store(engine)
        if migrate:
            store.migrate()
        if path and path != ":memory:":
            for suffix in ("", "-wal", "-shm"):  # made by an earlier release, perhaps 0644
                tighten(Path(path + suffix))
    except (SQLAlchemyError, OSError) as exc:
        raise ConfigError(
            f"cannot open the database at {safe} ({type(exc).__name__})",
            "check COPILOT_DATABASE_URL, that the server is up and that the data dir is writable",
        ) from None
    return store
