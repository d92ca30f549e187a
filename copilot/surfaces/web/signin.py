"""Signing in with a local user's password, and out; rate-limited per name and address.

Attempts are counted with ``limits`` (moving window; ``memory://`` in one process, a
Redis URL when replicas share the count). A wrong name costs the same argon2 time as a
wrong password, and both get the same answer, so neither timing nor text tells which
names exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from copilot.auth.passwords import dummy_hash, verify_password
from copilot.settings import Settings
from copilot.surfaces.web.auth import REASONS, csrf_token, sign_in, sign_out
from copilot.surfaces.web.auth import check_csrf as _check_csrf
from copilot.surfaces.web.context import WebContext, web

BAD_CREDENTIALS = "wrong user name or password"


class SignInLimiter:
    def __init__(self, settings: Settings) -> None:
        from limits import parse
        from limits.storage import storage_from_string
        from limits.strategies import MovingWindowRateLimiter

        self._rate = parse(settings.web.sign_in_rate)
        self._limiter = MovingWindowRateLimiter(
            storage_from_string(settings.web.rate_limit_storage)
        )

    def attempt(self, user: str, address: str) -> int:
        """Count an attempt; 0 if it may go ahead, else the seconds to wait."""
        keys = (("user", user.lower()[:64]), ("addr", address))
        if all(self._limiter.hit(self._rate, "sign-in", *k) for k in keys):
            return 0
        waits = [self._limiter.get_window_stats(self._rate, "sign-in", *k) for k in keys]
        import time

        return max(1, int(max(w.reset_time for w in waits) - time.time()) + 1)


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SessionInfo(BaseModel):
    user: str
    roles: list[str]
    csrf_token: str


def _check(ctx: WebContext, username: str, password: str, address: str) -> tuple[int, bool]:
    """(seconds to wait, whether the password is right)."""
    wait = ctx.limiter.attempt(username, address)
    if wait:
        return wait, False
    user = ctx.settings.users.get(username)
    stored = user.password_hash if user is not None else None
    ok = verify_password(stored or dummy_hash(), password)
    return 0, ok and stored is not None


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect (browsers drop tabs and line
    breaks from URLs, so "/\t/evil.example" would be "//evil.example")."""
    if not target or not target.isprintable() or " " in target or "\\" in target:
        return "/"
    if target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/sign-in", response_class=HTMLResponse, include_in_schema=False)
    async def sign_in_page(request: Request, next: str = "/", reason: str = "") -> Response:
        ctx = web(request)
        return ctx.templates.TemplateResponse(
            request,
            "sign_in.html",
            {
                "next": _safe_next(next),
                "reason": REASONS.get(reason, ""),
                "csrf": csrf_token(request),
                "oidc": bool(ctx.settings.web.oidc.issuer),
                "oidc_label": ctx.settings.web.oidc.label,
                "local": any(u.password_hash for u in ctx.settings.users.values()),
            },
        )

    @r.post("/sign-in", include_in_schema=False, dependencies=[Depends(_check_csrf)])
    async def sign_in_form(
        request: Request,
        username: Annotated[str, Form(max_length=64)] = "",
        password: Annotated[str, Form(max_length=1024)] = "",
        next: Annotated[str, Form(max_length=500)] = "/",
    ) -> Response:
        ctx = web(request)
        wait, ok = await ctx.call(_check, ctx, username.strip(), password, _address(request))
        if ok:
            await sign_in(request, username.strip(), "password")
            return RedirectResponse(_safe_next(next), status_code=303)
        status = 429 if wait else 401
        reason = f"too many sign-in attempts; try again in {wait} s" if wait else BAD_CREDENTIALS
        response = ctx.templates.TemplateResponse(
            request,
            "sign_in.html",
            {
                "next": _safe_next(next),
                "reason": reason,
                "username": username[:64],
                "csrf": csrf_token(request),
                "oidc": bool(ctx.settings.web.oidc.issuer),
                "oidc_label": ctx.settings.web.oidc.label,
                "local": True,
            },
            status_code=status,
        )
        if wait:
            response.headers["Retry-After"] = str(wait)
        return response

    @r.post("/sign-out", include_in_schema=False, dependencies=[Depends(_check_csrf)])
    async def sign_out_form(request: Request) -> Response:
        await sign_out(request)
        return RedirectResponse("/sign-in?reason=signed-out", status_code=303)

    @r.get("/api/session", response_model=SessionInfo, tags=["session"])
    async def session_get(request: Request) -> SessionInfo:
        """Who is signed in, and the CSRF token to send as ``X-CSRF-Token``."""
        from copilot.surfaces.web.auth import current_principal

        me = await current_principal(request)
        return SessionInfo(user=me.id, roles=list(me.roles), csrf_token=csrf_token(request))

    @r.post("/api/session", response_model=SessionInfo, tags=["session"])
    async def session_create(request: Request, body: Credentials) -> Response:
        """Sign in with a local user's password (scripts): sets the session cookie and
        returns the CSRF token every state-changing request must send."""
        ctx = web(request)
        wait, ok = await ctx.call(_check, ctx, body.username, body.password, _address(request))
        if wait:
            return JSONResponse(
                {"error": f"too many sign-in attempts; try again in {wait} s", "hint": ""},
                status_code=429,
                headers={"Retry-After": str(wait)},
            )
        if not ok:
            return JSONResponse({"error": BAD_CREDENTIALS, "hint": ""}, status_code=401)
        await sign_in(request, body.username, "password")
        me = await ctx.call(ctx.service.principal, body.username, "web:password")
        info = SessionInfo(user=me.id, roles=list(me.roles), csrf_token=csrf_token(request))
        return JSONResponse(info.model_dump())

    @r.delete("/api/session", status_code=204, tags=["session"])
    async def session_delete(request: Request, _: None = Depends(_check_csrf)) -> Response:
        """Sign out."""
        await sign_out(request)
        return Response(status_code=204)

    return r
