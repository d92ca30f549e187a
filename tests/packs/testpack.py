"""A tool pack for tests: every call records itself in the store, so tests can count runs."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field

from copilot import ToolContext, ToolSpec, tool
from copilot.errors import ToolFailed, ToolRetry


class Count(BaseModel):
    value: int


def record_run(ctx: ToolContext, tool_name: str) -> None:
    """Append (tool, approval id) to the 'runs' document: the ground truth of what ran."""
    for _ in range(50):
        found = ctx.state.load("runs")
        doc, version = found if found else ({"runs": []}, None)
        doc["runs"].append([tool_name, ctx.approval_id])
        try:
            ctx.state.save("runs", doc, version)
            return
        except Exception:
            time.sleep(0.01)
    raise RuntimeError("could not record run")


def _counter(ctx: ToolContext, name: str) -> int:
    found = ctx.state.load(f"counter:{name}")
    return int(found[0]["value"]) if found else 0


@tool(risk="read")
def read_counter(ctx: ToolContext, name: str) -> Count:
    """Read a counter."""
    record_run(ctx, "read_counter")
    return Count(value=_counter(ctx, name))


def _bump_plan(ctx: ToolContext, args: Any) -> str:
    return f"counter {args.name}: {_counter(ctx, args.name)} → {_counter(ctx, args.name) + args.by}"


def _set(ctx: ToolContext, name: str, value: int) -> None:
    found = ctx.state.load(f"counter:{name}")
    ctx.state.save(f"counter:{name}", {"value": value}, found[1] if found else None)


@tool(risk="low", resource="counter/{name}", plan=lambda ctx, a: f"note on {a.name}")
def low_note(ctx: ToolContext, name: str) -> Count:
    """A low-risk change."""
    record_run(ctx, "low_note")
    return Count(value=0)


@tool(risk="medium", resource="counter/{name}", plan=lambda ctx, a: _bump_plan(ctx, a))
def bump_counter(ctx: ToolContext, name: str, by: Annotated[int, Field(ge=1, le=100)] = 1) -> Count:
    """Add to a counter (medium risk, not idempotent)."""
    record_run(ctx, "bump_counter")
    value = _counter(ctx, name) + by
    _set(ctx, name, value)
    return Count(value=value)


@tool(risk="high", resource="counter/{name}", plan=lambda ctx, a: f"reset {a.name} to 0")
def reset_counter(ctx: ToolContext, name: str) -> Count:
    """Reset a counter (high risk: two approvers in prod)."""
    record_run(ctx, "reset_counter")
    _set(ctx, name, 0)
    return Count(value=0)


@tool(risk="critical", plan=lambda ctx, a: "drop everything")
def drop_all(ctx: ToolContext) -> Count:
    """A critical change."""
    record_run(ctx, "drop_all")
    return Count(value=0)


@tool(risk="low", idempotent=True, timeout_s=5)
def flaky(ctx: ToolContext, fail_times: int) -> Count:
    """Idempotent; raises ToolRetry on its first ``fail_times`` attempts."""
    record_run(ctx, "flaky")
    runs = [r for r in (ctx.state.load("runs") or ({"runs": []}, 0))[0]["runs"] if r[0] == "flaky"]
    if len(runs) <= fail_times:
        raise ToolRetry("transient upstream error")
    return Count(value=len(runs))


@tool(risk="low", idempotent=False, timeout_s=5)
def flaky_once(ctx: ToolContext) -> Count:
    """Not idempotent; raises ToolRetry (it must not be retried)."""
    record_run(ctx, "flaky_once")
    raise ToolRetry("transient upstream error")


@tool(risk="low", timeout_s=0.3, resource="slow")
def slow(ctx: ToolContext, seconds: float) -> Count:
    """Sleeps; used to hit the timeout."""
    record_run(ctx, "slow")
    time.sleep(seconds)
    return Count(value=1)


@tool(risk="low")
def broken(ctx: ToolContext) -> Count:
    """Always fails."""
    record_run(ctx, "broken")
    raise ToolFailed("upstream said no")


@tool(risk="low", resource="crash/{marker}")
def crash(ctx: ToolContext, marker: str) -> Count:
    """Kills its own process mid-run (after writing ``marker``), as a crash would."""
    record_run(ctx, "crash")
    Path(marker).write_text("started")
    os._exit(9)


@tool(risk="low")
def huge(ctx: ToolContext) -> Count:
    """Returns a number canonical JSON cannot hold exactly."""
    record_run(ctx, "huge")
    return Count(value=2**70)


@tool(risk="low")
def noisy_failure(ctx: ToolContext) -> Count:
    """Raises a foreign exception with a long, multi-line message."""
    record_run(ctx, "noisy_failure")
    raise RuntimeError("connection refused\n" + "x" * 2000)


def _sleepy_plan(ctx: ToolContext, args: Any) -> str:
    time.sleep(1.0)
    return "eventually"


@tool(risk="low", timeout_s=0.3, plan=_sleepy_plan)
def slow_plan(ctx: ToolContext) -> Count:
    """Its dry run hangs past the tool's timeout."""
    record_run(ctx, "slow_plan")
    return Count(value=0)


