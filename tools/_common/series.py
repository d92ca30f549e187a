"""A long series summarised for a model, and the label and number spellings of the Prometheus
API (Loki's metric queries answer in the same shape).

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

from .timeargs import from_epoch

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
