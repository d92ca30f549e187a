"""An incident's timeline from what is already on the record, never typed by hand:

- the alert records (firing, resolved), with their labels and annotations as evidence;
- the conversation's messages: what people said, what the copilot answered, and the reads
  behind each answer (the facts, with their values);
- the audit log: for every change proposed in the conversation its proposal, policy
  decisions, votes, approval, execution, result and verify outcome; the incident's own
  status, commander and severity changes; postmortem drafts and edits.

Each entry names its record (``ref``); the service gives each ref its ``E{n}`` once.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from copilot.domain import AuditEvent
from copilot.domain.conversations import Message
from copilot.domain.incidents import Incident

MAX_TEXT = 400
# Audit kinds of a change's story, and the kind of timeline event each becomes.
_CHANGE_KINDS = {
    "proposal.created": "proposal",
    "policy.decision": "policy",
    "approval.vote": "vote",
    "approval.approved": "approved",
    "approval.rejected": "rejected",
    "approval.expired": "expired",
    "approval.cancelled": "cancelled",
    "execution.started": "execution.started",
    "execution.succeeded": "execution.succeeded",
    "execution.failed": "execution.failed",
    "execution.unknown": "execution.unknown",
    "verify.outcome": "verify",
}
_INCIDENT_KINDS = {
    "incident.opened": "status",
    "incident.ack": "status",
    "incident.mitigate": "status",
    "incident.resolve": "status",
    "incident.commander": "commander",
    "incident.severity": "severity",
    "postmortem.drafted": "postmortem",
    "postmortem.edited": "postmortem",
}


class Entry(BaseModel):
    """A timeline event before it has its id."""

    ref: str
    at: datetime
    kind: str
    actor: str
    text: str
    data: dict[str, Any]


def _short(text: str, limit: int = MAX_TEXT) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _args(arguments: Any) -> str:
    if not isinstance(arguments, dict):
        return ""
    return ", ".join(f"{k}={v}" for k, v in arguments.items() if v is not None)


def from_alerts(rows: list[Any]) -> list[Entry]:
    out = []
    for r in rows:
        labels = dict(r.labels or {})
        annotations = dict(r.annotations or {})
        about = ", ".join(
            f"{k}={labels[k]}" for k in ("service", "job", "namespace") if k in labels
        )
        text = f"alert {r.name} {r.status}" + (f" ({about})" if about else "")
        summary = annotations.get("summary") or annotations.get("description")
        if summary:  # quoted: the sender's words, shown as evidence
            text += f': "{_short(summary, 200)}"'
        out.append(
            Entry(
                ref=f"alert:{r.id}",
                at=r.received_at,
                kind=f"alert.{r.status}",
                actor=r.source,
                text=text,
                data={
                    "name": r.name,
                    "fingerprint": r.fingerprint,
                    "labels": labels,
                    "annotations": annotations,
                    "starts_at": r.starts_at.isoformat() if r.starts_at else None,
                    "ends_at": r.ends_at.isoformat() if r.ends_at else None,
                },
            )
        )
    return out


def from_messages(messages: list[Message]) -> list[Entry]:
    """People's messages and the copilot's replies, and the reads behind each reply.
    Event lines (decisions, deliveries, status changes told in words) are left out: the
    audit log and the alert records carry those, with their values."""
    out = []
    for m in messages:
        if m.role == "event":
            continue
        kind = "message" if m.role == "user" else "reply"
        out.append(
            Entry(
                ref=f"message:{m.id}",
                at=m.at,
                kind=kind,
                actor=m.author,
                text=_short(m.text, 600),
                data={"text": m.text, "cards": m.cards},
            )
        )
        for f in m.facts:
            result = f.data if f.ok else {"error": f.error}
            text = f"read {f.tool}({_args(f.arguments)})"
            text += ": " + _short(json.dumps(result, default=str, sort_keys=True), 300)
            out.append(
                Entry(
                    ref=f"fact:{m.id}:{f.call or f.id}",
                    at=f.at or m.at,
                    kind="fact",
                    actor="copilot",
                    text=text,
                    data={"tool": f.tool, "arguments": f.arguments, "ok": f.ok, "result": result},
                )
            )
    return out


def changes_of(events: list[AuditEvent], conversation: str) -> set[str]:
    """Approval ids of the changes proposed in the conversation (reads are facts)."""
    return {
        str(e.subject)
        for e in events
        if e.kind == "proposal.created"
        and e.subject
        and e.data.get("conversation") == conversation
        and not e.data.get("auto")
    }


def from_audit(events: list[AuditEvent], incident: Incident) -> list[Entry]:
    changes = changes_of(events, incident.conversation)
    out = []
    for e in events:
        if e.subject == incident.id and e.kind in _INCIDENT_KINDS:
            kind = _INCIDENT_KINDS[e.kind]
        elif e.subject in changes and e.kind in _CHANGE_KINDS:
            kind = _CHANGE_KINDS[e.kind]
        else:
            continue
        out.append(
            Entry(
                ref=f"audit:{e.seq}",
                at=e.ts,
                kind=kind,
                actor=e.actor or "copilot",
                text=_describe(e),
                data={"audit_kind": e.kind, "subject": e.subject, **e.data},
            )
        )
    return out


def _describe(e: AuditEvent) -> str:
    d, who, subject = e.data, e.actor or "copilot", e.subject or ""
    tool = d.get("tool") or d.get("resource") or ""
    if e.kind == "proposal.created":
        plan = f"; plan: {_short(d['plan'], 160)}" if d.get("plan") else ""
        return f"{who} proposed {tool}({_args(d.get('arguments'))}) as {subject}{plan}"
    if e.kind == "policy.decision":
        verdict = "allowed" if d.get("allowed") else "denied"
        return f"policy {verdict} {d.get('action')} of {tool} by {who}: {d.get('reason', '')}"
    if e.kind == "approval.vote":
        reason = f": {d['reason']}" if d.get("reason") else ""
        return f"{who} voted {d.get('verdict')} on {subject}{reason}"
    if e.kind.startswith("approval."):
        return f"{subject} {e.kind.split('.', 1)[1]}"
    if e.kind == "execution.started":
        return f"{tool} ({subject}) started"
    if e.kind.startswith("execution."):
        result = d.get("result")
        summary = result.get("summary") if isinstance(result, dict) else None
        text = f"{tool} ({subject}) {e.kind.split('.', 1)[1]}"
        if d.get("error"):
            text += f": {_short(d['error'], 200)}"
        elif summary:
            text += f": {_short(summary, 200)}"
        return text
    if e.kind == "verify.outcome":
        found = d.get("recovered")
        said = {True: "recovered", False: "NOT recovered"}.get(found) if found is not None else None
        return f"verify: {tool} {said or 'could not be verified'} ({subject})"
    if e.kind == "incident.opened":
        return f"{subject} opened by {who}: {d.get('title', '')}"
    if e.kind in ("incident.ack", "incident.mitigate", "incident.resolve"):
        return f"{who} moved {subject} from {d.get('from')} to {_STATUS[e.kind]}"
    if e.kind == "incident.commander":
        return f"{who} made {d.get('to')} the commander of {subject}"
    if e.kind == "incident.severity":
        return f"{who} set the severity of {subject} to {d.get('to')}"
    return f"{who}: postmortem of {subject} v{d.get('version')} {e.kind.split('.', 1)[1]}"


_STATUS = {
    "incident.ack": "acknowledged",
    "incident.mitigate": "mitigated",
    "incident.resolve": "resolved",
}


def ordered(entries: list[Entry]) -> list[Entry]:
    """In time order; at the same instant, alerts before what they caused."""
    rank = {"alert": 0, "audit": 1, "message": 2, "fact": 3}

    def key(e: Entry) -> tuple[datetime, int, int, str]:
        kind, _, rest = e.ref.partition(":")
        first = rest.split(":")[0]
        return (e.at, rank.get(kind, 9), int(first) if first.isdigit() else 0, e.ref)

    return sorted(entries, key=key)
