"""Incidents: alerts open and update them, people move them through their lifecycle, and
the first diagnosis runs as the configured on-call identity.

Every change is an audit event and a line in the incident's conversation. What an alert
says (labels, annotations) is redacted and kept as evidence; it never becomes a request:
the diagnosis asks in words of our own, with only the alert's name and the service it
names, each reduced to the characters an identifier has.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from copilot.domain import Principal, Reply
from copilot.domain.incidents import (
    Incident,
    IncidentList,
    IncidentStatus,
)
from copilot.errors import ConfigError, InvalidInput, PolicyDenied
from copilot.incidents.lifecycle import ACTIONS, SEVERITIES, check_move
from copilot.incidents.stats import incident_stats
from copilot.service.alert_intake import AlertIntake
from copilot.service.outbound import errors_redacted, outbound
from copilot.service.wiring import Parts

if TYPE_CHECKING:
    from copilot.settings import Settings

# An identifier, as the diagnosis request may quote it: alert names and label values are
# written by whoever writes alert rules, and only this much of them reaches the agent.
_IDENT = re.compile(r"[^A-Za-z0-9_.:/-]+")


def _ident(value: str) -> str:
    return _IDENT.sub("", value)[:80]


class Incidents(AlertIntake):
    _parts: Parts

    # -- people ---------------------------------------------------------------------------
    @outbound
    def incident_of_thread(self, channel: str, ts: str) -> Incident | None:
        """The incident whose Slack thread this is, if any."""
        from copilot.store.incidents import get_incident
        from copilot.store.schema import incidents

        with self._parts.door.deps.store.read() as conn:
            num = conn.execute(
                select(incidents.c.num).where(
                    incidents.c.slack_channel == channel, incidents.c.slack_ts == ts
                )
            ).scalar()
            return get_incident(conn, int(num)) if num is not None else None

    @outbound
    def declare_incident(self, principal: Principal, title: str, severity: str) -> Incident:
        """A person opens an incident (no alert fired, or not yet)."""
        from copilot.store import incidents as rows

        _may_run_incidents(principal)
        title = " ".join(title.split())
        if not title or len(title) > 300:
            raise InvalidInput("an incident needs a title of 1-300 characters", "say what broke")
        severity = severity.strip().lower() or "unknown"
        if severity not in SEVERITIES:
            raise InvalidInput(
                f"unknown severity {severity[:20]!r}", f"use one of: {', '.join(SEVERITIES)}"
            )
        deps = self._parts.door.deps
        now = deps.clock()
        with deps.store.write() as conn:
            num = rows.create_incident(
                conn,
                title=self._parts.redactor.text(title)[:300],
                status=IncidentStatus.OPEN.value,
                severity=severity,
                conversation=f"incident-new-{uuid.uuid4().hex}",
                source=principal.id,
                opened_at=now,
                first_human_at=now,
                audit_from=self._audit_head(conn),
            )
            rows.update_incident(conn, num, conversation=f"incident-{num}")
            deps.audit.append(
                conn,
                "incident.opened",
                actor=principal.id,
                subject=f"{rows.PREFIX}{num}",
                data={"title": title, "severity": severity},
                ts=now,
            )
            incident = rows.get_incident(conn, num)
        assert incident is not None
        return incident

    @outbound
    def incidents(self, limit: int = 200) -> IncidentList:
        """Incidents, the newest first, with MTTA and MTTR over them."""
        from copilot.store.incidents import list_incidents

        with self._parts.door.deps.store.read() as conn:
            found = list_incidents(conn, limit)
        return IncidentList(incidents=found, stats=incident_stats(found))

    @outbound
    def incident(self, incident_id: str) -> Incident:
        with self._parts.door.deps.store.read() as conn:
            return self._incident(conn, incident_id)

    def _incident(self, conn: Connection, incident_id: str, lock: bool = False) -> Incident:
        from copilot.store.incidents import get_incident, incident_num

        num = incident_num(incident_id) if len(incident_id) < 30 else None
        found = get_incident(conn, num, lock) if num is not None else None
        if found is None:
            raise InvalidInput(
                f"no incident {incident_id[:30]!r}", "`copilot incident list` shows them"
            )
        return found

    @outbound
    def incident_of(self, conversation: str) -> Incident | None:
        """The incident whose conversation this is, if any."""
        from copilot.store.incidents import by_conversation, get_incident

        with self._parts.door.deps.store.read() as conn:
            num = by_conversation(conn, conversation)
            return get_incident(conn, num) if num is not None else None

    @outbound
    def incident_in_channel(self, channel: str) -> Incident | None:
        """The newest incident not yet resolved whose thread is in this Slack channel."""
        from copilot.store.incidents import get_incident, latest_open_in_channel

        with self._parts.door.deps.store.read() as conn:
            num = latest_open_in_channel(conn, channel)
            return get_incident(conn, num) if num is not None else None

    @outbound
    def update_incident(
        self, incident_id: str, principal: Principal, action: str, value: str = ""
    ) -> Incident:
        """``ack``, ``mitigate``, ``resolve``, ``commander USER`` or ``severity LEVEL``,
        as ``principal`` (a responder at least). Each is an audit event and a line in the
        incident's conversation."""
        from copilot.store import incidents as rows
        from copilot.store.messages import add_message

        if action not in ACTIONS:
            raise InvalidInput(
                f"unknown incident action {action[:20]!r}", f"use one of: {', '.join(ACTIONS)}"
            )
        _may_run_incidents(principal)
        if action == "commander":
            value = self.principal(value.strip().lstrip("@")).id  # a configured user
        deps = self._parts.door.deps
        now = deps.clock()
        with deps.store.write() as conn:
            # locked: two people moving it at once take turns (a resolve never undone by
            # an acknowledgement read before it), and so does a delivery adding alerts
            incident = self._incident(conn, incident_id, lock=True)
            changes, said = check_move(incident, action, value, principal.id, now)
            num = rows.incident_num(incident.id)
            assert num is not None
            if incident.first_human_at is None:
                changes["first_human_at"] = now
            rows.update_incident(conn, num, **changes)
            deps.audit.append(
                conn,
                f"incident.{action}",
                actor=principal.id,
                subject=incident.id,
                data={"from": _state_of(incident, action), "to": value or action},
                ts=now,
            )
            add_message(
                conn,
                conversation=incident.conversation,
                at=now,
                author=principal.id,
                role="event",
                text=self._parts.redactor.text(said),
            )
            updated = rows.get_incident(conn, num)
        assert updated is not None
        return updated

    def note_human(self, conversation: str, principal: Principal) -> None:
        """A person said something in, or decided a card of, an incident's conversation:
        the first time counts for MTTA. The on-call identity is not a person."""
        from sqlalchemy import update

        from copilot.store.schema import incidents

        if principal.id == self.settings.incidents.oncall or "responder" not in principal.roles:
            return  # the on-call identity is no person; a viewer's chat acknowledges nothing
        deps = self._parts.door.deps
        with deps.store.write() as conn:
            conn.execute(
                update(incidents)
                .where(
                    incidents.c.conversation == conversation, incidents.c.first_human_at.is_(None)
                )
                .values(first_human_at=deps.clock())
            )

    @errors_redacted
    def attach_thread(self, incident_id: str, channel: str, ts: str) -> None:
        """The incident's Slack thread (posted by the Slack surface)."""
        from copilot.store.incidents import incident_num, update_incident

        num = incident_num(incident_id)
        if num is None:
            raise InvalidInput(f"no incident {incident_id[:30]!r}")
        with self._parts.door.deps.store.write() as conn:
            update_incident(conn, num, slack_channel=channel[:64], slack_ts=ts[:64])

    # -- the first diagnosis ----------------------------------------------------------------
    @errors_redacted
    def undiagnosed(self, within_s: float = 3600.0) -> list[str]:
        """Incidents an alert opened in the last ``within_s`` seconds, not resolved, whose
        conversation has no answer from the copilot yet: a server killed before (or
        during) their first diagnosis asks again when it starts."""
        from datetime import timedelta

        from copilot.store.schema import incidents, messages

        conf = self.settings.incidents
        if not (conf.diagnose and conf.oncall):
            return []
        deps = self._parts.door.deps
        answered = select(messages.c.id).where(
            messages.c.conversation == incidents.c.conversation, messages.c.role == "copilot"
        )
        with deps.store.read() as conn:
            rows = conn.execute(
                select(incidents.c.num, incidents.c.source)
                .where(
                    incidents.c.status != IncidentStatus.RESOLVED.value,
                    incidents.c.opened_at >= deps.clock() - timedelta(seconds=within_s),
                    ~answered.exists(),
                )
                .order_by(incidents.c.num)
            ).all()
        people = set(self.settings.users)
        return [f"INC-{r.num}" for r in rows if r.source not in people]

    def diagnosis_request(self, incident: Incident) -> str:
        """What the on-call identity asks when an incident opens: our words, the alert's
        name and the service it names, nothing else of the alert."""
        from copilot.store.incidents import alert_rows, incident_num

        num = incident_num(incident.id)
        with self._parts.door.deps.store.read() as conn:
            firing = [r for r in alert_rows(conn, num or 0) if r.status == "firing"]
        if not firing:
            return f"Incident {incident.id} is open. What are the first diagnostic steps?"
        first = firing[0]
        name = _ident(first.name) or "an alert"
        labels: dict[str, Any] = first.labels or {}
        where = next(
            (
                f" for {key} {_ident(str(labels[key]))}"
                for key in ("service", "job", "namespace")
                if labels.get(key) and _ident(str(labels[key]))
            ),
            "",
        )
        return f"Alert {name} is firing{where}. What are the first diagnostic steps?"

    def diagnose(self, incident_id: str) -> Reply | None:
        """Ask the agent for the first diagnostic steps as the on-call identity, in the
        incident's conversation: reads its role allows run, changes become cards. None
        when no on-call identity is configured (the conversation says so)."""
        settings = self.settings.incidents
        incident = self.incident(incident_id)
        if not settings.diagnose:
            return None
        if not settings.oncall:
            self._record(
                incident.conversation,
                "copilot",
                "event",
                "No automatic diagnosis: set [incidents] oncall to the user it runs as.",
            )
            return None
        try:
            oncall = self.principal(settings.oncall, via="incident")
        except InvalidInput:
            raise ConfigError(
                f"[incidents] oncall names {settings.oncall!r}, who is not a configured user",
                "add them to [users] (a responder), or unset oncall",
            ) from None
        reply: Reply = self.handle_message(  # type: ignore[attr-defined]
            oncall, incident.conversation, self.diagnosis_request(incident)
        )
        return reply

    if TYPE_CHECKING:  # provided by CopilotService and the other mixins

        @property
        def settings(self) -> Settings: ...

        def principal(self, user_id: str, via: str = "cli") -> Principal: ...

        def _record(
            self,
            conversation: str,
            author: str,
            role: str,
            text: str,
            *,
            cards: list[str] | None = None,
            facts: list[dict[str, Any]] | None = None,
        ) -> None: ...


def _may_run_incidents(principal: Principal) -> None:
    if "responder" not in principal.roles:
        raise PolicyDenied(
            f"{principal.id} may not change incidents (responders and above may)",
            "ask a responder, SRE or the on-call lead",
        )


def _state_of(incident: Incident, action: str) -> str:
    if action == "commander":
        return incident.commander or ""
    if action == "severity":
        return incident.severity
    return incident.status.value
