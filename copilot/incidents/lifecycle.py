"""The lifecycle: open → acknowledged → mitigated → resolved, forward only, with a
commander and a severity; and the words a change or a delivery adds to the conversation."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from copilot.domain.incidents import STATUS_ORDER, AlertRecord, Incident, IncidentStatus
from copilot.errors import InvalidInput
from copilot.incidents.alerts import subject_of

ACTIONS = ("ack", "mitigate", "resolve", "commander", "severity")
_TARGET = {
    "ack": IncidentStatus.ACKNOWLEDGED,
    "mitigate": IncidentStatus.MITIGATED,
    "resolve": IncidentStatus.RESOLVED,
}
_AT = {
    IncidentStatus.ACKNOWLEDGED: "acknowledged_at",
    IncidentStatus.MITIGATED: "mitigated_at",
    IncidentStatus.RESOLVED: "resolved_at",
}
SEVERITIES = ("critical", "high", "page", "warning", "medium", "low", "info", "unknown")


def check_move(
    incident: Incident, action: str, value: str, who: str, now: datetime
) -> tuple[dict[str, Any], str]:
    """The column changes ``action`` makes, and the line that says so; InvalidInput for a
    move the lifecycle does not allow (backwards, twice, after resolution)."""
    if incident.status is IncidentStatus.RESOLVED:
        raise InvalidInput(f"{incident.id} is resolved", "open a new incident if it came back")
    if action == "commander":
        return {"commander": value}, f"{who} made {value} the commander of {incident.id}"
    if action == "severity":
        level = value.strip().lower()
        if level not in SEVERITIES:
            raise InvalidInput(
                f"unknown severity {value[:20]!r}", f"use one of: {', '.join(SEVERITIES)}"
            )
        return {"severity": level}, f"{who} set the severity of {incident.id} to {level}"
    target = _TARGET[action]
    if STATUS_ORDER.index(target) <= STATUS_ORDER.index(incident.status):
        raise InvalidInput(
            f"{incident.id} is already {incident.status.value}",
            "the lifecycle goes open → acknowledged → mitigated → resolved",
        )
    changes: dict[str, Any] = {"status": target.value, _AT[target]: now}
    # a step skipped is reached now too (resolved without a separate mitigation)
    for earlier in STATUS_ORDER[1 : STATUS_ORDER.index(target)]:
        if getattr(incident, _AT[earlier]) is None:
            changes[_AT[earlier]] = now
    if target is IncidentStatus.RESOLVED:
        changes["open_group"] = None  # the alert group may open a new incident again
    return changes, f"{who} marked {incident.id} {target.value}"


def describe_batch(incident: Incident, fresh: list[AlertRecord], lines: int) -> str:
    """One message for one delivery, however many alerts it holds: counts by name and
    status, and at most ``lines`` alerts by name and subject. Annotations stay out: they
    are on the incident's timeline as evidence."""
    firing = [a for a in fresh if a.status == "firing"]
    resolved = [a for a in fresh if a.status == "resolved"]
    parts = []
    if firing:
        parts.append(f"{len(firing)} alert(s) firing")
    if resolved:
        parts.append(f"{len(resolved)} resolved")
    head = f"{incident.id}: " + ", ".join(parts)
    by_name = Counter(f"{a.name} {a.status}" for a in fresh)
    names = "; ".join(f"{name} ×{n}" for name, n in by_name.most_common(lines))
    shown = [f"- {a.status}: {a.name} {subject_of(a.labels)}".rstrip() for a in fresh[:lines]]
    more = len(fresh) - len(shown)
    text = f"{head} ({names})\n" + "\n".join(shown)
    if more > 0:
        text += f"\n… and {more} more (every alert is on the incident's timeline)"
    return text
