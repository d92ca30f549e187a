"""Dry-run previews of the sandbox's write tools: pure functions of the world and arguments.

The executor hashes a plan when a call is proposed and recomputes it before running; any
difference makes the approval stale. So a plan names revisions, images, counts and dates,
never a duration measured from the clock ("expires in 3 days" would drift).
"""

from __future__ import annotations

from typing import Any

from . import actions as act
from .catalogue import CERT_VALIDITY_DAYS, FAILOVER_MAX_LAG_S, JOBS, SERVICES
from .models import SECRET_REFERENCE
from .replica import blocking_query
from .reports import config_diff
from .telemetry import job_cost
from .world import World, fingerprint, missing_config, next_revision


def _on(enabled: bool) -> str:
    return "on" if enabled else "off"


def _pods_note(world: World, service: str) -> str:
    replicas = world.services[service].replicas
    if replicas == 0:
        return "0 replicas: takes effect when the service is scaled up"
    return f"{replicas} pods will be replaced one at a time"


def rollback(world: World, args: Any) -> str:
    svc = act.get_service(world, args.service)
    target, cur = act.rollback_target(svc, args.to_revision), svc.current
    same = cur.image == target.image
    image = f"image unchanged: {cur.image}" if same else f"image {cur.image} → {target.image}"
    parts = [f"{svc.name}: revision {cur.revision} → {target.revision} ({image})"]
    if target.revision < cur.revision:
        undone = [d for d in svc.deployments if target.revision < d.revision <= cur.revision]
        parts.append("undoes " + ", ".join(f"revision {d.revision} ({d.change})" for d in undone))
    diff = config_diff(cur.config, target.config)
    if diff:
        parts.append("config: " + ", ".join(diff))
    parts.append(_pods_note(world, svc.name))
    return "; ".join(parts)


def restart(world: World, args: Any) -> str:
    svc = act.get_service(world, args.service)
    act.check_restartable(svc)
    dep = svc.current
    text = (
        f"{svc.name}: rolling restart of {svc.replicas} pods at revision {dep.revision} "
        f"({dep.image}), one at a time; in-memory state (caches, sessions, heap) is lost"
    )
    if missing_config(world, svc.name):
        text += (
            f"; note: pods of revision {dep.revision} are not becoming ready now, "
            "and a restart does not change their image or config"
        )
    return text


def scale(world: World, args: Any) -> str:
    svc = act.get_service(world, args.service)
    prof, a, b = SERVICES[svc.name], svc.replicas, args.replicas
    if a == b:
        return f"{svc.name}: already at {a} replicas; no change"
    unit = prof.cost_per_replica_hour
    delta = (b - a) * unit
    text = (
        f"{svc.name}: replicas {a} → {b} ({b - a:+d} pods); "
        f"pod cost ${a * unit:.2f}/h → ${b * unit:.2f}/h "
        f"({'+' if delta >= 0 else '-'}${abs(delta):.2f}/h, "
        f"{'+' if delta >= 0 else '-'}${abs(delta) * 24:.2f}/day)"
    )
    peak = prof.base_rps * 1.1
    if b == 0:
        text += "; the service stops serving ALL traffic until it is scaled up again"
    elif b * prof.rps_per_replica < peak:
        text += (
            f"; capacity ~{b * prof.rps_per_replica:.0f} req/s is below the usual peak of "
            f"~{peak:.0f} req/s: expect errors and latency at peak"
        )
    return text


def set_config(world: World, args: Any) -> str:
    svc = act.get_service(world, args.service)
    dep = svc.current
    old = dep.config.get(args.key)
    if old == args.value:
        return f"{svc.name}: {args.key} is already {args.value}; no change"
    is_ref = SECRET_REFERENCE.fullmatch(args.value) is not None
    ref = " (a reference: the value stays in the secret store)" if is_ref else ""
    return (
        f"{svc.name}: config {args.key}: {old if old is not None else '(unset)'} → {args.value}"
        f"{ref}; "
        f"creates revision {next_revision(svc)} with the same image ({dep.image}); "
        + _pods_note(world, svc.name)
    )


