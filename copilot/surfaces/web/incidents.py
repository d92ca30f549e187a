"""Incidents on the web: the list with MTTA and MTTR, one incident's page (its lifecycle
buttons, commander and severity, its timeline and its latest postmortem draft), the
postmortem as a Markdown download, and the same as JSON under ``/api/incidents``.

Every change goes through the service as the signed-in person (a responder at least: the
service refuses anyone else) and carries this session's CSRF token, as every other form
and API call does. Forms post plainly and are answered with a redirect back to the page;
a refusal is answered by the app's error handling (``errors.py``), never with the text of
an exception. Alert text, messages and the postmortem are shown as data: autoescaped,
never as markup.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from copilot.domain import Principal
from copilot.domain.incidents import (
    Incident,
    IncidentList,
    IncidentStatus,
    Postmortem,
    Timeline,
    duration,
)
from copilot.errors import InvalidInput
from copilot.surfaces.web.auth import Signed, check_csrf, csrf_token
from copilot.surfaces.web.context import WebContext, web
from copilot.surfaces.web.errors import NotFound

# The incident actions the service knows (``update_incident``); it refuses any other.
Action = Literal["ack", "mitigate", "resolve", "commander", "severity"]
ACTION_PATTERN = "^(ack|mitigate|resolve|commander|severity)$"
MAX_VALUE = 200
# The severities the lifecycle accepts, offered in the form (the service checks them).
SEVERITIES = ("critical", "high", "page", "warning", "medium", "low", "info", "unknown")
# Which lifecycle buttons a status still has: the lifecycle only moves forward.
_MOVES: dict[IncidentStatus, tuple[str, ...]] = {
    IncidentStatus.OPEN: ("ack", "mitigate", "resolve"),
    IncidentStatus.ACKNOWLEDGED: ("mitigate", "resolve"),
    IncidentStatus.MITIGATED: ("resolve",),
    IncidentStatus.RESOLVED: (),
}
MOVE_WORDS = {"ack": "Acknowledge", "mitigate": "Mitigate", "resolve": "Resolve"}


class ActionIn(BaseModel):
    value: str = Field(
        "", max_length=MAX_VALUE, description="the commander's user id, or the severity"
    )


Ctx = Annotated[WebContext, Depends(web)]


def page_of(incident_id: str) -> str:
    """The incident's page (the id as the service spells it)."""
    return "/incidents/" + quote(incident_id, safe="")


async def incident_or_404(ctx: WebContext, incident_id: str) -> Incident:
    """The incident, or NotFound (404) with the service's own words when there is none."""
    try:
        return await ctx.call(ctx.service.incident, incident_id)
    except InvalidInput as err:
        raise NotFound(err.message, "the incidents page lists them") from None


async def latest_postmortem(ctx: WebContext, incident_id: str) -> Postmortem | None:
    versions = await ctx.call(ctx.service.postmortems, incident_id)
    return versions[-1] if versions else None


def router() -> APIRouter:
    """The pages and the JSON API of incidents."""
    r = APIRouter()
    r.include_router(_pages())
    r.include_router(_api())
    return r


# A postmortem's Markdown, as the edit form sends it (the server's body limit for that
# path is raised to match in app.py)
MAX_MARKDOWN = 1_000_000
EDIT_PATH_BYTES = 3 * MAX_MARKDOWN  # form encoding can triple it
_CITATION = re.compile(r"\[(E\d+)\]")


def cited_parts(text: str) -> list[tuple[str, bool]]:
    """A claim's text in parts, each citation (``[E12]``) flagged so the page links it to
    its row of the timeline below."""
    parts: list[tuple[str, bool]] = []
    for n, piece in enumerate(_CITATION.split(text)):
        if piece:
            parts.append((piece, n % 2 == 1))
    return parts


def _page(request: Request, me: Principal, name: str, **context: Any) -> Response:
    ctx = web(request)
    base = {
        "me": me,
        "csrf": csrf_token(request),
        "page": name,
        "duration": duration,
        "cited": cited_parts,
    }
    return ctx.templates.TemplateResponse(request, f"{name}.html", base | context)


