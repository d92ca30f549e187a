"""The remedies: pure functions that apply one operational action to a copy of the world.

Lookups raise ``InvalidInput`` naming what exists, so a caller (person or model) can fix
the request; a refused action raises ``ToolFailed`` saying why and what to do instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from copilot.errors import InvalidInput, ToolFailed

from .catalogue import CERT_VALIDITY_DAYS, FAILOVER_MAX_LAG_S, JOBS
from .replica import blocking_pid
from .world import (
    MAX_ROLLOUTS,
    Certificate,
    Deployment,
    FlagToggle,
    Job,
    Scaling,
    Secret,
    Service,
    World,
    add_revision,
    fingerprint,
    next_revision,
    ran_before,
    record,
    replica_lag_s,
    roll,
    serial,
)


# -- lookups that name what exists when the caller is wrong -------------------------------
def get_service(world: World, name: str) -> Service:
    if name not in world.services:
        raise InvalidInput(
            f"unknown service {name!r}", f"known services: {', '.join(sorted(world.services))}"
        )
    return world.services[name]


def get_job(world: World, name: str) -> Job:
    if name not in world.jobs:
        raise InvalidInput(f"unknown job {name!r}", f"known jobs: {', '.join(sorted(world.jobs))}")
    return world.jobs[name]


def get_certificate(world: World, domain: str) -> Certificate:
    if domain not in world.certificates:
        known = ", ".join(sorted(world.certificates))
        raise InvalidInput(f"no certificate for {domain!r}", f"known domains: {known}")
    return world.certificates[domain]


def get_secret(world: World, name: str) -> Secret:
    if name not in world.secrets:
        known = ", ".join(sorted(world.secrets))
        raise InvalidInput(f"unknown secret {name!r}", f"known secrets: {known}")
    return world.secrets[name]


def rollback_target(svc: Service, to_revision: int | None) -> Deployment:
    """The deployment a rollback would go to: the given one, or the one that ran before
    the current one."""
    known = ", ".join(str(d.revision) for d in svc.deployments)
    if to_revision is None:
        previous = ran_before(svc)
        if previous is None:
            raise InvalidInput(
                f"{svc.name} has no revision before {svc.revision}", f"known revisions: {known}"
            )
        to_revision = previous
    dep = svc.deployment(to_revision)
    if dep is None:
        raise InvalidInput(f"{svc.name} has no revision {to_revision}", f"known revisions: {known}")
    if dep.revision == svc.revision:
        raise InvalidInput(
            f"{svc.name} already runs revision {to_revision}",
            "list_deployments shows the history; pick an earlier revision",
        )
    return dep


def get_flag(world: World, service: str, flag: str) -> bool:
    svc = get_service(world, service)
    if flag not in svc.flags:
        known = ", ".join(sorted(svc.flags))
        raise InvalidInput(f"{service} has no feature flag {flag!r}", f"its flags: {known}")
    return svc.flags[flag]


def _start(world: World, now: datetime) -> tuple[World, datetime]:
    return world.model_copy(deep=True), now.replace(microsecond=0)


def rollback(
    world: World, service: str, to_revision: int | None, now: datetime, actor: str
) -> World:
    """Roll ``service`` back to ``to_revision`` (default: the revision before the current)."""
    w, now = _start(world, now)
    svc = get_service(w, service)
    target, before = rollback_target(svc, to_revision), svc.revision
    roll(svc, now, target.revision, "rollback")
    summary = f"{service}: revision {before} → {target.revision} ({target.image})"
    record(w, now, actor, "rollback", service, summary)
    return w


def check_restartable(svc: Service) -> None:
    if svc.replicas == 0:
        raise InvalidInput(
            f"{svc.name} has 0 replicas: nothing to restart", "scale it up with scale_service"
        )


def restart(world: World, service: str, now: datetime, actor: str) -> World:
    """Rolling restart: new pods of the same revision (memory and caches start afresh)."""
    w, now = _start(world, now)
    svc = get_service(w, service)
    check_restartable(svc)
    roll(svc, now, svc.revision, "restart")
    record(
        w, now, actor, "restart", service, f"{service}: rolling restart of revision {svc.revision}"
    )
    return w


def scale(world: World, service: str, replicas: int, now: datetime, actor: str) -> World:
    w, now = _start(world, now)
    svc = get_service(w, service)
    if svc.replicas != replicas:
        before, svc.replicas = svc.replicas, replicas
        svc.scalings.append(Scaling(at=now, before=before, after=replicas))
        del svc.scalings[:-MAX_ROLLOUTS]
        record(w, now, actor, "scale", service, f"{service}: replicas {before} → {replicas}")
    return w


def set_config(
    world: World, service: str, key: str, value: str, now: datetime, actor: str
) -> World:
    """Set one config key: a new revision with the same image and the changed config."""
    w, now = _start(world, now)
    svc = get_service(w, service)
    cur = svc.current
    if cur.config.get(key) == value:
        return w
    dep = Deployment(
        revision=next_revision(svc),
        image=cur.image,
        deployed_at=now,
        author=actor,
        change=f"config: set {key}",
        config={**cur.config, key: value},
        bad=cur.bad,
        leak_mb_per_hour=cur.leak_mb_per_hour,
    )
    before = svc.revision
    add_revision(svc, dep, "config")
    summary = f"{service}: revision {before} → {dep.revision} (set {key})"
    record(w, now, actor, "set_config", service, summary)
    return w


def set_flag(
    world: World, service: str, flag: str, enabled: bool, now: datetime, actor: str
) -> World:
    w, now = _start(world, now)
    before = get_flag(w, service, flag)
    if before != enabled:
        svc = w.services[service]
        svc.flags[flag] = enabled
        svc.toggles.append(FlagToggle(at=now, flag=flag, before=before, after=enabled))
        del svc.toggles[:-MAX_ROLLOUTS]
        state = "on" if enabled else "off"
        record(w, now, actor, "toggle_flag", service, f"{service}: flag {flag} → {state}")
    return w


def _stop(w: World, job: Job, now: datetime) -> None:
    if job.running_since is not None:
        job.last_run_at = job.running_since
        job.last_duration_min = int((now - job.running_since).total_seconds() // 60)
        job.last_status = "cancelled"
    job.running_since, job.runaway, job.workers = None, False, JOBS[job.name].workers
    if w.database.blocked_by == job.name:
        # Cancelling the conflicting query lets the replica replay WAL and catch up.
        w.database.replay_blocked_since = w.database.blocked_by = None


def pause_job(world: World, job: str, now: datetime, actor: str) -> World:
    """Suspend the schedule and cancel the running run, if any."""
    w, now = _start(world, now)
    j = get_job(w, job)
    if j.paused and j.running_since is None:
        return w
    was_running = j.running_since is not None
    j.paused = True
    _stop(w, j, now)
    summary = f"{job}: schedule suspended" + ("; running run cancelled" if was_running else "")
    record(w, now, actor, "pause_job", job, summary)
    return w


def resume_job(world: World, job: str, now: datetime, actor: str) -> World:
    w, now = _start(world, now)
    j = get_job(w, job)
    if j.paused:
        j.paused = False
        record(w, now, actor, "resume_job", job, f"{job}: schedule resumed ({JOBS[job].schedule})")
    return w


def renew_certificate(world: World, domain: str, now: datetime, actor: str) -> World:
    """Issue a fresh certificate for ``domain``; the ingress hot-reloads it."""
    w, now = _start(world, now)
    cert = get_certificate(w, domain)
    before = cert.not_after
    cert.issued_at, cert.not_after = now, now + timedelta(days=CERT_VALIDITY_DAYS)
    cert.serial, cert.last_renewal_error = serial(w.seed, domain, now), None
    summary = f"{domain}: not_after {before.isoformat()} → {cert.not_after.isoformat()}"
    record(w, now, actor, "renew_certificate", domain, summary)
    return w


def failover(world: World, now: datetime, actor: str, force: bool) -> tuple[World, float]:
    """Promote the replica; returns the new world and the seconds of writes lost (0 if none)."""
    w, now = _start(world, now)
    db = w.database
    lag = replica_lag_s(w, now)
    if lag > FAILOVER_MAX_LAG_S and not force:
        raise ToolFailed(
            f"refusing to fail over {db.name}: replica {db.replica} is {lag:.0f} s behind "
            f"{db.primary} (limit {FAILOVER_MAX_LAG_S:.0f} s); promoting it would lose up to "
            f"{lag:.0f} s of committed writes",
            "clear the lag first (database_status shows what blocks replay), "
            "or pass force=true to accept the data loss",
        )
    lost = lag if lag > FAILOVER_MAX_LAG_S else 0.0
    old = db.primary
    db.primary = db.replica
    # The old primary rejoins as a fresh replica; the conflicting query died with the role change.
    db.replay_blocked_since = db.blocked_by = None
    db.last_failover_at, db.failovers = now, db.failovers + 1
    # A primary that had stopped answering is replaced by a freshly built replica.
    db.down_node = db.down_since = None
    summary = f"{db.name}: primary {old} → {db.primary}"
    if lost:
        summary += f" (forced; up to {lost:.0f} s of writes lost)"
    record(w, now, actor, "failover", db.name, summary)
    return w, lost


def check_blocking(world: World, pid: int) -> str:
    """The application whose query ``pid`` blocks replay; else InvalidInput naming it."""
    db, blocking = world.database, blocking_pid(world)
    if blocking is None:
        raise InvalidInput(
            f"no query blocks WAL replay on {db.replica}",
            "database_status shows replay streaming: nothing to cancel",
        )
    if pid != blocking:
        raise InvalidInput(
            f"pid {pid} is not the query blocking replay on {db.replica}",
            f"database_status names the blocking one: pid {blocking}",
        )
    return db.blocked_by or "unknown"


def cancel_query(world: World, pid: int, now: datetime, actor: str) -> World:
    """Cancel the query that blocks WAL replay (pg_cancel_backend): replay resumes."""
    w, now = _start(world, now)
    app, db = check_blocking(w, pid), w.database
    job = w.jobs.get(app)
    if job is not None and job.running_since is not None:
        # the job's run loses its query and fails; it runs again at its next slot
        _stop(w, job, now)
        job.last_status = "failed"
    db.replay_blocked_since = db.blocked_by = None
    summary = f"{db.name}: cancelled pid {pid} ({app}) on {db.replica}; WAL replay resumes"
    record(w, now, actor, "cancel_query", db.name, summary)
    return w


def rotate_secret(world: World, name: str, now: datetime, actor: str) -> World:
    """New secret version; the old one is revoked and every consumer restarts to load it."""
    w, now = _start(world, now)
    sec = get_secret(w, name)
    sec.version += 1
    sec.rotated_at, sec.fingerprint = now, fingerprint(w.seed, name, sec.version)
    sec.exposed_at = sec.exposed_in = None  # the exposed version is revoked
    for consumer in sec.used_by:
        svc = w.services[consumer]
        roll(svc, now, svc.revision, "secret-rotation")
    summary = (
        f"{name}: version {sec.version - 1} → {sec.version}; restarted {', '.join(sec.used_by)}"
    )
    record(w, now, actor, "rotate_secret", name, summary)
    return w
