"""Calling a tool as the executor would, without one: validated arguments, a ``ToolContext``
with the given sources and a clock fixed at ``NOW``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from copilot.settings import Settings
from copilot.toolkit import ToolContext, ToolSpec

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def run(spec: ToolSpec, args: dict[str, Any], principal: str = "alice", **sources: Any) -> Any:
    """Call a tool as the executor would (validated arguments, a context)."""
    ctx = context(principal, **sources)
    return spec.run_unchecked(ctx, spec.validate(args))


def context(principal: str = "alice", approval_id: str | None = None, **sources: Any) -> Any:
    settings = Settings(sources=sources)
    return ToolContext(
        state=None,  # type: ignore[arg-type]
        settings=settings,
        principal=principal,
        approval_id=approval_id,
        clock=lambda: NOW,
    )