def _pages() -> APIRouter:
    r = APIRouter(include_in_schema=False)
    csrf = [Depends(check_csrf)]

    @r.get("/incidents", response_class=HTMLResponse)
    async def incidents(request: Request, me: Signed) -> Response:
        ctx = web(request)
        found = await ctx.call(ctx.service.incidents)
        return _page(request, me, "incidents", found=found)

    @r.get("/incidents/{incident_id}", response_class=HTMLResponse)
    async def incident(request: Request, me: Signed, incident_id: str) -> Response:
        ctx = web(request)
        found = await incident_or_404(ctx, incident_id)
        timeline = await ctx.call(ctx.service.timeline, found.id)
        postmortem = await latest_postmortem(ctx, found.id)
        return _page(
            request,
            me,
            "incident",
            incident=timeline.incident,
            timeline=timeline,
            postmortem=postmortem,
            moves=[(m, MOVE_WORDS[m]) for m in _MOVES[timeline.incident.status]],
            severities=SEVERITIES,
            people=sorted(ctx.settings.users),
            url=page_of(timeline.incident.id),
        )

    @r.post("/incidents/{incident_id}/action", dependencies=csrf)
    async def act(
        request: Request,
        me: Signed,
        incident_id: str,
        action: Annotated[str, Form(pattern=ACTION_PATTERN)],
        value: Annotated[str, Form(max_length=MAX_VALUE)] = "",
    ) -> Response:
        ctx = web(request)
        found = await incident_or_404(ctx, incident_id)
        try:
            await ctx.call(ctx.service.update_incident, found.id, me, action, value)
        finally:
            ctx.hub.notify(found.conversation)
        return RedirectResponse(page_of(found.id), status_code=303)

    @r.post("/incidents/{incident_id}/postmortem", dependencies=csrf)
    async def draft(request: Request, me: Signed, incident_id: str) -> Response:
        ctx = web(request)
        found = await incident_or_404(ctx, incident_id)
        try:
            await ctx.call(ctx.service.draft_postmortem, found.id, me)
        finally:
            ctx.hub.notify(found.conversation)
        return RedirectResponse(page_of(found.id) + "#postmortem", status_code=303)

    @r.post("/incidents/{incident_id}/postmortem/edit", dependencies=csrf)
    async def edit(
        request: Request,
        me: Signed,
        incident_id: str,
        markdown: Annotated[str, Form(max_length=MAX_MARKDOWN)],
    ) -> Response:
        """A person's edit of the Markdown: a new version, on the audit record."""
        ctx = web(request)
        found = await incident_or_404(ctx, incident_id)
        try:
            await ctx.call(ctx.service.edit_postmortem, found.id, me, markdown)
        finally:
            ctx.hub.notify(found.conversation)
        return RedirectResponse(page_of(found.id) + "#postmortem", status_code=303)

    @r.get("/incidents/{incident_id}/postmortem.md")
    async def markdown(request: Request, me: Signed, incident_id: str) -> Response:
        ctx = web(request)
        found = await incident_or_404(ctx, incident_id)
        latest = await latest_postmortem(ctx, found.id)
        if latest is None:
            raise NotFound(
                f"{found.id} has no postmortem yet", "draft one with the button on its page"
            )
        name = f"{found.id}-postmortem-v{latest.version}.md"
        return Response(
            latest.markdown,
            media_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{quote(name)}"'},
        )

    return r


def _api() -> APIRouter:
    r = APIRouter(prefix="/api/incidents", tags=["incidents"])
    csrf = [Depends(check_csrf)]

    @r.get("", response_model=IncidentList)
    async def incidents(
        ctx: Ctx, me: Signed, limit: Annotated[int, Query(ge=1, le=500)] = 200
    ) -> IncidentList:
        """Incidents, the newest first, with MTTA and MTTR (mean and median) over them."""
        return await ctx.call(ctx.service.incidents, limit)

    @r.get("/{incident_id}", response_model=Incident)
    async def incident(ctx: Ctx, me: Signed, incident_id: str) -> Incident:
        return await incident_or_404(ctx, incident_id)

    @r.get("/{incident_id}/timeline", response_model=Timeline)
    async def timeline(ctx: Ctx, me: Signed, incident_id: str) -> Timeline:
        """Every event of the incident, in order, each with its stable id (``E12``)."""
        found = await incident_or_404(ctx, incident_id)
        return await ctx.call(ctx.service.timeline, found.id)

    # before /{action}: "postmortem" is not an action
    @r.post("/{incident_id}/postmortem", response_model=Postmortem, dependencies=csrf)
    async def draft(ctx: Ctx, me: Signed, incident_id: str) -> Postmortem:
        """Draft the postmortem now (a new version), every claim citing the timeline."""
        found = await incident_or_404(ctx, incident_id)
        try:
            return await ctx.call(ctx.service.draft_postmortem, found.id, me)
        finally:
            ctx.hub.notify(found.conversation)

    @r.post("/{incident_id}/{action}", response_model=Incident, dependencies=csrf)
    async def act(
        ctx: Ctx, me: Signed, incident_id: str, action: Action, body: ActionIn | None = None
    ) -> Incident:
        """``ack``, ``mitigate``, ``resolve``; ``commander`` and ``severity`` take
        ``{"value": ...}`` (a configured user id; a severity)."""
        found = await incident_or_404(ctx, incident_id)
        value = body.value if body is not None else ""
        try:
            return await ctx.call(ctx.service.update_incident, found.id, me, action, value)
        finally:
            ctx.hub.notify(found.conversation)

    return r


__all__ = ["router"]
