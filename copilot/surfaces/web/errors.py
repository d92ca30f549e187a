"""The core's errors as HTTP answers, once for the whole app: a status from the error's
type, and its message and hint (redacted by the service) as JSON for the API, as an HTML
fragment for htmx, as a page otherwise. Never ``str()`` of an exception, never a trace."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from copilot.errors import (
    ApprovalInvalid,
    ApprovalRequired,
    AuditTampered,
    ConfigError,
    CopilotError,
    InvalidInput,
    PolicyDenied,
    RateLimited,
    ResourceBusy,
    ToolFailed,
    ToolTimeout,
    describe_validation_error,
)
from copilot.surfaces.web.auth import SignInRequired

log = logging.getLogger("copilot.web")

STATUS: dict[type[CopilotError], int] = {
    InvalidInput: 422,
    PolicyDenied: 403,
    ApprovalRequired: 409,
    ApprovalInvalid: 409,
    ResourceBusy: 409,
    AuditTampered: 409,
    RateLimited: 429,
    ToolFailed: 502,
    ToolTimeout: 504,
    ConfigError: 500,
}


class NotFound(CopilotError):
    """What the URL names does not exist here (or not in this conversation)."""


def status_of(err: CopilotError) -> int:
    if isinstance(err, NotFound):
        return 404
    for kind, code in STATUS.items():
        if isinstance(err, kind):
            return code
    return 400


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path in ("/healthz", "/readyz")


def answer(request: Request, status: int, message: str, hint: str = "") -> Response:
    if wants_json(request):
        return JSONResponse({"error": message, "hint": hint}, status_code=status)
    templates = request.app.state.web.templates
    page = "partials/flash.html" if request.headers.get("hx-request") else "error.html"
    response: Response = templates.TemplateResponse(
        request,
        page,
        {"status": status, "message": message, "hint": hint, "tone": "bad"},
        status_code=status,
    )
    return response


def install(app: FastAPI) -> None:
    @app.exception_handler(CopilotError)
    async def _copilot(request: Request, err: CopilotError) -> Response:
        return answer(request, status_of(err), err.message, err.hint)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, err: SignInRequired) -> Response:
        if wants_json(request):
            return JSONResponse({"error": err.reason, "hint": "POST /api/session"}, 401)
        target = f"/sign-in?reason={err.code}&next=" + quote(request.url.path)
        if request.headers.get("hx-request"):  # htmx follows this header, not a 303
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError) -> Response:
        detail = _describe(err.errors())
        return answer(request, 422, f"invalid request: {detail}", "see /api/docs")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, err: StarletteHTTPException) -> Response:
        text = err.detail if isinstance(err.detail, str) else "request refused"
        return answer(request, err.status_code, text)

    @app.exception_handler(Exception)
    async def _crash(request: Request, err: Exception) -> Response:
        # The type goes to the log for the operator; the person gets no detail of it.
        log.error(
            "internal error on %s %s (%s)", request.method, request.url.path, type(err).__name__
        )
        return answer(request, 500, "internal error", "the operator's log has the details")


def _describe(errors: Any) -> str:
    from pydantic import ValidationError

    try:
        parts = []
        for e in errors:
            loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "(body)"
            msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
            parts.append(f"{loc}: {msg}")
        return "; ".join(parts)[:500]
    except (TypeError, AttributeError, ValidationError):
        return "the request body does not match the schema"


__all__ = ["HTTPException", "NotFound", "answer", "describe_validation_error", "install"]
