"""What every request handler reaches through ``request.app.state.web``: the service, the
settings, the sign-in rate limiter, the live-update hub and the templates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from copilot.settings import Settings

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates

    from copilot.service import CopilotService
    from copilot.surfaces.web.live import Hub
    from copilot.surfaces.web.signin import SignInLimiter

T = TypeVar("T")


@dataclass
class WebContext:
    settings: Settings
    service: CopilotService
    templates: Jinja2Templates
    hub: Hub
    limiter: SignInLimiter
    extras: dict[str, Any] = field(default_factory=dict)

    async def call(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """Run a (synchronous) service method in the thread pool: one slow turn never holds
        up another request."""
        return await run_in_threadpool(fn, *args, **kw)


def web(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.web
    return ctx
