"""The sandbox tool pack: read and act on a simulated production kept in the state store.

The world is one versioned document; every write loads it, applies one pure action and
saves it back with the version it read, so a concurrent change surfaces as ``ToolRetry``
and nothing is half-applied. Plans (``sandbox_plans``) depend only on the stored world
and the arguments, never on the clock. Operator actions live in ``sandbox_state``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, Field

from copilot.errors import CopilotError, ToolRetry
from copilot.toolkit import ToolContext, ToolSpec, tool
from tools import sandbox_actions as act
from tools import sandbox_plans as plans
from tools.sandbox_faults import FAULTS
from tools.sandbox_models import (
    CertificateRenewal,
    CertificatesReport,
    ChangeInfo,
    ChangesReport,
    ConfigKey,
    ConfigValue,
    DatabaseStatus,
    DeploymentChange,
    DeploymentHistory,
    Domain,
    FailoverResult,
    FlagChange,
    FlagName,
    JobChange,
    JobName,
    JobsReport,
    LogsResult,
    ScaleChange,
    SecretName,
    SecretRotation,
    SecretsReport,
    ServiceName,
    StatusReport,
)
from tools.sandbox_reads import (
    certificate_info,
    database_info,
    deployment_history,
    job_info,
    secret_info,
    service_info,
)
from tools.sandbox_state import (
    inject_fault,
    load_world,
    reset_world,
    save_world,
    world_doc_name,
    world_status,
)
from tools.sandbox_telemetry import Level, ServiceMetrics, logs, metrics
from tools.sandbox_world import Deployment, World, replica_lag_s

__all__ = [
    "FAULTS",
    "TOOLS",
    "inject_fault",
    "load_world",
    "reset_world",
    "world_doc_name",
    "world_status",
]


def _load(ctx: ToolContext) -> tuple[World, int]:
    return load_world(ctx.state, ctx.settings, ctx.clock())


def _commit(ctx: ToolContext, before: World, after: World, version: int) -> str:
    """Save ``after`` if it differs from ``before``; return what changed in words.

    A concurrent write makes the store refuse the save; since the save is the only
    side effect, nothing was applied, and that is reported as a retryable failure.
    """
    if after == before:
        return "no change"
    try:
        save_world(ctx.state, ctx.settings, after, version)
    except CopilotError as exc:
        found = ctx.state.load(world_doc_name(ctx.settings))
        if found is None or found[1] == version:
            raise
        raise ToolRetry(
            f"the sandbox changed while this action ran (version {version} → {found[1]}); "
            "nothing was applied",
            "check the current state and propose the action again if it is still needed",
        ) from exc
    return after.changes[-1].summary


def _actor(ctx: ToolContext) -> str:
    return ctx.principal or "copilot"


def _plan(fn: Callable[[World, Any], str]) -> Callable[[ToolContext, BaseModel], str]:
    """Adapt a pure ``plan(world, args)`` to the toolkit's ``plan(ctx, args)``."""

    def plan(ctx: ToolContext, args: BaseModel) -> str:
        return fn(_load(ctx)[0], args)

    return plan


# -- read tools ---------------------------------------------------------------------------
@tool(risk="read")
def service_status(
    ctx: ToolContext,
    service: Annotated[
        str | None, Field(max_length=64, description="one service; default: all of them")
    ] = None,
) -> StatusReport:
    """Health, revision, replicas, error rate, latency and config of one or all services."""
    world, _ = _load(ctx)
    now = ctx.clock()
    names = [act.get_service(world, service).name] if service else list(world.services)
    return StatusReport(at=now, services=[service_info(world, n, now) for n in names])


@tool(risk="read")
def list_deployments(
    ctx: ToolContext,
    service: ServiceName,
    limit: Annotated[int, Field(ge=1, le=30, description="newest first")] = 10,
) -> DeploymentHistory:
    """Deployment history of a service, newest first, with each revision's config changes."""
    world, _ = _load(ctx)
    return deployment_history(world, act.get_service(world, service).name, limit)


@tool(risk="read")
def get_logs(
    ctx: ToolContext,
    service: ServiceName,
    limit: Annotated[int, Field(ge=1, le=500, description="lines to return")] = 50,
    level: Annotated[Level | None, Field(description="minimum level")] = None,
    contains: Annotated[str | None, Field(max_length=200, description="substring")] = None,
) -> LogsResult:
    """Recent log lines of a service (up to one hour back), oldest first."""
    world, _ = _load(ctx)
    act.get_service(world, service)
    lines = logs(world, service, ctx.clock(), limit=limit, min_level=level, contains=contains)
    return LogsResult(service=service, lines=lines)


