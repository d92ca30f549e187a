"""Hash-chained audit events, RFC 6962 style.

leaf  = sha256(0x00 ‖ canonical event)     (the event includes its own sequence number)
chain = sha256(0x01 ‖ previous chain ‖ leaf)

Appends happen inside the caller's transaction, so a state change and its audit event
commit together or not at all. The head row serialises appenders (row lock on PostgreSQL,
BEGIN IMMEDIATE on SQLite). Verification recomputes every hash and names the first event
that was edited, deleted or moved. A full rewrite of the chain is detectable only against
a head recorded elsewhere: ``verify`` prints the head so operators can anchor it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from copilot.canonical import canonical_json
from copilot.domain import AuditEvent, Decision
from copilot.errors import AuditTampered
from copilot.store.db import Store
from copilot.store.schema import audit_events, audit_head

GENESIS = "0" * 64
_LEAF = b"\x00"
_NODE = b"\x01"

Redactor = Callable[[Any], Any]
# Names of the data fields that say who did something (approvers, who triggered a run):
# identities on the record, kept as they are unless a secret hides in them. Only top-level
# fields, which the door itself names; what a person typed (arguments) is redacted whole.
IDENTITY_FIELDS = frozenset(
    {"actor", "principal", "requester", "approver", "approvers", "voter", "voters", "by"}
)


def is_identity_field(name: str) -> bool:
    return name in IDENTITY_FIELDS or name.endswith("_by")  # triggered_by, reconciled_by


def redact_event_fields(
    redact: Redactor,
    identity: Callable[[str], str],
    actor: str | None,
    subject: str | None,
    data: dict[str, Any],
) -> tuple[str | None, str | None, dict[str, Any]]:
    """An event's actor, subject and data as they are stored: everything redacted, except
    that who did something keeps their name (``identity`` removes only secrets from it).
    The subject may be what a person typed (an unknown tool name, say)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if is_identity_field(key) and isinstance(value, str):
            out[redact(key)] = identity(value)
        elif is_identity_field(key) and isinstance(value, list | tuple):
            out[redact(key)] = [identity(v) if isinstance(v, str) else redact(v) for v in value]
        else:
            out[redact(key)] = redact(value)
    return (
        None if actor is None else identity(actor),
        None if subject is None else redact(subject),
        out,
    )


def leaf_hash(body: bytes) -> str:
    return hashlib.sha256(_LEAF + body).hexdigest()


def chain_hash(prev: str, leaf: str) -> str:
    return hashlib.sha256(_NODE + bytes.fromhex(prev) + bytes.fromhex(leaf)).hexdigest()


class AuditLog:
    """Appends events to the chain; ``redact`` is applied to every event before hashing,
    ``identity`` (by default ``redact`` too) to who did it (:func:`redact_event_fields`)."""

    def __init__(
        self,
        store: Store,
        redact: Redactor | None = None,
        identity: Callable[[str], str] | None = None,
    ) -> None:
        self.store = store
        self._redact = redact
        self._identity = identity or redact
        # Appends are the hottest write: they go straight to the DB-API cursor of the
        # caller's transaction, since SQLAlchemy's per-statement machinery costs several
        # times the SQLite work itself (measured: 6k vs 15k appends/s).
        ph = "?" if store.dialect == "sqlite" else "%s"
        lock = " FOR UPDATE" if store.dialect == "postgresql" else ""
        self._head = f"SELECT seq, chain_hash FROM audit_head WHERE id = 1{lock}"
        self._insert = (
            "INSERT INTO audit_events (seq, body, leaf_hash, chain_hash) "
            f"VALUES ({ph}, {ph}, {ph}, {ph})"
        )
        self._move_head = f"UPDATE audit_head SET chain_hash = {ph}, seq = {ph} WHERE id = 1"

    def append(
        self,
        conn: Connection,
        kind: str,
        *,
        actor: str | None = None,
        subject: str | None = None,
        data: dict[str, Any] | None = None,
        ts: datetime | None = None,
    ) -> AuditEvent:
        """Append one event inside the open transaction ``conn``."""
        cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cur.execute(self._head)
        head = cur.fetchone()
        if head is None:
            raise AuditTampered(
                "the audit log's head row is missing: it was deleted",
                "run `copilot audit verify` and restore the database from a backup",
            )
        seq, prev = int(head[0]) + 1, str(head[1])
        when = (ts or datetime.now(UTC)).astimezone(UTC)
        payload = data or {}
        if self._redact is not None and self._identity is not None:
            actor, subject, payload = redact_event_fields(
                self._redact, self._identity, actor, subject, payload
            )
        event = {
            "seq": seq,
            "ts": when.isoformat(timespec="microseconds"),
            "kind": kind,
            "actor": actor,
            "subject": subject,
            "data": payload,
        }
        body = canonical_json(event)
        leaf = leaf_hash(body)
        chained = chain_hash(prev, leaf)
        cur.execute(self._insert, (seq, body.decode("utf-8"), leaf, chained))
        cur.execute(self._move_head, (chained, seq))
        cur.close()
        return AuditEvent(
            seq=seq,
            ts=when,
            kind=kind,
            actor=actor,
            subject=subject,
            data=payload,
            leaf_hash=leaf,
            chain_hash=chained,
        )

    def append_decision(
        self, conn: Connection, decision: Decision, subject: str | None, ts: datetime | None = None
    ) -> AuditEvent:
        """Append one policy decision (who, what, allow/deny, deciding policies, reason)."""
        return self.append(
            conn,
            "policy.decision",
            actor=decision.principal,
            subject=subject,
            data=decision.audit_data(),
            ts=ts,
        )

    def record(self, kind: str, **fields: Any) -> AuditEvent:
        """Append one event in a transaction of its own."""
        with self.store.write() as conn:
            return self.append(conn, kind, **fields)

    def events(self, since: int = 0, batch: int = 5000) -> Iterator[AuditEvent]:
        """Every event in order, parsed (for exports and the timeline)."""
        for seq, body, leaf, chained in _rows(self.store, since, batch):
            try:
                ev = json.loads(body)
            except ValueError:
                raise AuditTampered(
                    f"audit event #{seq} is not valid JSON: it was edited",
                    "run `copilot audit verify` and restore the log from a backup",
                ) from None
            yield AuditEvent(
                seq=seq,
                ts=datetime.fromisoformat(ev["ts"]),
                kind=ev["kind"],
                actor=ev.get("actor"),
                subject=ev.get("subject"),
                data=ev.get("data") or {},
                leaf_hash=leaf,
                chain_hash=chained,
            )


