"""Per-user and per-tool rate limits through the ``limits`` library (moving window)."""

from __future__ import annotations

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from copilot.errors import RateLimited
from copilot.settings import ExecutorSettings


class RateLimits:
    """Counts writes per requester and per tool; reads are not limited here."""

    def __init__(self, cfg: ExecutorSettings) -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(cfg.rate_limit_storage))
        self._user = parse(cfg.user_rate)
        self._tool = parse(cfg.tool_rate)

    def hit(self, user: str, tool: str, is_write: bool) -> RateLimited | None:
        """Count one call; return the error to raise if a limit is exceeded."""
        if not is_write:
            return None
        if not self._limiter.hit(self._user, "user", user):
            return RateLimited(f"{user} exceeded {self._user} changes", "wait and retry")
        if not self._limiter.hit(self._tool, "tool", tool):
            return RateLimited(f"{tool} exceeded {self._tool} runs", "wait and retry")
        return None
