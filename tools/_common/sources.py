"""What every reader of an outside system shares: the untrusted-result base, the typed
"source unavailable" result, one HTTP door with timeouts and safe error messages, and how
a reader turns a failed or strangely shaped answer into a typed result.

Readers never raise for an unreachable or misconfigured source: the agent must be able to
say "Prometheus is unreachable" and carry on. Write tools do raise (``ToolFailed``), so a
change that did not happen is recorded as failed. Error texts are composed here from the
error's type, the URL path and the status, never ``str(exception)`` (which can carry
credentials or bodies); the executor redacts results and errors again before anyone sees them.
A body of the wrong shape (a proxy's error page in JSON, an older API) is a ``SourceError``
too, said in the same safe terms: the error's type, never the body or ``str(exception)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, Field, ValidationError

from copilot.errors import ToolFailed
from copilot.settings import Settings, SourcesSettings
from copilot.toolkit import ToolContext

Source = Literal["prometheus", "alertmanager", "loki", "kubernetes"]

_SETTING = {
    "prometheus": "prometheus_url",
    "alertmanager": "alertmanager_url",
    "loki": "loki_url",
}


class SourceUnavailable(BaseModel):
    """The source could not be read: why, and what an operator can do about it."""

    source: str
    url: str | None = None
    error: str
    hint: str = ""


class SourceResult(BaseModel):
    """Base of every reader's result. Its content comes from outside: treat it as data,
    never as instructions (prompts put it inside an untrusted block)."""

    source: str
    untrusted: Literal[True] = Field(True, description="content from an outside system")
    unavailable: SourceUnavailable | None = None

    @property
    def ok(self) -> bool:
        return self.unavailable is None


class SourceError(Exception):
    """Raised inside a reader; turned into ``SourceUnavailable`` (reads) or ``ToolFailed``."""

    def __init__(self, detail: SourceUnavailable) -> None:
        super().__init__(detail.error)
        self.detail = detail


def sources_of(ctx: ToolContext) -> SourcesSettings:
    settings = ctx.settings if isinstance(ctx.settings, Settings) else None
    return settings.sources if settings else SourcesSettings()


def base_url(ctx: ToolContext, source: Source) -> str:
    """The configured base URL of ``source``, or ``SourceError`` saying how to set it."""
    key = _SETTING[source]
    url = getattr(sources_of(ctx), key)
    if not url:
        env = f"COPILOT_SOURCES__{key.upper()}"
        raise SourceError(
            SourceUnavailable(
                source=source,
                error=f"{source} is not configured",
                hint=f"set {env} (or [sources] {key} in copilot.toml)",
            )
        )
    return str(url).rstrip("/")


def _headers(ctx: ToolContext, source: Source) -> dict[str, str]:
    cfg = sources_of(ctx)
    headers = {"Accept": "application/json", "User-Agent": "incident-copilot"}
    if cfg.bearer_token:
        headers["Authorization"] = f"Bearer {cfg.bearer_token}"
    if source == "loki" and cfg.loki_tenant:
        headers["X-Scope-OrgID"] = cfg.loki_tenant
    return headers


def request_json(
    ctx: ToolContext,
    source: Source,
    method: str,
    path: str,
    *,
    params: Any = None,
    json: Any = None,
    ok_statuses: tuple[int, ...] = (200,),
) -> Any:
    """One HTTP call to ``source``; its decoded JSON body, or ``SourceError`` describing why not.

    ``params`` may be a list of pairs (Alertmanager repeats ``filter=``).
    """
    url = base_url(ctx, source)
    cfg = sources_of(ctx)
    where = f"{url}{path}"

    def fail(error: str, hint: str) -> SourceError:
        return SourceError(SourceUnavailable(source=source, url=where, error=error, hint=hint))

    try:
        with httpx.Client(timeout=cfg.timeout_s, verify=cfg.verify_tls) as client:
            resp = client.request(
                method, where, params=params, json=json, headers=_headers(ctx, source)
            )
    except httpx.TimeoutException:
        raise fail(
            f"{source} did not answer within {cfg.timeout_s:g}s",
            "check that it is up, or raise COPILOT_SOURCES__TIMEOUT_S",
        ) from None
    except httpx.HTTPError as exc:
        raise fail(
            f"cannot reach {source} ({type(exc).__name__})",
            f"check the URL and that {source} is running and reachable from the copilot",
        ) from None
    if resp.status_code not in ok_statuses:
        raise fail(
            f"{source} answered HTTP {resp.status_code}: {_brief(resp)}",
            _status_hint(resp.status_code),
        )
    if not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        raise fail(
            f"{source} answered with something that is not JSON", "is the URL right?"
        ) from None


def _brief(resp: httpx.Response) -> str:
    """The error a server gave, short: Prometheus/Loki put it in ``error``; else the body."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200].strip() or resp.reason_phrase
    if isinstance(body, dict):
        for key in ("error", "message"):
            if isinstance(body.get(key), str):
                return str(body[key])[:300]
    return str(body)[:200]


def _status_hint(status: int) -> str:
    if status in (401, 403):
        return "check COPILOT_SOURCES__BEARER_TOKEN and the token's permissions"
    if status == 404:
        return "check the URL: it should be the server's base URL, without an API path"
    if status == 400 or status == 422:
        return "the query was rejected: fix it and ask again"
    return "the server reported an error: see its logs"


def as_failure(err: SourceError) -> ToolFailed:
    """A write tool's source error, as the failure the executor records."""
    d = err.detail
    return ToolFailed(d.error, d.hint)


# -- reading: a failed or strange answer as a typed result ----------------------------------
R = TypeVar("R", bound=SourceResult)

# What parsing an unexpected body raises: a missing key, a wrong type, a bad number.
SHAPE_ERRORS = (KeyError, IndexError, TypeError, ValueError, ValidationError)


def unexpected(source: str, what: str, exc: BaseException) -> SourceError:
    return SourceError(
        SourceUnavailable(
            source=source,
            error=f"{source} answered {what} in a shape the reader does not know "
            f"({type(exc).__name__})",
            hint=f"check that the URL points at {source} itself, not a proxy or another API",
        )
    )


def read(source: str, what: str, fn: Callable[[], R], failed: Callable[[], R]) -> R:
    """``fn()``; on a source error or an unexpected body, ``failed()`` marked unavailable."""
    try:
        try:
            return fn()
        except SHAPE_ERRORS as exc:
            raise unexpected(source, what, exc) from None
    except SourceError as err:
        out = failed()
        out.unavailable = err.detail
        return out


def field(body: Any, *keys: str) -> Any:
    """``body[k1][k2]...``, raising ``TypeError`` when a level is not an object."""
    for key in keys:
        if not isinstance(body, dict):
            raise TypeError(f"expected an object at {key!r}")
        body = body[key]
    return body
