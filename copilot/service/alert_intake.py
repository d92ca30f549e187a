"""Alerts in: a webhook delivery opens its group's incident or updates it.

A delivery is recorded in one transaction: the alerts new to the incident (by fingerprint,
status and start, so a resend changes nothing), the incident's first alert time, and one
line in its conversation however many alerts came. Labels and annotations are redacted
and kept as evidence.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select

from copilot.domain.incidents import AlertBatch, AlertsReceived, IncidentStatus
from copilot.errors import InvalidInput
from copilot.incidents import alerts as alert_text
from copilot.incidents.lifecycle import describe_batch
from copilot.service.outbound import outbound, scrub
from copilot.service.wiring import Parts

if TYPE_CHECKING:
    from copilot.settings import Settings


# A label or annotation whose name says it holds a secret: its value is hidden whole,
# whatever it looks like (the redactor's rules judge a value by its shape alone).
_SECRET_NAME = re.compile(
    r"(?i)(pass(word|wd|phrase)?|secret|token|api[_-]?key|access[_-]?key|private[_-]?key"
    r"|auth|credential|cookie|session[_-]?id|signature)"
)


def _hidden(values: dict[str, str]) -> dict[str, str]:
    return {
        k: (f"[REDACTED:{k[:40]}]" if _SECRET_NAME.search(k) and v else v)
        for k, v in values.items()
    }


def _secret_values_hidden(batch: AlertBatch) -> AlertBatch:
    alerts = [
        a.model_copy(update={"labels": _hidden(a.labels), "annotations": _hidden(a.annotations)})
        for a in batch.alerts
    ]
    return batch.model_copy(
        update={"alerts": alerts, "common_labels": _hidden(batch.common_labels)}
    )


class AlertIntake:
    _parts: Parts

    # -- alerts in ------------------------------------------------------------------------
    @outbound
    def receive_alerts(self, batch: AlertBatch) -> AlertsReceived | None:
        """Record one webhook delivery: firing alerts open the group's incident or update
        it; resolved ones are recorded on it. A delivery seen before changes nothing.
        None when it holds only resolved alerts of a group with no incident."""
        parts = self._parts
        batch = scrub(_secret_values_hidden(batch), parts.redactor)
        # two deliveries of one new group racing on PostgreSQL: the second finds it open
        return parts.door.deps.store.write_retrying(lambda conn: self._receive(conn, batch))

    def receive_webhook(self, kind: str, body: Any) -> AlertsReceived | None:
        """A webhook's JSON body (``alertmanager`` or ``generic``), parsed and recorded.
        InvalidInput names what is wrong with it; nothing is stored then."""
        parse = {"alertmanager": alert_text.from_alertmanager, "generic": alert_text.from_generic}
        if kind not in parse:
            raise InvalidInput(f"unknown webhook {kind[:20]!r}", "use alertmanager or generic")
        batch = parse[kind](body)
        taken = {*self.settings.users, "copilot", self.settings.incidents.oncall or "copilot"}
        if batch.source in taken:
            # the source names the sender on the record: it must not pass for a person
            raise InvalidInput(
                f"source {batch.source!r} is the name of a user or of the copilot",
                "name the alert source (datadog, grafana, ...)",
            )
        return self.receive_alerts(batch)

    def _receive(self, conn: Connection, batch: AlertBatch) -> AlertsReceived | None:
        from copilot.store import incidents as rows

        deps = self._parts.door.deps
        now = deps.clock()
        digest = rows.group_digest(batch.source, batch.group_key)
        num = rows.open_in_group(conn, digest, lock=True)
        opened = False
        earlier: set[str] = set()  # alerts a resolved incident of this group already holds
        if num is None:
            last = self._last_of_group(conn, batch)
            firing = [rows.alert_key(a) for a in batch.alerts if a.status == "firing"]
            if not firing or (last is not None and self._all_known(conn, last, firing)):
                # resolved alerts, or a resend of alerts a resolved incident already has
                # (Alertmanager repeats a group that still fires): recorded there, if
                # anywhere; no new incident for the same alerts
                if last is None:
                    return None
                num = last
            else:
                if last is not None:
                    earlier = rows.known_alert_keys(
                        conn, last, [rows.alert_key(a) for a in batch.alerts]
                    )
                num = self._open(conn, batch, digest, now)
                opened = True
        seen: set[str] = set()
        fresh = []
        keys = [rows.alert_key(a) for a in batch.alerts]
        known = rows.known_alert_keys(conn, num, keys)
        for alert, key in zip(batch.alerts, keys, strict=True):
            if key not in known and key not in seen:
                seen.add(key)
                fresh.append(alert)
        rows.add_alerts(conn, num, batch.source, fresh, now)
        # Alertmanager sends the whole group: alerts that fired for an earlier incident do
        # not move this one's start (MTTA and MTTR run from its own first alert)
        starts = [
            a.starts_at
            for a in fresh
            if a.status == "firing" and a.starts_at and rows.alert_key(a) not in earlier
        ]
        incident = rows.get_incident(conn, num)
        assert incident is not None
        if starts and (incident.first_alert_at is None or min(starts) < incident.first_alert_at):
            rows.update_incident(conn, num, first_alert_at=min(starts))
        said = None
        if fresh:
            from copilot.store.messages import add_message

            text = describe_batch(incident, fresh, self.settings.incidents.update_lines)
            said = self._parts.redactor.text(text)
            add_message(
                conn,
                conversation=incident.conversation,
                at=now,
                author=batch.source,
                role="event",
                text=said,
            )
        incident = rows.get_incident(conn, num)
        assert incident is not None
        return AlertsReceived(
            incident=incident,
            opened=opened,
            new_firing=sum(1 for a in fresh if a.status == "firing"),
            new_resolved=sum(1 for a in fresh if a.status == "resolved"),
            repeated=len(batch.alerts) - len(fresh),
            said=said,
        )

    def _open(self, conn: Connection, batch: AlertBatch, digest: str, now: datetime) -> int:
        from copilot.store import incidents as rows

        num = rows.create_incident(
            conn,
            title=alert_text.title_of(batch),
            status=IncidentStatus.OPEN.value,
            severity=alert_text.severity_of(batch),
            conversation=f"incident-new-{uuid.uuid4().hex}",
            source=batch.source,
            group_key=batch.group_key[:500],
            open_group=digest,
            opened_at=now,
            audit_from=self._audit_head(conn),
        )
        rows.update_incident(conn, num, conversation=f"incident-{num}")
        self._parts.door.deps.audit.append(
            conn,
            "incident.opened",
            actor=batch.source,
            subject=f"{rows.PREFIX}{num}",
            data={"title": alert_text.title_of(batch), "alerts": len(batch.alerts)},
            ts=now,
        )
        return num

    def _all_known(self, conn: Connection, num: int, keys: list[str]) -> bool:
        from copilot.store.incidents import known_alert_keys

        return len(known_alert_keys(conn, num, keys)) == len(set(keys))

    def _last_of_group(self, conn: Connection, batch: AlertBatch) -> int | None:
        from copilot.store.schema import incidents

        found = conn.execute(
            select(func.max(incidents.c.num)).where(
                incidents.c.source == batch.source, incidents.c.group_key == batch.group_key[:500]
            )
        ).scalar()
        return int(found) if found is not None else None

    def _audit_head(self, conn: Connection) -> int:
        from copilot.store.schema import audit_events

        return int(conn.execute(select(func.max(audit_events.c.seq))).scalar() or 0)

    if TYPE_CHECKING:

        @property
        def settings(self) -> Settings: ...
