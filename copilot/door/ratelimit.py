"""Per-user and per-tool rate limits on changes, counted in the store.

Rates are written and parsed the way the ``limits`` library writes them ("30/minute").
The counting is over the ``executions`` table inside the claim transaction, not in process
memory: every CLI call is a new process and servers run as several replicas, so only the
database sees all the runs. (``limits``' own storages would need Redis or memcached.)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from limits import RateLimitItem, parse
from sqlalchemy import Connection, func, select

from copilot.errors import ConfigError, RateLimited
from copilot.settings import ExecutorSettings
from copilot.store.schema import approvals, executions, proposals


def _parse(text: str, setting: str) -> RateLimitItem:
    try:
        return parse(text)
    except ValueError:
        raise ConfigError(
            f"rate limit {text!r} is not a rate",
            f"write it like '30/minute' or '100/hour' (COPILOT_EXECUTOR__{setting})",
        ) from None


class RateLimits:
    """Counts changes (not reads) per requester and per tool over a moving window."""

    def __init__(self, cfg: ExecutorSettings) -> None:
        self._user = _parse(cfg.user_rate, "USER_RATE")
        self._tool = _parse(cfg.tool_rate, "TOOL_RATE")

    def check(
        self, conn: Connection, requester: str, tool: str, now: datetime, this_run: str = ""
    ) -> None:
        """Raise ``RateLimited`` if one more run would exceed a limit. ``this_run``: the
        approval being claimed in the same transaction (its own record is not counted)."""
        runs = (
            select(func.count())
            .select_from(executions)
            .join(approvals, approvals.c.id == executions.c.approval_id)
            .join(proposals, proposals.c.id == approvals.c.proposal_id)
            .where(proposals.c.risk != "read", executions.c.approval_id != this_run)
        )
        for rate, column, who in (
            (self._user, proposals.c.requester, requester),
            (self._tool, proposals.c.tool, tool),
        ):
            since = now - timedelta(seconds=rate.get_expiry())
            used = conn.execute(
                runs.where(column == who, executions.c.started_at > since)
            ).scalar_one()
            if used >= rate.amount:
                raise RateLimited(
                    f"{who} has reached {rate.amount} changes per {rate.get_expiry()}s",
                    "wait, then run `copilot execute` again; the approval stays valid",
                )
