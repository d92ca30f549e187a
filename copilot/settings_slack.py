"""Settings of the Slack surface (``[slack]``): off until a bot token and a way to receive
events (a signing secret for HTTP, an app token for Socket Mode) are set."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field, model_validator

_STRICT = ConfigDict(extra="forbid")
_SLACK_ENV = {
    "bot_token": "SLACK_BOT_TOKEN",
    "signing_secret": "SLACK_SIGNING_SECRET",
    "app_token": "SLACK_APP_TOKEN",
}


class SlackSettings(BaseModel):
    model_config = _STRICT

    bot_token: str | None = Field(None, repr=False, description="xoxb-… (the bot's token)")
    signing_secret: str | None = Field(None, repr=False, description="checks HTTP events")
    app_token: str | None = Field(None, repr=False, description="xapp-…: Socket Mode")
    # Slack's Web API; tests point it at a fake on loopback.
    api_url: str = "https://slack.com/api/"
    # Who pressed the button: a Slack user id (U…) or e-mail -> a copilot user.
    users: dict[str, str] = Field(default_factory=dict, description="Slack id or e-mail -> user")
    # At most this many messages per second per channel (Slack's own guidance: about one).
    channel_rate: str = "1/second"

    @model_validator(mode="after")
    def _slack_names(self) -> SlackSettings:
        """Slack's own variable names (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET,
        SLACK_APP_TOKEN, as its tools and docs use them) fill what is not set otherwise."""
        for field, name in _SLACK_ENV.items():
            if getattr(self, field) is None and os.environ.get(name):
                setattr(self, field, os.environ[name])
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.bot_token and (self.signing_secret or self.app_token))

    @property
    def mode(self) -> str:
        """How events arrive: "socket" (an app token), "http" (a signing secret), or "off"."""
        if not self.enabled:
            return "off"
        return "socket" if self.app_token else "http"
