"""Who is this Slack user: a copilot user by ``[slack] users`` (their Slack user id, or the
e-mail Slack has for them, read with ``users.info``), then roles and policy decide as on
every surface. Someone the mapping does not name is nobody here: they can read what the
channel shows, and nothing they press counts.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from copilot.errors import CopilotError

if TYPE_CHECKING:
    from copilot.domain import Principal
    from copilot.service import CopilotService

log = logging.getLogger("copilot.slack")
# How long a users.info answer is trusted: an e-mail rarely changes, and each lookup is a
# Web API call (Tier 4) on the path of a button press.
EMAIL_TTL_S = 600.0


class People:
    def __init__(self, service: CopilotService, users: dict[str, str], client: Any) -> None:
        self._service = service
        self._by_id = {k: v for k, v in users.items() if "@" not in k}
        self._by_email = {k.lower(): v for k, v in users.items() if "@" in k}
        self._client = client
        self._emails: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def user_of(self, slack_user: str) -> str | None:
        """The copilot user this Slack user is, or None."""
        if slack_user in self._by_id:
            return self._by_id[slack_user]
        if not self._by_email:
            return None
        email = self._email(slack_user)
        return self._by_email.get(email.lower()) if email else None

    def principal(self, slack_user: str) -> Principal | None:
        """The copilot principal (roles from config) of this Slack user, or None when the
        mapping does not name them or names someone the config no longer has."""
        name = self.user_of(slack_user)
        if name is None:
            return None
        try:
            return self._service.principal(name, via="slack")
        except CopilotError:
            log.warning("slack user %s maps to %r, who is not a configured user", slack_user, name)
            return None

    def _email(self, slack_user: str) -> str | None:
        now = time.monotonic()
        with self._lock:
            cached = self._emails.get(slack_user)
        if cached and now - cached[0] < EMAIL_TTL_S:
            return cached[1]
        from slack_sdk.errors import SlackApiError

        email: str | None = None
        try:
            answer = self._client.users_info(user=slack_user)
            email = (answer.get("user") or {}).get("profile", {}).get("email")
        except SlackApiError as err:  # user_not_found, missing users:read.email scope ...
            log.warning("users.info for %s failed: %s", slack_user, err.response.get("error"))
        except OSError as err:  # Slack unreachable: not cached, asked again next time
            log.warning("users.info for %s failed: %s", slack_user, type(err).__name__)
            return None
        with self._lock:
            self._emails[slack_user] = (now, email)
        return email
