"""How the service is put together: the parts, each opened on first use.

A ``copilot tools list`` needs only the registry, ``copilot runbooks search`` only the index,
``copilot approve`` the store and perhaps a conversation: nothing opens what the request
does not use. What opens is closed by ``Parts.close``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from copilot.agent.deps import Limits, Planner, RunbookSearch
from copilot.settings import Settings
from copilot.toolkit.registry import Registry, discover

if TYPE_CHECKING:  # opened on first use: a `copilot tools list` imports none of them
    from copilot.agent.deps import AgentDeps
    from copilot.door import Door
    from copilot.policy import PolicyEngine
    from copilot.redact.engine import Redactor

T = TypeVar("T")
Clock = Callable[[], datetime]
# Build the model gateway from the settings and the process's redactor.
GatewayFactory = Callable[[Settings, "Redactor"], Planner]
# Open the runbook index (None: run without runbooks).
IndexFactory = Callable[[Settings, "Redactor"], RunbookSearch | None]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Lazy(Generic[T]):
    """A part opened by ``factory`` on first ``get()``, once, whichever thread asks first.

    (``functools.cached_property`` holds no lock from Python 3.12 on: two threads of a
    server could each open a store.)"""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        with self._lock:
            if self._value is None:
                self._value = self._factory()
            return self._value

    @property
    def opened(self) -> T | None:
        return self._value


def default_gateway(settings: Settings, redactor: Redactor) -> Planner:
    from copilot.model.gateway import ModelGateway

    return ModelGateway(settings, redactor)


def open_runbook_index(settings: Settings, redactor: Redactor) -> RunbookSearch:
    """The runbook index of these settings, with the bundled runbooks current. Embeddings
    come from the bundled model, or from a provider through the model gateway."""
    from copilot.knowledge.embedding import ProviderEmbedding
    from copilot.knowledge.index import RunbookIndex
    from copilot.model.gateway import ModelGateway

    embedding = None
    if settings.embedding_model:
        gateway = ModelGateway(settings, redactor)
        embedding = ProviderEmbedding(gateway.embed, settings.embedding_model)
    index = RunbookIndex(settings, embedding, redactor)
    index.ensure_bundled()
    return index


class Parts:
    """Everything the service uses; the registry and redactor at once, the rest lazily."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock,
        gateway: GatewayFactory,
        registry: Registry | None,
        runbooks: IndexFactory,
        limits: Limits | None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.registry = registry or discover(settings.extra_tool_paths)
        self.limits = limits or Limits.from_settings(settings)
        self._redactor = Lazy(self._open_redactor)
        self._door = Lazy(self._open_door)
        self._policy = Lazy(self._open_policy)
        self._index = Lazy(lambda: _Maybe(runbooks(settings, self.redactor)))
        self._gateway = Lazy(lambda: gateway(settings, self.redactor))
        self._checkpointer: Lazy[tuple[Any, Callable[[], None]]] = Lazy(self._open_checkpointer)
        self._graph = Lazy(self._open_graph)
        self._agent = Lazy(self._open_agent)

    @property
    def redactor(self) -> Redactor:
        """The process's redactor: its placeholders are stable for the process's life."""
        return self._redactor.get()

    @property
    def door(self) -> Door:
        return self._door.get()

    @property
    def policy(self) -> PolicyEngine:
        """The policy engine (the door's, once the door is open)."""
        return self._policy.get()

    @property
    def index(self) -> RunbookSearch | None:
        return self._index.get().value

    @property
    def checkpointer(self) -> Any:
        return self._checkpointer.get()[0]

    @property
    def graph(self) -> Any:
        return self._graph.get()

    @property
    def agent(self) -> AgentDeps:
        return self._agent.get()

    def _open_redactor(self) -> Redactor:
        from copilot.redact.ruleset import redactor_for

        return redactor_for(self.settings)

    def _open_door(self) -> Door:
        from copilot.door import Door
        from copilot.store.files import secure_data_dir

        s = self.settings
        secure_data_dir(s.data_dir)  # before the door makes it: 0700, its files 0600
        return Door.open(s, clock=self.clock, registry=self.registry, redactor=self.redactor)

    def _open_policy(self) -> PolicyEngine:
        from copilot.policy import load_policy_engine

        door = self._door.opened
        if door is not None:
            return door.deps.policy
        return load_policy_engine(self.settings, self.registry)

    def _open_checkpointer(self) -> tuple[Any, Callable[[], None]]:
        from copilot.agent.checkpoint import open_checkpointer

        return open_checkpointer(self.settings)

    def _open_graph(self) -> Any:
        from copilot.agent.graph import build_graph  # LangGraph: most of a second to import

        return build_graph(self.checkpointer)

    def _open_agent(self) -> AgentDeps:
        from copilot.agent.deps import AgentDeps

        return AgentDeps(
            door=self.door,
            gateway=self._gateway.get(),
            limits=self.limits,
            runbook_index=lambda: self.index,
        )

    def close(self) -> None:
        saver = self._checkpointer.opened
        if saver is not None:
            saver[1]()
        door = self._door.opened
        if door is not None:
            door.close()


class _Maybe(Generic[T]):
    """A value that may be None, for ``Lazy`` (which takes None to mean "not opened")."""

    def __init__(self, value: T | None) -> None:
        self.value = value
