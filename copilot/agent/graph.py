"""``build_graph()``: begin → gather → propose → decide → respond → await_approval → ...

A conversation is one LangGraph thread. While cards are pending the thread rests in
``await_approval``; both a decision on a card and a new message resume it:

    begin → gather → propose → decide ─(reads ran, rounds left)→ propose
                                    └→ respond ─(cards pending)→ await_approval
    await_approval ─approve→ execute → verify → respond
                   ├reject→ reject → respond
                   └message→ begin

With nothing pending the run ends; the next message starts a new run on the same thread.
Nodes take the typed state and the ``AgentDeps`` passed as the run's context
(``graph.invoke(..., context=deps)``); what they return is stored as JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from pydantic_core import to_jsonable_python

from copilot.agent.act import await_approval, decide, execute, refresh_pending, verify
from copilot.agent.deps import AgentDeps
from copilot.agent.events import DecisionEvent, MessageEvent
from copilot.agent.gather import gather
from copilot.agent.propose import propose
from copilot.agent.state import AgentState, TurnInput
from copilot.domain.views import FactView, HistoryTurn

if TYPE_CHECKING:  # the protocol LangGraph types a node taking its runtime with
    from langgraph.graph._node import _NodeWithRuntime

Node = Callable[[AgentState, AgentDeps], dict[str, Any]]

# what a turn starts from; everything else (history, cards, pending, usage) carries over
_TURN_RESET: dict[str, Any] = {
    "runbooks": [],
    "no_runbook": False,
    "no_runbook_reason": "",
    "entities": {},
    "facts": [],
    "tool_calls": 0,
    "round": 1,
    "answer": "",
    "proposals": [],
    "refusals": [],
    "outcomes": [],
    "ran_reads": False,
    "new_cards": [],
}


def begin(state: AgentState, deps: AgentDeps) -> dict[str, Any]:
    update: dict[str, Any] = {**_TURN_RESET, "event": None}
    # cards that expired or were decided elsewhere while the conversation waited
    update.update(refresh_pending(state, deps))
    if isinstance(state.event, MessageEvent):  # a message that arrived while cards waited
        update["request"] = state.event.text
        update["principal"] = state.event.principal
    update["turn"] = state.turn + 1
    update["started_at"] = datetime.now(UTC)
    return update


def reject(state: AgentState, deps: AgentDeps) -> dict[str, Any]:
    event = state.event
    assert isinstance(event, DecisionEvent)
    line = f"{event.approval_id} {event.state.value} by {event.principal.id}: nothing ran"
    pending = [a for a in state.pending if a != event.approval_id]
    return {"pending": pending, "outcomes": [*state.outcomes, line]}


def respond(state: AgentState, deps: AgentDeps) -> dict[str, Any]:
    refreshed = refresh_pending(state, deps)
    state = state.model_copy(update=refreshed)
    parts: list[str] = []
    if state.answer:
        parts.append(state.answer)
    new = set(state.new_cards)
    for card in deps.door.cards_of(state.pending):
        shown = ", ".join(f"{k}={v}" for k, v in card.arguments.items() if v is not None)
        call = f"{card.tool}({shown})"
        if card.approval_id in new:
            parts.append(
                f"Proposed {call} ({card.risk.value} risk) as {card.approval_id}; "
                f"approval: {card.required}."
            )
        else:
            parts.append(f"Still waiting: {call} as {card.approval_id}.")
    parts.extend(state.refusals)
    parts.extend(state.outcomes)
    if not parts and state.facts:  # the model said nothing: say what was read
        parts.append("Read: " + "; ".join(_fact_line(f) for f in state.facts))
    reply = "\n".join(p for p in parts if p) or "Nothing to report."
    history = list(state.history)
    if state.request and state.event is None:
        history.append(HistoryTurn(role="user", text=state.request, author=state.principal.id))
    history.append(HistoryTurn(role="assistant", text=reply, author="copilot"))
    keep = deps.limits.max_history * 2
    # What was read stays in the audit log and the store; the checkpoint keeps only what
    # verify needs (which call, with which arguments, whether it worked), so it stays small.
    slim = [f.model_copy(update={"data": None}) for f in state.facts]
    return {
        **refreshed,
        "new_cards": [],
        "facts": slim,
        "reply": reply,
        "history": history[-keep:],
        "outcomes": [],
        "refusals": [],
        "answer": "",
    }


def _fact_line(fact: FactView) -> str:
    status = "ok" if fact.ok else f"failed ({fact.error})"
    return f"{fact.id} {fact.tool} {status}"


def _after_decide(state: AgentState, runtime: Runtime[AgentDeps]) -> Literal["propose", "respond"]:
    # Reads ran and rounds are left: the model sees their results, even when the read
    # budget is spent (it may only answer then: decide refuses further reads).
    more = state.ran_reads and state.round <= runtime.context.limits.max_rounds
    return "propose" if more else "respond"


def _after_respond(state: AgentState) -> Literal["await_approval", "__end__"]:
    return "await_approval" if state.pending else "__end__"


def _after_wait(state: AgentState) -> Literal["begin", "execute", "reject"]:
    event = state.event
    if isinstance(event, MessageEvent):
        return "begin"
    if isinstance(event, DecisionEvent) and event.verdict == "approve":
        return "execute"
    return "reject"


def _node(fn: Node) -> _NodeWithRuntime[AgentState, AgentDeps]:
    """``fn`` as a LangGraph node: its deps from the run's context, its update as JSON
    (so checkpoints never hold pickled or class-tagged objects)."""

    def run(state: AgentState, *, runtime: Runtime[AgentDeps]) -> dict[str, Any]:
        update: dict[str, Any] = to_jsonable_python(fn(state, runtime.context))
        return update

    run.__name__ = fn.__name__
    return run


def build_graph(checkpointer: Any = None) -> Any:
    """The compiled graph; ``checkpointer`` (see ``copilot.agent.checkpoint``) makes
    conversations durable across processes."""
    g = StateGraph(AgentState, context_schema=AgentDeps, input_schema=TurnInput)
    nodes: tuple[Node, ...] = (
        begin,
        gather,
        propose,
        decide,
        respond,
        await_approval,
        execute,
        verify,
        reject,
    )
    for fn in nodes:
        g.add_node(fn.__name__, _node(fn))
    g.add_edge(START, "begin")
    g.add_edge("begin", "gather")
    g.add_edge("gather", "propose")
    g.add_edge("propose", "decide")
    g.add_conditional_edges("decide", _after_decide, ["propose", "respond"])
    g.add_conditional_edges("respond", _after_respond, ["await_approval", END])
    g.add_conditional_edges("await_approval", _after_wait, ["begin", "execute", "reject"])
    g.add_edge("execute", "verify")
    g.add_edge("verify", "respond")
    g.add_edge("reject", "respond")
    return g.compile(checkpointer=checkpointer)
