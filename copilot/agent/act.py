"""decide, await_approval, execute, verify: from proposals to verified changes.

decide asks the core for each proposal: allowed reads run at once (and the model sees their
results next round); everything else becomes a card that waits for people. await_approval
holds nothing but ``interrupt()``: LangGraph re-runs a node from its start on resume, so any
work before the interrupt would run twice. execute goes through the executor keyed by the
approval id, so a resumed or repeated run can never execute a change twice. verify re-reads
the telemetry that motivated the change and says whether it recovered.
"""

from __future__ import annotations

import time
from typing import Any

from langgraph.types import interrupt

from copilot.agent.deps import AgentDeps
from copilot.agent.gather import budget_left, principal_of, run_read
from copilot.agent.state import AgentState
from copilot.domain import ApprovalState, Principal, Risk
from copilot.errors import CopilotError
from copilot.knowledge.playbooks import evaluate_when, fact_variables
from copilot.model.context import FactView


def _card(
    outcome: Any, risk: Risk, state: AgentState, facts: list[dict[str, Any]]
) -> dict[str, Any]:
    p, a, d = outcome.proposal, outcome.approval, outcome.decision
    cited = set(p.provenance.get("facts", []))
    # the calls that motivated the change travel with the card: verify re-reads them
    # whenever the approval comes, even after later turns have gathered other facts
    motivating = [
        {"id": f["id"], "tool": f["tool"], "arguments": f["arguments"], "ok": f.get("ok")}
        for f in facts
        if f["id"] in cited
    ]
    return {
        "motivating": motivating,
        "entities": dict(state.get("entities", {})),
        "rollback": _rollback_steps(state.get("runbooks", []), p.provenance.get("runbook")),
        "approval_id": a.id,
        "tool": p.tool,
        "arguments": p.arguments,
        "risk": risk.value,
        "plan": p.plan,
        "required": a.required,
        "verdict": d.reason,
        "provenance": p.provenance,
        "state": "pending",
        "requester": p.requester,
        "result": None,
    }


def decide(state: AgentState, deps: AgentDeps) -> dict[str, Any]:
    who, conv = principal_of(state), state["conversation"]
    facts = list(state.get("facts", []))
    cards = list(state.get("cards", []))
    pending = list(state.get("pending", []))
    refusals = list(state.get("refusals", []))
    calls, ran_reads = state.get("tool_calls", 0), False
    fresh = list(state.get("new_cards", []))
    waiting = {(c["tool"], repr(c["arguments"])) for c in cards if c["state"] == "pending"}
    for p in state.get("proposals", []):
        spec = deps.core.registry.get(p["tool"])
        if spec.risk is Risk.READ:
            if not budget_left({**state, "tool_calls": calls}, deps):
                refusals.append(f"{spec.name} not run: this turn's read budget is spent")
                continue
            calls += 1
            fact = run_read(deps, who, spec.name, p["arguments"], f"f{len(facts) + 1}", conv)
            facts.append(fact.model_dump(mode="json"))
            ran_reads = True
            continue
        if (spec.name, repr(p["arguments"])) in waiting:
            continue  # already on a card: never two cards for one change
        try:
            outcome = deps.core.proposer.propose(
                who, spec.name, p["arguments"], conversation=conv, provenance=p["provenance"]
            )
        except CopilotError as err:
            refusals.append(f"{spec.name} refused: {err.one_line()}")
            continue
        cards.append(_card(outcome, spec.risk, state, facts))
        pending.append(outcome.approval.id)
        fresh.append(outcome.approval.id)
    next_round = state.get("round", 1) + 1
    spent = not budget_left({**state, "tool_calls": calls}, deps)
    if ran_reads and (spent or next_round > deps.limits.max_rounds):
        refusals.append(
            f"Stopped gathering: a turn may make {deps.limits.max_tool_calls} reads in "
            f"{deps.limits.max_rounds} rounds and {deps.limits.max_seconds:g}s; "
            "ask again to continue from what was found."
        )
    return {
        "facts": facts,
        "cards": cards,
        "pending": pending,
        "refusals": refusals,
        "tool_calls": calls,
        "ran_reads": ran_reads,
        "round": next_round,
        "new_cards": fresh,
    }


def await_approval(state: AgentState, deps: AgentDeps) -> dict[str, Any]:
    # Only the interrupt lives here (see the module docstring).
    event = interrupt({"pending": state.get("pending", []), "conversation": state["conversation"]})
    return {"event": event}


def refresh_pending(state: AgentState, deps: AgentDeps) -> dict[str, Any]:
    """Stop waiting on cards whose approval ended outside this conversation: expired,
    cancelled, or decided and run through another surface. The store is the truth."""
    pending = list(state.get("pending", []))
    if not pending:
        return {}
    book = deps.core.book
    cards = [dict(c) for c in state.get("cards", [])]
    keep, notes = [], []
    for aid in pending:
        try:
            approval, _ = book.load(aid, "agent")
            if approval.state in _OPEN and book.clock() >= approval.expires_at:
                book.expire_if_due(approval, "agent")  # records the expiry, then raises
        except CopilotError:
            pass
        try:
            approval, _ = book.load(aid, "agent")
        except CopilotError:
            continue
        if approval.state in _OPEN:
            keep.append(aid)
            continue
        _set_card(cards, aid, state=approval.state.value)
        tool = next((c["tool"] for c in cards if c["approval_id"] == aid), aid)
        notes.append(f"{tool} ({aid}) is {approval.state.value}; it is no longer waiting.")
    if keep == pending:
        return {}
    return {"cards": cards, "pending": keep, "outcomes": state.get("outcomes", []) + notes}


