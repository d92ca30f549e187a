"""State bound to the record: approval, vote and execution rows that no audit event backs.

The chain proves that no event was edited; it says nothing of the state tables beside it.
Someone with write access to the database could insert a vote row and set an approval
approved without any event. So each vote row names its event (sequence number and chain
hash): the executor counts a vote only while that event is in the chain and says the same
thing (``backed_votes``), and ``audit verify`` names every approval, vote and execution row
that the events do not back (``unbacked_rows``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, select

from copilot.audit.chain import VerifyReport, _rows, leaf_hash, verify_chain
from copilot.domain import Vote
from copilot.store.db import Store
from copilot.store.schema import approval_votes, approvals, audit_events, executions, proposals

# The state an event leaves its subject's approval in (``proposal.created`` and
# ``execution.reconciled`` depend on their data; see ``_state_after``).
_STATE_AFTER = {
    "approval.approved": "approved",
    "approval.rejected": "rejected",
    "approval.expired": "expired",
    "approval.cancelled": "cancelled",
    "execution.started": "executing",
    "execution.succeeded": "succeeded",
    "execution.failed": "failed",
    "execution.unknown": "unknown",
}
_RUN_STATES = frozenset({"executing", "succeeded", "failed", "unknown"})
# How many unbacked rows a report names (the count is always given).
NAMED_AT_MOST = 20


_PLACEHOLDER = re.compile(r"\[REDACTED:[a-z0-9_-]+:\d+\]")


def same(said: object, value: object) -> bool:
    """Whether the event's ``said`` records ``value``. The audit redactor may have replaced
    part of a string (a hash whose digits pass the card-number check, an e-mail address as
    an id) with a placeholder: the rest must then match exactly."""
    if said == value:
        return True
    if not isinstance(said, str) or not isinstance(value, str) or "[REDACTED:" not in said:
        return False
    parts = _PLACEHOLDER.split(said)
    pattern = ".+?".join(re.escape(p) for p in parts)
    return re.fullmatch(pattern, value, flags=re.DOTALL) is not None


def _parsed(body: str) -> dict[str, Any] | None:
    try:
        event = json.loads(body)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def vote_matches(event: dict[str, Any] | None, approval_id: str, vote: Vote) -> bool:
    """Whether ``event`` is the ``approval.vote`` that records exactly this vote."""
    if event is None or event.get("kind") != "approval.vote":
        return False
    data = event.get("data") or {}
    return (
        same(event.get("subject"), approval_id)
        and same(event.get("actor"), vote.approver)
        and data.get("verdict") == vote.verdict
        # A break-glass mark counts only if the person declared it on the record.
        and bool(data.get("break_glass")) == ("break-glass" in vote.roles)
    )


def backed_votes(conn: Connection, approval_id: str, votes: Sequence[Vote]) -> list[Vote]:
    """The votes whose audit event is in the chain, unedited, and records the same vote."""
    seqs = [v.event_seq for v in votes if v.event_seq is not None]
    if not seqs:
        return []
    rows = conn.execute(
        select(
            audit_events.c.seq,
            audit_events.c.body,
            audit_events.c.leaf_hash,
            audit_events.c.chain_hash,
        ).where(audit_events.c.seq.in_(seqs))
    ).all()
    found = {r.seq: r for r in rows}
    kept = []
    for v in votes:
        r = found.get(v.event_seq) if v.event_seq is not None else None
        if (
            r is not None
            and r.chain_hash == v.event_hash
            and leaf_hash(r.body.encode("utf-8")) == r.leaf_hash
            and vote_matches(_parsed(r.body), approval_id, v)
        ):
            kept.append(v)
    return kept


@dataclass
class _Subject:
    """What the chain says of one approval."""

    created: dict[str, Any] | None = None
    state: str | None = None
    started: bool = False


@dataclass
class _Record:
    subjects: dict[str, _Subject] = field(default_factory=dict)
    votes: dict[int, tuple[str, dict[str, Any] | None]] = field(default_factory=dict)

    def of(self, approval_id: str) -> _Subject | None:
        """What the chain says of ``approval_id`` (also where the redactor cut into it)."""
        found = self.subjects.get(approval_id)
        if found is not None:
            return found
        cut = [(key, s) for key, s in self.subjects.items() if "[REDACTED:" in key]
        return next((s for key, s in cut if same(key, approval_id)), None)


def _state_after(kind: str, data: dict[str, Any]) -> str | None:
    if kind == "proposal.created":
        return "approved" if data.get("auto") else "proposed"
    if kind == "execution.reconciled":
        outcome = data.get("outcome")
        return outcome if isinstance(outcome, str) else None
    return _STATE_AFTER.get(kind)


def _read_record(store: Store) -> _Record:
    record = _Record()
    for _seq, body, _leaf, chained in _rows(store, 0, 20000):
        event = _parsed(body)
        if event is None:
            continue  # the chain check names it
        kind, subject = event.get("kind"), event.get("subject")
        if kind == "approval.vote":
            record.votes[int(_seq)] = (chained, event)
        if not isinstance(subject, str) or not isinstance(kind, str):
            continue
        data = event.get("data") or {}
        state = _state_after(kind, data)
        if state is None:
            continue
        sub = record.subjects.setdefault(subject, _Subject())
        if kind == "proposal.created":
            sub.created = data
        sub.started = sub.started or kind == "execution.started"
        sub.state = state
    return record


def unbacked_rows(store: Store) -> list[str]:
    """Each approval, vote and execution row the audit log does not back, named (at most
    ``NAMED_AT_MOST`` of them, then how many more)."""
    record = _read_record(store)
    found: list[str] = []
    with store.read() as conn:
        rows = conn.execute(
            select(
                approvals,
                proposals.c.tool,
                proposals.c.args_hash.label("proposal_args_hash"),
            ).join(proposals, proposals.c.id == approvals.c.proposal_id)
        ).all()
        for r in rows:
            found.extend(_approval_problems(r, record.of(r.id)))
        for v in conn.execute(select(approval_votes).order_by(approval_votes.c.id)).all():
            found.extend(_vote_problems(v, record))
        for e in conn.execute(select(executions)).all():
            found.extend(_execution_problems(e, record.of(e.approval_id)))
    return _bounded(found)


def verify_log(store: Store, anchor: tuple[int, str] | None = None) -> VerifyReport:
    """The chain (``verify_chain``), then the state rows against it: a row no event backs
    fails verification as an edited event does, and is named."""
    report = verify_chain(store, anchor)
    if not report.ok:
        return report
    rows = unbacked_rows(store)
    if not rows:
        return report
    problem = f"{len(rows)} row(s) the audit log does not back, first: {rows[0]}"
    if rows[-1].startswith("... and"):
        problem = f"more than {NAMED_AT_MOST} rows the audit log does not back, first: {rows[0]}"
    return replace(report, ok=False, problem=problem, unbacked=tuple(rows))


def _approval_problems(r: Any, sub: _Subject | None) -> Iterable[str]:
    if sub is None or sub.created is None:
        yield f"approval {r.id}: no proposal.created event backs it"
        return
    said = sub.created
    for column, value in (
        ("proposal_id", r.proposal_id),
        ("args_hash", r.args_hash),
        ("plan_hash", r.plan_hash),
    ):
        key = "proposal" if column == "proposal_id" else column
        if not same(said.get(key), value):
            yield f"approval {r.id}: its {column} differs from its proposal.created event"
    if not (same(said.get("tool"), r.tool) and same(said.get("args_hash"), r.proposal_args_hash)):
        yield f"proposal {r.proposal_id} of {r.id}: its call differs from proposal.created"
    if sub.state != r.state:
        yield f"approval {r.id}: it is {r.state} but the audit log says {sub.state}"


def _vote_problems(v: Any, record: _Record) -> Iterable[str]:
    who = f"vote by {v.approver} on {v.approval_id}"
    if v.event_seq is None or v.event_hash is None:
        yield f"{who}: no audit event backs it"
        return
    chained, event = record.votes.get(int(v.event_seq), (None, None))
    vote = Vote(approver=v.approver, verdict=v.verdict, at=v.at, roles=tuple(v.roles))
    if chained != v.event_hash or not vote_matches(event, v.approval_id, vote):
        yield f"{who}: audit event #{v.event_seq} does not record it"


def _execution_problems(e: Any, sub: _Subject | None) -> Iterable[str]:
    if sub is None or not sub.started:
        yield f"execution of {e.approval_id}: no execution.started event backs it"
    elif sub.state in _RUN_STATES and sub.state != e.status:
        yield f"execution of {e.approval_id}: it is {e.status} but the audit log says {sub.state}"


def _bounded(found: list[str]) -> list[str]:
    if len(found) <= NAMED_AT_MOST:
        return found
    return [*found[:NAMED_AT_MOST], f"... and {len(found) - NAMED_AT_MOST} more"]
