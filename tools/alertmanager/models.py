"""What the Alertmanager tools take and return, and matchers in Alertmanager's own syntax.

A matcher is written ``name="value"`` (``!=``, ``=~``, ``!~`` for the other kinds), the form
Alertmanager's ``filter=`` parameter parses, so the alerts a silence would hide are found by
Alertmanager itself, with its own (RE2) regular expressions.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from .._common.sources import SourceResult
from .._common.timeargs import Duration, parse_duration, parse_rfc3339

SILENCE_MIN = timedelta(minutes=5)
SILENCE_MAX = timedelta(hours=24)


def render_matcher(name: str, value: str, is_regex: bool, is_equal: bool) -> str:
    """``name="value"`` with ``=``, ``!=``, ``=~`` or ``!~``, quoted as Alertmanager parses it."""
    op = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}[
        (is_regex, is_equal)
    ]
    quoted = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{name}{op}"{quoted}"'


class SilenceMatcher(BaseModel):
    """One label matcher of a silence."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]{0,99}$", description="label name")
    # No control characters: Alertmanager's matcher syntax cannot quote most of them.
    value: str = Field(max_length=500, pattern=r"^[^\x00-\x1f\x7f]*$")
    is_regex: bool = Field(False, description="value is an RE2 regular expression")
    is_equal: bool = Field(True, description="false: the label must NOT match")

    def text(self) -> str:
        return render_matcher(self.name, self.value, self.is_regex, self.is_equal)

    def matches_empty(self) -> bool:
        """Would this matcher match an alert that lacks the label (value "")?"""
        hit = bool(re.fullmatch(self.value, "")) if self.is_regex else self.value == ""
        return hit if self.is_equal else not hit

    def wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.is_regex,
            "isEqual": self.is_equal,
        }


def _regexes_compile(matchers: list[SilenceMatcher]) -> list[SilenceMatcher]:
    for m in matchers:
        if m.is_regex:
            try:
                re.compile(m.value)
            except re.error as exc:
                raise ValueError(f"matcher {m.name}: bad regular expression ({exc})") from None
    if all(m.matches_empty() for m in matchers):
        # Alertmanager refuses these too: they would silence every alert there is.
        raise ValueError("at least one matcher must not match an empty value")
    return matchers


Matchers = Annotated[
    list[SilenceMatcher],
    Field(min_length=1, max_length=10, description="all must match for an alert to be silenced"),
    AfterValidator(_regexes_compile),
]


def _bounded(text: str) -> str:
    if not SILENCE_MIN <= parse_duration(text) <= SILENCE_MAX:
        raise ValueError("a silence lasts from 5m to 24h")
    return text


SilenceDuration = Annotated[Duration, AfterValidator(_bounded)]
SilenceId = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        description="a silence id as Alertmanager shows it",
    ),
]
FilterMatcher = Annotated[
    str,
    Field(
        max_length=300,
        pattern=r"^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)\s*\S.*$",
        description='e.g. alertname="SandboxHighErrorRate" or service=~"check.*"',
    ),
]


def canonical(matchers: list[SilenceMatcher]) -> str:
    return ",".join(sorted(m.text() for m in matchers))


def matcher_text(raw: dict[str, Any]) -> str:
    """A matcher as Alertmanager returns it, in matcher syntax (not re-validated: a silence
    someone else made may hold values this copilot would not create)."""
    return render_matcher(
        str(raw["name"]),
        str(raw["value"]),
        bool(raw.get("isRegex", False)),
        bool(raw.get("isEqual", True)),
    )


def when(raw: Any) -> datetime | None:
    return parse_rfc3339(str(raw)) if raw else None


class AmAlert(BaseModel):
    fingerprint: str
    name: str
    state: str = Field(description="active, suppressed (silenced or inhibited), unprocessed")
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    silenced_by: list[str] = Field(default_factory=list)
    inhibited_by: list[str] = Field(default_factory=list)
    receivers: list[str] = Field(default_factory=list)


class AmAlertsResult(SourceResult):
    source: str = "alertmanager"
    alerts: list[AmAlert] = Field(default_factory=list)
    total: int = 0
    cut: int = 0


class Silence(BaseModel):
    id: str
    state: str = Field(description="active, pending or expired")
    matchers: list[str]
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    created_by: str = ""
    comment: str = ""


class SilencesResult(SourceResult):
    source: str = "alertmanager"
    silences: list[Silence] = Field(default_factory=list)
    total: int = 0
    cut: int = 0


class SilenceCreated(SourceResult):
    source: str = "alertmanager"
    silence_id: str
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str


class SilenceExpired(SourceResult):
    source: str = "alertmanager"
    silence_id: str
    matchers: list[str]
    was: str = Field(description="the silence's state before: active, pending or expired")
    already_expired: bool = False
