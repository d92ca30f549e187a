"""The sandbox's alert tools: what fires now, its silences, and silencing (Alertmanager-like).

An alert is computed from the world at the tool's clock (``alerting``); a silence is part
of the world, so creating or expiring one is a versioned write like any other change.
Unlike the other plans, a silence's plan lists the alerts it would silence *now*, read at
the clock: the approver approves silencing those, and if what fires changes before the
card runs, the plan differs and the approval goes stale, which is what should happen.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from copilot.errors import InvalidInput
from copilot.toolkit import ToolContext, tool

from .._common.timeargs import Duration, parse_duration
from .alerting import (
    RULE_NAMES,
    SILENCE_MAX,
    SILENCE_MIN,
    Alert,
    evaluate,
    rule_named,
    silence_active,
    silence_id,
    silences_match,
)
from .context import actor, commit, load
from .planted import planted_texts
from .world import Silence, World, record

SILENCES_KEY = "sandbox/silences"


def _alertname(name: str) -> str:
    rule = rule_named(name)
    if rule is None:
        raise ValueError(f"unknown alert {name!r} (known: {', '.join(RULE_NAMES)})")
    return rule.name


def _bounded(text: str) -> str:
    if not SILENCE_MIN <= parse_duration(text) <= SILENCE_MAX:
        raise ValueError("a silence lasts from 5m to 24h")
    return text


AlertName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        description="the alert's name, e.g. SandboxHighErrorRate (HighErrorRate works too)",
    ),
    AfterValidator(_alertname),
]
SilenceDuration = Annotated[Duration, AfterValidator(_bounded)]
SilenceId = Annotated[
    str, Field(pattern=r"^sil-[0-9a-f]{10}$", description="a silence id, e.g. sil-3f2a9c01be")
]


class AlertInfo(BaseModel):
    alertname: str
    state: str = Field(description="firing, or pending (holds, not yet for its `for`)")
    severity: str
    labels: dict[str, str]
    since: datetime
    summary: str
    description: str
    runbook_url: str
    silenced: bool
    silenced_by: list[str]


class AlertsReport(BaseModel):
    at: datetime
    alerts: list[AlertInfo]
    firing: int = Field(description="firing and not silenced")
    silenced: int


class SilenceInfo(BaseModel):
    id: str
    alertname: str
    service: str | None
    state: str = Field(description="active or expired")
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    silencing_now: list[str]


class SilencesReport(BaseModel):
    silences: list[SilenceInfo]


class SilenceCreated(BaseModel):
    silence_id: str
    alertname: str
    service: str | None
    starts_at: datetime
    ends_at: datetime
    silencing_now: list[str]
    summary: str


class SilenceExpired(BaseModel):
    silence_id: str
    was: str = Field(description="active or expired")
    summary: str


def _environment(ctx: ToolContext) -> str:
    return str(getattr(ctx.settings, "environment", "prod") or "prod")


def _label_text(alert: Alert) -> str:
    inner = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
    return f"{alert.rule.name}{{{inner}}}"


def _info(alert: Alert, env: str, world: World) -> AlertInfo:
    labels = {
        "alertname": alert.rule.name,
        "severity": alert.rule.severity,
        "environment": env,
        **alert.labels,
    }
    return AlertInfo(
        alertname=alert.rule.name,
        state=alert.state,
        severity=alert.rule.severity,
        labels=labels,
        since=alert.since,
        summary=alert.summary,
        # annotations carry label values whoever sent the request chose (evals plant there)
        description=" ".join(
            [alert.rule.description, *planted_texts(world, "alert", alert.labels["service"])]
        ),
        runbook_url=alert.rule.runbook_url,
        silenced=bool(alert.silenced_by),
        silenced_by=list(alert.silenced_by),
    )


def _check_service(world: World, service: str | None) -> None:
    known = sorted({*world.services, world.database.name})
    if service is not None and service not in known:
        raise InvalidInput(f"unknown service {service!r}", f"known services: {', '.join(known)}")


@tool(risk="read")
def alerts(
    ctx: ToolContext,
    service: Annotated[
        str | None, Field(max_length=64, description="only this service's alerts")
    ] = None,
    include_silenced: Annotated[bool, Field(description="list silenced alerts too")] = True,
) -> AlertsReport:
    """Alerts whose rule holds now (firing or pending), with labels, since and summary;
    silenced ones are marked with the silences that hold them."""
    world, _ = load(ctx)
    _check_service(world, service)
    now, env = ctx.clock(), _environment(ctx)
    found = [a for a in evaluate(world, now) if service in (None, a.labels.get("service"))]
    listed = [_info(a, env, world) for a in found if include_silenced or not a.silenced_by]
    return AlertsReport(
        at=now,
        alerts=listed,
        firing=sum(a.state == "firing" and not a.silenced_by for a in found),
        silenced=sum(bool(a.silenced_by) for a in found),
    )


def _silencing(world: World, now: datetime, alertname: str, service: str | None) -> list[str]:
    probe = Silence(
        id="probe", alertname=alertname, service=service, starts_at=now, ends_at=now, created_by=""
    )
    return [_label_text(a) for a in evaluate(world, now) if silences_match(probe, a.rule, a.labels)]


@tool(risk="read")
def silences(
    ctx: ToolContext,
    include_expired: Annotated[bool, Field(description="list expired silences too")] = False,
) -> SilencesReport:
    """Alert silences: matchers, who created them and why, until when, what they silence now."""
    world, _ = load(ctx)
    now = ctx.clock()
    out = []
    for s in reversed(world.silences):
        active = silence_active(s, now)
        if not active and not include_expired:
            continue
        out.append(
            SilenceInfo(
                **s.model_dump(exclude={"expired_at"}),
                state="active" if active else "expired",
                silencing_now=_silencing(world, now, s.alertname, s.service) if active else [],
            )
        )
    return SilencesReport(silences=out)


def _what(alertname: str, service: str | None) -> str:
    return alertname + (f" (service={service})" if service else " (every service)")


def _create_plan(ctx: ToolContext, args: Any) -> str:
    world, _ = load(ctx)
    _check_service(world, args.service)
    now_silenced = _silencing(world, ctx.clock(), args.alertname, args.service)
    text = f"silence {_what(args.alertname, args.service)} for {args.duration} from when it runs"
    if args.comment:
        text += f"; comment: {args.comment}"
    if now_silenced:
        return text + "; silences now: " + ", ".join(now_silenced)
    return text + "; nothing matches now: only alerts that start firing later are silenced"


@tool(risk="medium", idempotent=False, resource=SILENCES_KEY, plan=_create_plan)
def create_silence(
    ctx: ToolContext,
    alertname: AlertName,
    duration: Annotated[SilenceDuration, Field(description="from 5m to 24h, e.g. 1h")],
    service: Annotated[
        str | None, Field(max_length=64, description="only this service; default: all")
    ] = None,
    comment: Annotated[str, Field(max_length=500, description="why; an incident id")] = "",
) -> SilenceCreated:
    """Silence an alert (one service or all) for a bounded time: it stops notifying."""
    world, version = load(ctx)
    _check_service(world, service)
    now = ctx.clock().replace(microsecond=0)
    after = world.model_copy(deep=True)
    silence = Silence(
        id=silence_id(world, now, alertname, service),
        alertname=alertname,
        service=service,
        starts_at=now,
        ends_at=now + parse_duration(duration),
        created_by=actor(ctx),
        comment=comment,
    )
    after.silences.append(silence)
    what = _what(alertname, service)
    record(after, now, actor(ctx), "create_silence", alertname, f"silenced {what} for {duration}")
    summary = commit(ctx, world, after, version)
    return SilenceCreated(
        silence_id=silence.id,
        alertname=alertname,
        service=service,
        starts_at=silence.starts_at,
        ends_at=silence.ends_at,
        silencing_now=_silencing(after, now, alertname, service),
        summary=summary,
    )


def _find(world: World, sid: str) -> Silence:
    found = next((s for s in world.silences if s.id == sid), None)
    if found is None:
        known = ", ".join(s.id for s in world.silences) or "none"
        raise InvalidInput(f"no silence {sid!r}", f"known silences: {known}")
    return found


def _expire_plan(ctx: ToolContext, args: Any) -> str:
    world, _ = load(ctx)
    s = _find(world, args.silence_id)
    if not silence_active(s, ctx.clock()):
        return f"{s.id}: already expired; no change"
    return (
        f"expire {s.id} ({_what(s.alertname, s.service)}, created by {s.created_by}, "
        f"until {s.ends_at.isoformat()}): the alerts it holds notify again"
    )


@tool(risk="low", idempotent=True, resource=SILENCES_KEY, plan=_expire_plan)
def expire_silence(ctx: ToolContext, silence_id: SilenceId) -> SilenceExpired:
    """End a silence now: the alerts it held notify again."""
    world, version = load(ctx)
    now = ctx.clock().replace(microsecond=0)
    was = "active" if silence_active(_find(world, silence_id), now) else "expired"
    if was == "expired":
        return SilenceExpired(silence_id=silence_id, was=was, summary="no change")
    after = world.model_copy(deep=True)
    s = _find(after, silence_id)
    s.expired_at = now
    record(after, now, actor(ctx), "expire_silence", s.alertname, f"expired silence {s.id}")
    return SilenceExpired(
        silence_id=silence_id, was=was, summary=commit(ctx, world, after, version)
    )
