"""What the graph's nodes use, passed as LangGraph's runtime context: the door, the model
gateway, the runbook index and the turn's limits."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from copilot.toolkit import ToolSpec

if TYPE_CHECKING:
    from copilot.door import Door


class Planner(Protocol):
    """A chat model that may call tools (the gateway; tests and benches pass their own)."""

    def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> Any: ...


class RunbookSearch(Protocol):
    def search(self, query: str, k: int = ..., *, short_names: bool = ...) -> Any: ...

    def section(self, source: str, heading: re.Pattern[str]) -> Any: ...


@dataclass(frozen=True)
class Limits:
    """Bounds of one turn, so the agent can never loop for minutes."""

    max_tool_calls: int = 8  # read calls per turn (gather + auto-run reads)
    max_seconds: float = 30.0  # wall time of gathering per turn
    max_rounds: int = 3  # propose rounds per turn (model calls, repairs excluded)
    max_repairs: int = 2  # repair rounds after invalid tool calls
    max_history: int = 12  # earlier turns shown to the model
    max_runbooks: int = 3
    verify_delay_s: float = 0.0  # let a change settle before verify re-reads

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        a = settings.agent
        return cls(
            max_tool_calls=a.max_tool_calls,
            max_seconds=a.max_seconds,
            max_rounds=a.max_rounds,
            verify_delay_s=a.verify_delay_s,
        )


@dataclass
class AgentDeps:
    door: Door
    gateway: Planner
    limits: Limits = field(default_factory=Limits)
    # The runbook index opens on first use (Chroma and the embedder cost seconds); None
    # runs without runbooks.
    runbook_index: Callable[[], RunbookSearch | None] | None = None
    _index: RunbookSearch | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # the tools each (principal, roles, policy context) may be offered
    offered: dict[Any, list[ToolSpec]] = field(default_factory=dict)
    # OpenAI tool entries by the set of tools offered: building them is ~1 ms per tool
    _tool_entries: dict[tuple[str, ...], list[dict[str, Any]]] = field(default_factory=dict)

    def tool_entries(self, specs: list[ToolSpec]) -> list[dict[str, Any]]:
        from copilot.model.prompts import tool_schemas

        key = tuple(spec.name for spec in specs)
        with self._lock:
            if key not in self._tool_entries:
                self._tool_entries[key] = tool_schemas(specs)
            return self._tool_entries[key]

    def runbooks(self) -> RunbookSearch | None:
        if self.runbook_index is None:
            return None
        with self._lock:
            if self._index is None:
                self._index = self.runbook_index()
            return self._index
