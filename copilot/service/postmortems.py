"""An incident's timeline and its postmortem drafts.

The timeline is built on every read from the record (``copilot.incidents.timeline``); ids
are given to new records in time order and stored, so ``E12`` names the same event in
every later read and in every draft that cites it. A draft is written by the configured
model or, with none, the offline drafter; either way it passes the grounding check, is
redacted, and is stored as a new version. An edit is a new version and an audit event.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from copilot.domain import Principal
from copilot.domain.incidents import Incident, Postmortem, PostmortemDraft, Timeline, TimelineEvent
from copilot.errors import InvalidInput, PolicyDenied
from copilot.service.outbound import outbound, scrub
from copilot.service.wiring import Parts

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from copilot.settings import Settings

MAX_MARKDOWN = 1_000_000
log = logging.getLogger("copilot.postmortem")


class Postmortems:
    _parts: Parts

    @outbound
    def timeline(self, incident_id: str) -> Timeline:
        """Every event of the incident, in order, each with its stable id."""
        # two readers numbering the same new events at once: the second reads the ids
        return self._parts.door.deps.store.write_retrying(
            lambda conn: self._timeline(conn, self._incident(conn, incident_id))
        )

    def _timeline(self, conn: Connection, incident: Incident) -> Timeline:
        from copilot.incidents import timeline as tl
        from copilot.store import incidents as rows
        from copilot.store.messages import list_messages

        num = rows.incident_num(incident.id)
        assert num is not None
        audit = list(self._parts.door.deps.audit.events(since=rows.audit_from(conn, num)))
        messages = list_messages(conn, incident.conversation, limit=100_000)
        entries = tl.ordered(
            [
                *tl.from_alerts(rows.alert_rows(conn, num)),
                *tl.from_audit(audit, incident),
                *tl.from_messages(messages),
            ]
        )
        numbers = rows.timeline_numbers(conn, num)
        new = [e.ref for e in entries if e.ref not in numbers]
        start = max(numbers.values(), default=0) + 1
        rows.give_numbers(conn, num, new, start)
        numbers.update({ref: start + i for i, ref in enumerate(new)})
        events = [TimelineEvent(id=f"E{numbers[e.ref]}", **e.model_dump()) for e in entries]
        # not people: the copilot, the on-call identity, the alert source (a person who
        # declared the incident is one, and stays one)
        source = incident.source if incident.source not in self.settings.users else ""
        automated = sorted({"copilot", source, self.settings.incidents.oncall or ""} - {""})
        return Timeline(
            incident=incident, events=scrub(events, self._parts.redactor), automated=automated
        )

    @outbound
    def draft_postmortem(self, incident_id: str, principal: Principal) -> Postmortem:
        """Draft the postmortem now (a new version), grounded in the timeline."""
        from copilot.postmortem import grounding, markdown

        _may_write(principal)
        timeline = self.timeline(incident_id)
        draft = grounding.check(self._write_draft(timeline), timeline)
        draft = scrub(draft, self._parts.redactor)
        return self._store(
            timeline.incident,
            principal,
            draft,
            lambda version: markdown.render(draft, timeline.incident, timeline, version),
            "postmortem.drafted",
        )

    def _write_draft(self, timeline: Timeline) -> PostmortemDraft:
        from copilot.postmortem import model_draft, offline

        if not self.settings.model or not timeline.events:
            return offline.draft(timeline)
        from copilot.model.gateway import ModelGateway
        from copilot.model.prompts import render

        gateway = ModelGateway(self.settings, self._parts.redactor)

        def complete(messages: list[dict[str, Any]]) -> str:
            reply = gateway.complete(messages)
            return reply.content or reply.text

        try:
            return model_draft.draft(timeline, complete, render, gateway.model)
        except Exception as exc:  # a model down, slow or refusing: the draft is still due
            log.warning(
                "the model could not draft %s (%s)", timeline.incident.id, type(exc).__name__
            )
            fallback = offline.draft(timeline)
            note = (
                f"The model ({gateway.model}) could not be reached or failed "
                f"({type(exc).__name__}); this draft is the offline drafter's."
            )
            return fallback.model_copy(update={"open_questions": [note, *fallback.open_questions]})

    @outbound
    def edit_postmortem(self, incident_id: str, principal: Principal, text: str) -> Postmortem:
        """A person's edit of the Markdown: a new version (the draft's claims stay as they
        were checked; the Markdown is theirs), and an audit event."""
        _may_write(principal)
        text = text.strip()
        if not text or len(text) > MAX_MARKDOWN:
            raise InvalidInput(
                f"a postmortem must be 1-{MAX_MARKDOWN} characters of Markdown",
                "edit the exported Markdown and send it back",
            )
        latest = self.postmortem(incident_id)
        edited = self._parts.redactor.text(text)
        return self._store(
            self.incident(incident_id),
            principal,
            latest.draft.model_copy(update={"edited_by": principal.id}),
            lambda _version: edited,
            "postmortem.edited",
        )

    def _store(
        self,
        incident: Incident,
        principal: Principal,
        draft: PostmortemDraft,
        render: Any,
        kind: str,
    ) -> Postmortem:
        from copilot.store import incidents as rows
        from copilot.store.messages import add_message

        num = rows.incident_num(incident.id)
        assert num is not None
        deps = self._parts.door.deps
        now = deps.clock()

        def write(conn: Connection) -> Postmortem:
            version = rows.next_postmortem_version(conn, num)
            text = render(version)
            dumped = draft.model_dump(mode="json")
            rows.add_postmortem(conn, num, version, principal.id, now, dumped, text)
            deps.audit.append(
                conn,
                kind,
                actor=principal.id,
                subject=incident.id,
                data={"version": version, "drafter": draft.drafter, "chars": len(text)},
                ts=now,
            )
            verb = "drafted" if kind.endswith("drafted") else "edited"
            add_message(
                conn,
                conversation=incident.conversation,
                at=now,
                author=principal.id,
                role="event",
                text=f"{principal.id} {verb} the postmortem of {incident.id} (v{version})",
            )
            return Postmortem(
                incident=incident.id,
                version=version,
                author=principal.id,
                created_at=now,
                draft=draft,
                markdown=text,
            )

        # two drafts at once: the second takes the next version
        return deps.store.write_retrying(write)

    @outbound
    def postmortems(self, incident_id: str) -> list[Postmortem]:
        """Every version of the incident's postmortem, oldest first."""
        from copilot.store import incidents as rows

        with self._parts.door.deps.store.read() as conn:
            incident = self._incident(conn, incident_id)
            num = rows.incident_num(incident.id)
            found = rows.postmortem_rows(conn, num or 0)
        return [
            Postmortem(
                incident=incident.id,
                version=r.version,
                author=r.author,
                created_at=r.created_at,
                draft=PostmortemDraft.model_validate(r.draft),
                markdown=r.markdown,
            )
            for r in found
        ]

    @outbound
    def postmortem(self, incident_id: str, version: int | None = None) -> Postmortem:
        versions = self.postmortems(incident_id)
        if not versions:
            raise InvalidInput(
                f"{incident_id[:30]} has no postmortem yet",
                f"draft one: `copilot postmortem draft {incident_id[:30]}`",
            )
        if version is None:
            return versions[-1]
        found = next((p for p in versions if p.version == version), None)
        if found is None:
            raise InvalidInput(
                f"{incident_id[:30]} has no postmortem version {version}",
                f"versions 1-{len(versions)} exist",
            )
        return found

    if TYPE_CHECKING:  # provided by CopilotService and the Incidents mixin

        @property
        def settings(self) -> Settings: ...

        def incident(self, incident_id: str) -> Incident: ...

        def _incident(self, conn: Connection, incident_id: str) -> Incident: ...


def _may_write(principal: Principal) -> None:
    if "responder" not in principal.roles:
        raise PolicyDenied(
            f"{principal.id} may not write postmortems (responders and above may)",
            "ask a responder, SRE or the on-call lead",
        )
