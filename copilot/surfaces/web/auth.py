"""Who is asking: the signed session cookie, the principal it names, and the CSRF check.

The session (Starlette's ``SessionMiddleware``: a cookie signed with ``itsdangerous``)
holds the user id, how they signed in, when, a fingerprint of their password hash, and
the CSRF token. The user's roles are never kept in it: every request asks the service for
the principal, so roles come from config exactly as in the CLI, and a user removed from
config (or whose password changed) is signed out at their next request.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from copilot.domain import Principal
from copilot.errors import CopilotError
from copilot.surfaces.web.context import WebContext, web

CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# Why someone is sent to the sign-in page, by code: the page shows only these texts, so a
# link cannot make it say anything else.
REASONS = {
    "sign-in": "sign in first",
    "expired": "your session expired; sign in again",
    "removed": "that user is no longer configured",
    "password": "your password changed; sign in again",
    "signed-out": "signed out",
}


class SignInRequired(Exception):
    """No valid session: pages redirect to the sign-in page, the API answers 401."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
        self.reason = REASONS[code]


def now() -> float:
    """Seconds since the epoch (one seam, so tests can age a session)."""
    return time.time()


def csrf_token(request: Request) -> str:
    """This session's CSRF token (made on first use, also before signing in: the sign-in
    form carries one too)."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def password_fingerprint(password_hash: str | None) -> str:
    """A short digest of the stored hash: a changed password ends older sessions."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


async def sign_in(request: Request, user_id: str, via: str) -> None:
    """Start a session for ``user_id``: a new server-side session (any this browser held
    ends) and a fresh CSRF token (no token from before signing in stays valid after it)."""
    ctx = web(request)
    await sign_out(request)
    token = await ctx.call(ctx.service.open_session, user_id, via, ctx.settings.web.session_ttl_s)
    user = ctx.settings.users.get(user_id)
    request.session.update(
        {
            "sid": token,
            "user": user_id,
            "via": via,
            "at": int(now()),
            "pw": password_fingerprint(user.password_hash if user else None),
            "csrf": secrets.token_urlsafe(32),
        }
    )


async def sign_out(request: Request) -> None:
    """End this browser's session on the server (every copy of the cookie with it) and
    forget it here."""
    token = request.session.get("sid")
    if isinstance(token, str):
        ctx = web(request)
        await ctx.call(ctx.service.close_session, token)
    request.session.clear()


async def session_user(request: Request) -> tuple[str, str]:
    """(user id, how they signed in) of a valid session, or ``SignInRequired``."""
    ctx = web(request)
    s = request.session
    token, user_id, via, at = s.get("sid"), s.get("user"), s.get("via"), s.get("at")
    if not all(isinstance(v, str) for v in (token, user_id, via)) or not isinstance(at, int):
        raise SignInRequired("sign-in")
    assert isinstance(user_id, str) and isinstance(via, str)
    if now() - at > ctx.settings.web.session_ttl_s:
        await sign_out(request)
        raise SignInRequired("expired")
    user = ctx.settings.users.get(user_id)
    if user is None:
        await sign_out(request)
        raise SignInRequired("removed")
    if via == "password" and s.get("pw") != password_fingerprint(user.password_hash):
        await sign_out(request)
        raise SignInRequired("password")
    # signed out elsewhere (a copied cookie), ended by an admin, or past its time
    if await ctx.call(ctx.service.session_user, token) != user_id:
        request.session.clear()
        raise SignInRequired("expired")
    return user_id, via


async def current_principal(request: Request) -> Principal:
    """The signed-in person as the service knows them (roles from config)."""
    ctx = web(request)
    user_id, via = await session_user(request)
    try:
        return await ctx.call(ctx.service.principal, user_id, f"web:{via}")
    except CopilotError:
        await sign_out(request)
        raise SignInRequired("removed") from None


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing request without this session's CSRF token (header or form
    field), or from another origin. Runs before the handler: nothing is recorded."""
    if request.method in _SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin and origin not in _own_origins(request):
        raise HTTPException(403, "this request came from another site; use the copilot's page")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and _is_form(request):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    expected = request.session.get("csrf")
    if not sent or not isinstance(expected, str) or not secrets.compare_digest(sent, expected):
        raise HTTPException(
            403, "the request is missing this page's CSRF token; reload the page and try again"
        )


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


def _own_origins(request: Request) -> set[str]:
    """This server's origin as the request reached it, and as people reach it through a
    proxy (``web.public_url``)."""
    url = request.url
    default = {"http": 80, "https": 443}.get(url.scheme)
    port = f":{url.port}" if url.port and url.port != default else ""
    own = {f"{url.scheme}://{url.hostname}{port}"}
    public = web(request).settings.web.public_url
    if public:
        from urllib.parse import urlsplit

        parts = urlsplit(public)
        own.add(f"{parts.scheme}://{parts.netloc}")
    return own


def template_user(principal: Principal | None) -> dict[str, Any]:
    if principal is None:
        return {}
    return {"id": principal.id, "roles": sorted(principal.roles)}


Signed = Annotated[Principal, Depends(current_principal)]
Csrf = Depends(check_csrf)
__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "Csrf",
    "SignInRequired",
    "Signed",
    "WebContext",
    "check_csrf",
    "csrf_token",
    "current_principal",
    "session_user",
    "sign_in",
    "sign_out",
]
