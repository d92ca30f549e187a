"""``CopilotService``: the one entry point of every surface (CLI, Slack, web chat).

Surfaces parse, call ``handle_message`` or ``decide``, and render the ``Reply``. A
conversation is one checkpointed graph thread (``copilot.agent.graph``): a message either
starts a run or, while cards are pending, resumes the waiting one; a decision on a card is
recorded in the approval book first (policy, two-person rule) and resumes the conversation
only when the quorum is complete or the card was rejected.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from langgraph.types import Command

from copilot.agent.checkpoint import open_checkpointer
from copilot.agent.deps import AgentDeps, Limits, default_index_factory
from copilot.agent.graph import build_graph
from copilot.core import Core
from copilot.domain import ApprovalState, Principal
from copilot.domain.replies import Card, Reply
from copilot.errors import InvalidInput
from copilot.model.gateway import ModelGateway
from copilot.settings import Settings

MAX_MESSAGE_CHARS = 4000
# Checkpoint when a run pauses for approval or ends, not after every step: a turn is a few
# hundred milliseconds, the card it produces is already in the store, and a crash mid-turn
# loses only that turn (ask again). A pending card is always checkpointed before it is shown.
DURABILITY = "exit"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CopilotService:
    def __init__(
        self, core: Core, deps: AgentDeps, checkpointer: Any, close: Callable[[], None]
    ) -> None:
        self.core = core
        self.deps = deps
        self.graph = build_graph(deps, checkpointer)
        self._close = close

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = _utcnow,
        gateway: Any = None,
        limits: Limits | None = None,
        runbooks: bool = True,
    ) -> CopilotService:
        core = Core.open(settings, clock=clock)
        deps = AgentDeps(
            core=core,
            gateway=gateway or ModelGateway(settings, core.redactor),
            limits=limits or Limits.from_settings(settings),
            runbook_index=default_index_factory(core) if runbooks else None,
        )
        saver, close = open_checkpointer(settings)
        return cls(core, deps, saver, close)

    def close(self) -> None:
        self._close()
        self.core.close()

    # -- the two entry points -------------------------------------------------------------
    def handle_message(self, principal: Principal, conversation: str, text: str) -> Reply:
        text = text.strip()
        if not text:
            raise InvalidInput("the message is empty", "say what is going on, or ask a question")
        if len(text) > MAX_MESSAGE_CHARS:
            raise InvalidInput(
                f"the message has {len(text)} characters (at most {MAX_MESSAGE_CHARS})",
                "summarise it; paste long logs as a file or point at them",
            )
        _check_conversation(conversation)
        who = principal.model_dump(mode="json")
        config = _config(conversation)
        if self._waiting(config):
            resume: Command[Any] = Command(
                resume={"kind": "message", "text": text, "principal": who}
            )
            values = self.graph.invoke(resume, config, durability=DURABILITY)
        else:
            start = {"conversation": conversation, "principal": who, "request": text}
            values = self.graph.invoke({**start, "event": None}, config, durability=DURABILITY)
        return self._reply(conversation, values=values)

    def decide(
        self,
        approval_id: str,
        principal: Principal,
        verdict: str,
        *,
        reason: str = "",
        break_glass: bool = False,
    ) -> Reply:
        book = self.core.book
        approval = book.vote(
            approval_id, principal, verdict, reason=reason, break_glass=break_glass
        )
        _, proposal = book.load(approval.id, principal.id)
        conversation = proposal.conversation
        config = _config(conversation) if conversation else None
        waiting = config is not None and approval.id in self._pending(config)
        if approval.state is ApprovalState.PROPOSED:  # the quorum is not complete yet
            votes = sum(v.verdict == "approve" for v in approval.votes)
            text = (
                f"{principal.id} approved {approval.id} ({votes} approval(s) so far); "
                f"it still needs {approval.required}."
            )
            return self._reply(conversation or "", text=text, focus=approval.id)
        if not waiting or config is None or conversation is None:
            return self._outside_conversation(approval.id, principal, approval.state)
        event = {
            "kind": "decision",
            "approval_id": approval.id,
            "verdict": "approve" if approval.state is ApprovalState.APPROVED else "reject",
            "state": approval.state.value,
            "principal": principal.model_dump(mode="json"),
        }
        values = self.graph.invoke(Command(resume=event), config, durability=DURABILITY)
        return self._reply(conversation, values=values, focus=approval.id)

    def waiting_on(self, approval_id: str) -> bool:
        """Whether a conversation waits on this card (then ``decide`` resumes it)."""
        _, proposal = self.core.book.load(approval_id, "service")
        if not proposal.conversation:
            return False
        return approval_id in self._pending(_config(proposal.conversation))

    # -- helpers --------------------------------------------------------------------------
    def _waiting(self, config: dict[str, Any]) -> bool:
        return "await_approval" in (self.graph.get_state(config).next or ())

    def _pending(self, config: dict[str, Any]) -> list[str]:
        if not self._waiting(config):
            return []
        return list(self.graph.get_state(config).values.get("pending", []))

    def _outside_conversation(
        self, approval_id: str, principal: Principal, state: ApprovalState
    ) -> Reply:
        """A card proposed outside any conversation (``copilot propose``): run it directly."""
        if state is not ApprovalState.APPROVED:
            return Reply(conversation="", text=f"{approval_id} is {state.value}: nothing ran")
        out = self.core.executor.execute(approval_id, principal)
        text = f"{out.tool} ({approval_id}) {out.status.value}"
        if out.error:
            text += f": {out.error}"
        return Reply(conversation="", text=text)

    def _reply(
        self,
        conversation: str,
        *,
        values: dict[str, Any] | None = None,
        text: str | None = None,
        focus: str = "",
    ) -> Reply:
        """The reply from a run's final values (``invoke`` returns them, with
        ``__interrupt__`` when the run paused for approval), or from the checkpoint."""
        pending: list[str] = []
        if values is not None:
            if "__interrupt__" in values:
                pending = list(values.get("pending", []))
        elif conversation:
            snapshot = self.graph.get_state(_config(conversation))
            values = snapshot.values or {}
            if "await_approval" in (snapshot.next or ()):
                pending = list(values.get("pending", []))
        values = values or {}
        cards = [Card.model_validate(c) for c in values.get("cards", [])]
        return Reply(
            conversation=conversation,
            text=text if text is not None else str(values.get("reply", "")),
            cards=[c for c in cards if c.approval_id in pending or c.approval_id == focus],
            pending=pending,
            usage=dict(values.get("usage") or {}),
        )


def _config(conversation: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": conversation}}


def _check_conversation(conversation: str) -> None:
    if not conversation or len(conversation) > 200 or not conversation.isprintable():
        raise InvalidInput(
            "a conversation id must be 1-200 printable characters",
            "use the channel or thread id, or let the CLI pick one",
        )
