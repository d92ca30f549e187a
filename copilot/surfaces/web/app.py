"""``create_app(settings)``: the FastAPI app of ``copilot serve``: pages, JSON API, live
updates and sign-in. The lifespan opens the service (or uses the one given, for tests)
and every part of it before the first request, and closes what it opened."""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from copilot.settings import Settings
from copilot.surfaces.slack import mount as slack_mount
from copilot.surfaces.web import api, errors, incidents, pages, signin
from copilot.surfaces.web.context import WebContext
from copilot.surfaces.web.live import Hub
from copilot.surfaces.webhooks import router as webhooks
from copilot.surfaces.webhooks.followups import FollowUps

if TYPE_CHECKING:
    from copilot.service import CopilotService

HERE = Path(__file__).parent
SESSION_COOKIE = "copilot_session"
log = logging.getLogger("copilot.web")

# No inline script or style anywhere: text from runbooks, logs or chat can never run here.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def create_app(settings: Settings, service: CopilotService | None = None) -> FastAPI:
    """The web app for ``settings``. ``service``: an open service to use (tests, the demo);
    by default the lifespan opens one and closes it at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from starlette.concurrency import run_in_threadpool

        from copilot.service import CopilotService

        own = service is None
        svc = (
            service
            if service is not None
            else await run_in_threadpool(CopilotService.open, settings)
        )
        slack = followups = None
        try:
            await run_in_threadpool(_warm, svc)
            slack = await run_in_threadpool(slack_mount.start, settings, svc)
            app.state.slack = slack
            followups = FollowUps(svc, slack)
            app.state.incident_followups = followups
            app.state.web = WebContext(
                settings=settings,
                service=svc,
                templates=_templates(),
                hub=Hub(),
                limiter=signin.SignInLimiter(settings),
            )
            yield
        finally:
            if followups is not None:
                await run_in_threadpool(followups.stop)
            if slack is not None:
                await run_in_threadpool(slack.stop)
            if own:
                await run_in_threadpool(svc.close)

    app = FastAPI(
        title="Incident copilot",
        summary="Propose typed operational actions; run them only after approval.",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    errors.install(app)
    app.include_router(api.health_router())
    app.include_router(signin.router())
    app.include_router(api.router())
    app.include_router(pages.router())
    app.include_router(incidents.router())
    app.include_router(webhooks.router())
    if settings.slack.enabled:
        app.include_router(slack_mount.router())
    if settings.web.oidc.issuer:
        from copilot.surfaces.web.oidc import router as oidc_router

        app.include_router(oidc_router(settings))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_key(settings),
        session_cookie=SESSION_COOKIE,
        max_age=settings.web.session_ttl_s,
        same_site="lax",
        https_only=_secure(settings),
    )
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.web.max_body_bytes,
        larger={
            slack_mount.EVENTS_PATH: slack_mount.MAX_BODY_BYTES,
            **dict.fromkeys(webhooks.PATHS, webhooks.MAX_BODY_BYTES),
        },
        larger_matching={r"/incidents/[^/]+/postmortem/edit": incidents.EDIT_PATH_BYTES},
    )
    app.middleware("http")(_security_headers)
    return app


def _warm(svc: CopilotService) -> None:
    """Open every part now: the first person should not wait for it, and a broken policy
    or rule file stops the server at start rather than at someone's first request."""
    svc.warm()


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.autoescape = True  # every template, whatever its name
    from copilot.surfaces import card_words as views

    env.globals["v"] = views
    return templates


def _secure(settings: Settings) -> bool:
    mode = settings.web.secure_cookies
    if mode == "auto":
        return (settings.web.public_url or "").startswith("https://")
    return mode == "always"


def session_key(settings: Settings) -> str:
    """The key that signs session cookies: configured, or made once and kept in the data
    dir (0600) so sessions outlive a restart."""
    if settings.web.secret_key:
        return settings.web.secret_key
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = settings.data_dir / "web-session.key"
    try:  # O_EXCL: two processes starting at once keep one key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "same-origin")
    if not request.url.path.startswith("/static/"):
        h.setdefault("Cache-Control", "no-store")
    return response


class BodyLimit:
    """Refuse a request body over ``max_bytes`` with 413 before anything reads it, by its
    Content-Length or, without one, as it streams in."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        larger: dict[str, int] | None = None,
        larger_matching: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.default_max = max_bytes
        self.larger = larger or {}  # path -> its own limit (Slack's button payloads)
        # a path pattern (regular expression) -> its own limit (a postmortem's edit)
        self.matching = [(re.compile(k), v) for k, v in (larger_matching or {}).items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = self.larger.get(path, self.default_max)
        limit = next((n for pattern, n in self.matching if pattern.fullmatch(path)), limit)
        headers: dict[bytes, bytes] = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(scope, receive, send, limit)
            return
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(limit)
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await _too_large(scope, receive, send, limit)


class _TooLarge(HTTPException):
    """An HTTPException, so that FastAPI's body parsing lets it through (any other error
    there becomes a 400 "error parsing the body") and the app answers it as a 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit // 1024} KB")


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    hint = "a message is at most 4,000 characters; attach long logs elsewhere"
    path = str(scope.get("path", ""))
    if path.startswith("/webhooks/"):
        hint = "send fewer alerts per delivery (max_alerts in Alertmanager's webhook_config)"
    elif path.endswith("/postmortem/edit"):
        hint = "a postmortem's Markdown is at most a million characters"
    body = {"error": f"the request body is larger than {limit // 1024} KB", "hint": hint}
    await JSONResponse(body, status_code=413)(scope, receive, send)
