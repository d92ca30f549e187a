"""What the offline planner says to one request: a question answered from the facts, an
honest "no runbook covers this", or the next steps of the best runbook's playbook."""

from __future__ import annotations

import re
from typing import Any

from copilot.knowledge.playbooks import entities_from_text, entity_candidates
from copilot.model.context import Citation, PlannerContext
from copilot.model.offline.answers import (
    Plan,
    PlannedCall,
    abstain,
    answer_runbooks,
    answer_status,
    call_text,
    entity_status,
)
from copilot.model.offline.direct import direct_plan
from copilot.model.offline.phrases import as_shown
from copilot.model.offline.playbook import (
    Tools,
    best_runbook,
    by_hand,
    follow_playbook,
    incident_entities,
    repair,
)
from copilot.model.prompts import (
    read_context,
    tool_aliases,
    tool_descriptions,
    tool_parameters,
    tool_risks,
)

_ACTION = re.compile(
    r"\b(what (do|should|can|shall|must) (we|i)|what now|what next|fix|mitigat\w*|"
    r"remediat\w*|resolve|roll ?back|restart|do something|deal with|handle)\b",
    re.I,
)
_RUNBOOK_Q = re.compile(
    r"\b(which|what|is there|are there|any|do we have|find|show)\b.*\b(runbooks?|playbooks?)\b",
    re.I,
)
_QUESTION = re.compile(r"\?\s*$|^\s*(?:how|what|which|is|are|does|do|did)\b", re.I)
_STATUS_Q = re.compile(
    r"^\s*(?:what(?:'s| is| are)?\s+(?:the\s+)?(?:current\s+)?(?:status|state|health)\b"
    r"|how(?:'s| is| are)\b"
    r"|(?:is|are)\s+[\w.-]+(?:\s+[\w.-]+)?\s+(?:healthy|ok|okay|up|down|fine|working|alright)\b"
    r"|(?:show|give)(?:\s+me)?\s+(?:the\s+)?(?:status|health)\b"
    r"|status\b)"
    r"|\b(?:status|health)\s+of\b|\bstatus\s*\??\s*$",
    re.I,
)


def classify(request: str) -> str:
    """``runbook`` / ``status`` questions, or an ``incident`` to act on."""
    if _ACTION.search(request):
        return "incident"
    if _RUNBOOK_Q.search(request):
        return "runbook"
    if _STATUS_Q.search(request):
        return "status"
    return "incident"


def plan(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Plan:
    """What the offline planner says and proposes for these messages (pure)."""
    ctx = read_context(messages)
    if ctx is None:
        return Plan(
            "I am the copilot's offline planner: I work from the runbooks and telemetry the "
            "copilot gathers for an incident, which these messages do not carry. Ask through "
            "the copilot, or set COPILOT_MODEL to a chat model for free-form questions."
        )
    # Read what the person sees: full-width and other compatibility forms ("ｃｈｅｃｋｏｕｔ",
    # "ｆｏｒｃｅ") as the plain letters they show, so names match and refusals hold.
    ctx = ctx.model_copy(update={"request": as_shown(ctx.request)})
    offered = Tools(
        descriptions=tool_descriptions(tools),
        parameters=tool_parameters(tools),
        risks=tool_risks(tools),
        aliases=tool_aliases(tools),
    )
    kind = classify(ctx.request)
    if kind == "runbook":
        return answer_runbooks(ctx)
    if kind == "status":
        return _status(ctx, offered)
    direct = direct_plan(ctx, offered)
    if direct is not None:  # asked in so many words: the catalogue names the tool
        return repair(direct, ctx.repair, offered) if ctx.repair else direct
    if ctx.no_runbook or not ctx.runbooks:
        if _QUESTION.search(ctx.request) and _named_now(ctx):
            # "how many replicas does payments have?": no tool's words, no runbook, but a
            # question about something named: its status answers it
            return _status(ctx, offered)
        why = "No runbook covers this request"
        why += f" ({ctx.no_runbook_reason})." if ctx.no_runbook_reason else "."
        return abstain(ctx, why)
    book = best_runbook(ctx)
    if book is None:  # the best match is the answer even without a playbook to follow
        return by_hand(ctx, ctx.runbooks[0])
    result = follow_playbook(ctx, book, offered)
    if ctx.repair:
        result = repair(result, ctx.repair, offered)
    return result


_SUBJECT = re.compile(
    r"\b(?:status|health|state)\s+of\s+(?:the\s+)?([a-z][\w.-]*)"
    r"|^\s*(?:is|are|how(?:'s| is| are))\s+(?:the\s+)?([a-z][\w.-]*)",
    re.I,
)
_NOT_A_NAME = {"it", "everything", "things", "we", "service", "services", "prod", "the"}


def _status(ctx: PlannerContext, tools: Tools) -> Plan:
    entities = incident_entities(ctx, [])
    if not any(k != "revision" for k in entities) and (m := _SUBJECT.search(ctx.request)):
        name = (m.group(1) or m.group(2) or "").rstrip(".?!")
        if name and name.lower() not in _NOT_A_NAME:
            entities["service"] = name  # unknown to any fact: the status read will tell
    service = entities.get("service")
    status_tool = "sandbox.service_status"
    if service and tools.has(status_tool) and not entity_status(ctx, "service", service)[0]:
        asked = [f for f in ctx.facts if f.tool == status_tool]
        if not any(f.arguments.get("service") in (service, None) for f in asked):
            call = PlannedCall(
                status_tool,
                {"service": service},
                Citation(call=1, tool=status_tool, why=f"the question asks about {service}"),
            )
            return Plan(f"Reading the status of {service} first.", [call])
        # Not a service ("is orders-db healthy?"): the status reads that need no name list
        # the databases, certificates and jobs; the next round finds it among them.
        listings = _status_listings(ctx, tools, service)
        if listings and ctx.round < ctx.max_rounds:
            names = ", ".join(call_text(c.tool, c.arguments) for c in listings)
            return Plan(f"{service} is no service; reading {names} to find it.", listings)
    return answer_status(ctx, entities)


def _named_now(ctx: PlannerContext) -> dict[str, str]:
    """What this message names (not the earlier turns: "who is on call?" after "restart
    checkout" is no question about checkout)."""
    extra = {"service": [s for r in ctx.runbooks for s in r.services]}
    found = entities_from_text(ctx.request, entity_candidates(ctx.facts, extra))
    return {k: v for k, v in found.items() if k != "revision"}


def _status_listings(ctx: PlannerContext, tools: Tools, name: str) -> list[PlannedCall]:
    done = {f.tool for f in ctx.facts if not f.arguments}  # service_status(): all of them
    return [
        PlannedCall(tool, {}, Citation(call=1, tool=tool, why=f"the question asks about {name}"))
        for tool, schema in tools.parameters.items()
        if tools.is_read(tool)
        and "status" in tool.rsplit(".", 1)[-1]
        and not schema.get("required")
        and tool not in done
    ][:4]
