"""The pages: conversations, the chat with its live cards, proposals, audit, and the
runbook chunk a card cites. Forms post with htmx (the CSRF token rides in a header) and
work without it too (a hidden field, then a redirect back)."""

from __future__ import annotations

import secrets
from collections import deque
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sse_starlette import EventSourceResponse

from copilot.domain import Principal
from copilot.errors import CopilotError
from copilot.surfaces.web.api import MAX_TEXT, card_in
from copilot.surfaces.web.auth import Signed, check_csrf, csrf_token
from copilot.surfaces.web.context import web
from copilot.surfaces.web.errors import answer
from copilot.surfaces.web.live import conversation_events
from copilot.surfaces.web.render import Renderer

AUDIT_SHOWN = 200


def _page(request: Request, me: Principal, name: str, **context: Any) -> Response:
    ctx = web(request)
    base = {"me": me, "csrf": csrf_token(request), "page": name}
    return ctx.templates.TemplateResponse(request, f"{name}.html", base | context)


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _flash(request: Request, message: str, tone: str = "ok") -> Response:
    return web(request).templates.TemplateResponse(
        request, "partials/flash.html", {"message": message, "hint": "", "tone": tone}
    )


def new_conversation_id() -> str:
    return "web-" + secrets.token_hex(4)


def router() -> APIRouter:
    r = APIRouter(include_in_schema=False)
    csrf = [Depends(check_csrf)]

    @r.get("/", response_class=HTMLResponse)
    async def home(request: Request, me: Signed) -> Response:
        ctx = web(request)
        found = await ctx.call(ctx.service.conversations)
        return _page(request, me, "conversations", conversations=found)

    @r.post("/conversations", dependencies=csrf)
    async def start(
        request: Request, me: Signed, text: Annotated[str, Form(max_length=MAX_TEXT)] = ""
    ) -> Response:
        ctx = web(request)
        conversation = new_conversation_id()
        await ctx.call(ctx.service.handle_message, me, conversation, text)
        return RedirectResponse(f"/c/{conversation}", status_code=303)

    @r.get("/c/{conversation}", response_class=HTMLResponse)
    async def chat(request: Request, me: Signed, conversation: str) -> Response:
        ctx = web(request)
        view = await ctx.call(ctx.service.conversation, conversation)
        render = Renderer(request, me)
        await render.prepare(view)
        shown = [render.message(view, m) for m in view.messages]
        others = [render.card(view, view.cards[aid]) for aid in view.elsewhere]
        last = view.messages[-1].id if view.messages else 0
        return _page(request, me, "chat", view=view, shown=shown, others=others, last=last)

    @r.post("/c/{conversation}/messages", dependencies=csrf)
    async def say(
        request: Request,
        me: Signed,
        conversation: str,
        text: Annotated[str, Form(max_length=MAX_TEXT)] = "",
    ) -> Response:
        ctx = web(request)
        try:
            await ctx.call(ctx.service.handle_message, me, conversation, text)
        finally:
            ctx.hub.notify(conversation)
        if _htmx(request):  # the live stream shows the message and the reply
            return _flash(request, "")
        return RedirectResponse(f"/c/{conversation}", status_code=303)

    @r.post("/c/{conversation}/cards/{approval_id}", dependencies=csrf)
    async def decide(
        request: Request,
        me: Signed,
        conversation: str,
        approval_id: str,
        verdict: Annotated[str, Form(pattern="^(approve|reject|withdraw)$")],
        reason: Annotated[str, Form(max_length=1000)] = "",
    ) -> Response:
        ctx = web(request)
        card = await card_in(ctx, approval_id, conversation, me.id)
        try:
            if verdict == "withdraw":
                await ctx.call(ctx.service.cancel, card.approval_id, me)
                said = f"you withdrew {card.approval_id}"
            else:
                reply = await ctx.call(
                    ctx.service.decide, card.approval_id, me, verdict, reason=reason
                )
                said = reply.text.splitlines()[0] if reply.text else "recorded"
        finally:
            ctx.hub.notify(conversation)
        if _htmx(request):
            return _flash(request, said)
        return RedirectResponse(f"/c/{conversation}", status_code=303)

    @r.get("/c/{conversation}/events")
    async def events(
        request: Request, me: Signed, conversation: str, after: int = Query(0, ge=0)
    ) -> Response:
        last = request.headers.get("last-event-id", "")
        start = int(last) if last.isdigit() else after
        return EventSourceResponse(
            conversation_events(request, conversation, me, start), ping=15, send_timeout=30
        )

    @r.get("/proposals", response_class=HTMLResponse)
    async def proposals(
        request: Request, me: Signed, state: str = "", everything: bool = False
    ) -> Response:
        ctx = web(request)
        states = [state] if state else None
        try:
            cards = await ctx.call(ctx.service.cards, states, 100, reads=everything)
        except CopilotError as err:
            return answer(request, 422, err.message, err.hint)
        return _page(request, me, "proposals", cards=cards, state=state, everything=everything)

    @r.get("/audit", response_class=HTMLResponse)
    async def audit(request: Request, me: Signed) -> Response:
        import json

        ctx = web(request)
        report = await ctx.call(ctx.service.verify_audit)

        def newest() -> list[dict[str, Any]]:
            kept: deque[str] = deque(maxlen=AUDIT_SHOWN)
            kept.extend(ctx.service.export_audit("jsonl"))
            return [json.loads(line) for line in reversed(kept)]

        events = await ctx.call(newest)
        return _page(request, me, "audit", report=report, events=events)

    @r.get("/runbooks/chunk", response_class=HTMLResponse)
    async def chunk(request: Request, me: Signed, id: str = Query(max_length=300)) -> Response:
        ctx = web(request)
        try:
            hit = await ctx.call(ctx.service.runbook_chunk, id)
        except CopilotError as err:
            return answer(request, 404, err.message, err.hint)
        return _page(request, me, "chunk", hit=hit)

    return r
