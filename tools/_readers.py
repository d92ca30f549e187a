"""How the telemetry readers turn a failed or strange answer into a typed result.

``tools._sources.request_json`` raises ``SourceError`` for transport and HTTP failures;
a body of the wrong shape (a proxy's error page in JSON, an older API) is one too, said
in the same safe terms: the error's type, never the body or ``str(exception)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import ValidationError

from tools._sources import SourceError, SourceResult, SourceUnavailable

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
