"""``build_graph(deps)``: begin → gather → propose → decide → respond → await_approval → ...

A conversation is one LangGraph thread. While cards are pending the thread rests in
``await_approval``; both a decision on a card and a new message resume it:

    begin → gather → propose → decide ─(reads ran, rounds left)→ propose
                                    └→ respond ─(cards pending)→ await_approval
    await_approval ─approve→ execute → verify → respond
                   ├reject→ reject → respond
                   └message→ begin

With nothing pending the run ends; the next message starts a new run on the same thread.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from langgraph.graph import END, START, StateGraph

from copilot.agent.act import await_approval, decide, execute, refresh_pending, verify
from copilot.agent.deps import AgentDeps
from copilot.agent.gather import budget_left, gather
from copilot.agent.propose import propose
from copilot.agent.state import AgentState, new_usage

# what a turn starts from; everything else (history, cards, pending, usage) carries over
_TURN_RESET: dict[str, Any] = {
    "runbooks": [],
    "no_runbook": False,
    "no_runbook_reason": "",
    "entities": {},
    "facts": [],
    "tool_calls": 0,
    "round": 1,
    "repair": None,
    "answer": "",
    "proposals": [],
    "refusals": [],
    "outcomes": [],
    "ran_reads": False,
    "new_cards": [],
}


def begin(state: AgentState, deps: AgentDeps) -> dict[str, Any]:
    event = state.get("event") or {}
    update: dict[str, Any] = {**_TURN_RESET, "event": None}
    # cards that expired or were decided elsewhere while the conversation waited
    update.update(refresh_pending(state, deps))
    if event.get("kind") == "message":  # a message that arrived while cards were pending
        update["request"] = event["text"]
        update["principal"] = event["principal"]
    update["turn"] = state.get("turn", 0) + 1
    update["started_at"] = datetime.now(UTC).isoformat()
    update["usage"] = state.get("usage") or new_usage()
    update.setdefault("cards", state.get("cards", []))
    return update


def reject(state: AgentState, deps: AgentDeps) -> dict[str, Any]:
    event = state.get("event") or {}
    approval_id = event.get("approval_id")
    cards = [dict(c) for c in state.get("cards", [])]
    for card in cards:
        if card["approval_id"] == approval_id:
            card["state"] = event.get("state", "rejected")
    who = event.get("principal", {}).get("id", "someone")
    outcomes = list(state.get("outcomes", []))
    outcomes.append(f"{approval_id} {event.get('state', 'rejected')} by {who}: nothing ran")
    pending = [a for a in state.get("pending", []) if a != approval_id]
    return {"cards": cards, "pending": pending, "outcomes": outcomes}


def respond(state: AgentState, deps: AgentDeps) -> dict[str, Any]:
    refreshed = refresh_pending(state, deps)
    state = {**state, **refreshed}  # type: ignore[typeddict-item]
    parts: list[str] = []
    if state.get("answer"):
        parts.append(state["answer"])
    new = set(state.get("new_cards", []))
    for card in state.get("cards", []):
        if card["approval_id"] not in state.get("pending", []):
            continue
        shown = ", ".join(f"{k}={v}" for k, v in card["arguments"].items() if v is not None)
        call = f"{card['tool']}({shown})"
        if card["approval_id"] in new:
            parts.append(
                f"Proposed {call} ({card['risk']} risk) as {card['approval_id']}; "
                f"approval: {card['required']}."
            )
        else:
            parts.append(f"Still waiting: {call} as {card['approval_id']}.")
    parts.extend(state.get("refusals", []))
    parts.extend(state.get("outcomes", []))
    if not parts and state.get("facts"):  # the model said nothing: say what was read
        parts.append("Read: " + "; ".join(_fact_line(f) for f in state["facts"]))
    reply = "\n".join(p for p in parts if p) or "Nothing to report."
    history = list(state.get("history", []))
    if state.get("request") and not state.get("event"):
        history.append(
            {"role": "user", "text": state["request"], "author": state["principal"]["id"]}
        )
    history.append({"role": "assistant", "text": reply, "author": "copilot"})
    keep = deps.limits.max_history * 2
    # What was read stays in the audit log and the store; the checkpoint keeps only what
    # verify needs (which call, with which arguments, whether it worked), so it stays small.
    slim = [{**f, "data": None} for f in state.get("facts", [])]
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


def _fact_line(fact: dict[str, Any]) -> str:
    status = "ok" if fact.get("ok") else f"failed ({fact.get('error')})"
    return f"{fact['id']} {fact['tool']} {status}"


def _after_decide(state: AgentState, deps: AgentDeps) -> str:
    more = state.get("ran_reads") and state.get("round", 1) <= deps.limits.max_rounds
    return "propose" if more and budget_left(state, deps) else "respond"


def _after_respond(state: AgentState) -> str:
    return "await_approval" if state.get("pending") else END


def _after_wait(state: AgentState) -> str:
    event = state.get("event") or {}
    if event.get("kind") == "message":
        return "begin"
    if event.get("kind") == "decision" and event.get("verdict") == "approve":
        return "execute"
    return "reject"


def build_graph(deps: AgentDeps, checkpointer: Any = None) -> Any:
    """The compiled graph; ``checkpointer`` (see ``copilot.agent.checkpoint``) makes
    conversations durable across processes."""
    g = StateGraph(AgentState)
    for name, fn in (
        ("begin", begin),
        ("gather", gather),
        ("propose", propose),
        ("decide", decide),
        ("respond", respond),
        ("await_approval", await_approval),
        ("execute", execute),
        ("verify", verify),
        ("reject", reject),
    ):
        g.add_node(name, partial(fn, deps=deps))
    g.add_edge(START, "begin")
    g.add_edge("begin", "gather")
    g.add_edge("gather", "propose")
    g.add_edge("propose", "decide")
    g.add_conditional_edges("decide", partial(_after_decide, deps=deps), ["propose", "respond"])
    g.add_conditional_edges("respond", _after_respond, ["await_approval", END])
    g.add_conditional_edges("await_approval", _after_wait, ["begin", "execute", "reject"])
    g.add_edge("execute", "verify")
    g.add_edge("verify", "respond")
    g.add_edge("reject", "respond")
    return g.compile(checkpointer=checkpointer)
