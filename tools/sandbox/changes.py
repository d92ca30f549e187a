"""The sandbox's write tools: each loads the world, applies one pure action, saves it back.

Every tool has an honest risk, a lock key derived from its arguments and a plan that
depends only on the stored world and the arguments (never on the clock).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from copilot.toolkit import ToolContext, tool

from . import actions as act
from . import plans
from .context import actor, commit, load, plan_from
from .models import (
    CertificateRenewal,
    ConfigKey,
    ConfigValue,
    DeploymentChange,
    Domain,
    FailoverResult,
    FlagChange,
    FlagName,
    JobChange,
    JobName,
    QueryCancellation,
    ScaleChange,
    SecretName,
    SecretRotation,
    ServiceName,
)
from .world import Deployment, World, replica_lag_s


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
    plan=plan_from(plans.rollback),
)
def rollback_deployment(
    ctx: ToolContext,
    service: ServiceName,
    to_revision: Annotated[
        int | None, Field(ge=1, description="default: the revision that ran before the current one")
    ] = None,
) -> DeploymentChange:
    """Roll a service back to an earlier revision (default: the one before the current)."""
    world, version = load(ctx)
    before = act.get_service(world, service).current
    after = act.rollback(world, service, to_revision, ctx.clock(), actor(ctx))
    summary = commit(ctx, world, after, version)
    return _deployment_change(after, service, "rollback", before, summary)


@tool(
    risk="low",
    idempotent=False,
    resource="sandbox/service/{service}",
    plan=plan_from(plans.restart),
)
def restart_service(ctx: ToolContext, service: ServiceName) -> DeploymentChange:
    """Rolling restart of a service's pods at its current revision."""
    world, version = load(ctx)
    before = act.get_service(world, service).current
    after = act.restart(world, service, ctx.clock(), actor(ctx))
    summary = commit(ctx, world, after, version)
    return _deployment_change(after, service, "restart", before, summary)


@tool(
    risk="medium",
    idempotent=True,
    resource="sandbox/service/{service}",
    plan=plan_from(plans.scale),
)
def scale_service(
    ctx: ToolContext,
    service: ServiceName,
    replicas: Annotated[int, Field(ge=0, le=50, description="desired replicas; 0 stops it")],
) -> ScaleChange:
    """Set the number of replicas of a service (0 takes it out of service)."""
    world, version = load(ctx)
    before = act.get_service(world, service).replicas
    after = act.scale(world, service, replicas, ctx.clock(), actor(ctx))
    summary = commit(ctx, world, after, version)
    return ScaleChange(
        service=service, before_replicas=before, after_replicas=replicas, summary=summary
    )


@tool(
    risk="medium",
    idempotent=True,
    resource="sandbox/service/{service}",
    plan=plan_from(plans.set_config),
)
def set_config_value(
    ctx: ToolContext, service: ServiceName, key: ConfigKey, value: ConfigValue
) -> DeploymentChange:
    """Set one config key of a service; a new revision with the same image is rolled out."""
    world, version = load(ctx)
    before = act.get_service(world, service).current
    after = act.set_config(world, service, key, value, ctx.clock(), actor(ctx))
    summary = commit(ctx, world, after, version)
    return _deployment_change(after, service, "set_config", before, summary)


@tool(
    risk="low",
    idempotent=True,
    resource="sandbox/service/{service}/flag/{flag}",
    plan=plan_from(plans.toggle_flag),
)
def toggle_feature_flag(
    ctx: ToolContext, service: ServiceName, flag: FlagName, enabled: bool
) -> FlagChange:
    """Turn a service's feature flag on or off."""
    world, version = load(ctx)
    before = act.get_flag(world, service, flag)
    after = act.set_flag(world, service, flag, enabled, ctx.clock(), actor(ctx))
    summary = commit(ctx, world, after, version)
    return FlagChange(service=service, flag=flag, before=before, after=enabled, summary=summary)


