"""Alertmanager reads: the alerts it holds and its silences (API v2)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from copilot.toolkit import ToolContext, tool

from .._common.series import labels_of
from .._common.sources import read, request_json
from .models import (
    AmAlert,
    AmAlertsResult,
    FilterMatcher,
    Silence,
    SilencesResult,
    matcher_text,
    when,
)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _alert(raw: dict[str, Any]) -> AmAlert:
    labels = labels_of(raw["labels"])
    status = raw.get("status") or {}
    return AmAlert(
        fingerprint=str(raw.get("fingerprint", "")),
        name=labels.get("alertname", ""),
        state=str(status.get("state", "")),
        labels=labels,
        annotations=labels_of(raw.get("annotations") or {}),
        starts_at=when(raw.get("startsAt")),
        ends_at=when(raw.get("endsAt")),
        silenced_by=[str(s) for s in status.get("silencedBy") or []],
        inhibited_by=[str(s) for s in status.get("inhibitedBy") or []],
        receivers=[str(r.get("name", "")) for r in raw.get("receivers") or []],
    )


def fetch_alerts(
    ctx: ToolContext,
    filters: list[str],
    active: bool = True,
    silenced: bool = True,
    inhibited: bool = True,
) -> list[AmAlert]:
    params = [("filter", f) for f in filters] + [
        ("active", _flag(active)),
        ("silenced", _flag(silenced)),
        ("inhibited", _flag(inhibited)),
    ]
    body = request_json(ctx, "alertmanager", "GET", "/api/v2/alerts", params=params)
    return [_alert(a) for a in body]


@tool(risk="read")
def alerts(
    ctx: ToolContext,
    filter: Annotated[
        list[FilterMatcher], Field(max_length=10, description="label matchers, all must match")
    ] = [],  # noqa: B006 - pydantic copies defaults
    active: Annotated[bool, Field(description="include alerts that notify")] = True,
    silenced: Annotated[bool, Field(description="include silenced alerts")] = True,
    inhibited: Annotated[bool, Field(description="include inhibited alerts")] = True,
    limit: Annotated[int, Field(ge=1, le=500)] = 100,
) -> AmAlertsResult:
    """Alerts in Alertmanager: labels, annotations, since when, state and what silences them."""

    def run() -> AmAlertsResult:
        found = fetch_alerts(ctx, filter, active, silenced, inhibited)
        found.sort(key=lambda a: a.starts_at.timestamp() if a.starts_at else 0.0, reverse=True)
        return AmAlertsResult(
            alerts=found[:limit], total=len(found), cut=max(0, len(found) - limit)
        )

    return read("alertmanager", "the alerts", run, AmAlertsResult)


def silence_of(raw: dict[str, Any]) -> Silence:
    return Silence(
        id=str(raw["id"]),
        state=str((raw.get("status") or {}).get("state", "")),
        matchers=[matcher_text(m) for m in raw.get("matchers") or []],
        starts_at=when(raw.get("startsAt")),
        ends_at=when(raw.get("endsAt")),
        created_by=str(raw.get("createdBy", ""))[:200],
        comment=str(raw.get("comment", ""))[:1000],
    )


_STATE_ORDER = {"active": 0, "pending": 1, "expired": 2}


@tool(risk="read")
def silences(
    ctx: ToolContext,
    state: Annotated[
        Literal["active", "pending", "expired"] | None, Field(description="default: all")
    ] = None,
    filter: Annotated[
        list[FilterMatcher],
        Field(max_length=10, description="silences whose matchers include these"),
    ] = [],  # noqa: B006 - pydantic copies defaults
    limit: Annotated[int, Field(ge=1, le=500)] = 100,
) -> SilencesResult:
    """Silences in Alertmanager: matchers, state, window, who created them and why."""

    def run() -> SilencesResult:
        params = [("filter", f) for f in filter]
        body = request_json(ctx, "alertmanager", "GET", "/api/v2/silences", params=params)
        found = [s for s in (silence_of(raw) for raw in body) if state is None or s.state == state]
        # Active first, then pending, then expired; newest first within each.
        found.sort(key=lambda s: s.ends_at.timestamp() if s.ends_at else 0.0, reverse=True)
        found.sort(key=lambda s: _STATE_ORDER.get(s.state, 3))
        return SilencesResult(
            silences=found[:limit], total=len(found), cut=max(0, len(found) - limit)
        )

    return read("alertmanager", "the silences", run, SilencesResult)