@tool(risk="read")
def read_that_breaks(ctx: ToolContext) -> Count:
    """A read that raises something foreign: nothing can have changed."""
    record_run(ctx, "read_that_breaks")
    raise RuntimeError("parse error")


# --- canaries: secrets the built-in rules know, planted where redaction must catch them ---
# Built at import from fixed parts so the same values appear in every test and process.
CANARY_AWS_KEY = "AKIA" + "Q7ZK3M4N5P6R2S7T"
CANARY_GITHUB = "ghp_" + "Zq8Rm2LnX5vB7tK1wY4pS9dF3gH6jC0aE2uI"
CANARY_PASSWORD = "Vq7" + "-wR2zLm9xK4t"
CANARIES = (CANARY_AWS_KEY, CANARY_GITHUB, CANARY_PASSWORD)


class Text(BaseModel):
    text: str
    lines: list[str] = []


@tool(risk="read")
def leaky_read(ctx: ToolContext, what: str = "env") -> Text:
    """A read whose output quotes secrets, as an env dump or a config file would."""
    record_run(ctx, "leaky_read")
    lines = [
        f"aws_access_key_id = {CANARY_AWS_KEY}",
        f"DATABASE_URL=postgres://checkout:{CANARY_PASSWORD}@db.internal:5432/checkout",
        f"GITHUB_TOKEN={CANARY_GITHUB}",
    ]
    return Text(text="\n".join(lines), lines=lines)


@tool(risk="low")
def leaky_failure(ctx: ToolContext, foreign: bool = False) -> Count:
    """Fails with a message quoting a credential (a connection string in an error)."""
    record_run(ctx, "leaky_failure")
    message = f"login to https://deploy:{CANARY_PASSWORD}@registry.internal failed"
    if foreign:
        raise RuntimeError(f"{message} (token {CANARY_GITHUB})")
    raise ToolFailed(message)


@tool(
    risk="low",
    resource="leaky/{name}",
    plan=lambda ctx, a: f"rotate {a.name}: current key {CANARY_AWS_KEY} will be revoked",
)
def leaky_plan(ctx: ToolContext, name: str) -> Count:
    """Its dry-run plan quotes a secret it read from the world."""
    record_run(ctx, "leaky_plan")
    return Count(value=1)


@tool(risk="low")
def takes_anything(ctx: ToolContext, name: str, value: str = "") -> Count:
    """Accepts free text, so a secret can be passed in its arguments."""
    record_run(ctx, "takes_anything")
    return Count(value=len(value))


TOOLS: list[ToolSpec] = [
    read_counter,
    low_note,
    bump_counter,
    reset_counter,
    drop_all,
    flaky,
    flaky_once,
    slow,
    broken,
    crash,
    huge,
    noisy_failure,
    slow_plan,
    read_that_breaks,
    leaky_read,
    leaky_failure,
    leaky_plan,
    takes_anything,
]
