"""Time arguments the telemetry readers share: Prometheus-style durations and points in time.

A point in time is ``"now"``, a duration ago (``"30m"``, ``"1h30m"``) or an RFC 3339
timestamp. Patterns make bad values fail validation (the model is told which field is
wrong) before anything is sent; relative times are resolved against the tool's clock.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, Field

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = r"(?:\d{1,6}(?:ms|s|m|h|d|w)){1,4}"
_RFC3339 = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})"
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")

DURATION_PATTERN = rf"^{_DURATION}$"
TIME_PATTERN = rf"^(?:now|{_DURATION}|{_RFC3339})$"


def parse_duration(text: str) -> timedelta:
    """``"1h30m"`` → 90 minutes (the caller has validated the pattern)."""
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(text))
    return timedelta(seconds=seconds)


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 time (nanoseconds cut to microseconds; no offset means UTC)."""
    # Python keeps microseconds: cut nanoseconds rather than refuse them.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _check_time(text: str) -> str:
    if re.fullmatch(_RFC3339, text):
        try:
            parse_rfc3339(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a valid date and time") from None
    return text


def _check_duration(text: str) -> str:
    if parse_duration(text) <= timedelta(0):
        raise ValueError("the duration must be longer than zero")
    return text


Duration = Annotated[
    str,
    Field(pattern=DURATION_PATTERN, max_length=24, description='e.g. "30s", "15m", "1h30m"'),
    AfterValidator(_check_duration),
]
TimeArg = Annotated[
    str,
    Field(
        pattern=TIME_PATTERN,
        max_length=40,
        description='"now", a duration ago such as "30m", or RFC 3339 (2025-03-04T14:30:00Z)',
    ),
    AfterValidator(_check_time),
]


def resolve_time(text: str, now: datetime) -> datetime:
    """An absolute UTC time for a ``TimeArg`` (a bare duration means that long ago)."""
    if text == "now":
        return now
    if re.fullmatch(_DURATION, text):
        return now - parse_duration(text)
    return parse_rfc3339(text).astimezone(UTC)


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def from_epoch_ns(ns: int) -> datetime:
    seconds, rest = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)


def epoch_ns(at: datetime) -> int:
    """Nanoseconds since the epoch, exact to the microsecond (no float rounding)."""
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def describe(delta: timedelta) -> str:
    """``timedelta(hours=1, minutes=30)`` → ``"1h30m"``."""
    seconds = int(delta.total_seconds())
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            out += f"{n}{unit}"
    return out or "0s"
