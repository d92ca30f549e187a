"""The sandbox's read tools: status, history, logs, metrics (now and over the last hour),
jobs, database, certificates, secrets and recent changes of the simulated production, read
from the stored world."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field

from copilot.errors import InvalidInput
from copilot.toolkit import ToolContext, tool

from .._common.logtemplates import template_window
from . import actions as act
from .context import load
from .history import MAX_POINTS, MetricsHistory, metrics_history
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
def get_metrics_history(
    ctx: ToolContext,
    service: ServiceName,
    minutes: Annotated[int, Field(ge=5, le=180, description="how far back")] = 60,
    step_minutes: Annotated[int, Field(ge=1, le=30, description="minutes between points")] = 2,
) -> MetricsHistory:
    """A service's request rate, error rate, p99 latency, memory and replicas over the last
    ``minutes``, one point per step (oldest first, the last one now), and what was done to
    the service in that window (deploys, rollbacks, scaling, flags).

    Each point is computed from the state the sandbox was in at that time: revisions,
    replicas, flags, jobs and faults as recorded. Worlds saved before replica and flag
    changes were recorded show today's replicas and flags throughout.
    """
    if step_minutes > minutes:
        raise InvalidInput(
            f"step_minutes ({step_minutes}) is longer than the window ({minutes} min)",
            "use a step of at most the window",
        )
    if minutes // step_minutes + 1 > MAX_POINTS:
        raise InvalidInput(
            f"{minutes} min at a {step_minutes}-min step is more than {MAX_POINTS} points",
            f"use step_minutes of at least {-(-minutes // (MAX_POINTS - 1))}",
        )
    world, _ = load(ctx)
    name = act.get_service(world, service).name
    return metrics_history(world, name, ctx.clock(), minutes, step_minutes)


@tool(risk="read")
def list_jobs(ctx: ToolContext) -> JobsReport:
    """Scheduled jobs: schedule, state, workers and what they cost right now."""
    world, _ = load(ctx)
    now = ctx.clock()
    jobs = [job_info(world, j, now) for j in world.jobs]
    return JobsReport(jobs=jobs, cost_per_hour=round(sum(j.cost_per_hour for j in jobs), 2))


@tool(risk="read")
def database_status(ctx: ToolContext) -> DatabaseStatus:
    """Primary and replica of orders-db, replication lag, what blocks replay (its pid),
    whether the primary answers, failover safety."""
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
    """Secrets' versions, age, fingerprints, consumers and any exposure (never values)."""
    world, _ = load(ctx)
    now = ctx.clock()
    secrets = [secret_info(world, n, now) for n in world.secrets]
    exposed = sorted((s for s in secrets if s.exposed_at), key=lambda s: s.exposed_at or now)
    return SecretsReport(
        secrets=secrets,
        exposed_count=len(exposed),
        exposed_secret_name=exposed[0].name if exposed else None,
    )


@tool(risk="read")
def recent_changes(
    ctx: ToolContext, limit: Annotated[int, Field(ge=1, le=100)] = 20
) -> ChangesReport:
    """What changed recently (deploys, rollbacks, scaling, flags, jobs, failovers), newest first."""
    world, _ = load(ctx)
    changes = [ChangeInfo(**c.model_dump()) for c in reversed(world.changes[-limit:])]
    return ChangesReport(changes=changes)
