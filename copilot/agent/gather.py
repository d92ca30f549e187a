"""gather: runbooks for the request, then the read steps of the best runbook's playbook.

Every read goes through the door (policy, rate limits, executor, redaction, audit) as the
person who asked, so a viewer's agent reads no more than the viewer could. Gathering is
bounded by ``Limits.max_tool_calls`` and ``Limits.max_seconds``; it stops at the playbook's
first write step (the model proposes that, and people approve it).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from copilot.agent.alerts import alert_read, firing, search_by_alerts
from copilot.agent.deps import AgentDeps
from copilot.agent.state import AgentState
from copilot.domain import Principal, Risk
from copilot.domain.views import FactView, RunbookView, StepView
from copilot.errors import CopilotError, InvalidInput
from copilot.knowledge.playbooks import (
    collect_variables,
    entities_from_text,
    entity_candidates,
    fill_args,
)

MAX_CHUNK_CHARS = 1200  # what one runbook chunk may put in front of a model
# the section of a runbook without a playbook that a person follows by hand
DIAGNOSIS = re.compile(r"diagnos|investigat|triage|troubleshoot|check|steps", re.I)


def budget_left(state: AgentState, deps: AgentDeps, calls: int | None = None) -> bool:
    """Whether the turn may make another read (``calls``: made so far, if not the state's)."""
    started = state.started_at or datetime.now(UTC)
    elapsed = (datetime.now(UTC) - started).total_seconds()
    made = state.tool_calls if calls is None else calls
    return made < deps.limits.max_tool_calls and elapsed < deps.limits.max_seconds


def run_read(
    deps: AgentDeps, who: Principal, tool: str, arguments: dict[str, Any], fact_id: str, conv: str
) -> FactView:
    """One read call through the door; failures become facts too (the model reports them)."""
    now = deps.door.deps.clock()
    try:
        outcome, ran = deps.door.call(
            who, tool, arguments, conversation=conv, provenance={"by": "agent"}
        )
    except CopilotError as err:
        return FactView(id=fact_id, tool=tool, arguments=arguments, ok=False, error=err.one_line())
    if ran is None:  # policy wants approval even for this read: not the agent's to bypass
        return FactView(
            id=fact_id,
            tool=tool,
            arguments=arguments,
            ok=False,
            error=f"{tool} needs approval ({outcome.approval.id}); not run",
            call=outcome.approval.id,
        )
    ok = ran.error is None and ran.result is not None
    return FactView(
        id=fact_id,
        tool=ran.tool,
        arguments=outcome.proposal.arguments,
        ok=ok and not _unavailable(ran.result),
        data=ran.result,
        error=ran.error or _unavailable(ran.result),
        at=now,
        call=outcome.approval.id,
    )


def _unavailable(result: Any) -> str | None:
    """A reader's typed "source unavailable" result, as an error line."""
    if isinstance(result, dict) and isinstance(result.get("unavailable"), dict):
        u = result["unavailable"]
        return f"{u.get('source', 'source')} unavailable: {u.get('error', '')}"
    return None


def _entities(
    request: str, runbooks: list[RunbookView], facts: list[FactView], now: datetime
) -> dict[str, str]:
    """What the request is about: names it mentions (of services the runbooks cover or the
    facts show), then what the facts imply (the one unhealthy service, the running job)."""
    extra = {"service": sorted({s for rb in runbooks for s in rb.services})}
    named = entities_from_text(request, entity_candidates(facts, extra))
    return collect_variables(facts, now, named).entities


def _values(entities: dict[str, str], facts: list[FactView], now: datetime) -> dict[str, Any]:
    variables = collect_variables(facts, now, entities)
    return {**variables.values, **variables.entities}


def _views(hits: list[Any], limit: int) -> list[RunbookView]:
    views = []
    for hit in hits[:limit]:
        book = hit.playbook
        views.append(
            RunbookView(
                chunk_id=hit.chunk_id,
                source=hit.source,
                title=hit.title,
                heading=hit.heading,
                text=hit.text[:MAX_CHUNK_CHARS],
                alerts=list(hit.alerts),
                services=list(hit.services),
                score=hit.score,
                playbook=[StepView(**s.model_dump()) for s in book.steps] if book else [],
                rollback=[StepView(**s.model_dump()) for s in book.rollback] if book else [],
            )
        )
    return views


def gather(state: AgentState, deps: AgentDeps) -> dict[str, Any]:
    who, request, conv = state.principal, state.request, state.conversation
    facts: list[FactView] = []
    calls = 0
    alerting = alert_read(deps)
    if alerting is not None:  # what is firing is evidence for any request
        calls += 1
        facts.append(run_read(deps, who, alerting[0], alerting[1], "f1", conv))
    runbooks: list[RunbookView] = []
    no_runbook, reason = True, "no runbook index"
    from_alert: dict[str, str] = {}
    index = deps.runbooks()
    if index is not None:
        k = deps.limits.max_runbooks
        result = index.search(request, k=k)
        earlier = [h.text for h in state.history if h.role == "user"]
        if result.abstained and earlier:
            # a follow-up ("which runbook applies?") is about what was said before
            again = index.search(f"{earlier[-1]} {request}", k=k)
            result = result if again.abstained else again
        if result.abstained and facts:
            # "we got paged": the firing alert names the runbook and what it is about
            by_alert, from_alert = search_by_alerts(index, firing(facts[0]), k)
            result = by_alert or result
        runbooks = _views(result.hits, k)
        no_runbook, reason = result.abstained, result.reason
        if runbooks and not no_runbook and not runbooks[0].playbook:
            # the best match has no playbook: it is still the answer; show how to diagnose
            steps = index.section(runbooks[0].source, DIAGNOSIS)
            if steps is not None and steps.chunk_id != runbooks[0].chunk_id:
                runbooks.insert(1, _views([steps], 1)[0])
    now = deps.door.deps.clock()
    entities = {**from_alert, **_entities(request, runbooks, facts, now)}
    deadline = time.monotonic() + deps.limits.max_seconds
    if runbooks and not no_runbook:
        for step in runbooks[0].playbook:
            try:
                spec = deps.door.deps.registry.get(step.tool)
            except InvalidInput:
                continue  # a playbook naming a tool this install lacks: the model is told
            if spec.risk is not Risk.READ:
                break  # changes are proposed by the model and approved by people
            if calls >= deps.limits.max_tool_calls or time.monotonic() > deadline:
                break
            args = fill_args(step, _values(entities, facts, now))
            if args is None:
                continue  # a name not known yet: the model may find it
            calls += 1
            facts.append(run_read(deps, who, spec.name, args, f"f{len(facts) + 1}", conv))
            # names seen in results (jobs, domains) may complete later steps' templates
            entities = {**_entities(request, runbooks, facts, now), **entities}
    return {
        "runbooks": runbooks,
        "no_runbook": no_runbook,
        "no_runbook_reason": reason,
        "entities": entities,
        "facts": facts,
        "tool_calls": calls,
    }