def _job_change(ctx: ToolContext, job: str, pause: bool) -> JobChange:
    world, version = load(ctx)
    before = act.get_job(world, job)
    change = act.pause_job if pause else act.resume_job
    after = change(world, job, ctx.clock(), actor(ctx))
    summary = commit(ctx, world, after, version)
    cancelled = before.running_since is not None and after.jobs[job].running_since is None
    return JobChange(
        job=job,
        paused_before=before.paused,
        paused=after.jobs[job].paused,
        cancelled_run=cancelled,
        summary=summary,
    )


@tool(
    risk="low",
    idempotent=True,
    resource="sandbox/job/{job}",
    plan=plan_from(plans.pause_job),
)
def pause_job(ctx: ToolContext, job: JobName) -> JobChange:
    """Suspend a scheduled job and cancel its running run, if any."""
    return _job_change(ctx, job, pause=True)


@tool(
    risk="low",
    idempotent=True,
    resource="sandbox/job/{job}",
    plan=plan_from(plans.resume_job),
)
def resume_job(ctx: ToolContext, job: JobName) -> JobChange:
    """Resume a paused job's schedule."""
    return _job_change(ctx, job, pause=False)


# Not idempotent: each call issues another certificate and counts against the CA's limits.
@tool(
    risk="medium",
    idempotent=False,
    resource="sandbox/certificate/{domain}",
    plan=plan_from(plans.renew_certificate),
)
def renew_certificate(ctx: ToolContext, domain: Domain) -> CertificateRenewal:
    """Issue a fresh TLS certificate for a domain and hot-reload it."""
    world, version = load(ctx)
    before = act.get_certificate(world, domain)
    after = act.renew_certificate(world, domain, ctx.clock(), actor(ctx))
    summary = commit(ctx, world, after, version)
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
    plan=plan_from(plans.failover),
)
def failover_database(
    ctx: ToolContext,
    force: Annotated[
        bool, Field(description="fail over even if the replica lags (loses unreplayed writes)")
    ] = False,
) -> FailoverResult:
    """Promote orders-db's replica to primary; refused while the replica lags unless forced."""
    world, version = load(ctx)
    now = ctx.clock()
    lag = replica_lag_s(world, now)
    after, lost = act.failover(world, now, actor(ctx), force)
    summary = commit(ctx, world, after, version)
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


# Not idempotent: once the query is gone its pid may be reused by another backend.
# Locked like a failover: both act on orders-db's replica.
@tool(
    risk="medium",
    idempotent=False,
    resource="sandbox/database/orders-db",
    plan=plan_from(plans.cancel_query),
)
def cancel_query(
    ctx: ToolContext,
    pid: Annotated[
        int, Field(ge=1, le=4_194_304, description="the blocking query's pid (database_status)")
    ],
) -> QueryCancellation:
    """Cancel the query that blocks WAL replay on orders-db's replica, so the replica
    catches up; its client gets an error and may run it again later."""
    world, version = load(ctx)
    now = ctx.clock()
    app = act.check_blocking(world, pid)
    lag = replica_lag_s(world, now)
    after = act.cancel_query(world, pid, now, actor(ctx))
    summary = commit(ctx, world, after, version)
    return QueryCancellation(
        database=after.database.name,
        node=after.database.replica,
        pid=pid,
        application=app,
        replay_before="blocked",
        replay="streaming" if after.database.replay_blocked_since is None else "blocked",
        replication_lag_s_before=lag,
        summary=summary,
    )


@tool(
    risk="high",
    idempotent=False,
    resource="sandbox/secret/{name}",
    plan=plan_from(plans.rotate_secret),
)
def rotate_secret(ctx: ToolContext, name: SecretName) -> SecretRotation:
    """Rotate a secret to a new version and restart the services that use it."""
    world, version = load(ctx)
    before = act.get_secret(world, name)
    after = act.rotate_secret(world, name, ctx.clock(), actor(ctx))
    summary = commit(ctx, world, after, version)
    sec = after.secrets[name]
    return SecretRotation(
        name=name,
        version_before=before.version,
        version=sec.version,
        fingerprint=sec.fingerprint,
        restarted=list(sec.used_by),
        summary=summary,
    )