@tool(risk="read")
def get_metrics(ctx: ToolContext, service: ServiceName) -> ServiceMetrics:
    """Current request rate, error rate, latency, CPU, memory, restarts and cost of a service."""
    world, _ = _load(ctx)
    return metrics(world, act.get_service(world, service).name, ctx.clock())


@tool(risk="read")
def list_jobs(ctx: ToolContext) -> JobsReport:
    """Scheduled jobs: schedule, state, workers and what they cost right now."""
    world, _ = _load(ctx)
    now = ctx.clock()
    jobs = [job_info(world, j, now) for j in world.jobs]
    return JobsReport(jobs=jobs, cost_per_hour=round(sum(j.cost_per_hour for j in jobs), 2))


@tool(risk="read")
def database_status(ctx: ToolContext) -> DatabaseStatus:
    """Primary and replica of orders-db, replication lag, what blocks replay, failover safety."""
    world, _ = _load(ctx)
    return database_info(world, ctx.clock())


@tool(risk="read")
def certificate_status(ctx: ToolContext) -> CertificatesReport:
    """TLS certificates: issuer, expiry, days left and the last auto-renewal error."""
    world, _ = _load(ctx)
    now = ctx.clock()
    return CertificatesReport(
        certificates=[certificate_info(world, d, now) for d in world.certificates]
    )


@tool(risk="read")
def list_secrets(ctx: ToolContext) -> SecretsReport:
    """Secrets' versions, age, fingerprints and consumers (never their values)."""
    world, _ = _load(ctx)
    now = ctx.clock()
    return SecretsReport(secrets=[secret_info(world, n, now) for n in world.secrets])


@tool(risk="read")
def recent_changes(
    ctx: ToolContext, limit: Annotated[int, Field(ge=1, le=100)] = 20
) -> ChangesReport:
    """What changed recently (deploys, rollbacks, scaling, flags, jobs, failovers), newest first."""
    world, _ = _load(ctx)
    changes = [ChangeInfo(**c.model_dump()) for c in reversed(world.changes[-limit:])]
    return ChangesReport(changes=changes)


# -- write tools --------------------------------------------------------------------------
def _deployment_change(
    world: World, service: str, action: str, before: Deployment, summary: str
) -> DeploymentChange:
    svc = world.services[service]
    return DeploymentChange(
        service=service,
        action=action,
        before_revision=before.revision,
        after_revision=svc.revision,
        before_image=before.image,
        after_image=svc.current.image,
        replicas=svc.replicas,
        summary=summary,
    )


@tool(
    risk="medium",
    idempotent=False,
    resource="sandbox/service/{service}",
    plan=_plan(plans.rollback),
)
def rollback_deployment(
    ctx: ToolContext,
    service: ServiceName,
    to_revision: Annotated[
        int | None, Field(ge=1, description="default: the revision before the current one")
    ] = None,
) -> DeploymentChange:
    """Roll a service back to an earlier revision (default: the one before the current)."""
    world, version = _load(ctx)
    before = act.get_service(world, service).current
    after = act.rollback(world, service, to_revision, ctx.clock(), _actor(ctx))
    summary = _commit(ctx, world, after, version)
    return _deployment_change(after, service, "rollback", before, summary)


@tool(risk="low", idempotent=False, resource="sandbox/service/{service}", plan=_plan(plans.restart))
def restart_service(ctx: ToolContext, service: ServiceName) -> DeploymentChange:
    """Rolling restart of a service's pods at its current revision."""
    world, version = _load(ctx)
    before = act.get_service(world, service).current
    after = act.restart(world, service, ctx.clock(), _actor(ctx))
    summary = _commit(ctx, world, after, version)
    return _deployment_change(after, service, "restart", before, summary)


@tool(risk="medium", idempotent=True, resource="sandbox/service/{service}", plan=_plan(plans.scale))
def scale_service(
    ctx: ToolContext,
    service: ServiceName,
    replicas: Annotated[int, Field(ge=0, le=50, description="desired replicas; 0 stops it")],
) -> ScaleChange:
    """Set the number of replicas of a service (0 takes it out of service)."""
    world, version = _load(ctx)
    before = act.get_service(world, service).replicas
    after = act.scale(world, service, replicas, ctx.clock(), _actor(ctx))
    summary = _commit(ctx, world, after, version)
    return ScaleChange(
        service=service, before_replicas=before, after_replicas=replicas, summary=summary
    )


@tool(
    risk="medium",
    idempotent=True,
    resource="sandbox/service/{service}",
    plan=_plan(plans.set_config),
)
def set_config_value(
    ctx: ToolContext, service: ServiceName, key: ConfigKey, value: ConfigValue
) -> DeploymentChange:
    """Set one config key of a service; a new revision with the same image is rolled out."""
    world, version = _load(ctx)
    before = act.get_service(world, service).current
    after = act.set_config(world, service, key, value, ctx.clock(), _actor(ctx))
    summary = _commit(ctx, world, after, version)
    return _deployment_change(after, service, "set_config", before, summary)


