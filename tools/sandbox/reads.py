"""The sandbox's read tools: status, history, logs, metrics, jobs, database, certificates,
secrets and recent changes of the simulated production, read from the stored world."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field

from copilot.toolkit import ToolContext, tool

from .._common.logtemplates import template_window
from . import actions as act
from .context import load
from .models import (
    CertificatesReport,
    ChangeInfo,
    ChangesReport,
    DatabaseStatus,
    DeploymentHistory,
    JobsReport,
    LogPatterns,
    LogsResult,
    SecretsReport,
    ServiceName,
    StatusReport,
)
from .reports import (
    certificate_info,
    database_info,
    deployment_history,
    job_info,
    secret_info,
    service_info,
)
from .telemetry import Level, ServiceMetrics, logs, metrics


@tool(risk="read")
def service_status(
    ctx: ToolContext,
    service: Annotated[
        str | None, Field(max_length=64, description="one service; default: all of them")
    ] = None,
) -> StatusReport:
    """Health, revision, replicas, error rate, latency and config of one or all services."""
    world, _ = load(ctx)
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
    world, _ = load(ctx)
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
    world, _ = load(ctx)
    act.get_service(world, service)
    lines = logs(world, service, ctx.clock(), limit=limit, min_level=level, contains=contains)
    return LogsResult(service=service, lines=lines)


@tool(risk="read")
def log_patterns(
    ctx: ToolContext,
    service: ServiceName,
    minutes: Annotated[int, Field(ge=1, le=60, description="window, newest minutes")] = 15,
    max_templates: Annotated[int, Field(ge=5, le=100)] = 30,
) -> LogPatterns:
    """A service's recent logs folded into templates: count, levels, first/last, one example.

    Thousands of lines become a few hundred tokens; errors are always kept. Use it before
    get_logs to see what is going on; example lines are redacted like any output.
    """
    world, _ = load(ctx)
    act.get_service(world, service)
    now = ctx.clock()
    since = now - timedelta(minutes=minutes)
    window = [line for line in logs(world, service, now, limit=20_000) if line.ts >= since]
    return LogPatterns(
        service=service,
        minutes=minutes,
        window=template_window(window, max_templates=max_templates),
    )


@tool(risk="read")
def get_metrics(ctx: ToolContext, service: ServiceName) -> ServiceMetrics:
    """Current request rate, error rate, latency, CPU, memory, restarts and cost of a service."""
    world, _ = load(ctx)
    return metrics(world, act.get_service(world, service).name, ctx.clock())


@tool(risk="read")
def list_jobs(ctx: ToolContext) -> JobsReport:
    """Scheduled jobs: schedule, state, workers and what they cost right now."""
    world, _ = load(ctx)
    now = ctx.clock()
    jobs = [job_info(world, j, now) for j in world.jobs]
    return JobsReport(jobs=jobs, cost_per_hour=round(sum(j.cost_per_hour for j in jobs), 2))


@tool(risk="read")
def database_status(ctx: ToolContext) -> DatabaseStatus:
    """Primary and replica of orders-db, replication lag, what blocks replay, failover safety."""
    world, _ = load(ctx)
    return database_info(world, ctx.clock())


@tool(risk="read")
def certificate_status(ctx: ToolContext) -> CertificatesReport:
    """TLS certificates: issuer, expiry, days left and the last auto-renewal error."""
    world, _ = load(ctx)
    now = ctx.clock()
    return CertificatesReport(
        certificates=[certificate_info(world, d, now) for d in world.certificates]
    )


@tool(risk="read")
def list_secrets(ctx: ToolContext) -> SecretsReport:
    """Secrets' versions, age, fingerprints and consumers (never their values)."""
    world, _ = load(ctx)
    now = ctx.clock()
    return SecretsReport(secrets=[secret_info(world, n, now) for n in world.secrets])


@tool(risk="read")
def recent_changes(
    ctx: ToolContext, limit: Annotated[int, Field(ge=1, le=100)] = 20
) -> ChangesReport:
    """What changed recently (deploys, rollbacks, scaling, flags, jobs, failovers), newest first."""
    world, _ = load(ctx)
    changes = [ChangeInfo(**c.model_dump()) for c in reversed(world.changes[-limit:])]
    return ChangesReport(changes=changes)
