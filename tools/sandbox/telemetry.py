"""Metrics derived from the world, deterministic for seed and clock (log lines: ``loglines``).

Noise comes from generators keyed on (seed, service, minute), so the same world, seed and
clock always give the same numbers.
"""

from __future__ import annotations

import math
from datetime import datetime

from pydantic import BaseModel

from .catalogue import HPA_TOLERANCE, JOBS, MAX_REPLICAS, SERVICES, TARGET_CPU_PCT
from .loglines import LEVELS, SLOT_S, Level, LogLine, _session_token, logs
from .replica import reads_off_primary
from .world import World, diurnal, memory_at, missing_config, rng

__all__ = [
    "LEVELS",
    "SLOT_S",
    "Level",
    "LogLine",
    "ServiceMetrics",
    "_session_token",
    "diurnal",
    "health",
    "job_cost",
    "logs",
    "metrics",
]

JOB_LOAD_PER_WORKER = 0.008  # kept for callers; a job's own figure is in its profile
# A caller waits on its dependency's slow tail once that tail is clearly abnormal; a
# healthy dependency's noise (within 1.5x of its normal p99) leaves the caller's as it was.
UPSTREAM_TAIL_FACTOR = 1.5
PRIMARY_POOL_TIMEOUT_MS = 2500  # reads sent to the primary queue for its pool, then fail


class ServiceMetrics(BaseModel):
    """A service's golden signals, resources and cost at one moment."""

    service: str
    at: datetime
    requests_per_s: float
    error_rate: float
    p50_ms: float
    p99_ms: float
    cpu_pct: float
    memory_mb: float
    memory_limit_mb: float
    replicas: int
    ready_replicas: int
    restarts: int
    cost_per_hour: float
    # What a CPU autoscaler (HPA, target TARGET_CPU_PCT) would run: ceil(replicas x cpu /
    # target) from the CPU demand before saturation caps it, never below the usual replicas.
    recommended_replicas: int


def _database_effects(world: World, service: str, now: datetime) -> tuple[float, float, float]:
    """(error rate, p50 ms, p99 ms) the database adds to ``service`` now."""
    prof, db = SERVICES[service], world.database
    err = p50 = p99 = 0.0
    failed_over = db.last_failover_at
    if prof.db_client and failed_over and 0 <= (now - failed_over).total_seconds() < 30:
        err += 0.2
    if prof.db_client and db.down_node is not None and db.down_node == db.primary:
        err += 0.4  # every write fails: the primary does not answer
    if reads_off_primary(world, service, now):
        err += 0.18  # reads that queue past the pool's timeout fail
        p50 += 300
        p99 += PRIMARY_POOL_TIMEOUT_MS
    elif prof.reads_replica and db.replay_blocked_since is not None:
        p99 += 45  # stale reads are retried on the primary
    return err, p50, p99


def recommended_replicas(replicas: int, usual: int, cpu_demand_pct: float) -> int:
    """An HPA's desired replicas: ceil(replicas x cpu / target), unchanged within the
    tolerance band, between the usual replicas (its minimum) and MAX_REPLICAS."""
    if replicas == 0:
        return usual
    ratio = cpu_demand_pct / TARGET_CPU_PCT
    desired = replicas if abs(ratio - 1) <= HPA_TOLERANCE else math.ceil(replicas * ratio)
    return max(usual, min(MAX_REPLICAS, desired))


