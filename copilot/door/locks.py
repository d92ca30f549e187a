"""Resource locks as leased rows: one write per resource at a time, across processes.

A lease outlives a crashed holder only until ``expires_at``; after that the next writer
takes it over (the crashed run itself is marked *unknown* by the reconciler).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, update

from copilot.errors import ResourceBusy
from copilot.store.schema import resource_locks


def _age(since: datetime, now: datetime) -> str:
    secs = max(0, int((now - since).total_seconds()))
    return f"{secs // 60}m{secs % 60:02d}s" if secs >= 60 else f"{secs}s"


def _insert_if_absent(conn: Connection, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING: two first claims of one resource never collide."""
    from sqlalchemy.dialects import postgresql, sqlite

    stmt: Any
    if conn.dialect.name == "postgresql":
        stmt = postgresql.insert(resource_locks).values(**values)
    else:
        stmt = sqlite.insert(resource_locks).values(**values)
    stmt = stmt.on_conflict_do_nothing(index_elements=["resource"])
    return conn.execute(stmt).rowcount == 1


def acquire(
    conn: Connection, resource: str, approval_id: str, holder: str, now: datetime, until: datetime
) -> None:
    """Take the lock inside the caller's transaction, or raise ``ResourceBusy``."""
    values = {
        "resource": resource,
        "approval_id": approval_id,
        "holder": holder,
        "acquired_at": now,
        "expires_at": until,
    }
    if _insert_if_absent(conn, values):
        return
    row = conn.execute(
        select(resource_locks).where(resource_locks.c.resource == resource).with_for_update()
    ).one()
    if row.expires_at > now and row.approval_id != approval_id:
        raise ResourceBusy(
            f"busy: {resource} is held by {row.holder} ({row.approval_id}) "
            f"for {_age(row.acquired_at, now)}",
            "wait for that change to finish, then run `copilot execute` again",
        )
    # The previous holder's lease ran out (its run is or will be marked unknown): take over.
    conn.execute(
        update(resource_locks).where(resource_locks.c.resource == resource).values(**values)
    )


def release(conn: Connection, resource: str, approval_id: str) -> None:
    """Release only our own lock (a lease taken over after expiry is not ours any more)."""
    conn.execute(
        delete(resource_locks).where(
            resource_locks.c.resource == resource, resource_locks.c.approval_id == approval_id
        )
    )
