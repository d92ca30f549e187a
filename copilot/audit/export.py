"""Audit exports: JSON lines, and OCSF API Activity (class 6003) for SIEMs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from copilot import __version__
from copilot.audit.chain import redact_event_fields
from copilot.domain import AuditEvent

OCSF_VERSION = "1.3.0"
API_ACTIVITY = 6003
APPLICATION_CATEGORY = 6

# OCSF API Activity activity_id: 1 Create, 2 Read, 3 Update, 4 Delete, 99 Other.
_ACTIVITY = {
    "proposal.created": 1,
    "approval.created": 1,
    "approval.vote": 3,
    "approval.approved": 3,
    "approval.rejected": 3,
    "approval.expired": 3,
    "approval.cancelled": 3,
    "execution.started": 3,
    "execution.succeeded": 3,
    "execution.failed": 3,
    "execution.unknown": 3,
    "execution.reconciled": 3,
    "policy.decision": 2,
}
_FAILURE_KINDS = {"execution.failed", "request.refused", "lock.busy", "rate.limited"}


def to_jsonl_record(ev: AuditEvent) -> dict[str, Any]:
    return {
        "seq": ev.seq,
        "ts": ev.ts.isoformat(),
        "kind": ev.kind,
        "actor": ev.actor,
        "subject": ev.subject,
        "data": ev.data,
        "leaf_hash": ev.leaf_hash,
        "chain_hash": ev.chain_hash,
    }


def _status(ev: AuditEvent) -> tuple[int, str]:
    """OCSF status_id: 1 Success, 2 Failure."""
    if ev.kind in _FAILURE_KINDS:
        return 2, "Failure"
    if ev.kind == "policy.decision" and not ev.data.get("allowed", False):
        return 2, "Failure"
    return 1, "Success"


def to_ocsf(ev: AuditEvent) -> dict[str, Any]:
    """Map one event to OCSF API Activity; the Cedar decision goes to actor.authorizations."""
    activity_id = _ACTIVITY.get(ev.kind, 99)
    status_id, status = _status(ev)
    actor: dict[str, Any] = {"user": {"uid": ev.actor or "copilot", "name": ev.actor or "copilot"}}
    decision = ev.data if ev.kind == "policy.decision" else ev.data.get("decision")
    if isinstance(decision, dict) and "allowed" in decision:
        actor["authorizations"] = [
            {
                "decision": "allow" if decision["allowed"] else "deny",
                "policy": {
                    "uid": ",".join(decision.get("policy_ids") or []) or "default-deny",
                    "name": ",".join(decision.get("policy_ids") or []) or "default-deny",
                    "desc": decision.get("reason", ""),
                },
            }
        ]
    return {
        "class_uid": API_ACTIVITY,
        "class_name": "API Activity",
        "category_uid": APPLICATION_CATEGORY,
        "category_name": "Application Activity",
        "activity_id": activity_id,
        "type_uid": API_ACTIVITY * 100 + activity_id,
        "time": int(ev.ts.timestamp() * 1000),
        "severity_id": 1,
        "status_id": status_id,
        "status": status,
        "message": ev.kind,
        "actor": actor,
        "api": {
            "operation": ev.kind,
            "service": {"name": "incident-copilot"},
            "request": {"uid": ev.subject or str(ev.seq)},
        },
        "src_endpoint": {"hostname": "copilot"},
        "resources": [{"uid": ev.subject, "type": "approval"}] if ev.subject else [],
        "metadata": {
            "version": OCSF_VERSION,
            "uid": ev.chain_hash,
            "sequence": ev.seq,
            "product": {
                "name": "incident-copilot",
                "vendor_name": "incident-copilot",
                "version": __version__,
            },
        },
        "unmapped": {"data": ev.data, "leaf_hash": ev.leaf_hash},
    }


def export_lines(
    events: Iterable[AuditEvent],
    fmt: str,
    redact: Callable[[Any], Any] | None = None,
    identity: Callable[[str], str] | None = None,
) -> Iterator[str]:
    """One JSON line per event. Events were redacted before hashing; ``redact`` runs again
    on the way out, so rules added since (or a log written before redaction existed)
    still keep secrets out of the export. Who did something passes ``identity`` instead
    (by default ``redact``), as when it was stored (:func:`redact_event_fields`). The
    hashes stay those of the stored events, and are not redacted."""
    convert = to_ocsf if fmt == "ocsf" else to_jsonl_record
    for ev in events:
        if redact is not None:
            actor, subject, data = redact_event_fields(
                redact, identity or redact, ev.actor, ev.subject, ev.data
            )
            ev = ev.model_copy(update={"actor": actor, "subject": subject, "data": data})
        yield json.dumps(convert(ev), sort_keys=True, separators=(",", ":"))
