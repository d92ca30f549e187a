"""Prometheus reads: instant and range PromQL queries, alerts and scrape targets.

Everything goes through ``_common.sources`` (one HTTP door, safe errors) and comes back as
an untrusted ``SourceResult``. A source that is unset, down or refuses the query gives a
result with ``unavailable`` set (for a rejected query: Prometheus's own parse or execution
error, so the model can correct the query) instead of an exception. Answers are bounded:
a cap on series, and range series summarised rather than listed point by point.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field

from copilot.errors import InvalidInput
from copilot.toolkit import ToolContext, tool

from .._common.series import SeriesSummary, labels_of, number, summarise
from .._common.sources import SourceError, SourceUnavailable, field, read, request_json, sources_of
from .._common.timeargs import (
    Duration,
    TimeArg,
    describe,
    from_epoch,
    parse_duration,
    parse_rfc3339,
    resolve_time,
)
from .models import (
    PromAlert,
    PromAlertsResult,
    QueryResult,
    RangeResult,
    Sample,
    Target,
    TargetsResult,
)

PromQL = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2000,
        description='PromQL, e.g. sum by (service) (rate(http_requests_total{code=~"5.."}[5m]))',
    ),
]
# Prometheus refuses more than 11,000 points per series; stay well inside.
MAX_POINTS = 11_000
AUTO_POINTS = 240


def _api(ctx: ToolContext, path: str, params: dict[str, Any]) -> tuple[Any, list[str]]:
    """``data`` of a Prometheus API answer and its warnings, or ``SourceError``."""
    body = request_json(ctx, "prometheus", "GET", path, params=params)
    if field(body, "status") != "success":
        raise SourceError(
            SourceUnavailable(
                source="prometheus",
                error=f"prometheus answered status {str(body.get('status'))[:40]!r}: "
                f"{str(body.get('error', ''))[:300]}",
                hint="the query was rejected: fix it and ask again",
            )
        )
    warnings = [str(w)[:300] for w in body.get("warnings") or []]
    return field(body, "data"), warnings


def _timeout(ctx: ToolContext) -> str:
    # Prometheus stops evaluating when the copilot stops waiting: no orphaned heavy queries.
    return f"{max(1, math.floor(sources_of(ctx).timeout_s))}s"


def _series(result: list[Any], keep: int) -> list[SeriesSummary]:
    return [summarise(labels_of(s["metric"]), s["values"], keep) for s in result]


@tool(risk="read")
def query(
    ctx: ToolContext,
    query: PromQL,
    time: Annotated[TimeArg | None, Field(description="evaluate at; default now")] = None,
    max_series: Annotated[int, Field(ge=1, le=500, description="series to return")] = 50,
) -> QueryResult:
    """Evaluate an instant PromQL query: each series' labels, value and timestamp.

    Series beyond ``max_series`` are left out (``cut`` says how many): use topk() or a
    narrower selector to choose which ones you see.
    """
    at = resolve_time(time, ctx.clock()) if time else None

    def run() -> QueryResult:
        params: dict[str, Any] = {"query": query, "timeout": _timeout(ctx)}
        if at is not None:
            params["time"] = f"{at.timestamp():.3f}"
        data, warnings = _api(ctx, "/api/v1/query", params)
        kind, result = str(field(data, "resultType")), field(data, "result")
        out = QueryResult(query=query, at=at, result_type=kind, warnings=warnings)
        if kind in ("scalar", "string"):
            ts, raw = result
            value = number(raw) if kind == "scalar" else str(raw)[:1000]
            out.samples = [Sample(labels={}, value=value, at=from_epoch(float(ts)))]
            out.total = 1
            return out
        out.total, out.cut = len(result), max(0, len(result) - max_series)
        if kind == "matrix":  # a range selector such as up[5m]
            out.series = _series(result[:max_series], 30)
        else:
            out.samples = [
                Sample(
                    labels=labels_of(s["metric"]),
                    value=number(s["value"][1]),
                    at=from_epoch(float(s["value"][0])),
                )
                for s in result[:max_series]
            ]
        return out

    return read("prometheus", "the query", run, lambda: QueryResult(query=query, at=at))


def _auto_step(span: timedelta) -> timedelta:
    return timedelta(seconds=max(1, math.ceil(span.total_seconds() / AUTO_POINTS)))


@tool(risk="read")
def query_range(
    ctx: ToolContext,
    query: PromQL,
    start: Annotated[TimeArg, Field(description='e.g. "1h" (ago) or RFC 3339')] = "1h",
    end: TimeArg = "now",
    step: Annotated[
        Duration | None, Field(description="resolution; default about 240 points")
    ] = None,
    max_series: Annotated[int, Field(ge=1, le=200, description="series to return")] = 20,
    points: Annotated[
        int, Field(ge=2, le=200, description="points kept per series (plus min and max)")
    ] = 30,
) -> RangeResult:
    """Evaluate PromQL over a time range: per series first, last, min, max and a few points.

    The summary shows a series' shape without thousands of points; ``points_total`` says
    how many Prometheus returned.
    """
    now = ctx.clock()
    t0, t1 = resolve_time(start, now), resolve_time(end, now)
    if t0 >= t1:
        raise InvalidInput(
            f"start ({t0.isoformat()}) must be before end ({t1.isoformat()})",
            'use e.g. start="1h", end="now"',
        )
    resolution = parse_duration(step) if step else _auto_step(t1 - t0)
    if resolution < timedelta(milliseconds=1):
        raise InvalidInput("step must be at least 1ms", 'use e.g. step="1m"')
    if (t1 - t0) / resolution > MAX_POINTS:
        raise InvalidInput(
            f"{describe(t1 - t0)} at a {step} step is more than {MAX_POINTS} points per series",
            "use a larger step, or leave it out to get about 240 points",
        )
    shown = step or describe(resolution)

    def run() -> RangeResult:
        params = {
            "query": query,
            "start": f"{t0.timestamp():.3f}",
            "end": f"{t1.timestamp():.3f}",
            "step": f"{resolution.total_seconds():g}",
            "timeout": _timeout(ctx),
        }
        data, warnings = _api(ctx, "/api/v1/query_range", params)
        result = field(data, "result")
        return RangeResult(
            query=query,
            start=t0,
            end=t1,
            step=shown,
            series=_series(result[:max_series], points),
            total=len(result),
            cut=max(0, len(result) - max_series),
            warnings=warnings,
        )

    return read(
        "prometheus",
        "the range query",
        run,
        lambda: RangeResult(query=query, start=t0, end=t1, step=shown),
    )


def _when(raw: Any) -> datetime | None:
    # Prometheus writes Go's zero time for "never" (a target not yet scraped).
    if not raw or str(raw).startswith("0001-01-01"):
        return None
    return parse_rfc3339(str(raw))


@tool(risk="read")
def alerts(
    ctx: ToolContext,
    state: Annotated[
        Literal["firing", "pending"] | None, Field(description="default: both")
    ] = None,
    name: Annotated[str | None, Field(max_length=200, description="alert name (exact)")] = None,
    limit: Annotated[int, Field(ge=1, le=500)] = 100,
) -> PromAlertsResult:
    """Alerts Prometheus is evaluating right now: name, state, labels, annotations, since when."""

    def run() -> PromAlertsResult:
        data, _ = _api(ctx, "/api/v1/alerts", {})
        found = [
            PromAlert(
                name=labels_of(a["labels"]).get("alertname", ""),
                state=str(a["state"]),
                labels=labels_of(a["labels"]),
                annotations=labels_of(a.get("annotations") or {}),
                active_at=_when(a.get("activeAt")),
                value=None if a.get("value") in (None, "") else number(a["value"]),
            )
            for a in field(data, "alerts")
        ]
        found = [
            a for a in found if (state is None or a.state == state) and (not name or a.name == name)
        ]
        return PromAlertsResult(
            alerts=found[:limit], total=len(found), cut=max(0, len(found) - limit)
        )

    return read("prometheus", "the alerts", run, PromAlertsResult)


@tool(risk="read")
def targets(
    ctx: ToolContext,
    job: Annotated[str | None, Field(max_length=200, description="one scrape job")] = None,
    health: Literal["up", "down", "unknown"] | None = None,
    limit: Annotated[int, Field(ge=1, le=1000)] = 100,
) -> TargetsResult:
    """Scrape targets: job, instance, URL, health, last error and when they were last scraped."""

    def run() -> TargetsResult:
        data, _ = _api(ctx, "/api/v1/targets", {"state": "active"})
        every = []
        for t in field(data, "activeTargets"):
            labels = labels_of(t.get("labels") or {})
            duration = t.get("lastScrapeDuration")
            every.append(
                Target(
                    job=labels.get("job", str(t.get("scrapePool", ""))),
                    instance=labels.get("instance", ""),
                    scrape_url=str(t.get("scrapeUrl", "")),
                    health=str(t["health"]),
                    last_error=str(t.get("lastError") or "")[:500],
                    last_scrape=_when(t.get("lastScrape")),
                    last_scrape_duration_s=None if duration is None else float(duration),
                    labels=labels,
                )
            )
        found = [
            t for t in every if (not job or t.job == job) and (health is None or t.health == health)
        ]
        return TargetsResult(
            targets=found[:limit],
            total=len(found),
            up=sum(t.health == "up" for t in found),
            down=sum(t.health == "down" for t in found),
            cut=max(0, len(found) - limit),
        )

    return read("prometheus", "the targets", run, TargetsResult)
