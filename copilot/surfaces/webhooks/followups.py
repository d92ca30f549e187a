"""What an opened or updated incident starts, after the webhook has been answered: its
Slack thread (when Slack is on and a channel is set) and the first diagnosis, one incident
at a time on a worker thread of its own."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from copilot.domain.incidents import Incident
    from copilot.service import CopilotService

log = logging.getLogger("copilot.incidents")


class FollowUps:
    def __init__(self, service: CopilotService, slack: Any | None) -> None:
        self._service = service
        # The Slack surface when it runs and incidents have a channel there
        self._slack = (
            slack if slack is not None and service.settings.incidents.slack_channel else None
        )
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="incident-followup")
        # a server stopped before an incident's first diagnosis (killed, redeployed) runs it now
        for incident_id in service.undiagnosed():
            self._pool.submit(self._opened, incident_id)

    def opened(self, incident: Incident) -> None:
        """Its thread and its first diagnosis, after the webhook has been answered."""
        self._pool.submit(self._opened, incident.id)

    def updated(self, incident: Incident, line: str) -> None:
        if self._slack is not None:
            self._pool.submit(self._updated, incident.id, line)

    def _opened(self, incident_id: str) -> None:
        try:
            if self._slack is not None:
                self._slack.incident_opened(incident_id)  # the thread, then the diagnosis
            else:
                self._service.diagnose(incident_id)
        except Exception:  # a follow-up never takes the server down; the incident stays
            log.exception("the first diagnosis of %s failed", incident_id)

    def _updated(self, incident_id: str, line: str) -> None:
        try:
            if self._slack is not None:
                self._slack.incident_updated(incident_id, line)
        except Exception:
            log.exception("telling the thread of %s about new alerts failed", incident_id)

    def stop(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