def toggle_flag(world: World, args: Any) -> str:
    current = act.get_flag(world, args.service, args.flag)
    if current == args.enabled:
        return f"{args.service}: flag {args.flag} is already {_on(current)}; no change"
    desc = SERVICES[args.service].flags[args.flag].description
    return (
        f"{args.service}: flag {args.flag} ({desc}) {_on(current)} → {_on(args.enabled)}; "
        "applies to live traffic within seconds, no restart"
    )


def pause_job(world: World, args: Any) -> str:
    job = act.get_job(world, args.job)
    if job.paused and job.running_since is None:
        return f"{job.name}: already paused; no change"
    text = f"{job.name}: suspend schedule '{JOBS[job.name].schedule}'"
    if job.running_since is not None:
        text += (
            f"; cancel the run started {job.running_since.isoformat()} "
            f"({job.workers} workers, ${job_cost(world, job.name):.2f}/h); "
            "its work so far is discarded"
        )
        if world.database.blocked_by == job.name:
            text += f"; this also cancels its query on {world.database.replica}"
    else:
        text += "; no run is in progress"
    return text + "; resume_job re-enables it"


def resume_job(world: World, args: Any) -> str:
    job = act.get_job(world, args.job)
    if not job.paused:
        return f"{job.name}: not paused; no change"
    return f"{job.name}: resume schedule '{JOBS[job.name].schedule}'; runs at its next slot"


def renew_certificate(world: World, args: Any) -> str:
    cert = act.get_certificate(world, args.domain)
    return (
        f"{cert.domain}: issue a new certificate from {cert.issuer}, valid {CERT_VALIDITY_DAYS} "
        f"days from issuance, replacing serial {cert.serial} (not_after "
        f"{cert.not_after.isoformat()}); {cert.service} hot-reloads it, no restart"
    )


def failover(world: World, args: Any) -> str:
    db = world.database
    clients = ", ".join(sorted(s for s, p in SERVICES.items() if p.db_client))
    text = (
        f"{db.name}: promote {db.replica} to primary and demote {db.primary} to replica; "
        f"writes fail for ~10-20 s while {clients} reconnect"
    )
    if db.down_node == db.primary:
        text += (
            f"; {db.primary} has not answered since {_iso(db.down_since)}: writes fail until "
            f"the promotion; it is rebuilt as the new replica"
        )
    if db.replay_blocked_since is not None:
        text += (
            f"; WAL replay on {db.replica} has been blocked since "
            f"{db.replay_blocked_since.isoformat()} by a query from {db.blocked_by}"
        )
        if args.force:
            text += f"; force=true: writes not yet replayed on {db.replica} are lost"
        else:
            text += f"; refused while the lag exceeds {FAILOVER_MAX_LAG_S:.0f} s (no force)"
    return text


def _iso(at: Any) -> str:
    return at.isoformat() if at is not None else "an unknown time"


def cancel_query(world: World, args: Any) -> str:
    app, db = act.check_blocking(world, args.pid), world.database
    since = db.replay_blocked_since
    text = (
        f"{db.name}: cancel pid {args.pid} on {db.replica} (application_name={app}, blocking "
        f"WAL replay since {_iso(since)}): {blocking_query(world)}; replay resumes and the "
        "replica catches up; the client gets 'canceling statement due to user request'"
    )
    job = world.jobs.get(app)
    if job is not None and job.running_since is not None:
        text += f"; {app}'s run fails and runs again at its next slot"
    return text


def rotate_secret(world: World, args: Any) -> str:
    sec = act.get_secret(world, args.name)
    new = fingerprint(world.seed, sec.name, sec.version + 1)
    text = (
        f"{sec.name}: version {sec.version} → {sec.version + 1} (fingerprint {sec.fingerprint} "
        f"→ {new}); restarts {', '.join(sec.used_by)} to load it; version {sec.version} is "
        "revoked, so anything else still using it fails to authenticate"
    )
    if sec.exposed_at is not None:
        text += f"; ends the exposure of version {sec.version} ({sec.exposed_in})"
    return text
