"""decide, await_approval, execute, verify: from proposals to verified changes.

decide asks the door for each proposal: allowed reads run at once (and the model sees their
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
from copilot.agent.events import DecisionEvent
from copilot.agent.gather import budget_left, run_read
from copilot.agent.state import AgentState, CardRef, FactCall, ProposedCall
from copilot.domain import ApprovalState, ProposalOutcome, Risk
from copilot.domain.views import FactView, RunbookView
from copilot.errors import CopilotError
from copilot.knowledge.playbooks import evaluate_when, fact_variables

_OPEN = (ApprovalState.PROPOSED, ApprovalState.APPROVED)
_RAN = (ApprovalState.SUCCEEDED, ApprovalState.FAILED, ApprovalState.UNKNOWN)


def _card(outcome: ProposalOutcome, state: AgentState, facts: list[FactView]) -> CardRef:
    """What the agent remembers of a card it made: the calls that motivated the change
    (verify re-reads them whenever the approval comes, even after later turns gathered
    other facts), what the request was about, and the runbook's rollback."""
    provenance = outcome.proposal.provenance
    cited = set(provenance.get("facts", []))
    return CardRef(
        approval_id=outcome.approval.id,
        motivating=[
            FactCall(id=f.id, tool=f.tool, arguments=f.arguments, ok=f.ok)
            for f in facts
            if f.id in cited
        ],
        entities=dict(state.entities),
        rollback=_rollback_steps(state.runbooks, provenance.get("runbook")),
    )


def decide(state: AgentState, deps: AgentDeps) -> dict[str, Any]:
    who, conv = state.principal, state.conversation
    facts, cards = list(state.facts), list(state.cards)
    pending, fresh, refusals = list(state.pending), list(state.new_cards), list(state.refusals)
    calls, ran_reads = state.tool_calls, False
    waiting = {(c.tool, repr(c.arguments)) for c in deps.door.cards_of(pending)}
    for p in state.proposals:
        spec = deps.door.deps.registry.get(p.tool)
        if spec.risk is Risk.READ:
            if not budget_left(state, deps, calls):
                refusals.append(f"{spec.name} not run: this turn's read budget is spent")
                continue
            calls += 1
            facts.append(run_read(deps, who, spec.name, p.arguments, f"f{len(facts) + 1}", conv))
            ran_reads = True
            continue
        if (spec.name, repr(p.arguments)) in waiting:
            continue  # already on a card: never two cards for one change
        try:
            outcome = _propose(deps, state, p)
        except CopilotError as err:
            refusals.append(f"{spec.name} refused: {err.one_line()}")
            continue
        cards.append(_card(outcome, state, facts))
        pending.append(outcome.approval.id)
        fresh.append(outcome.approval.id)
        waiting.add((spec.name, repr(outcome.proposal.arguments)))
    next_round = state.round + 1
    spent = not budget_left(state, deps, calls)
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


def _propose(deps: AgentDeps, state: AgentState, p: ProposedCall) -> ProposalOutcome:
    return deps.door.proposer.propose(
        state.principal,
        p.tool,
        p.arguments,
        conversation=state.conversation,
        provenance=p.provenance,
    )


def await_approval(state: AgentState, deps: AgentDeps) -> dict[str, Any]:
    # Only the interrupt lives here (see the module docstring).
    event = interrupt({"pending": state.pending, "conversation": state.conversation})
    return {"event": event}


def refresh_pending(state: AgentState, deps: AgentDeps) -> dict[str, Any]:
    """Stop waiting on cards whose approval ended outside this conversation: expired,
    cancelled, or decided and run through another surface. The store is the truth."""
    if not state.pending:
        return {}
    door = deps.door
    keep, notes = [], []
    for aid in state.pending:
        try:
            approval, proposal = door.deps.load(aid, "agent")
            if approval.state in _OPEN and door.deps.clock() >= approval.expires_at:
                door.approvals.expire_if_due(approval, "agent")  # records it, then raises
        except CopilotError:
            pass
        try:
            approval, proposal = door.deps.load(aid, "agent")
        except CopilotError:
            continue
        if approval.state in _OPEN:
            keep.append(aid)
            continue
        notes.append(f"{proposal.tool} ({aid}) is {approval.state.value}; it is no longer waiting.")
    if keep == state.pending:
        return {}
    return {"pending": keep, "outcomes": state.outcomes + notes}


