"""What the Prometheus readers return (series are summarised by ``_common.series``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from .._common.series import Number, SeriesSummary
from .._common.sources import SourceResult


class Sample(BaseModel):
    labels: dict[str, str]
    value: Number
    at: datetime


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
