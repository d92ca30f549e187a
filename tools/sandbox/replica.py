"""The database replica as its readers see it: what blocks its replay, and when a reader
gives up on it and sends its reads to the primary."""

from __future__ import annotations

from datetime import datetime

from .catalogue import BLOCKING_QUERIES, SERVICES
from .world import World, replica_lag_s, rng


def blocking_pid(world: World) -> int | None:
    """The backend pid of the query that blocks WAL replay on the replica, if one does."""
    db = world.database
    if db.replay_blocked_since is None or not db.blocked_by:
        return None
    return rng(world.seed, "pid", db.blocked_by).randint(20000, 60000)


def blocking_query(world: World) -> str:
    """The blocking query's text as pg_stat_activity shows it (shortened)."""
    return BLOCKING_QUERIES.get(world.database.blocked_by or "", "SELECT ...")


def staleness_budget_s(world: World, service: str) -> float | None:
    """How far behind the replica a service still reads from it (its config), or None."""
    raw = world.services[service].current.config.get("REPLICA_MAX_STALENESS_S")
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def reads_off_primary(world: World, service: str, now: datetime) -> bool:
    """Whether a replica reader has given up on the replica (lag past its budget) and sends
    its reads to the primary, whose connection pool is sized for writes."""
    budget = staleness_budget_s(world, service)
    return (
        SERVICES[service].reads_replica
        and budget is not None
        and world.database.replay_blocked_since is not None
        and replica_lag_s(world, now) > budget
    )
