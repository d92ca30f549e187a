"""propose: the model turns the request and what was gathered into typed tool calls.

The model sees only the tools its requester could be allowed to propose (a policy dry run),
and everything from outside inside untrusted blocks (``copilot.model.context``). Each call
it returns is validated against the tool's schema; invalid arguments get at most
``Limits.max_repairs`` repair rounds with the validation error; a tool that does not exist
or was not offered is refused, never repaired into something else.
"""

from __future__ import annotations

import json
from typing import Any

from copilot.agent.deps import AgentDeps
from copilot.agent.state import AgentState, ProposedCall, Usage
from copilot.domain import Principal
from copilot.domain.views import ActionView
from copilot.errors import InvalidInput
from copilot.model.context import Citation, PlannerContext
from copilot.model.gateway import ModelReply, ToolCall
from copilot.model.prompts import build_messages, decode_tool_name
from copilot.toolkit import ToolSpec


def offered_tools(deps: AgentDeps, who: Principal) -> list[ToolSpec]:
    """The tools ``who`` could be allowed to propose, of the packs whose source is
    configured: what the model may see."""
    ctx = deps.door.deps.context(is_requester=True)
    # Policies and tools are fixed for the process's life: the answer depends only on who
    # asks and the context, so it is computed once per pair (36 Cedar decisions each).
    key = (who.id, who.roles, ctx)
    found = deps.offered.get(key)
    if found is None:
        sources = deps.door.deps.settings.sources
        specs = [s for s in deps.door.deps.registry if sources.serves(s.pack)]
        asks = [("propose", who.id, s.name, ctx) for s in specs]
        decisions = deps.door.deps.policy.decide_many(asks)
        found = [spec for spec, d in zip(specs, decisions, strict=True) if d.allowed]
        deps.offered[key] = found
    return list(found)


def planner_context(state: AgentState, deps: AgentDeps, repair: str | None) -> PlannerContext:
    history = state.history[-deps.limits.max_history :]
    cards = deps.door.cards_of([c.approval_id for c in state.cards])
    return PlannerContext(
        request=state.request,
        requester=state.principal.id,
        now=deps.door.deps.clock(),
        environment=deps.door.deps.settings.environment,
        runbooks=state.runbooks,
        no_runbook=state.no_runbook,
        no_runbook_reason=state.no_runbook_reason,
        facts=state.facts,
        history=history,
        actions=[
            ActionView(
                approval_id=c.approval_id,
                tool=c.tool,
                arguments=c.arguments,
                state=c.state.value,
                result=c.result,
            )
            for c in cards
        ],
        repair=repair,
        round=state.round,
        max_rounds=deps.limits.max_rounds,
    )


def add_usage(usage: Usage, reply: ModelReply) -> Usage:
    cost = float(getattr(reply, "cost_usd", 0.0) or 0.0)
    return Usage(
        calls=usage.calls + 1,
        prompt_tokens=usage.prompt_tokens + reply.usage.prompt_tokens,
        completion_tokens=usage.completion_tokens + reply.usage.completion_tokens,
        cost_usd=round(usage.cost_usd + cost, 6),
    )


def _check(
    call: ToolCall, offered: dict[str, ToolSpec]
) -> tuple[ProposedCall | None, str | None, str | None]:
    """(validated call, repairable error, refusal) for one tool call of the model."""
    name = decode_tool_name(call.name)  # the gateway decodes; a scripted model may not
    spec = offered.get(name)
    if spec is None:
        return None, None, f"the model asked for {name!r}, which is not a tool it was offered"
    try:
        raw = json.loads(call.arguments or "{}")
    except ValueError:
        return None, f"{name}: arguments are not valid JSON", None
    if not isinstance(raw, dict):
        return None, f"{name}: arguments must be a JSON object", None
    try:
        args = spec.validate(raw)
    except InvalidInput as err:
        return None, err.message, None
    return ProposedCall(tool=spec.name, arguments=args.model_dump(mode="json")), None, None


def provenance_for(
    call: ProposedCall, ctx: PlannerContext, cited: Citation | None
) -> dict[str, Any]:
    """Which runbook chunk and which facts a call came from, for its card.

    The model's own citation wins (kept only where it names chunks and facts it was really
    shown); otherwise the runbook whose playbook holds the tool and the facts gathered this
    turn, unless retrieval found no runbook or the person asked for the call in so many
    words (``asked``: the card then says who asked, and borrows no runbook's condition).
    The playbook step's ``when`` travels along: verify re-checks it after the change.
    """
    cited = cited.against(ctx) if cited is not None else None
    chunk = cited.runbook if cited else None
    step_when = None
    for rb in ctx.runbooks:
        if chunk is not None and rb.chunk_id != chunk:
            continue
        if chunk is None and (ctx.no_runbook or (cited and cited.asked)):
            break  # asked for in so many words, or no runbook matched: none to borrow
        steps = [s for s in rb.playbook if s.tool == call.tool]
        if cited and cited.step and 0 < cited.step <= len(rb.playbook):
            chosen = rb.playbook[cited.step - 1]
            if chosen.tool == call.tool:
                steps = [chosen]
        if steps:
            chunk = chunk or rb.chunk_id
            step_when = steps[0].when
            break
    facts = (cited.facts if cited and cited.facts else None) or [f.id for f in ctx.facts if f.ok]
    out: dict[str, Any] = {"runbook": chunk, "facts": facts, "by": "agent"}
    if cited and cited.asked:
        out["asked_by"] = ctx.requester
    if step_when:
        out["when"] = step_when
    if cited and cited.why:
        out["why"] = cited.why[:300]
    return out


def propose(state: AgentState, deps: AgentDeps) -> dict[str, Any]:
    offered = {spec.name: spec for spec in offered_tools(deps, state.principal)}
    tools = deps.tool_entries(list(offered.values()))
    usage = state.usage
    repair: str | None = None
    proposals: list[ProposedCall] = []
    refusals: list[str] = []
    answer = ""
    for _ in range(1 + deps.limits.max_repairs):
        ctx = planner_context(state, deps, repair)
        reply = deps.gateway.complete(build_messages(ctx), tools)
        usage = add_usage(usage, reply)
        answer = reply.text
        proposals, refusals, errors = [], [], []
        for index, call in enumerate(reply.tool_calls):
            checked, error, refusal = _check(call, offered)
            if refusal:
                refusals.append(refusal)
            elif error:
                errors.append(error)
            elif checked is not None and not any(
                (p.tool, p.arguments) == (checked.tool, checked.arguments) for p in proposals
            ):
                checked.provenance = provenance_for(checked, ctx, reply.citation_for(index))
                proposals.append(checked)
        if not errors:
            break
        repair = "; ".join(errors)
    else:
        refusals.append(f"the model's tool calls stayed invalid after repairs: {repair}")
    return {
        "proposals": proposals,
        "refusals": state.refusals + refusals,
        "answer": answer,
        "usage": usage,
    }
