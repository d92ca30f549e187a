"""The few error types the core raises; each surface translates them once, at its edge.

Every error carries a one-line ``message`` naming what was wrong and a ``hint`` saying
what to do. Surfaces print ``message`` and ``hint``, never ``str()`` of a foreign exception.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError


class CopilotError(Exception):
    """Base of every error a surface may show to a person."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message

    def redact_with(self, redact: Callable[[str], str]) -> CopilotError:
        """Rewrite message and hint through ``redact`` (in place); return self to raise."""
        self.message, self.hint = redact(self.message), redact(self.hint)
        self.args = (self.message,)
        return self


class InvalidInput(CopilotError):
    """The request itself is wrong: unknown tool, bad arguments, unknown user or id."""


class PolicyDenied(CopilotError):
    """Policy said no (or could not be evaluated, which also means no)."""


class ApprovalRequired(CopilotError):
    """The call needs (more) approvals before it may run."""


class ApprovalInvalid(CopilotError):
    """The approval exists but cannot be used: expired, reused, tampered or in the wrong state."""


class ResourceBusy(CopilotError):
    """Another write holds the lock on the same resource."""


class RateLimited(CopilotError):
    """A per-user or per-tool rate limit was hit."""


class ToolRetry(CopilotError):
    """A transient tool failure: safe to retry if, and only if, the tool is idempotent."""


class ToolTimeout(CopilotError):
    """A tool (or its dry run) did not finish in time; whether it had an effect is unknown."""


class ToolFailed(CopilotError):
    """The tool ran and failed; its message (redacted) may be shown to the model."""


class ConfigError(CopilotError):
    """Configuration, policy or schema is broken: the service refuses to start."""


class AuditTampered(CopilotError):
    """The audit chain does not verify."""


def describe_validation_error(
    exc: ValidationError,
    *,
    where: Callable[[tuple[Any, ...]], str] | None = None,
    unknown: str = "unknown argument",
) -> str:
    """Field-by-field summary of a pydantic error, without echoing whole inputs.
    ``where`` spells a field's location (default ``a.b.0``), ``unknown`` an extra field."""
    parts = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        place = where(loc) if where else ".".join(str(p) for p in loc) or "(arguments)"
        if err["type"] == "extra_forbidden":
            parts.append(f"{place}: {unknown}")
        elif err["type"] == "missing":
            parts.append(f"{place}: required")
        else:
            parts.append(f"{place}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)
