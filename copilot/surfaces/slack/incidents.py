"""Incidents in Slack: a thread per incident in the configured channel, and
``/copilot incident …`` and ``/copilot postmortem``.

When an alert opens an incident, its root message goes to ``[incidents] slack_channel``,
the thread becomes the incident's conversation (mentions in it continue it), and the first
diagnosis is answered there with its cards. Later deliveries add one line each.

Slash commands carry no thread, so a command names its incident (``INC-12``) or means the
newest incident of the channel that is not resolved.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from copilot.domain.incidents import Incident, duration
from copilot.errors import CopilotError
from copilot.surfaces.slack.blocks import cut, escape

if TYPE_CHECKING:
    from copilot.service import CopilotService
    from copilot.surfaces.slack.handlers import Handlers
    from copilot.surfaces.slack.outbox import Outbox
    from copilot.surfaces.slack.people import People

log = logging.getLogger("copilot.slack")
INCIDENT_ID = re.compile(r"^(?:INC-)?\d{1,9}$", re.IGNORECASE)
MOVES = {"ack": "ack", "acknowledge": "ack", "mitigate": "mitigate", "resolve": "resolve"}
TIMELINE_LINES = 15
ANSWER_CHARS = 2900
INCIDENT_HELP = (
    "• `/copilot incident [INC-n]`: the incident's status, MTTA and MTTR.\n"
    "• `/copilot incident ack|mitigate|resolve [INC-n]`, "
    "`/copilot incident commander @person [INC-n]`, `/copilot incident severity LEVEL [INC-n]`.\n"
    "• `/copilot incident timeline [INC-n]`, `/copilot incident list`.\n"
    "• `/copilot postmortem [INC-n]`: draft the postmortem into the incident's thread.\n"
    "Without an id, the newest incident of this channel that is not resolved."
)


def summary(incident: Incident, web_url: str | None) -> str:
    i = incident
    text = (
        f"*{escape(i.id)}* {escape(i.title)}\n"
        f"status *{i.status.value}*, severity {escape(i.severity)}, commander "
        f"{escape(i.commander or 'none')}; alerts {i.alerts_firing} firing of {i.alerts_total}; "
        f"MTTA {duration(i.mtta_s)}, MTTR {duration(i.mttr_s)}"
    )
    if web_url:
        text += f"\n<{web_url.rstrip('/')}/incidents/{i.id}|the incident on the web>"
    return text


class IncidentThreads:
    def __init__(
        self,
        service: CopilotService,
        outbox: Outbox,
        people: People,
        handlers: Handlers,
        web_url: str | None,
        channel: str | None,
    ) -> None:
        self.service = service
        self.outbox = outbox
        self.people = people
        self.handlers = handlers
        self.web_url = web_url
        self.channel = channel

    # -- threads ---------------------------------------------------------------------------
    def opened(self, incident_id: str) -> None:
        """Post the incident's root message, then its first diagnosis in the thread."""
        if not self.channel:
            self.service.diagnose(incident_id)
            return
        incident = self.service.incident(incident_id)
        root = incident.slack_ts  # a thread posted before a restart is used again
        if root is None or incident.slack_channel != self.channel:
            root = self.outbox.post(
                self.channel, f":rotating_light: {summary(incident, self.web_url)}", None
            )
        if root is None:
            log.warning("slack refused the root message of %s; diagnosing without", incident_id)
            self.service.diagnose(incident_id)
            return
        self.service.attach_thread(incident_id, self.channel, root)
        try:
            reply = self.service.diagnose(incident_id)
        except CopilotError as err:
            self.outbox.post(self.channel, f":warning: {escape(err.one_line())}", None, root)
            return
        except Exception:
            log.exception("the first diagnosis of %s failed", incident_id)
            said = ":warning: The first diagnosis failed on our side; ask in this thread."
            self.outbox.post(self.channel, said, None, root)
            return
        if reply is not None:
            self.handlers.answer(self.channel, root, None, reply)

    def updated(self, incident_id: str, line: str) -> None:
        """A later delivery: its own line (counts, a few alert names) in the thread."""
        incident = self.service.incident(incident_id)
        if incident.slack_channel and incident.slack_ts and line:
            self.outbox.post(incident.slack_channel, escape(line), None, incident.slack_ts)

    # -- commands --------------------------------------------------------------------------
    def command(self, user: str, channel: str, words: list[str]) -> tuple[str, Any]:
        """The answer to ``/copilot incident WORDS`` (only the person who typed it sees
        it), and a job to run after the ack, if any."""
        principal = self.people.principal(user)
        assert principal is not None  # the caller refused unmapped users
        sub = words[0].lower() if words else "status"
        rest = words[1:]
        if sub in ("help", "?"):
            return INCIDENT_HELP, None
        if sub == "list":
            return self._list(), None
        if INCIDENT_ID.match(sub):  # `/copilot incident INC-3`
            sub, rest = "status", words
        incident, rest = self._which(channel, rest)
        if incident is None:
            return (
                "Which incident? None is open in this channel: name it, "
                "e.g. `/copilot incident ack INC-3` (`/copilot incident list`).",
                None,
            )
        try:
            if sub == "status":
                return summary(incident, self.web_url), None
            if sub == "timeline":
                return self.timeline(incident.id), None
            if sub in MOVES:
                done = self.service.update_incident(incident.id, principal, MOVES[sub])
            elif sub in ("commander", "severity") and rest:
                value = self._person(rest[0]) if sub == "commander" else rest[0]
                done = self.service.update_incident(incident.id, principal, sub, value)
            else:
                asked = escape(" ".join(words)[:60])
                return f"I do not know `incident {asked}`.\n{INCIDENT_HELP}", None
        except CopilotError as err:
            return f":no_entry: {escape(err.one_line())}", None
        said = f"{escape(principal.id)}: {summary(done, self.web_url)}"
        return said, (self._tell_thread, {"incident": done, "text": said})

    def postmortem(self, user: str, channel: str, words: list[str]) -> tuple[str, Any]:
        incident, _ = self._which(channel, words)
        if incident is None:
            return "Which incident? Name it, e.g. `/copilot postmortem INC-3`.", None
        return (
            f"Drafting the postmortem of {escape(incident.id)}…",
            (self._draft, {"user": user, "channel": channel, "incident": incident}),
        )

    def timeline(self, incident_id: str) -> str:
        tl = self.service.timeline(incident_id)
        shown = [e for e in tl.events if e.kind not in ("fact", "policy")][-TIMELINE_LINES:]
        lines = [f"*{escape(tl.incident.id)}*: {len(tl.events)} events; the latest:"]
        lines += [f"`{e.id}` {e.at:%H:%M:%S} {escape(e.text[:200])}" for e in shown]
        if self.web_url:
            lines.append(f"<{self.web_url.rstrip('/')}/incidents/{tl.incident.id}|all of it>")
        return cut("\n".join(lines), ANSWER_CHARS)

    # -- inside ------------------------------------------------------------------------------
    def _draft(self, user: str, channel: str, incident: Incident) -> None:
        principal = self.people.principal(user)
        if principal is None:
            return
        where, root = incident.slack_channel or channel, incident.slack_ts
        try:
            pm = self.service.draft_postmortem(incident.id, principal)
        except CopilotError as err:
            self.outbox.ephemeral(channel, user, f":no_entry: {escape(err.one_line())}")
            return
        except Exception:
            log.exception("drafting the postmortem of %s failed", incident.id)
            failed = "Drafting the postmortem failed on our side; nothing was stored. Try again."
            self.outbox.ephemeral(channel, user, f":warning: {failed}")
            return
        claims = sum(len(c) for c in pm.draft.sections.values())
        head = (
            f"*Postmortem of {escape(incident.id)}*, draft v{pm.version} by "
            f"{escape(principal.id)}: {claims} claims, each citing the timeline; "
            f"{len(pm.draft.open_questions)} open questions; "
            f"{len(pm.draft.removed)} unsupported claims removed."
        )
        if self.web_url:
            head += f" <{self.web_url.rstrip('/')}/incidents/{incident.id}|Read and edit it>."
        summary_text = " ".join(c.text for c in pm.draft.sections.get("Summary", []))
        text = f"{head}\n>{escape(summary_text)}" if summary_text else head
        self.outbox.post(where, cut(text, ANSWER_CHARS), None, root)

    def _tell_thread(self, incident: Incident, text: str) -> None:
        if incident.slack_channel and incident.slack_ts:
            self.outbox.post(incident.slack_channel, text, None, incident.slack_ts)

    def _which(self, channel: str, words: list[str]) -> tuple[Incident | None, list[str]]:
        """The incident a command names (its last word ``INC-n``), or the channel's."""
        if words and INCIDENT_ID.match(words[-1]):
            try:
                return self.service.incident(words[-1]), words[:-1]
            except CopilotError:
                return None, words[:-1]
        return self.service.incident_in_channel(channel), words

    def _person(self, word: str) -> str:
        """A Slack mention (already plain: ``U123``) as its copilot user, or the name."""
        found = self.people.principal(word.lstrip("@"))
        return found.id if found is not None else word.lstrip("@")

    def _list(self) -> str:
        found = self.service.incidents(limit=10)
        st = found.stats
        lines = [
            f"*The latest {st.incidents} incidents*, {st.open} not resolved; MTTA median "
            f"{duration(st.mtta_median_s)}, MTTR median {duration(st.mttr_median_s)}"
        ]
        lines += [
            f"• `{i.id}` {i.status.value} {escape(i.title[:80])} (MTTA {duration(i.mtta_s)}, "
            f"MTTR {duration(i.mttr_s)})"
            for i in found.incidents
        ]
        return cut("\n".join(lines), ANSWER_CHARS)
