"""Incidents, their alert records, timeline ids and postmortem versions in the store.

Rows in, domain models out; what is stored arrives redacted. Callers hold the write
transaction: an incident and everything a delivery changed on it commit together.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from copilot.domain.incidents import AlertRecord, Incident, IncidentStatus
from copilot.store.schema import alert_events, incidents, postmortems, timeline_ids

PREFIX = "INC-"


def incident_num(incident_id: str) -> int | None:
    """``INC-12`` (or ``12``) → 12; None for anything else."""
    raw = incident_id.strip().upper().removeprefix(PREFIX)
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def group_digest(source: str, group_key: str) -> str:
    return hashlib.sha256(f"{source}\0{group_key}".encode()).hexdigest()


def alert_key(alert: AlertRecord) -> str:
    started = alert.starts_at.isoformat() if alert.starts_at else ""
    return hashlib.sha256(f"{alert.fingerprint}\0{alert.status}\0{started}".encode()).hexdigest()


def create_incident(conn: Connection, **values: Any) -> int:
    res = conn.execute(insert(incidents).values(**values))
    key = res.inserted_primary_key
    assert key is not None
    return int(key[0])


def update_incident(conn: Connection, num: int, **values: Any) -> None:
    conn.execute(update(incidents).where(incidents.c.num == num).values(**values))


def open_in_group(conn: Connection, digest: str, lock: bool = False) -> int | None:
    """The group's open incident; ``lock``: its row held until the transaction ends (on
    PostgreSQL; SQLite's write transactions are serial already)."""
    query = select(incidents.c.num).where(incidents.c.open_group == digest)
    found = conn.execute(query.with_for_update() if lock else query).scalar()
    return int(found) if found is not None else None


def by_conversation(conn: Connection, conversation: str) -> int | None:
    found = conn.execute(
        select(incidents.c.num).where(incidents.c.conversation == conversation)
    ).scalar()
    return int(found) if found is not None else None


def latest_open_in_channel(conn: Connection, channel: str) -> int | None:
    found = conn.execute(
        select(func.max(incidents.c.num)).where(
            incidents.c.slack_channel == channel,
            incidents.c.status != IncidentStatus.RESOLVED.value,
        )
    ).scalar()
    return int(found) if found is not None else None


def get_incident(conn: Connection, num: int, lock: bool = False) -> Incident | None:
    """One incident; ``lock``: its row held until the transaction ends (PostgreSQL)."""
    query = select(incidents).where(incidents.c.num == num)
    row = conn.execute(query.with_for_update() if lock else query).first()
    return None if row is None else _incident(conn, row)


def audit_from(conn: Connection, num: int) -> int:
    found = conn.execute(select(incidents.c.audit_from).where(incidents.c.num == num)).scalar()
    return int(found or 0)


def list_incidents(conn: Connection, limit: int = 200) -> list[Incident]:
    rows = conn.execute(select(incidents).order_by(incidents.c.num.desc()).limit(limit)).all()
    return [_incident(conn, r) for r in rows]


def _incident(conn: Connection, r: Any) -> Incident:
    firing, total = _alert_counts(conn, r.num)
    return Incident(
        id=f"{PREFIX}{r.num}",
        title=r.title,
        status=IncidentStatus(r.status),
        severity=r.severity,
        commander=r.commander,
        conversation=r.conversation,
        source=r.source,
        group_key=r.group_key,
        opened_at=r.opened_at,
        first_alert_at=r.first_alert_at,
        acknowledged_at=r.acknowledged_at,
        mitigated_at=r.mitigated_at,
        resolved_at=r.resolved_at,
        first_human_at=r.first_human_at,
        slack_channel=r.slack_channel,
        slack_ts=r.slack_ts,
        alerts_firing=firing,
        alerts_total=total,
    )


def _alert_counts(conn: Connection, num: int) -> tuple[int, int]:
    """Alerts (by fingerprint) firing now, and alerts ever seen on the incident."""
    rows = conn.execute(
        select(alert_events.c.fingerprint, alert_events.c.status)
        .where(alert_events.c.incident == num)
        .order_by(alert_events.c.id)
    ).all()
    last: dict[str, str] = {}
    for fp, status in rows:
        last[fp] = status
    return sum(1 for s in last.values() if s == "firing"), len(last)


# -- alert records ----------------------------------------------------------------------------
def known_alert_keys(conn: Connection, num: int, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 500):  # bounded IN lists
        chunk = keys[start : start + 500]
        found.update(
            conn.execute(
                select(alert_events.c.key).where(
                    alert_events.c.incident == num, alert_events.c.key.in_(chunk)
                )
            ).scalars()
        )
    return found


def add_alerts(
    conn: Connection, num: int, source: str, alerts: list[AlertRecord], at: datetime
) -> None:
    if not alerts:
        return
    conn.execute(
        insert(alert_events),
        [
            {
                "incident": num,
                "source": source,
                "key": alert_key(a),
                "fingerprint": a.fingerprint,
                "status": a.status,
                "name": a.name,
                "labels": a.labels,
                "annotations": a.annotations,
                "starts_at": a.starts_at,
                "ends_at": a.ends_at,
                "received_at": at,
            }
            for a in alerts
        ],
    )


def alert_rows(conn: Connection, num: int) -> list[Any]:
    return list(
        conn.execute(
            select(alert_events).where(alert_events.c.incident == num).order_by(alert_events.c.id)
        ).all()
    )


# -- timeline ids -----------------------------------------------------------------------------
def timeline_numbers(conn: Connection, num: int) -> dict[str, int]:
    rows = conn.execute(
        select(timeline_ids.c.ref, timeline_ids.c.n).where(timeline_ids.c.incident == num)
    ).all()
    return {r.ref: int(r.n) for r in rows}


def give_numbers(conn: Connection, num: int, refs: list[str], start: int) -> None:
    if refs:
        conn.execute(
            insert(timeline_ids),
            [{"incident": num, "n": start + i, "ref": ref} for i, ref in enumerate(refs)],
        )


# -- postmortems ------------------------------------------------------------------------------
def next_postmortem_version(conn: Connection, num: int) -> int:
    latest = conn.execute(
        select(func.max(postmortems.c.version)).where(postmortems.c.incident == num)
    ).scalar()
    return int(latest or 0) + 1


def add_postmortem(
    conn: Connection,
    num: int,
    version: int,
    author: str,
    at: datetime,
    draft: dict[str, Any],
    markdown: str,
) -> None:
    """Version ``version`` (``next_postmortem_version``): a key another writer took first
    fails the insert, and the caller tries again with the next one."""
    conn.execute(
        insert(postmortems).values(
            incident=num,
            version=version,
            author=author,
            created_at=at,
            draft=draft,
            markdown=markdown,
        )
    )


def postmortem_rows(conn: Connection, num: int) -> list[Any]:
    return list(
        conn.execute(
            select(postmortems).where(postmortems.c.incident == num).order_by(postmortems.c.version)
        ).all()
    )