def crash_restarts(elapsed_s: float) -> int:
    """Restarts of one crash-looping container after ``elapsed_s`` (kubelet back-off)."""
    n, t, delay = 0, 3.0, 10.0
    while delay < 300 and t + delay <= elapsed_s:
        t, n, delay = t + delay + 3, n + 1, delay * 2
    if delay >= 300 and elapsed_s > t:
        n += int((elapsed_s - t) // 303)
    return n


def job_cost(world: World, job: str) -> float:
    j = world.jobs[job]
    return 0.0 if j.running_since is None else j.workers * JOBS[job].worker_cost_per_hour


def metrics(world: World, service: str, now: datetime, seed: int | None = None) -> ServiceMetrics:
    """Derive a service's metrics from the world's state at ``now``."""
    seed = world.seed if seed is None else seed
    prof, svc = SERVICES[service], world.services[service]
    r = rng(seed, "metrics", service, int(now.timestamp()) // 60)
    dep = svc.current
    rps = prof.base_rps * svc.traffic * diurnal(now) * r.uniform(0.96, 1.04)
    crashing = bool(missing_config(world, service))
    ready = 0 if crashing else svc.replicas
    mem, kills = memory_at(world, service, now)
    since_roll = (now - svc.rollout_at(now).at).total_seconds()
    restarts = svc.replicas * (crash_restarts(since_roll) if crashing else kills)
    flags = [prof.flags[f] for f, on in sorted(svc.flags.items()) if on and f in prof.flags]
    jobs = [j for j in world.jobs.values() if JOBS[j.name].service == service]
    running = [j for j in jobs if j.running_since is not None]
    load = sum(j.workers * JOBS[j.name].load_per_worker for j in running)
    load += sum(f.load for f in flags)
    util = (rps / (ready * prof.rps_per_replica) if ready else 0.0) + load
    sat = max(0.0, util - 0.75)
    p50 = prof.p50_ms * (1 + 2.5 * sat) + sum(f.p50_ms for f in flags)
    p99 = prof.p99_ms * (1 + 6 * sat) + sum(f.p99_ms for f in flags)
    err = (
        0.0015 * r.uniform(0.5, 1.5) + sum(f.error_rate for f in flags) + max(0.0, util - 1) * 0.45
    )
    if dep.bad:
        err += 0.31
    err += 0.22 * sum(1 for f in svc.broken_flags if svc.flags.get(f))
    for upstream, share in prof.upstreams:
        up = metrics(world, upstream, now, seed)
        err += share * up.error_rate
        normal = SERVICES[upstream]
        # the tail: any dependency a sizeable share of requests waits on shows in the p99
        p99 += max(0.0, up.p99_ms - UPSTREAM_TAIL_FACTOR * normal.p99_ms)
        p50 += share * max(0.0, up.p50_ms - UPSTREAM_TAIL_FACTOR * normal.p50_ms)
    cert = world.certificates.get(prof.domain or "")
    if cert is not None and now >= cert.not_after:
        err += 0.55  # clients refuse the expired certificate: those requests never succeed
    if mem > 0.92 * prof.memory_limit_mb:
        err += 0.02  # requests in flight die with each OOM kill
    db_err, db_p50, db_p99 = _database_effects(world, service, now)
    err, p50, p99 = err + db_err, p50 + db_p50, p99 + db_p99
    demand = 6 + 78 * util  # CPU the traffic asks for; the pods give at most 99 %
    cpu = min(99.0, demand) * r.uniform(0.95, 1.05)
    if ready == 0:
        err, p50, p99 = 1.0, 2.0, 8.0  # the ingress answers 503 at once: no endpoints
        cpu, mem = (4.0, prof.memory_mb * 0.3) if svc.replicas else (0.0, 0.0)
    cost = svc.replicas * prof.cost_per_replica_hour + sum(job_cost(world, j.name) for j in jobs)
    return ServiceMetrics(
        service=service,
        at=now,
        requests_per_s=round(rps, 1),
        error_rate=round(min(1.0, err), 4),
        p50_ms=round(p50 * r.uniform(0.95, 1.05), 1),
        p99_ms=round(p99 * r.uniform(0.92, 1.08), 1),
        cpu_pct=round(cpu, 1),
        memory_mb=round(mem * r.uniform(0.98, 1.02) if mem else 0.0, 1),
        memory_limit_mb=prof.memory_limit_mb,
        replicas=svc.replicas,
        ready_replicas=ready,
        restarts=restarts,
        cost_per_hour=round(cost, 2),
        recommended_replicas=recommended_replicas(svc.replicas, prof.replicas, demand),
    )


def health(m: ServiceMetrics) -> str:
    """healthy, degraded or down, as an on-call engineer would call it from the metrics."""
    prof = SERVICES[m.service]
    if m.ready_replicas == 0 or m.error_rate >= 0.5:
        return "down"
    if (
        m.error_rate >= 0.05
        or m.ready_replicas < m.replicas
        or m.p99_ms > 2 * prof.p99_ms
        or m.memory_mb > 0.9 * m.memory_limit_mb
        or m.restarts > 0
    ):
        return "degraded"
    return "healthy"
