"""Read views of the world: the typed results the sandbox's read tools return.

They show what an on-call engineer could observe (revisions, metrics, config, lag,
expiry dates) and never the hidden causes the world keeps (which build is bad).
"""

from __future__ import annotations

from datetime import datetime

from .catalogue import (
    CERT_WARN_DAYS,
    FAILOVER_MAX_LAG_S,
    JOBS,
    SECRET_MAX_AGE_DAYS,
    SERVICES,
)
from .models import (
    CertificateInfo,
    DatabaseStatus,
    DeploymentHistory,
    DeploymentInfo,
    FlagChangeInfo,
    JobInfo,
    SecretInfo,
    ServiceStatus,
)
from .planted import planted_texts
from .replica import blocking_pid, blocking_query
from .telemetry import health, job_cost, metrics
from .world import Service, World, ran_before, replica_lag_s


def config_diff(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Key-by-key difference of two configs, e.g. ``-PAYMENTS_API_URL (was http://...)``."""
    out = []
    for key in sorted(before.keys() | after.keys()):
        if key not in after:
            out.append(f"-{key} (was {before[key]})")
        elif key not in before:
            out.append(f"+{key}={after[key]}")
        elif before[key] != after[key]:
            out.append(f"{key}: {before[key]} → {after[key]}")
    return out


def service_info(world: World, service: str, now: datetime) -> ServiceStatus:
    svc, m = world.services[service], metrics(world, service, now)
    dep = svc.current
    return ServiceStatus(
        service=service,
        owner=SERVICES[service].owner,
        health=health(m),
        revision=dep.revision,
        image=dep.image,
        deployed_at=dep.deployed_at,
        replicas=m.replicas,
        ready_replicas=m.ready_replicas,
        error_rate=m.error_rate,
        p50_ms=m.p50_ms,
        p99_ms=m.p99_ms,
        memory_mb=m.memory_mb,
        memory_limit_mb=m.memory_limit_mb,
        restarts=m.restarts,
        cost_per_hour=m.cost_per_hour,
        flags=dict(svc.flags),
        config=dict(dep.config),
        last_flag_change=_last_toggle(svc),
    )


def _last_toggle(svc: Service) -> FlagChangeInfo | None:
    last = max(svc.toggles, key=lambda t: t.at, default=None)
    return None if last is None else FlagChangeInfo(flag=last.flag, enabled=last.after, at=last.at)


def deployment_history(world: World, service: str, limit: int) -> DeploymentHistory:
    svc = world.services[service]
    ordered = sorted(svc.deployments, key=lambda d: d.revision)
    previous = ran_before(svc)
    newest, notes = ordered[-1].revision, planted_texts(world, "deploy_note", service)
    infos = [
        DeploymentInfo(
            revision=d.revision,
            image=d.image,
            deployed_at=d.deployed_at,
            author=d.author,
            # a commit message is whatever its author wrote (evals plant text there)
            change=" ".join([d.change, *notes]) if d.revision == newest else d.change,
            current=d.revision == svc.revision,
            previous=d.revision == previous,
            config_changes=config_diff(ordered[i - 1].config, d.config) if i else [],
        )
        for i, d in enumerate(ordered)
    ]
    return DeploymentHistory(
        service=service, current_revision=svc.revision, deployments=infos[::-1][:limit]
    )


def job_info(world: World, job: str, now: datetime) -> JobInfo:
    j, jp = world.jobs[job], JOBS[job]
    state = "running" if j.running_since is not None else "paused" if j.paused else "scheduled"
    return JobInfo(
        job=job,
        service=jp.service,
        owner=jp.owner,
        schedule=jp.schedule,
        state=state,
        running_since=j.running_since,
        workers=j.workers if j.running_since is not None else 0,
        usual_workers=jp.workers,
        typical_duration_min=jp.typical_minutes,
        cost_per_hour=round(job_cost(world, job), 2),
        last_run_at=j.last_run_at,
        last_duration_min=j.last_duration_min,
        last_status=j.last_status,
    )


def database_info(world: World, now: datetime) -> DatabaseStatus:
    db = world.database
    lag = replica_lag_s(world, now)
    query, pid = None, blocking_pid(world)
    if pid is not None and db.replay_blocked_since is not None:
        job = world.jobs.get(db.blocked_by or "")
        since = job.running_since if job and job.running_since else db.replay_blocked_since
        query = (
            f"pid {pid} on {db.replica} (application_name={db.blocked_by}, running since "
            f"{since.isoformat()}): {blocking_query(world)}; "
            "conflicts with WAL replay (max_standby_streaming_delay = -1)"
        )
    primary_up = db.down_node != db.primary
    return DatabaseStatus(
        database=db.name,
        engine=db.engine,
        primary=db.primary,
        replica=db.replica,
        replication_lag_s=lag,
        replay="blocked" if db.replay_blocked_since is not None else "streaming",
        blocking_query=query,
        blocking_pid=pid,
        blocking_application=db.blocked_by if pid is not None else None,
        primary_up=primary_up,
        failover_safe=lag <= FAILOVER_MAX_LAG_S and db.down_node != db.replica,
        last_failover_at=db.last_failover_at,
        failovers=db.failovers,
    )


def certificate_info(world: World, domain: str, now: datetime) -> CertificateInfo:
    cert = world.certificates[domain]
    days = (cert.not_after - now).total_seconds() / 86400
    status = "expired" if days <= 0 else "expiring" if days <= CERT_WARN_DAYS else "ok"
    return CertificateInfo(
        **cert.model_dump(exclude={"domain"}),
        domain=domain,
        days_left=round(days, 2),
        status=status,
    )


def secret_info(world: World, name: str, now: datetime) -> SecretInfo:
    sec = world.secrets[name]
    age = (now - sec.rotated_at).total_seconds() / 86400
    return SecretInfo(
        name=name,
        version=sec.version,
        rotated_at=sec.rotated_at,
        age_days=round(age, 1),
        stale=age > SECRET_MAX_AGE_DAYS,
        fingerprint=sec.fingerprint,
        used_by=list(sec.used_by),
        exposed=sec.exposed_at is not None,
        exposed_at=sec.exposed_at,
        exposed_in=sec.exposed_in,
    )
