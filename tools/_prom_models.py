"""What the Prometheus readers return, and how a long series is summarised for a model.

A range query can return thousands of points per series; a model needs the shape, not the
points. ``summarise`` keeps first, last, min and max and a thinned list of points (evenly
spaced, plus the minimum and maximum so a spike is never thinned away). Prometheus writes
values as strings and may send ``NaN`` or ``±Inf``: those stay strings, since JSON (and the
canonical JSON the store hashes) has no such numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from tools._sources import SourceResult
from tools._timeargs import from_epoch

Number = float | str


def number(raw: Any) -> Number:
    """A Prometheus sample value: a float, or its text when it is not finite."""
    value = float(raw)
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")


def labels_of(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise TypeError("labels must be an object")
    return {str(k): str(v) for k, v in raw.items()}


class Sample(BaseModel):
    labels: dict[str, str]
    value: Number
    at: datetime


class Point(BaseModel):
    at: datetime
    value: Number


class SeriesSummary(BaseModel):
    labels: dict[str, str]
    points_total: int
    first: Point | None = None
    last: Point | None = None
    min: float | None = Field(None, description="of the finite values")
    max: float | None = Field(None, description="of the finite values")
    points: list[Point] = Field(
        default_factory=list, description="thinned: evenly spaced, plus the min and the max"
    )


def summarise(labels: dict[str, str], values: Sequence[Any], keep: int) -> SeriesSummary:
    """One series of ``[epoch_seconds, "value"]`` pairs, summarised (see the module doc)."""
    points = [Point(at=from_epoch(float(ts)), value=number(v)) for ts, v in values]
    finite = [(i, p.value) for i, p in enumerate(points) if isinstance(p.value, float)]
    picks: set[int] = set()
    if points:
        n = len(points)
        picks = (
            set(range(n)) if n <= keep else {round(i * (n - 1) / (keep - 1)) for i in range(keep)}
        )
    low = high = None
    if finite:
        lo_i, low = min(finite, key=lambda f: f[1])
        hi_i, high = max(finite, key=lambda f: f[1])
        picks |= {lo_i, hi_i}
    return SeriesSummary(
        labels=labels,
        points_total=len(points),
        first=points[0] if points else None,
        last=points[-1] if points else None,
        min=None if low is None else float(low),
        max=None if high is None else float(high),
        points=[points[i] for i in sorted(picks)],
    )


class QueryResult(SourceResult):
    """An instant query: samples (vector, scalar) or summarised series (a range selector)."""

    source: str = "prometheus"
    query: str
    at: datetime | None = None
    result_type: str | None = None
    samples: list[Sample] = Field(default_factory=list)
    series: list[SeriesSummary] = Field(default_factory=list)
    total: int = Field(0, description="series Prometheus returned")
    cut: int = Field(0, description="series left out to keep the answer short")
    warnings: list[str] = Field(default_factory=list)


class RangeResult(SourceResult):
    """A range query, each series summarised."""

    source: str = "prometheus"
    query: str
    start: datetime | None = None
    end: datetime | None = None
    step: str | None = None
    series: list[SeriesSummary] = Field(default_factory=list)
    total: int = Field(0, description="series Prometheus returned")
    cut: int = Field(0, description="series left out to keep the answer short")
    warnings: list[str] = Field(default_factory=list)


class PromAlert(BaseModel):
    name: str
    state: str
    labels: dict[str, str]
    annotations: dict[str, str]
    active_at: datetime | None = None
    value: Number | None = None


class PromAlertsResult(SourceResult):
    source: str = "prometheus"
    alerts: list[PromAlert] = Field(default_factory=list)
    total: int = 0
    cut: int = 0


class Target(BaseModel):
    job: str
    instance: str
    scrape_url: str
    health: str
    last_error: str = ""
    last_scrape: datetime | None = None
    last_scrape_duration_s: float | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class TargetsResult(SourceResult):
    source: str = "prometheus"
    targets: list[Target] = Field(default_factory=list)
    total: int = 0
    up: int = 0
    down: int = 0
    cut: int = 0
