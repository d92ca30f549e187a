"""Fault injection: change the world's state so that a realistic incident follows from it.

A fault is never a flag the telemetry reads directly: it is a bad build, a broken config,
a stuck job, a certificate that failed to renew, a blocked replica. The symptoms follow
from that state, and the fault resolves when the state is put right.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from copilot.errors import InvalidInput

from .catalogue import (
    AD_HOC_READER,
    DATABASE_NAME,
    JOBS,
    REPLICA_READER_JOB,
    ROGUE_JOB,
    ROGUE_JOB_SECRET,
    SERVICES,
)
from .world import (
    Deployment,
    Fault,
    FlagToggle,
    Job,
    World,
    add_revision,
    bump_image,
    next_revision,
    previous_fire,
    record,
    rng,
)

FAULTS: dict[str, str] = {
    "bad_deploy": "deploy a build whose hot path throws: HTTP 500s on one endpoint "
    "(target: a service, default checkout)",
    "crash_loop": "deploy a config change that renames a required key: every pod crash-loops "
    "(target: a service, default checkout)",
    "runaway_job": "a scheduled job retries without end and autoscales its workers: cost spike "
    "and load on its service (target: a job, default nightly-reindex)",
    "expiring_cert": "certificate auto-renewal fails; the certificate expires in 3 days "
    "(target: a domain, default api.shop.example.com)",
    "replication_lag": "a long export query on the replica blocks WAL replay: replica lag grows "
    "and failover becomes unsafe (target: orders-db)",
    "memory_leak": "a build with an unbounded cache, deployed 3 h ago: memory climbs until the "
    "pods are OOMKilled (target: a service, default search)",
    "replica_lag_cascade": "an analyst's report query on the replica blocks WAL replay for 15 "
    "min: orders sends its reads to the primary and times out, checkout (which calls orders) "
    "slows down (target: orders-db)",
    "traffic_surge": "a campaign brings 1.8x the usual traffic to a service running its usual "
    "replicas: CPU saturates, latency and errors climb (target: a service, default search)",
    "bad_flag": "someone turns on a feature flag whose code path is broken: errors right after "
    "the flag change (target: a service, default checkout)",
    "leaked_secret": "a debug config dump writes a secret's value into its consumer's logs "
    "(target: a secret, default payments-psp-key)",
    "suspicious_job": "a job nobody owns, started with a leaked search-index-token, runs 64 "
    "costly workers (a crypto miner) (target: tmp-data-sync)",
    "primary_down": "orders-db's primary host stops answering: every write fails; the replica "
    "is caught up, so a failover is safe (target: orders-db)",
}

FAULT_TARGETS: dict[str, str] = {
    "bad_deploy": "checkout",
    "crash_loop": "checkout",
    "runaway_job": "nightly-reindex",
    "expiring_cert": "api.shop.example.com",
    "replication_lag": DATABASE_NAME,
    "memory_leak": "search",
    "replica_lag_cascade": DATABASE_NAME,
    "traffic_surge": "search",
    "bad_flag": "checkout",
    "leaked_secret": "payments-psp-key",
    "suspicious_job": ROGUE_JOB,
    "primary_down": DATABASE_NAME,
}
SURGE_TRAFFIC = 1.8
CASCADE_BACKDATE = timedelta(minutes=15)

LEAK_BACKDATE = timedelta(hours=3)
# Chosen so that a leaking pod fills its memory headroom in about 4.5 hours.
LEAK_CYCLE_HOURS = 4.5


def _start_run(job: Job, not_after: datetime) -> None:
    """Make ``job`` run since its last scheduled start before ``not_after`` (mutates it)."""
    job.paused = False
    if job.running_since is None:
        job.running_since = previous_fire(JOBS[job.name].schedule, not_after)
        if job.last_run_at >= job.running_since:
            job.last_run_at = previous_fire(
                JOBS[job.name].schedule, job.running_since - timedelta(minutes=1)
            )


def _targets(world: World, fault: str) -> list[str]:
    if fault in ("bad_deploy", "crash_loop", "memory_leak", "traffic_surge"):
        return sorted(world.services)
    if fault == "bad_flag":
        return sorted(s for s in world.services if _breakable_flag(s))
    if fault == "runaway_job":
        return sorted(j for j in world.jobs if not JOBS[j].rogue)
    if fault == "expiring_cert":
        return sorted(world.certificates)
    if fault == "leaked_secret":
        return sorted(world.secrets)
    if fault == "suspicious_job":
        return [ROGUE_JOB]
    return [world.database.name]


def _breakable_flag(service: str) -> str | None:
    """The service's first flag that is off by default and has a failure to show."""
    flags = SERVICES[service].flags
    return next((n for n, f in flags.items() if not f.default and f.failure), None)


