"""Incidents, the alerts that open them, their timeline and their postmortem drafts.

An incident is opened by alerts (or by a person), has one conversation, and moves
open → acknowledged → mitigated → resolved. Its timeline is built from what is already on
the record (the audit log, the conversation's messages, the alert records), never typed
by hand; each event has an id (``E12``) that stays the same once given, so a postmortem's
citations keep pointing at the same evidence.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field


class IncidentStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"


# Forward only: each status may be reached from the ones before it (an incident may be
# resolved without being acknowledged first: the alert cleared on its own).
STATUS_ORDER = [s for s in IncidentStatus]


class AlertRecord(BaseModel):
    """One alert as a sender told us about it, firing or resolved. Labels and annotations
    are whatever the sender wrote: evidence to show, never instructions."""

    fingerprint: str
    status: Literal["firing", "resolved"]
    name: str
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str = ""


class AlertBatch(BaseModel):
    """One delivery of a webhook: a group of alerts (Alertmanager's ``groupKey``)."""

    source: str
    group_key: str
    status: Literal["firing", "resolved"]
    alerts: list[AlertRecord]
    common_labels: dict[str, str] = Field(default_factory=dict)
    external_url: str = ""


class Incident(BaseModel):
    id: str  # INC-12
    title: str
    status: IncidentStatus
    severity: str
    commander: str | None = None
    conversation: str
    source: str  # alertmanager | generic | a person's id
    group_key: str | None = None
    opened_at: datetime
    first_alert_at: datetime | None = None
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    # When a person first acted on it: acknowledged, said something, voted on a card.
    first_human_at: datetime | None = None
    slack_channel: str | None = None
    slack_ts: str | None = None
    alerts_firing: int = 0
    alerts_total: int = 0

    @property
    def started_at(self) -> datetime:
        return self.first_alert_at or self.opened_at

    @property
    def mtta_s(self) -> float | None:
        """Time to acknowledge: first alert → first human acknowledgement or action."""
        if self.first_human_at is None:
            return None
        return max(0.0, (self.first_human_at - self.started_at).total_seconds())

    @property
    def mttr_s(self) -> float | None:
        """Time to resolve: first alert → resolved."""
        if self.resolved_at is None:
            return None
        return max(0.0, (self.resolved_at - self.started_at).total_seconds())


def duration(seconds: float | None) -> str:
    """``4 min 10 s``, ``1 h 3 min``; "–" when not measured yet."""
    if seconds is None:
        return "–"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


class IncidentStats(BaseModel):
    """MTTA and MTTR over incidents: the mean and the median, with how many had each."""

    incidents: int
    open: int
    mtta_mean_s: float | None = None
    mtta_median_s: float | None = None
    acknowledged: int = 0
    mttr_mean_s: float | None = None
    mttr_median_s: float | None = None
    resolved: int = 0


class IncidentList(BaseModel):
    incidents: list[Incident]
    stats: IncidentStats


class AlertsReceived(BaseModel):
    """What a webhook delivery did: the incident it opened or updated, and how much of it
    was new (a replayed delivery changes nothing)."""

    incident: Incident
    opened: bool
    new_firing: int
    new_resolved: int
    repeated: int
    said: str | None = None  # the line it added to the incident's conversation


TimelineKind = Literal[
    "alert.firing",
    "alert.resolved",
    "message",
    "reply",
    "fact",
    "proposal",
    "policy",
    "vote",
    "approved",
    "rejected",
    "expired",
    "cancelled",
    "execution.started",
    "execution.succeeded",
    "execution.failed",
    "execution.unknown",
    "verify",
    "status",
    "commander",
    "severity",
    "postmortem",
    "refused",
]


class TimelineEvent(BaseModel):
    id: str  # E12: stable once given
    at: datetime
    kind: TimelineKind
    actor: str  # a user id, "copilot", or the alert source
    text: str  # one line, redacted: what happened
    data: dict[str, Any] = Field(default_factory=dict)  # values behind the text
    ref: str  # where it comes from: audit:123, message:45, alert:7


class Timeline(BaseModel):
    incident: Incident
    events: list[TimelineEvent]
    # actors that are not people: the copilot, the alert sources, the on-call identity the
    # first diagnosis runs as (their actions do not count as a human's)
    automated: list[str] = Field(default_factory=list)

    def get(self, event_id: str) -> TimelineEvent | None:
        return next((e for e in self.events if e.id == event_id), None)


class Claim(BaseModel):
    """One sentence of a postmortem and the timeline events it rests on."""

    text: str
    cites: list[str] = Field(default_factory=list)


class ActionItem(BaseModel):
    text: str
    owner: str = "unassigned"
    kind: Literal["mitigate", "prevent", "process"] = "prevent"
    cites: list[str] = Field(default_factory=list)


class RemovedClaim(BaseModel):
    text: str
    section: str
    why: str


class PostmortemDraft(BaseModel):
    """A postmortem after the SRE workbook's template. Every claim cites events; what the
    timeline does not show is an open question, never a statement."""

    incident: str
    title: str
    sections: dict[str, list[Claim]]  # section name -> claims, in the template's order
    action_items: list[ActionItem] = Field(default_factory=list)
    open_questions: list[str] = Field(default_factory=list)
    removed: list[RemovedClaim] = Field(default_factory=list)
    drafter: str  # "offline" or the model's name
    events: int  # how many timeline events it was drafted from
    # who edited the Markdown of this version (then the Markdown, not these claims, is it)
    edited_by: str | None = None


class Postmortem(BaseModel):
    incident: str
    version: int
    author: str
    created_at: datetime
    draft: PostmortemDraft
    markdown: str
