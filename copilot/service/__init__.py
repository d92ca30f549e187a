"""``CopilotService``: the one API of every surface (CLI, web chat, Slack, webhooks).

Surfaces parse and authenticate, call the service, and render what it returns: domain
models (``Reply``, ``Card``, ``ExecutionOutcome``, ...), never database rows. Nothing under
``copilot/surfaces`` touches the door, the store or the agent directly
(``tests/unit/test_layers.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from copilot.agent.deps import Limits
from copilot.service.calls import Calls
from copilot.service.conversations import Conversations
from copilot.service.history import TurnLocks
from copilot.service.incidents import Incidents
from copilot.service.operator import Operator
from copilot.service.postmortems import Postmortems
from copilot.service.sessions import Deliveries, Sessions
from copilot.service.wiring import (
    GatewayFactory,
    IndexFactory,
    Parts,
    default_gateway,
    open_runbook_index,
    utcnow,
)
from copilot.settings import Settings
from copilot.toolkit.registry import Registry

if TYPE_CHECKING:
    from copilot.door import Door

__all__ = ["CopilotService", "open_runbook_index"]


class CopilotService(Conversations, Calls, Operator, Sessions, Deliveries, Incidents, Postmortems):
    def __init__(self, parts: Parts) -> None:
        self._parts = parts
        self._turns = TurnLocks()

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
        gateway: GatewayFactory = default_gateway,
        registry: Registry | None = None,
        runbooks: IndexFactory = open_runbook_index,
        limits: Limits | None = None,
    ) -> CopilotService:
        """The service for these settings. Every part opens on first use: the store (and
        with it the reconciliation of runs a crashed process left), the conversations'
        checkpoints, the runbook index, the model. ``gateway`` and ``runbooks`` build the
        model gateway and the runbook index; tests, evals and benches pass their own."""
        parts = Parts(
            settings,
            clock=clock,
            gateway=gateway,
            registry=registry,
            runbooks=runbooks,
            limits=limits,
        )
        return cls(parts)

    def check(self) -> None:
        """Load what configuration can break (policies, redaction rules) and raise
        ``ConfigError`` now instead of at first use: a server calls it at start. (Tools load
        in ``open``; a one-shot CLI command meets a broken file when it first needs it,
        before it has done anything.)"""
        _ = self._parts.policy, self._parts.redactor

    def warm(self) -> None:
        """Open every part and load what a first turn would wait for (the model library,
        the embedding model): a server calls it at start."""
        self.check()
        parts = self._parts
        _ = parts.door, parts.graph, parts.agent
        warm = getattr(parts.agent.gateway, "warm", None)
        if callable(warm):
            warm()
        index = parts.index
        if index is not None:
            index.search("warm up", k=1)

    @property
    def parts(self) -> Parts:
        """Every part of the service (opened on first use), for tests and benches."""
        return self._parts

    @property
    def door(self) -> Door:
        """The engine underneath, for tests, evals and benches that look inside it.
        Surfaces never use it: they call the methods above."""
        return self._parts.door

    @property
    def settings(self) -> Settings:
        return self._parts.settings

    def close(self) -> None:
        self._parts.close()