def inject(world: World, fault: str, target: str | None, now: datetime) -> tuple[World, str]:
    """Return a copy of ``world`` with ``fault`` injected, and what was done in words."""
    if fault not in FAULTS:
        raise InvalidInput(f"unknown fault {fault!r}", f"known faults: {', '.join(FAULTS)}")
    target = target or FAULT_TARGETS[fault]
    valid = _targets(world, fault)
    if target not in valid:
        raise InvalidInput(
            f"{fault} cannot target {target!r}", f"valid targets: {', '.join(valid)}"
        )
    now = now.replace(microsecond=0)
    w = world.model_copy(deep=True)
    started = now
    r = rng(w.seed, "inject", fault, target, now.isoformat())
    pr = f"PR #{r.randint(5000, 5999)} by {r.choice(('jlee', 'mpatel', 'akim', 'tnguyen'))}"
    if fault in ("bad_deploy", "crash_loop", "memory_leak"):
        svc, prof = w.services[target], SERVICES[target]
        cur = svc.current
        config, image = dict(cur.config), bump_image(svc)
        bad, leak = cur.bad, cur.leak_mb_per_hour
        if fault == "bad_deploy":
            change, bad = prof.defect_change, True
        elif fault == "crash_loop":
            old, new = prof.config_rename
            key = old if old in config else next(k for k in prof.required_config if k in config)
            config[new if key == old else f"{key}_V2"] = config.pop(key)
            change, image = f"rename {key} in the deploy config", cur.image
        else:
            change = prof.leak_change
            leak = (prof.memory_limit_mb - prof.memory_mb) / LEAK_CYCLE_HOURS
            # Backdated so the leak is already visible, but never before the last rollout.
            started = min(now, max(now - LEAK_BACKDATE, svc.rollouts[-1].at + timedelta(seconds=1)))
        dep = Deployment(
            revision=next_revision(svc),
            image=image,
            deployed_at=started,
            author=f"deploy-bot ({pr})",
            change=change,
            config=config,
            bad=bad,
            leak_mb_per_hour=leak,
        )
        before = svc.revision
        add_revision(svc, dep, "config" if fault == "crash_loop" else "deploy")
        summary = f"{target}: revision {before} → {dep.revision} ({dep.image}): {change}"
        record(w, started, "deploy-bot", "deploy", target, summary)
        what = f"{fault}: deployed {summary}"
    elif fault == "runaway_job":
        job, jp = w.jobs[target], JOBS[target]
        _start_run(job, now - timedelta(minutes=jp.typical_minutes + 55))
        job.runaway, job.workers = True, jp.runaway_workers
        started = job.running_since or now
        cost = jp.runaway_workers * jp.worker_cost_per_hour
        what = f"{fault}: {target} stuck retrying on {jp.runaway_workers} workers (${cost:.2f}/h)"
    elif fault == "expiring_cert":
        cert = w.certificates[target]
        cert.not_after = (now + timedelta(days=3)).replace(minute=0, second=0)
        cert.issued_at = cert.not_after - timedelta(days=90)
        cert.last_renewal_error = (
            f"acme: DNS-01 challenge for _acme-challenge.{target} failed: NXDOMAIN"
        )
        what = f"{fault}: {target} renewal failing, expires {cert.not_after.isoformat()}"
    elif fault == "replication_lag":
        db, job = w.database, w.jobs[REPLICA_READER_JOB]
        started = now - timedelta(minutes=3)
        _start_run(job, now - timedelta(minutes=20))
        db.replay_blocked_since, db.blocked_by = started, REPLICA_READER_JOB
        what = f"{fault}: {REPLICA_READER_JOB} query on {db.replica} blocks WAL replay"
    else:
        started, what = _inject_later(w, fault, target, now, pr)
    w.faults.append(Fault(kind=fault, target=target, started_at=started))
    return w, what


def _inject_later(
    w: World, fault: str, target: str, now: datetime, pr: str
) -> tuple[datetime, str]:
    """The faults added after the first six (mutates ``w``): when each started, and what."""
    db = w.database
    if fault == "replica_lag_cascade":
        started = now - CASCADE_BACKDATE
        db.replay_blocked_since, db.blocked_by = started, AD_HOC_READER
        return started, f"{fault}: a {AD_HOC_READER} report query on {db.replica} blocks replay"
    if fault == "traffic_surge":
        w.services[target].traffic = SURGE_TRAFFIC
        return now, f"{fault}: {target} receives {SURGE_TRAFFIC:g}x its usual traffic"
    if fault == "bad_flag":
        svc, flag = w.services[target], _breakable_flag(target)
        assert flag is not None  # _targets lists only services with one
        started = now - timedelta(minutes=8)
        svc.broken_flags.append(flag)
        if not svc.flags[flag]:
            svc.flags[flag] = True
            svc.toggles.append(FlagToggle(at=started, flag=flag, before=False, after=True))
            who = pr.rsplit(" ", 1)[-1]
            record(w, started, who, "toggle_flag", target, f"{target}: flag {flag} → on")
        return started, f"{fault}: {target}'s flag {flag} turned on; its code path throws"
    if fault == "leaked_secret":
        sec, started = w.secrets[target], now - timedelta(minutes=20)
        sec.exposed_at, sec.exposed_in = started, f"logs of {sec.used_by[0]} (config dump)"
        return started, f"{fault}: {target} v{sec.version} written to {sec.used_by[0]}'s logs"
    if fault == "suspicious_job":
        jp, started = JOBS[target], now - timedelta(minutes=40)
        w.jobs[target] = Job(
            name=target,
            running_since=started,
            workers=jp.workers,
            last_run_at=started,
            last_duration_min=0,
            last_status="running",
        )
        sec = w.secrets[ROGUE_JOB_SECRET]
        sec.exposed_at = sec.exposed_at or started
        sec.exposed_in = sec.exposed_in or f"used from 198.51.100.23 to start job {target}"
        cost = jp.workers * jp.worker_cost_per_hour
        return (
            started,
            f"{fault}: {target} ({jp.owner} owner) runs {jp.workers} workers (${cost:.2f}/h)",
        )
    # primary_down
    started = now - timedelta(minutes=4)
    db.down_node, db.down_since = db.primary, started
    return started, f"{fault}: {db.primary} (primary of {db.name}) stopped answering"
