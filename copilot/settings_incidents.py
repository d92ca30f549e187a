"""Settings of incidents (``[incidents]``): who may post alerts, who the copilot is when it
starts diagnosing, and where incident threads go in Slack."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

_STRICT = ConfigDict(extra="forbid")


class IncidentSettings(BaseModel):
    model_config = _STRICT

    # The webhooks take a bearer token or basic auth (Alertmanager's http_config sends
    # either). Neither set: every delivery is refused.
    webhook_token: str | None = Field(None, repr=False, description="Authorization: Bearer …")
    webhook_username: str | None = Field(None, description="basic auth user")
    webhook_password: str | None = Field(None, repr=False, description="basic auth password")
    # The configured user the first diagnosis runs as (reads its role may run; anything
    # else becomes a card). Unset: no automatic diagnosis, the incident waits for people.
    oncall: str | None = Field(None, description="a user from [users], e.g. a responder")
    diagnose: bool = Field(True, description="ask the agent for first steps when one opens")
    # Incident threads in Slack (when Slack is on): the channel id, e.g. C0123ABCD.
    slack_channel: str | None = None
    # A delivery's update in the conversation lists at most this many alerts by name (a
    # storm of hundreds is one message; every alert is still kept on the incident).
    update_lines: int = Field(10, ge=1, le=100)

    @property
    def webhooks_enabled(self) -> bool:
        return bool(self.webhook_token or (self.webhook_username and self.webhook_password))