def _rows(
    store: Store, since: int, batch: int, upto: int | None = None
) -> Iterator[tuple[int, str, str, str]]:
    # Keyset pagination: bounded memory and no long-held read transaction.
    last = since
    while True:
        query = (
            select(
                audit_events.c.seq,
                audit_events.c.body,
                audit_events.c.leaf_hash,
                audit_events.c.chain_hash,
            )
            .where(audit_events.c.seq > last)
            .order_by(audit_events.c.seq)
            .limit(batch)
        )
        if upto is not None:
            query = query.where(audit_events.c.seq <= upto)
        with store.read() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return
        for r in rows:
            yield r.seq, r.body, r.leaf_hash, r.chain_hash
        last = rows[-1].seq


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    events: int
    head_seq: int
    head_hash: str
    problem: str | None = None
    first_bad_seq: int | None = None


def _body_seq(body: str) -> int | None:
    try:
        value = json.loads(body).get("seq")
    except ValueError:
        return None
    return value if isinstance(value, int) else None


def verify_chain(store: Store, anchor: tuple[int, str] | None = None) -> VerifyReport:
    """Recompute the chain up to the recorded head; name the first bad event.

    The head is read first, so events appended while verifying are simply not looked at
    (they are not mistaken for a tail that was cut off).
    """
    with store.read() as conn:
        head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).first()
    if head is None:
        return VerifyReport(False, 0, 0, GENESIS, "the head row is missing: it was deleted", 1)
    head_seq, head_hash = int(head.seq), str(head.chain_hash)
    expected, prev, count = 1, GENESIS, 0
    sha = hashlib.sha256
    anchor_seen = anchor is None

    def bad(seq: int, problem: str) -> VerifyReport:
        return VerifyReport(False, count, seq, prev, problem, seq)

    for seq, body, leaf, chained in _rows(store, 0, 20000, upto=head_seq):
        if seq != expected:
            return bad(expected, f"event #{expected} is missing: deleted (the next is #{seq})")
        if sha(_LEAF + body.encode("utf-8")).hexdigest() != leaf:
            return bad(seq, f"event #{seq} was edited: its content no longer matches its hash")
        if sha(_NODE + bytes.fromhex(prev) + bytes.fromhex(leaf)).hexdigest() != chained:
            moved = _body_seq(body)
            if moved is not None and moved != seq:
                return bad(seq, f"event #{seq} holds event #{moved}: events were reordered")
            return bad(seq, f"event #{seq} was edited: it no longer chains to #{seq - 1}")
        if anchor is not None and seq == anchor[0]:
            if chained != anchor[1]:
                return bad(seq, f"event #{seq} differs from the anchored head: history rewritten")
            anchor_seen = True
        prev, expected, count = chained, expected + 1, count + 1
    if count < head_seq:
        return bad(count + 1, f"events #{count + 1}..#{head_seq} are missing: deleted from the end")
    if head_hash != prev:
        return bad(count, "the recorded head does not match the last event: the tail was edited")
    if not anchor_seen and anchor is not None:
        return bad(anchor[0], f"anchored event #{anchor[0]} is missing: the log was truncated")
    return VerifyReport(True, count, count, prev)
