"""Webhook payloads: Alertmanager's (version 4) and a generic one for other sources.

Both become an ``AlertBatch``. Nothing in a payload is trusted: labels and annotations are
kept as evidence and shown, never followed; only the alert's name and a few label values
(service, namespace, job) are used, to title the incident and to search the runbooks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from copilot.domain.incidents import AlertBatch, AlertRecord
from copilot.errors import InvalidInput, describe_validation_error

MAX_ALERTS = 5000  # Alertmanager groups; a storm of this size is still one delivery
MAX_TEXT = 8000  # one label or annotation value
MAX_NAME = 300
# Alertmanager sends this as endsAt of a firing alert: "not ended"
_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)

Labels = dict[str, str]


def _bounded(values: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in values.items():
        if len(str(key)) > 200:
            raise ValueError(f"a label name has {len(str(key))} characters (at most 200)")
        text = value if isinstance(value, str) else str(value)
        if len(text) > MAX_TEXT:
            raise ValueError(f"the value of {str(key)[:40]!r} has {len(text)} characters")
        out[str(key)] = text
    return out


class _Alert(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    status: Literal["firing", "resolved"]
    labels: Labels = Field(default_factory=dict)
    annotations: Labels = Field(default_factory=dict)
    starts_at: datetime | None = Field(None, alias="startsAt")
    ends_at: datetime | None = Field(None, alias="endsAt")
    generator_url: str = Field("", alias="generatorURL", max_length=2000)
    fingerprint: str = Field(min_length=1, max_length=200)

    @field_validator("labels", "annotations", mode="before")
    @classmethod
    def _strings(cls, v: Any) -> Any:
        return _bounded(v) if isinstance(v, dict) else v


class AlertmanagerPayload(BaseModel):
    """What Alertmanager's webhook receiver posts (``version`` "4")."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: str
    group_key: str = Field(alias="groupKey", min_length=1, max_length=2000)
    status: Literal["firing", "resolved"]
    receiver: str = ""
    common_labels: Labels = Field(default_factory=dict, alias="commonLabels")
    external_url: str = Field("", alias="externalURL", max_length=2000)
    truncated_alerts: int = Field(0, alias="truncatedAlerts", ge=0)
    alerts: list[_Alert] = Field(min_length=1, max_length=MAX_ALERTS)

    @field_validator("version")
    @classmethod
    def _four(cls, v: str) -> str:
        if v != "4":
            raise ValueError(f'version {v[:10]!r} is not supported (Alertmanager sends "4")')
        return v


class GenericAlert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200, description="stable id of this alert")
    name: str = Field(min_length=1, max_length=MAX_NAME)
    status: Literal["firing", "resolved"] = "firing"
    labels: Labels = Field(default_factory=dict)
    annotations: Labels = Field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    @field_validator("labels", "annotations", mode="before")
    @classmethod
    def _strings(cls, v: Any) -> Any:
        return _bounded(v) if isinstance(v, dict) else v


class GenericPayload(BaseModel):
    """The generic webhook (``POST /webhooks/generic``): one group of alerts from any
    source. Documented in the README; unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field("generic", min_length=1, max_length=32, pattern=r"^[a-z0-9_-]+$")
    group: str = Field(min_length=1, max_length=2000, description="alerts of one incident")
    alerts: list[GenericAlert] = Field(min_length=1, max_length=MAX_ALERTS)


def _when(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return None if value <= _ZERO_TIME else value.astimezone(UTC)


def _name(labels: dict[str, str]) -> str:
    """The alert's name on one line (it titles the incident and each timeline line)."""
    return " ".join((labels.get("alertname") or "unnamed alert").split())[:MAX_NAME]


def _parse(model: type[BaseModel], body: Any, what: str) -> Any:
    if not isinstance(body, dict):
        raise InvalidInput(f"the {what} payload must be a JSON object", "send the JSON body")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise InvalidInput(
            f"the {what} payload is not valid: {describe_validation_error(exc)}",
            "see the README's Incidents section for the payload",
        ) from None


def from_alertmanager(body: Any) -> AlertBatch:
    p: AlertmanagerPayload = _parse(AlertmanagerPayload, body, "Alertmanager")
    alerts = [
        AlertRecord(
            fingerprint=a.fingerprint,
            status=a.status,
            name=_name(a.labels),
            labels=a.labels,
            annotations=a.annotations,
            starts_at=_when(a.starts_at),
            ends_at=_when(a.ends_at) if a.status == "resolved" else None,
            generator_url=a.generator_url,
        )
        for a in p.alerts
    ]
    return AlertBatch(
        source="alertmanager",
        group_key=p.group_key,
        status=p.status,
        alerts=alerts,
        common_labels=p.common_labels,
        external_url=p.external_url,
    )


def from_generic(body: Any) -> AlertBatch:
    p: GenericPayload = _parse(GenericPayload, body, "generic webhook")
    alerts = [
        AlertRecord(
            fingerprint=a.id,
            status=a.status,
            name=" ".join(a.name.split()),
            labels={"alertname": a.name, **a.labels},
            annotations=a.annotations,
            starts_at=_when(a.starts_at),
            ends_at=_when(a.ends_at) if a.status == "resolved" else None,
        )
        for a in p.alerts
    ]
    firing = any(a.status == "firing" for a in alerts)
    return AlertBatch(
        source=p.source,
        group_key=p.group,
        status="firing" if firing else "resolved",
        alerts=alerts,
    )


# Labels that name what an alert is about, in the order a title uses them.
SUBJECT_LABELS = ("service", "job", "namespace", "deployment", "instance")


def subject_of(labels: dict[str, str]) -> str:
    for key in SUBJECT_LABELS:
        if labels.get(key):
            return f"{key}={labels[key]}"
    return ""


def title_of(batch: AlertBatch) -> str:
    first = next((a for a in batch.alerts if a.status == "firing"), batch.alerts[0])
    names = sorted({a.name for a in batch.alerts})
    title = first.name
    subject = " ".join(subject_of(first.labels).split())
    if subject:
        title += f" ({subject})"
    if len(names) > 1:
        title += f" and {len(names) - 1} more alert name(s)"
    return title[:300]


def severity_of(batch: AlertBatch) -> str:
    ranks = ["critical", "high", "page", "warning", "medium", "low", "info"]
    seen = {a.labels.get("severity", "").lower() for a in batch.alerts}
    seen |= {batch.common_labels.get("severity", "").lower()}
    for rank in ranks:
        if rank in seen:
            return rank
    return "unknown"
