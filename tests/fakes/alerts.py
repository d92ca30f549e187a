"""Alertmanager webhook payloads (version 4), as Alertmanager builds them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

TOKEN = "whk-test-token-0123456789"
ZERO = "0001-01-01T00:00:00Z"


def alert(
    name: str = "SandboxHighErrorRate",
    *,
    service: str = "checkout",
    status: str = "firing",
    fingerprint: str = "f0c5a1b2c3d4e5f6",
    summary: str = "checkout returns 5xx above 5%",
    starts_at: str | None = None,
    **labels: str,
) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "status": status,
        "labels": {"alertname": name, "service": service, "severity": "page", **labels},
        "annotations": {"summary": summary},
        "startsAt": starts_at or now,
        "endsAt": now if status == "resolved" else ZERO,
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": fingerprint,
    }


def payload(
    *alerts: dict[str, Any], group: str = '{}:{alertname="SandboxHighErrorRate"}'
) -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "version": "4",
        "groupKey": group,
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": "copilot",
        "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]},
        "commonLabels": {"alertname": alerts[0]["labels"]["alertname"]},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


def resolved(a: dict[str, Any]) -> dict[str, Any]:
    return {**a, "status": "resolved", "endsAt": datetime.now(UTC).isoformat()}