_OPEN = (ApprovalState.PROPOSED, ApprovalState.APPROVED)


def _set_card(cards: list[dict[str, Any]], approval_id: str, **changes: Any) -> None:
    for card in cards:
        if card["approval_id"] == approval_id:
            card.update(changes)


def execute(state: AgentState, deps: AgentDeps) -> dict[str, Any]:
    event = state.get("event") or {}
    approval_id = str(event.get("approval_id"))
    who = Principal.model_validate(event["principal"])
    cards = [dict(c) for c in state.get("cards", [])]
    pending = [a for a in state.get("pending", []) if a != approval_id]
    outcomes = list(state.get("outcomes", []))
    try:
        out = deps.core.executor.execute(approval_id, who)
        status, result, error = out.status.value, out.result, out.error
    except CopilotError as err:
        status, result, error = "failed", None, err.one_line()
        current = deps.core.book.load(approval_id, who.id)[0].state
        if current in (ApprovalState.SUCCEEDED, ApprovalState.FAILED, ApprovalState.UNKNOWN):
            status = current.value  # it ran elsewhere (another surface): report that
    _set_card(cards, approval_id, state=status, result=result, error=error)
    card = next((c for c in cards if c["approval_id"] == approval_id), {})
    line = f"{card.get('tool', approval_id)} ({approval_id}) {status}"
    outcomes.append(line + (f": {error}" if error else ""))
    return {"cards": cards, "pending": pending, "outcomes": outcomes, "event": event}


def _healthy(data: Any) -> bool | None:
    """A generic reading of a result: healthy, not, or cannot tell."""
    if isinstance(data, dict):
        health = data.get("health") or data.get("status")
        if isinstance(health, str) and health.lower() in {"healthy", "ok", "up", "ready"}:
            return True
        if isinstance(health, str) and health.lower() in {"degraded", "down", "failing"}:
            return False
        rate = data.get("error_rate")
        if isinstance(rate, (int, float)):
            return rate < 0.01
        for v in data.values():
            verdict = _healthy(v)
            if verdict is not None:
                return verdict
    if isinstance(data, list):
        verdicts = [_healthy(v) for v in data]
        if any(v is False for v in verdicts):
            return False
        if any(v is True for v in verdicts):
            return True
    return None


def verify(state: AgentState, deps: AgentDeps) -> dict[str, Any]:
    event = state.get("event") or {}
    approval_id = str(event.get("approval_id"))
    cards = [dict(c) for c in state.get("cards", [])]
    card = next((c for c in cards if c["approval_id"] == approval_id), None)
    outcomes = list(state.get("outcomes", []))
    if card is None or card["state"] != ApprovalState.SUCCEEDED.value:
        return {}
    who, conv = principal_of(state), state["conversation"]
    motivating = card.get("motivating", [])
    reads = [
        f for f in motivating if f.get("ok") and deps.core.registry.get(f["tool"]).risk is Risk.READ
    ]
    if reads and deps.limits.verify_delay_s:
        time.sleep(deps.limits.verify_delay_s)  # pods roll, rates need a scrape or two
    after: list[FactView] = []
    for f in reads[: deps.limits.max_tool_calls]:
        after.append(run_read(deps, who, f["tool"], f["arguments"], f"v{len(after) + 1}", conv))
    recovered: bool | None = None
    when = card["provenance"].get("when")
    if when and after:
        variables = fact_variables(after, deps.core.book.clock(), card.get("entities", {}))
        holds = evaluate_when(when, variables)
        recovered = None if holds is None else not holds
    if recovered is None:
        verdicts = [_healthy(f.data) for f in after if f.ok]
        known = [v for v in verdicts if v is not None]
        recovered = all(known) if known else None
    verdict = {True: "recovered", False: "NOT recovered", None: "could not be verified"}
    line = f"verify {card['tool']}: {verdict[recovered]}"
    if after:
        line += " (re-read " + ", ".join(f.tool for f in after) + ")"
    if recovered is False:
        steps = card.get("rollback", [])
        if steps:
            line += "; the runbook's rollback: " + "; ".join(steps)
    outcomes.append(line)
    _set_card(cards, approval_id, verified=recovered)
    return {"cards": cards, "outcomes": outcomes}


def _rollback_steps(runbooks: list[dict[str, Any]], chunk: str | None) -> list[str]:
    """The rollback steps of the runbook a card came from (the best one if it cites none)."""
    for rb in runbooks:
        if rb["chunk_id"] == chunk or chunk is None:
            return [f"{s['tool']} {s.get('description', '')}".strip() for s in rb["rollback"]]
    return []
