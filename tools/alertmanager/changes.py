"""Alertmanager writes: create a silence, expire one.

Risks: a silence stops pages for whatever it matches, for as long as it lasts; a wrong or
too-wide one hides the next incident from the people on call. So ``create_silence`` is
*medium* (an SRE approves, never the requester alone), and its plan lists the alerts it
would silence, read live from Alertmanager. Expiring a silence only lets notifications
through again, so ``expire_silence`` is *low* and idempotent (an expired silence stays
expired). Plans read only Alertmanager and the arguments: the window is given as a
duration from when the call runs, never as clock times, so the plan approved is the plan
that is checked again at execution.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from copilot.errors import ToolFailed
from copilot.toolkit import ToolContext, tool

from .._common.sources import SHAPE_ERRORS, SourceError, as_failure, request_json, unexpected
from .._common.timeargs import parse_duration
from .models import (
    AmAlert,
    Matchers,
    Silence,
    SilenceCreated,
    SilenceDuration,
    SilenceExpired,
    SilenceId,
    canonical,
)
from .reads import fetch_alerts, silence_of

PLAN_ALERTS = 20


def _label_set(alert: AmAlert) -> str:
    rest = ", ".join(f'{k}="{v}"' for k, v in sorted(alert.labels.items()) if k != "alertname")
    return f"{alert.name or '(no alertname)'} {{{rest}}}"


def _matching_now(ctx: ToolContext, filters: list[str], verb: str) -> list[str]:
    """Plan lines: the alerts firing now that ``filters`` match (labels only: stable)."""
    try:
        try:
            found = fetch_alerts(ctx, filters)
        except SHAPE_ERRORS as exc:
            raise unexpected("alertmanager", "the alerts", exc) from None
    except SourceError as err:
        d = err.detail
        return [f"Could not read the firing alerts ({d.error}): check Alertmanager before {verb}."]
    if not found:
        return ["It matches no alert firing now (it still covers any that fire later)."]
    lines = sorted({_label_set(a) for a in found})
    out = [f"It matches {len(lines)} alert(s) firing now:"]
    out += [f"  - {line}" for line in lines[:PLAN_ALERTS]]
    if len(lines) > PLAN_ALERTS:
        out.append(f"  … and {len(lines) - PLAN_ALERTS} more")
    return out


def _creator(ctx: ToolContext) -> str:
    return ctx.principal or "incident-copilot"


def _create_plan(ctx: ToolContext, args: Any) -> str:
    filters = sorted(m.text() for m in args.matchers)
    head = [
        f"Create a silence for {args.duration} from when it runs, created by {_creator(ctx)}.",
        f"Matchers: {', '.join(filters)}",
        f"Comment: {args.comment} (the approval id is appended)",
    ]
    return "\n".join(head + _matching_now(ctx, filters, "silencing"))


def _create_key(args: Any) -> str:
    return f"alertmanager:silence:{canonical(args.matchers)}"[:300]


class _Posted(BaseModel):
    silenceID: str  # Alertmanager's field name


@tool(
    risk="medium",
    idempotent=False,
    resource=_create_key,
    plan=_create_plan,
)
def create_silence(
    ctx: ToolContext,
    matchers: Matchers,
    duration: Annotated[SilenceDuration, Field(description="from 5m to 24h, e.g. 2h")],
    comment: Annotated[
        str, Field(min_length=3, max_length=500, description="why; a ticket or incident id")
    ],
) -> SilenceCreated:
    """Silence the alerts the matchers select, for a bounded time (notifications stop)."""
    starts = ctx.clock()
    ends = starts + parse_duration(duration)
    noted = f"{comment} [incident copilot {ctx.approval_id}]" if ctx.approval_id else comment
    body = {
        "matchers": [m.wire() for m in matchers],
        "startsAt": starts.isoformat(),
        "endsAt": ends.isoformat(),
        "createdBy": _creator(ctx),
        "comment": noted,
    }
    try:
        answer = request_json(ctx, "alertmanager", "POST", "/api/v2/silences", json=body)
    except SourceError as err:
        raise as_failure(err) from None
    try:
        silence_id = _Posted.model_validate(answer).silenceID
    except SHAPE_ERRORS:
        # It answered 200, so the silence most likely exists: say so rather than "failed".
        raise RuntimeError(
            "alertmanager accepted the silence but its answer has no silence id"
        ) from None
    return SilenceCreated(
        silence_id=silence_id,
        matchers=[m.text() for m in matchers],
        starts_at=starts,
        ends_at=ends,
        created_by=_creator(ctx),
        comment=noted,
    )


def _get_silence(ctx: ToolContext, silence_id: str) -> Silence | None:
    path = f"/api/v2/silence/{silence_id}"
    raw = request_json(ctx, "alertmanager", "GET", path, ok_statuses=(200, 404))
    if raw is None:  # 404 has no body
        return None
    try:
        return silence_of(raw)
    except SHAPE_ERRORS as exc:
        raise unexpected("alertmanager", "the silence", exc) from None


def _expire_plan(ctx: ToolContext, args: Any) -> str:
    try:
        found = _get_silence(ctx, args.silence_id)
    except SourceError as err:
        return f"Expire silence {args.silence_id}. Could not read it: {err.detail.error}."
    if found is None:
        return f"Alertmanager has no silence {args.silence_id}: nothing to expire."
    ends = found.ends_at.isoformat() if found.ends_at else "?"
    lines = [
        f"Expire silence {found.id} ({found.state}, ends {ends}), created by "
        f"{found.created_by}: {found.comment}",
        f"Matchers: {', '.join(found.matchers)}",
    ]
    if found.state == "expired":
        return "\n".join([*lines, "It has already expired: nothing will change."])
    lines += _matching_now(ctx, found.matchers, "expiring")
    lines.append("Those alerts notify again unless another silence covers them.")
    return "\n".join(lines)


@tool(
    risk="low",
    idempotent=True,
    resource="alertmanager:silence:{silence_id}",
    plan=_expire_plan,
)
def expire_silence(ctx: ToolContext, silence_id: SilenceId) -> SilenceExpired:
    """Expire (end) a silence now, so the alerts it covered notify again."""
    try:
        found = _get_silence(ctx, silence_id)
        if found is None:
            raise ToolFailed(
                f"alertmanager has no silence {silence_id}",
                "list them with alertmanager.silences",
            )
        if found.state != "expired":
            request_json(ctx, "alertmanager", "DELETE", f"/api/v2/silence/{silence_id}")
    except SourceError as err:
        raise as_failure(err) from None
    return SilenceExpired(
        silence_id=silence_id,
        matchers=found.matchers,
        was=found.state,
        already_expired=found.state == "expired",
    )
