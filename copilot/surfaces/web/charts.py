"""Small inline charts of the metrics a conversation gathered: which series, and their SVG.

Pure functions over facts (``FactView`` dumped with ``mode="json"``): no I/O, no web
framework. A fact is tool output, so untrusted: every text that reaches the SVG is
XML-escaped, only finite numbers are drawn, and anything malformed is skipped, never
raised. The SVG uses presentation attributes only (the page's Content-Security-Policy
forbids inline styles) and ``currentColor``, so the page's stylesheet picks the colours.
Times are shown in UTC.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator

Unit = Literal["ratio", "ms", "s", "MB", "bytes", "count", ""]

HISTORY_TOOL = "sandbox.get_metrics_history"
METRICS_TOOL = "sandbox.get_metrics"
MAX_POINTS = 240  # per chart: a long conversation keeps its newest readings
MAX_CHARTS = 12
MAX_SERIES_PER_FACT = 4
MAX_TITLE = 120
MAX_MARK = 160

# What a person looks at for a sandbox service: (field of a reading, label, unit).
SANDBOX_SERIES: tuple[tuple[str, str, Unit], ...] = (
    ("error_rate", "error rate", "ratio"),
    ("p99_ms", "p99 latency", "ms"),
    ("ready_replicas", "ready replicas", "count"),
)
# Memory is charted only when it moves: a flat line at the usual level says nothing.
MEMORY_SERIES: tuple[str, str, Unit] = ("memory_mb", "memory per pod", "MB")
MEMORY_MOVES = 0.1  # of its highest value

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, without control characters."""
    text = " ".join(_CONTROL.sub("", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


class Chart(BaseModel):
    """One series worth a look: ``points`` are (ISO 8601 time, value), oldest first."""

    model_config = ConfigDict(frozen=True)

    title: str
    unit: Unit = ""
    points: list[tuple[str, float]] = Field(min_length=1)
    fact_ids: list[str] = Field(min_length=1)  # the facts the points come from, oldest first
    marks: list[tuple[str, str]] = Field(default_factory=list)  # (time, what was done then)

    @property
    def fact_id(self) -> str:
        """The fact of the newest point: what the chart cites."""
        return self.fact_ids[-1]

    @field_validator("title")
    @classmethod
    def _one_line(cls, title: str) -> str:
        return _clean(title, MAX_TITLE)

    @field_validator("points")
    @classmethod
    def _timed_and_finite(cls, points: list[tuple[str, float]]) -> list[tuple[str, float]]:
        if not all(math.isfinite(v) for _, v in points):
            raise ValueError("a value is not a finite number")
        return sorted(((_utc(at), v) for at, v in points), key=lambda p: _at(p[0]))

    @field_validator("marks")
    @classmethod
    def _timed_marks(cls, marks: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return sorted(((_utc(at), _clean(t, MAX_MARK)) for at, t in marks), key=lambda m: _at(m[0]))


def _utc(value: str) -> str:
    t = _time(value)
    if t is None:
        raise ValueError(f"not a time: {value[:40]!r}")
    return _iso(t)


def _at(iso: str) -> datetime:
    """A time a ``Chart`` holds (validated, so it parses)."""
    return datetime.fromisoformat(iso)


# -- finding series in facts -------------------------------------------------------------------
class _Reading(NamedTuple):
    at: datetime
    values: dict[str, float]
    fact_id: str


_ALL = (*SANDBOX_SERIES, MEMORY_SERIES)


def _reading(row: Any, fact_id: str, fallback: Any = None) -> _Reading | None:
    if not isinstance(row, dict):
        return None
    at = _time(row.get("at")) or _time(fallback)
    if at is None:
        return None
    values = {k: v for k, v in ((k, _number(row.get(k))) for k, *_ in _ALL) if v is not None}
    return _Reading(at, values, fact_id) if values else None


def _sandbox_charts(
    service: str, readings: Mapping[datetime, _Reading], marks: Mapping[datetime, str], full: bool
) -> list[Chart]:
    """``full``: a history was read, so the readings cover their span."""
    ordered = sorted(readings.values(), key=lambda r: r.at)[-MAX_POINTS:]
    if len(ordered) < 2:
        return []
    first, last = ordered[0].at, ordered[-1].at
    span = round((last - first).total_seconds() / 60)
    if full:
        when = f"last {span} min"
    else:
        when = f"{len(ordered)} readings" + (f" over {span} min" if span else "")
    inside = [(_iso(t), text) for t, text in sorted(marks.items()) if first <= t <= last]
    series = list(SANDBOX_SERIES)
    memory = [r.values[MEMORY_SERIES[0]] for r in ordered if MEMORY_SERIES[0] in r.values]
    if memory and max(memory) - min(memory) > MEMORY_MOVES * max(memory):
        series.append(MEMORY_SERIES)
    charts = []
    for key, label, unit in series:
        mine = [r for r in ordered if key in r.values]
        if len(mine) < 2:
            continue
        charts.append(
            Chart(
                title=f"{service} {label}, {when}",
                unit=unit,
                points=[(_iso(r.at), r.values[key]) for r in mine],
                fact_ids=list(dict.fromkeys(r.fact_id for r in mine)),
                marks=inside,
            )
        )
    return charts


_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def unit_of_query(query: str) -> Unit:
    """The unit a query's result is in, guessed from the Prometheus naming convention of the
    metrics it names (``_ratio``, ``_seconds``, ``_bytes``); "" when unsure (a quotient,
    several units, or none)."""
    bare = _QUOTED.sub("", query)
    if "/" in bare:
        return ""
    units: set[Unit] = set()
    for name in _NAME.findall(bare):
        if name.endswith("_ratio"):
            units.add("ratio")
        elif name.endswith("_seconds") or (
            name.endswith("_seconds_bucket") and "histogram_quantile" in bare
        ):
            units.add("s")
        elif name.endswith("_bytes"):
            units.add("bytes")
    return units.pop() if len(units) == 1 else ""


def _range_charts(fact_id: str, data: Mapping[str, Any]) -> list[Chart]:
    """Series summaries (Prometheus or Loki range queries): ``series[].points[].{at, value}``."""
    series = data.get("series")
    if not isinstance(series, list):
        return []
    raw_query = data.get("query")
    query = raw_query if isinstance(raw_query, str) else ""
    unit = unit_of_query(query)
    charts = []
    for s in series[:MAX_SERIES_PER_FACT]:
        if not isinstance(s, dict) or not isinstance(s.get("points"), list):
            continue
        points: dict[datetime, float] = {}
        for p in s["points"]:
            if isinstance(p, dict):
                at, value = _time(p.get("at")), _number(p.get("value"))
                if at is not None and value is not None:
                    points[at] = value
        if len(points) < 2:
            continue
        ordered = sorted(points.items())[-MAX_POINTS:]
        raw = s.get("labels")
        labels = raw if isinstance(raw, dict) else {}
        shown = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
        name = _clean(query, 80) or str(labels.get("__name__", "series"))
        span = round((ordered[-1][0] - ordered[0][0]).total_seconds() / 60)
        charts.append(
            Chart(
                title=f"{name}{' {' + shown + '}' if shown else ''}, last {span} min",
                unit=unit,
                points=[(_iso(t), v) for t, v in ordered],
                fact_ids=[fact_id],
            )
        )
    return charts


def fact_charts(facts: Iterable[Mapping[str, Any]]) -> list[Chart]:
    """The charts worth showing for these facts, in the order the facts first gave them:
    per sandbox service the error rate, p99 latency and ready replicas from its metrics
    history and its ``get_metrics`` readings (merged: a later reading extends the history);
    and each series of a range query (Prometheus, Loki). A single reading is no chart."""
    order: list[tuple[str, Any]] = []  # ("service", name) or ("range", key) by first sight
    readings: dict[str, dict[datetime, _Reading]] = {}
    marks: dict[str, dict[datetime, str]] = {}
    full: set[str] = set()
    ranges: dict[Any, list[Chart]] = {}
    for fact in facts:
        if not isinstance(fact, Mapping) or fact.get("ok") is False:
            continue
        data, tool = fact.get("data"), fact.get("tool")
        if not isinstance(data, dict):
            continue
        fact_id = str(fact.get("id") or "")
        service = data.get("service")
        if tool in (HISTORY_TOOL, METRICS_TOOL) and isinstance(service, str) and service:
            service = _clean(service, 64)
            rows = data.get("points") if tool == HISTORY_TOOL else [data]
            rows = rows if isinstance(rows, list) else []
            found = [_reading(r, fact_id, fact.get("at")) for r in rows]
            if ("service", service) not in order:
                order.append(("service", service))
            readings.setdefault(service, {}).update({r.at: r for r in found if r is not None})
            if tool == HISTORY_TOOL:
                full.add(service)
                for c in data.get("changes") or []:
                    if isinstance(c, dict) and (t := _time(c.get("at"))) is not None:
                        text = f"{c.get('action', 'change')}: {c.get('summary', '')}"
                        marks.setdefault(service, {})[t] = text
        elif isinstance(data.get("series"), list):
            # the same query read again: its newest answer replaces the older one
            key = (tool, data.get("query"))
            if ("range", key) not in order:
                order.append(("range", key))
            ranges[key] = _range_charts(fact_id, data)
    charts: list[Chart] = []
    for kind, key in order:
        if kind == "service":
            charts += _sandbox_charts(key, readings[key], marks.get(key, {}), key in full)
        else:
            charts += ranges[key]
    return charts[:MAX_CHARTS]


# -- formatting ---------------------------------------------------------------------------------
def format_value(value: float, unit: Unit) -> str:
    """A value as a person reads it: rates as percent, latencies in ms, sizes in MB/MiB."""
    if unit == "ratio":
        pct = value * 100
        return "0 %" if pct == 0 else f"{pct:.2f} %" if abs(pct) < 10 else f"{pct:.1f} %"
    if unit == "s":
        return format_value(value * 1000, "ms") if abs(value) < 1 else f"{value:.2f} s"
    if unit == "ms":
        return f"{value:,.0f} ms" if abs(value) >= 10 or value == 0 else f"{value:.1f} ms"
    if unit == "MB":
        return f"{value:,.0f} MB"
    if unit == "bytes":
        size, prefix = abs(value), ""
        for prefix in ("", "Ki", "Mi", "Gi", "Ti"):
            if size < 1024 or prefix == "Ti":
                break
            size /= 1024
        sign = "-" if value < 0 else ""
        return f"{sign}{size:.0f} B" if not prefix else f"{sign}{size:.1f} {prefix}B"
    if unit == "count" and value.is_integer():
        return f"{value:,.0f}"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _clock(times: list[datetime]) -> list[str]:
    """``HH:MM`` labels; with seconds when two would read the same, with the date when the
    times span more than one day."""
    fmt = "%m-%d %H:%M" if len({t.date() for t in times}) > 1 else "%H:%M"
    if len({t.strftime(fmt) for t in times}) < len(set(times)):
        fmt += ":%S"
    return [t.strftime(fmt) for t in times]


class Row(NamedTuple):
    """One raw value for the table under a chart."""

    time: str  # "14:32" (UTC), or with seconds or the date when needed to tell rows apart
    value: str  # formatted in the chart's unit
    at: str  # ISO 8601, for a <time datetime="..."> element


def values_table(chart: Chart) -> list[Row]:
    """The chart's raw values, oldest first, as text (escaped by whoever renders them)."""
    times = [_at(at) for at, _ in chart.points]
    return [
        Row(label, format_value(v, chart.unit), at)
        for label, (at, v) in zip(_clock(times), chart.points, strict=True)
    ]
