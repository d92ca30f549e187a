"""The JSON API: what the pages do, for scripts and later surfaces. Same sessions as the
pages (``POST /api/session`` signs in), and every state-changing call sends the session's
CSRF token as ``X-CSRF-Token``. Health and readiness need no session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from copilot.domain import Card, Reply
from copilot.domain.conversations import ConversationSummary, ConversationView
from copilot.errors import InvalidInput
from copilot.surfaces.web.auth import Signed, check_csrf
from copilot.surfaces.web.context import WebContext, web
from copilot.surfaces.web.errors import NotFound

MAX_TEXT = 4000


class MessageIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="what the person says")


class DecisionIn(BaseModel):
    verdict: Literal["approve", "reject"]
    reason: str = Field("", max_length=1000)
    break_glass: bool = False
    # When given, the card must belong to this conversation (else 404), as on the page.
    conversation: str | None = Field(None, max_length=200)


class VerifyOut(BaseModel):
    ok: bool
    events: int
    head: str
    problem: str | None = None
    first_bad_seq: int | None = None
    unbacked: list[str] = Field(default_factory=list)


class Health(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)


Ctx = Annotated[WebContext, Depends(web)]


async def card_in(
    ctx: WebContext, approval_id: str, conversation: str | None, who: str = "copilot"
) -> Card:
    """The card, or 404 when it does not exist or belongs to another conversation."""
    if not approval_id.isascii() or len(approval_id) > 40:
        raise NotFound(f"no card {approval_id[:40]!r}", "check the id")
    try:
        card = await ctx.call(ctx.service.card, approval_id, who)
    except InvalidInput:
        raise NotFound(f"no card {approval_id!r}", "check the id") from None
    if conversation is not None and card.conversation != conversation:
        raise NotFound(f"no card {approval_id!r} in this conversation", "check the id")
    return card


def router() -> APIRouter:
    r = APIRouter(prefix="/api", tags=["api"])
    csrf = [Depends(check_csrf)]

    @r.get("/conversations", response_model=list[ConversationSummary])
    async def conversations(ctx: Ctx, me: Signed) -> list[ConversationSummary]:
        return await ctx.call(ctx.service.conversations)

    @r.get("/conversations/{conversation}", response_model=ConversationView)
    async def conversation(
        ctx: Ctx, me: Signed, conversation: str, after: Annotated[int, Query(ge=0)] = 0
    ) -> ConversationView:
        """Messages (after message id ``after``) and the current state of its cards."""
        return await ctx.call(ctx.service.conversation, conversation, after=after)

    @r.post("/conversations/{conversation}/messages", response_model=Reply, dependencies=csrf)
    async def message(ctx: Ctx, me: Signed, conversation: str, body: MessageIn) -> Reply:
        """Say something in a conversation (a new id starts one); the copilot's reply and
        the cards it proposed."""
        try:
            return await ctx.call(ctx.service.handle_message, me, conversation, body.text)
        finally:
            ctx.hub.notify(conversation)

    @r.get("/approvals/{approval_id}", response_model=Card)
    async def approval(ctx: Ctx, me: Signed, approval_id: str) -> Card:
        return await card_in(ctx, approval_id, None, me.id)

    @r.post("/approvals/{approval_id}/decision", response_model=Reply, dependencies=csrf)
    async def decision(ctx: Ctx, me: Signed, approval_id: str, body: DecisionIn) -> Reply:
        """Approve or reject a card; a completed quorum runs the call (the reply says how
        it went)."""
        card = await card_in(ctx, approval_id, body.conversation, me.id)
        try:
            return await ctx.call(
                ctx.service.decide,
                card.approval_id,
                me,
                body.verdict,
                reason=body.reason,
                break_glass=body.break_glass,
            )
        finally:
            ctx.hub.notify(card.conversation)

    @r.get("/proposals", response_model=list[Card])
    async def proposals(
        ctx: Ctx,
        me: Signed,
        state: Annotated[list[str] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        reads: bool = False,
    ) -> list[Card]:
        """The newest cards (changes only unless ``reads``), optionally in these states."""
        return await ctx.call(ctx.service.cards, state, limit, reads=reads)

    @r.get("/audit/verify", response_model=VerifyOut)
    async def audit_verify(ctx: Ctx, me: Signed, anchor: str | None = None) -> VerifyOut:
        """Recompute the audit hash chain (optionally against a head kept elsewhere)."""
        rep = await ctx.call(ctx.service.verify_audit, anchor)
        return VerifyOut(
            ok=rep.ok,
            events=rep.events,
            head=f"{rep.head_seq}:{rep.head_hash}",
            problem=rep.problem,
            first_bad_seq=rep.first_bad_seq,
            unbacked=list(rep.unbacked),
        )

    @r.get("/audit/export", response_class=StreamingResponse)
    async def audit_export(
        ctx: Ctx, me: Signed, format: Literal["jsonl", "ocsf"] = "jsonl"
    ) -> StreamingResponse:
        """The audit log as JSON lines, or OCSF API Activity events (one per line)."""
        lines = await ctx.call(ctx.service.export_audit, format)
        return StreamingResponse(
            _lines(lines),
            media_type="application/x-ndjson",
            headers={"Content-Disposition": f'attachment; filename="copilot-audit.{format}"'},
        )

    return r


def _lines(lines: Iterator[str]) -> Iterator[str]:
    for line in lines:
        yield line if line.endswith("\n") else line + "\n"


def health_router() -> APIRouter:
    r = APIRouter(tags=["health"])

    @r.get("/healthz", response_model=Health)
    async def healthz() -> Health:
        """The process is up (no dependency checked)."""
        return Health(status="ok")

    @r.get("/readyz", response_model=Health)
    async def readyz(request: Request) -> Response:
        """Store, runbook index and (when one is configured) the model are reachable."""
        ctx = web(request)
        checks = await ctx.call(ctx.service.readiness)
        ok = all(v == "ok" or v.startswith("ok") for v in checks.values())
        body = Health(status="ok" if ok else "unavailable", checks=checks)
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503)

    return r


__all__: list[Any] = ["health_router", "router"]
