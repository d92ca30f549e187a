"""``POST /webhooks/alertmanager`` and ``POST /webhooks/generic``.

Authenticated by a bearer token or basic auth from ``[incidents]`` (Alertmanager's
``http_config`` sends either), compared in constant time. A delivery is answered as soon
as it is recorded; what it starts (the incident's Slack thread, the first diagnosis) runs
after, on the follow-up worker, so Alertmanager never waits on the agent.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from copilot.errors import CopilotError, InvalidInput
from copilot.settings import Settings

log = logging.getLogger("copilot.webhooks")
PATHS = ("/webhooks/alertmanager", "/webhooks/generic")
MAX_BODY_BYTES = 5 * 1024 * 1024  # a storm of thousands of alerts is one delivery


def _same(given: str, expected: str | None) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), str(expected).encode())


def authenticated(settings: Settings, header: str) -> bool:
    """Whether the Authorization header carries the configured token or credentials."""
    conf = settings.incidents
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and conf.webhook_token:
        return _same(value.strip(), conf.webhook_token)
    if scheme.lower() == "basic" and conf.webhook_username and conf.webhook_password:
        try:
            user, _, password = (
                base64.b64decode(value.strip(), validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            return False
        return _same(user, conf.webhook_username) & _same(password, conf.webhook_password)
    return False


def _refuse(status: int, error: str, hint: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="copilot"'} if status == 401 else None
    return JSONResponse({"error": error, "hint": hint}, status_code=status, headers=headers)


def router() -> APIRouter:
    r = APIRouter()

    async def receive(request: Request, kind: str) -> JSONResponse:
        web = request.app.state.web
        settings: Settings = web.settings
        if not settings.incidents.webhooks_enabled:
            return _refuse(
                401,
                "webhooks are off",
                "set [incidents] webhook_token (or webhook_username and webhook_password)",
            )
        if not authenticated(settings, request.headers.get("authorization", "")):
            return _refuse(
                401,
                "the webhook was not authenticated",
                "send Authorization: Bearer <[incidents] webhook_token>, or basic auth",
            )
        raw = await request.body()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            return _refuse(400, "the body is not JSON", "send the webhook's JSON payload")
        service = web.service
        try:
            got = await run_in_threadpool(service.receive_webhook, kind, body)
        except CopilotError as err:
            return _refuse(422 if isinstance(err, InvalidInput) else 400, err.message, err.hint)
        if got is None:
            return JSONResponse({"incident": None, "note": "resolved alerts of no known incident"})
        followups = request.app.state.incident_followups
        if got.opened:
            followups.opened(got.incident)
        elif got.said:
            followups.updated(got.incident, got.said)
        return JSONResponse(
            {
                "incident": got.incident.id,
                "opened": got.opened,
                "new_firing": got.new_firing,
                "new_resolved": got.new_resolved,
                "repeated": got.repeated,
            }
        )

    @r.post("/webhooks/alertmanager")
    async def alertmanager(request: Request) -> JSONResponse:
        return await receive(request, "alertmanager")

    @r.post("/webhooks/generic")
    async def generic(request: Request) -> JSONResponse:
        return await receive(request, "generic")

    return r
