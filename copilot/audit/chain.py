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
from copilot.domain import AuditEvent
from copilot.store.db import Store
from copilot.store.schema import audit_events, audit_head

GENESIS = "0" * 64
_LEAF = b"\x00"
_NODE = b"\x01"

Redactor = Callable[[Any], Any]


def leaf_hash(body: bytes) -> str:
    return hashlib.sha256(_LEAF + body).hexdigest()


def chain_hash(prev: str, leaf: str) -> str:
    return hashlib.sha256(_NODE + bytes.fromhex(prev) + bytes.fromhex(leaf)).hexdigest()


class AuditLog:
    """Appends events to the chain; ``redact`` is applied to every event before hashing."""

    def __init__(self, store: Store, redact: Redactor | None = None) -> None:
        self.store = store
        self._redact = redact
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
        self._first_head = f"INSERT INTO audit_head (chain_hash, seq, id) VALUES ({ph}, {ph}, 1)"
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
        seq = 1 if head is None else int(head[0]) + 1
        prev = GENESIS if head is None else str(head[1])
        when = (ts or datetime.now(UTC)).astimezone(UTC)
        payload = data or {}
        if self._redact is not None:
            payload = self._redact(payload)
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
        cur.execute(self._first_head if head is None else self._move_head, (chained, seq))
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

    def record(self, kind: str, **fields: Any) -> AuditEvent:
        """Append one event in a transaction of its own."""
        with self.store.write() as conn:
            return self.append(conn, kind, **fields)

    def events(self, since: int = 0, batch: int = 5000) -> Iterator[AuditEvent]:
        """Every event in order, parsed (for exports and the timeline)."""
        for seq, body, leaf, chained in _rows(self.store, since, batch):
            ev = json.loads(body)
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


def _rows(store: Store, since: int, batch: int) -> Iterator[tuple[int, str, str, str]]:
    # Keyset pagination: bounded memory and no long-held read transaction.
    last = since
    while True:
        with store.read() as conn:
            rows = conn.execute(
                select(
                    audit_events.c.seq,
                    audit_events.c.body,
                    audit_events.c.leaf_hash,
                    audit_events.c.chain_hash,
                )
                .where(audit_events.c.seq > last)
                .order_by(audit_events.c.seq)
                .limit(batch)
            ).all()
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
    """Recompute the chain; name the first edited, deleted or reordered event."""
    expected, prev, count = 1, GENESIS, 0
    sha = hashlib.sha256
    anchor_seen = anchor is None

    def bad(seq: int, problem: str) -> VerifyReport:
        return VerifyReport(False, count, seq, prev, problem, seq)

    for seq, body, leaf, chained in _rows(store, 0, 20000):
        if seq != expected:
            return bad(expected, f"event #{expected} is missing: deleted (the next is #{seq})")
        raw = body.encode("utf-8")
        if sha(_LEAF + raw).hexdigest() != leaf:
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
    with store.read() as conn:
        head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).first()
    head_seq = 0 if head is None else head.seq
    if head_seq > count:
        return bad(count + 1, f"events #{count + 1}..#{head_seq} are missing: deleted from the end")
    if head is not None and (head_seq != count or head.chain_hash != prev):
        return bad(count, "the recorded head does not match the last event: the tail was edited")
    if not anchor_seen and anchor is not None:
        return bad(anchor[0], f"anchored event #{anchor[0]} is missing: the log was truncated")
    return VerifyReport(True, count, count, prev)