def execute(state: AgentState, deps: AgentDeps) -> dict[str, Any]:
    event = state.event
    assert isinstance(event, DecisionEvent)  # the router sends only approvals here
    approval_id = event.approval_id
    pending = [a for a in state.pending if a != approval_id]
    try:
        out = deps.door.executor.execute(approval_id, event.principal)
        status, error = out.status.value, out.error
    except CopilotError as err:
        status, error = "failed", err.one_line()
        current = deps.door.deps.load(approval_id, event.principal.id)[0].state
        if current in _RAN:
            status = current.value  # it ran elsewhere (another surface): report that
    tool = deps.door.deps.load(approval_id, "agent")[1].tool
    line = f"{tool} ({approval_id}) {status}"
    return {
        "pending": pending,
        "outcomes": [*state.outcomes, line + (f": {error}" if error else "")],
    }


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
    event = state.event
    assert isinstance(event, DecisionEvent)
    ref = state.card(event.approval_id)
    approval, proposal = deps.door.deps.load(event.approval_id, "agent")
    if ref is None or approval.state is not ApprovalState.SUCCEEDED:
        return {}
    who, conv = state.principal, state.conversation
    registry = deps.door.deps.registry
    reads = [f for f in ref.motivating if f.ok and registry.get(f.tool).risk is Risk.READ]
    if reads and deps.limits.verify_delay_s:
        time.sleep(deps.limits.verify_delay_s)  # pods roll, rates need a scrape or two
    after: list[FactView] = []
    for f in reads[: deps.limits.max_tool_calls]:
        after.append(run_read(deps, who, f.tool, f.arguments, f"v{len(after) + 1}", conv))
    recovered: bool | None = None
    when = proposal.provenance.get("when")
    if when and after:
        variables = fact_variables(after, deps.door.deps.clock(), ref.entities)
        holds = evaluate_when(when, variables)
        recovered = None if holds is None else not holds
    if recovered is None:
        verdicts = [_healthy(f.data) for f in after if f.ok]
        known = [v for v in verdicts if v is not None]
        recovered = all(known) if known else None
    # on the record: the incident timeline and the postmortem cite it
    deps.door.deps.audit.record(
        "verify.outcome",
        actor=who.id,
        subject=event.approval_id,
        data={"tool": proposal.tool, "recovered": recovered, "reads": [f.tool for f in after]},
        ts=deps.door.deps.clock(),
    )
    verdict = {True: "recovered", False: "NOT recovered", None: "could not be verified"}
    # "verify: TOOL VERDICT", not "verify TOOL: VERDICT": "rotate_secret: recovered" reads
    # as a password assignment to the redactor, which would hide the verdict
    line = f"verify: {proposal.tool} {verdict[recovered]}"
    if after:
        line += " (re-read " + ", ".join(f.tool for f in after) + ")"
    if recovered is False and ref.rollback:
        line += "; the runbook's rollback: " + "; ".join(ref.rollback)
    cards = [c.model_copy(update={"verified": recovered}) if c is ref else c for c in state.cards]
    # the re-reads become the run's facts: the reply shows what the telemetry says now
    return {"cards": cards, "outcomes": [*state.outcomes, line], "facts": after}


def _rollback_steps(runbooks: list[RunbookView], chunk: str | None) -> list[str]:
    """The rollback steps of the runbook a card came from (the best one if it cites none)."""
    for rb in runbooks:
        if rb.chunk_id == chunk or chunk is None:
            return [f"{s.tool} {s.description}".strip() for s in rb.rollback]
    return []