@tool(
    risk="low",
    idempotent=True,
    resource="sandbox/service/{service}/flag/{flag}",
    plan=_plan(plans.toggle_flag),
)
def toggle_feature_flag(
    ctx: ToolContext, service: ServiceName, flag: FlagName, enabled: bool
) -> FlagChange:
    """Turn a service's feature flag on or off."""
    world, version = _load(ctx)
    before = act.get_flag(world, service, flag)
    after = act.set_flag(world, service, flag, enabled, ctx.clock(), _actor(ctx))
    summary = _commit(ctx, world, after, version)
    return FlagChange(service=service, flag=flag, before=before, after=enabled, summary=summary)


def _job_change(ctx: ToolContext, job: str, pause: bool) -> JobChange:
    world, version = _load(ctx)
    before = act.get_job(world, job)
    change = act.pause_job if pause else act.resume_job
    after = change(world, job, ctx.clock(), _actor(ctx))
    summary = _commit(ctx, world, after, version)
    cancelled = before.running_since is not None and after.jobs[job].running_since is None
    return JobChange(
        job=job,
        paused_before=before.paused,
        paused=after.jobs[job].paused,
        cancelled_run=cancelled,
        summary=summary,
    )


@tool(risk="low", idempotent=True, resource="sandbox/job/{job}", plan=_plan(plans.pause_job))
def pause_job(ctx: ToolContext, job: JobName) -> JobChange:
    """Suspend a scheduled job and cancel its running run, if any."""
    return _job_change(ctx, job, pause=True)


@tool(risk="low", idempotent=True, resource="sandbox/job/{job}", plan=_plan(plans.resume_job))
def resume_job(ctx: ToolContext, job: JobName) -> JobChange:
    """Resume a paused job's schedule."""
    return _job_change(ctx, job, pause=False)


# Not idempotent: each call issues another certificate and counts against the CA's limits.
@tool(
    risk="medium",
    idempotent=False,
    resource="sandbox/certificate/{domain}",
    plan=_plan(plans.renew_certificate),
)
def renew_certificate(ctx: ToolContext, domain: Domain) -> CertificateRenewal:
    """Issue a fresh TLS certificate for a domain and hot-reload it."""
    world, version = _load(ctx)
    before = act.get_certificate(world, domain)
    after = act.renew_certificate(world, domain, ctx.clock(), _actor(ctx))
    summary = _commit(ctx, world, after, version)
    cert = after.certificates[domain]
    return CertificateRenewal(
        domain=domain,
        serial_before=before.serial,
        serial=cert.serial,
        not_after_before=before.not_after,
        not_after=cert.not_after,
        summary=summary,
    )


@tool(
    risk="high",
    idempotent=False,
    resource="sandbox/database/orders-db",
    plan=_plan(plans.failover),
)
def failover_database(
    ctx: ToolContext,
    force: Annotated[
        bool, Field(description="fail over even if the replica lags (loses unreplayed writes)")
    ] = False,
) -> FailoverResult:
    """Promote orders-db's replica to primary; refused while the replica lags unless forced."""
    world, version = _load(ctx)
    now = ctx.clock()
    lag = replica_lag_s(world, now)
    after, lost = act.failover(world, now, _actor(ctx), force)
    summary = _commit(ctx, world, after, version)
    db = after.database
    return FailoverResult(
        database=db.name,
        primary_before=world.database.primary,
        primary=db.primary,
        replica=db.replica,
        replication_lag_s=lag,
        data_loss_window_s=lost,
        summary=summary,
    )


@tool(
    risk="high",
    idempotent=False,
    resource="sandbox/secret/{name}",
    plan=_plan(plans.rotate_secret),
)
def rotate_secret(ctx: ToolContext, name: SecretName) -> SecretRotation:
    """Rotate a secret to a new version and restart the services that use it."""
    world, version = _load(ctx)
    before = act.get_secret(world, name)
    after = act.rotate_secret(world, name, ctx.clock(), _actor(ctx))
    summary = _commit(ctx, world, after, version)
    sec = after.secrets[name]
    return SecretRotation(
        name=name,
        version_before=before.version,
        version=sec.version,
        fingerprint=sec.fingerprint,
        restarted=list(sec.used_by),
        summary=summary,
    )


TOOLS: tuple[ToolSpec, ...] = (
    service_status,
    list_deployments,
    get_logs,
    get_metrics,
    list_jobs,
    database_status,
    certificate_status,
    list_secrets,
    recent_changes,
    rollback_deployment,
    restart_service,
    scale_service,
    set_config_value,
    toggle_feature_flag,
    pause_job,
    resume_job,
    renew_certificate,
    failover_database,
    rotate_secret,
)
