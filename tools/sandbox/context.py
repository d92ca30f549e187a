"""Glue between the sandbox's pure world functions and the toolkit's tool context."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from copilot.errors import CopilotError, ToolRetry
from copilot.toolkit import ToolContext

from .state import load_world, save_world, world_doc_name
from .world import World


def load(ctx: ToolContext) -> tuple[World, int]:
    return load_world(ctx.state, ctx.settings, ctx.clock())


def commit(ctx: ToolContext, before: World, after: World, version: int) -> str:
    """Save ``after`` if it differs from ``before``; return what changed in words.

    A concurrent write makes the store refuse the save; since the save is the only
    side effect, nothing was applied, and that is reported as a retryable failure.
    """
    if after == before:
        return "no change"
    delay = float(getattr(getattr(ctx.settings, "sandbox", None), "action_delay_s", 0.0) or 0.0)
    if delay > 0:
        time.sleep(delay)  # the change "rolls out" (settings.sandbox.action_delay_s)
    try:
        save_world(ctx.state, ctx.settings, after, version)
    except CopilotError as exc:
        found = ctx.state.load(world_doc_name(ctx.settings))
        if found is None or found[1] == version:
            raise
        raise ToolRetry(
            f"the sandbox changed while this action ran (version {version} → {found[1]}); "
            "nothing was applied",
            "check the current state and propose the action again if it is still needed",
        ) from exc
    return after.changes[-1].summary


def actor(ctx: ToolContext) -> str:
    return ctx.principal or "copilot"


def plan_from(fn: Callable[[World, Any], str]) -> Callable[[ToolContext, BaseModel], str]:
    """Adapt a pure ``plan(world, args)`` to the toolkit's ``plan(ctx, args)``."""

    def plan(ctx: ToolContext, args: BaseModel) -> str:
        return fn(load(ctx)[0], args)

    return plan
