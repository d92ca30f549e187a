"""A service's metrics over a past window, each point derived from the world as it stood then.

``world_at`` rebuilds the state at an earlier moment from what the world records about its
past, and ``telemetry.metrics`` derives that moment's numbers from it, so a point of the
history is the number ``get_metrics`` would have given at that time:

- revisions (a deploy, a rollback, a bad or leaking build, a renamed config key) come
  from the rollouts, which record every time the pods were replaced;
- replicas and feature flags from ``Service.scalings`` and ``Service.toggles``; worlds
  saved before these were recorded have none, and their past takes today's values;
- a job's run from its current and last run, a runaway's extra workers and a blocked
  replica from the windows of the faults that caused them;
- only the latest database failover is kept, and a certificate's predecessor is not:
  before a renewal the renewed certificate's expiry is used, so the errors of a
  certificate that expired and has since been renewed do not show.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel

from .catalogue import JOBS
from .models import ChangeInfo
from .telemetry import metrics
from .world import Database, Fault, Job, Service, World

MAX_POINTS = 121


class MetricsPoint(BaseModel):
    at: datetime
    requests_per_s: float
    error_rate: float
    p99_ms: float
    memory_mb: float
    replicas: int
    ready_replicas: int


class MetricsHistory(BaseModel):
    """A service's metrics every ``step_minutes`` over the last ``minutes``, oldest first."""

    service: str
    minutes: int
    step_minutes: int
    points: list[MetricsPoint]
    changes: list[ChangeInfo]  # what was done to the service inside the window, oldest first


def _in_window(fault: Fault, kind: str, target: str, at: datetime) -> bool:
    return (
        fault.kind == kind
        and fault.target == target
        and fault.started_at <= at
        and (fault.resolved_at is None or at < fault.resolved_at)
    )


def _service_at(svc: Service, faults: Sequence[Fault], at: datetime) -> Service:
    revision = svc.rollout_at(at).revision
    if svc.deployment(revision) is None:  # pruned from the history: the nearest we know
        revision = svc.revision
    replicas = next((s.before for s in svc.scalings if s.at > at), svc.replicas)
    flags = dict(svc.flags)
    for toggle in reversed(svc.toggles):  # undo the toggles made after ``at``, newest first
        if toggle.at > at:
            flags[toggle.flag] = toggle.before
    traffic = svc.traffic
    surge = [f for f in faults if f.kind == "traffic_surge" and f.target == svc.name]
    if surge and at < min(f.started_at for f in surge):
        traffic = 1.0  # before the surge began
    return svc.model_copy(
        update={"revision": revision, "replicas": replicas, "flags": flags, "traffic": traffic}
    )


def _job_at(job: Job, faults: Sequence[Fault], at: datetime) -> Job:
    since: datetime | None = None
    if job.running_since is not None and job.running_since <= at:
        since = job.running_since
    elif job.last_run_at <= at < job.last_run_at + timedelta(minutes=job.last_duration_min):
        since = job.last_run_at
    runaway = since is not None and any(_in_window(f, "runaway_job", job.name, at) for f in faults)
    prof = JOBS[job.name]
    workers = prof.runaway_workers if runaway else prof.workers
    return job.model_copy(update={"running_since": since, "runaway": runaway, "workers": workers})


def _database_at(db: Database, faults: Sequence[Fault], at: datetime) -> Database:
    blocked = db.replay_blocked_since
    if blocked is None or blocked > at:
        blocked = next(
            (
                f.started_at
                for f in faults
                if _in_window(f, "replication_lag", db.name, at)
                or _in_window(f, "replica_lag_cascade", db.name, at)
            ),
            None,
        )
    down, down_since = db.down_node, db.down_since
    if down_since is not None and down_since > at:
        down = down_since = None
    failed_over = db.last_failover_at
    if failed_over is not None and failed_over > at:
        failed_over = None
    return db.model_copy(
        update={
            "replay_blocked_since": blocked,
            "last_failover_at": failed_over,
            "down_node": down,
            "down_since": down_since,
        }
    )


def world_at(world: World, at: datetime) -> World:
    """The world's state at ``at``, as far as it records its past (see the module doc)."""
    return world.model_copy(
        update={
            "services": {n: _service_at(s, world.faults, at) for n, s in world.services.items()},
            "jobs": {n: _job_at(j, world.faults, at) for n, j in world.jobs.items()},
            "database": _database_at(world.database, world.faults, at),
        }
    )


def metrics_history(
    world: World, service: str, now: datetime, minutes: int, step_minutes: int
) -> MetricsHistory:
    """Points at ``now``, ``now - step``, ... back to ``now - minutes`` (oldest first)."""
    step = timedelta(minutes=step_minutes)
    times = [now - k * step for k in range(minutes // step_minutes, -1, -1)]
    points = []
    for t in times:
        m = metrics(world_at(world, t), service, t)
        points.append(
            MetricsPoint(
                at=t,
                requests_per_s=m.requests_per_s,
                error_rate=m.error_rate,
                p99_ms=m.p99_ms,
                memory_mb=m.memory_mb,
                replicas=m.replicas,
                ready_replicas=m.ready_replicas,
            )
        )
    start = now - timedelta(minutes=minutes)
    changes = [
        ChangeInfo(**c.model_dump())
        for c in world.changes
        if c.target == service and start <= c.at <= now
    ]
    return MetricsHistory(
        service=service,
        minutes=minutes,
        step_minutes=step_minutes,
        points=points,
        changes=changes,
    )
