"""Direct requests, understood from the tool catalogue: "scale checkout to 5 replicas",
"silence the HighErrorRate alert for 1 hour", "what changed in the last hour?".

A person asking for an action is a request, not an injection: the change becomes a card,
exactly as a playbook step does (policy, approvals; the card says who asked). The flow
over the agent's rounds:

1. names the request needs that no fact gives yet (which services exist) are looked up
   with the catalogue's listing read (a read whose only parameters are optional and one
   of them is the kind: ``sandbox.service_status()``);
2. a change first reads the state of what it changes (reads named like it: scale_service →
   service_status), so the card cites the state it was proposed on and verify can
   re-read it;
3. then the card, or one clarifying question naming the two or three closest tools with
   their arguments, or the required arguments still missing, by name.

Some requests are refused in words, never carded from chat: a forced call (it bypasses the
tool's own safety check), a value the tool says takes a service out of service ("0 stops
it"), and a change the facts say is unsafe now (``failover_safe: false``).

Only the person's own words are parsed (the request, and their previous turn when the
copilot asked them for a missing value); runbooks, logs, alerts and tool output only ever
fill in names and numbers the person's words point at.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from copilot.knowledge.playbooks import (
    entity_candidates,
)
from copilot.model.context import Citation, PlannerContext
from copilot.model.offline.answers import Plan, PlannedCall, call_text
from copilot.model.offline.card_notes import (
    already,
    cost_note,
    facts_about,
    runbook_note,
    runbook_step,
    state_lines,
    unsafe_now,
)
from copilot.model.offline.catalogue import (
    ENTITY_PARAMS,
    Entry,
    Filled,
    Known,
    describe_params,
    entries,
    fill,
    masked,
    read_score,
    says_alias,
    word_in,
)
from copilot.model.offline.direct_reads import investigate, listing_reads, read_answer, rows
from copilot.model.offline.phrases import Request, read_request, stem
from copilot.model.offline.playbook import Tools, incident_entities

# Requests about what to do in an incident, or about runbooks: the runbook's playbook
# answers these, not a single tool.
_INCIDENT = re.compile(
    r"\bwhat\s+(?:do|should|can|shall|must)\s+(?:we|i)\b|\bwhat\s+now\b|\bwhat\s+next\b|"
    r"\b(?:fix|mitigat\w*|remediat\w*|resolve|handle|deal\s+with)\b|"
    r"\b(?:runbooks?|playbooks?|diagnos\w*|steps?)\b",
    re.I,
)
# What the copilot says when it asks for a missing value or which tool: the next message
# may answer it.
ASK_MARK = "I need "
CLARIFY_MARK = "which one do you mean?"
_STATUS = stem("status")
MAX_CLARIFY = 3


def direct_plan(ctx: PlannerContext, tools: Tools) -> Plan | None:
    """The plan for a direct request, or None when the request is not one."""
    catalogue = entries(tools.descriptions, tools.parameters, tools.risks, tools.aliases)
    req = read_request(ctx.request)
    changes = _change_candidates(catalogue, req)
    earlier = _asked_for(ctx)
    chose = any(word_in(ctx.request, e.name) for e in catalogue)
    if earlier and (not changes or chose):
        # "5" after "how many replicas?"; "use X" after "which one do you mean?"
        req = read_request(f"{earlier} {ctx.request}")
        answer = read_request(ctx.request)
        if answer.number is not None:  # the value asked for is the answer's ("8")
            req.number, req.count, req.count_unit = answer.number, answer.count, answer.count_unit
            req.relative = answer.relative
        changes = _change_candidates(catalogue, req)
    known = known_names(ctx)
    if changes:
        return _change(ctx, req, changes, catalogue, known)
    if _INCIDENT.search(ctx.request):
        return None
    if req.why:
        return investigate(ctx, req, catalogue, known)
    if req.question:
        reads = [e for e in catalogue if e.read and read_score(e, req) >= 3]
        if reads:
            return read_answer(ctx, req, reads, catalogue, known)
    return None


def _change_candidates(catalogue: list[Entry], req: Request) -> list[Entry]:
    """The changes whose verb the request uses as a request does ("restart payments", "can
    you roll it back?"); none for a symptom ("pods keep restarting") or a question."""
    if not req.asks:
        return []
    named = [e for e in catalogue if not e.read and word_in(req.text, e.name)]
    if named:  # "use alertmanager.create_silence": the person chose
        return named
    return [
        e
        for e in catalogue
        if not e.read and ((e.verb and e.verb in req.verbs) or says_alias(e, req.text))
    ]


def _asked_for(ctx: PlannerContext) -> str | None:
    """The person's previous message, when the copilot's last reply asked them for a value."""
    turns = list(ctx.history)
    if len(turns) < 2 or turns[-1].role != "assistant":
        return None
    if ASK_MARK not in turns[-1].text and CLARIFY_MARK not in turns[-1].text:
        return None
    return turns[-2].text if turns[-2].role == "user" else None


def known_names(ctx: PlannerContext) -> Known:
    """Names the person's words may point at: entities (from the request and their earlier
    turns, matched against what the facts and runbooks know), alert names, the keys of the
    facts' dict fields (flags, config) and the facts' ``name`` values (secrets)."""
    services = [s for r in ctx.runbooks for s in r.services]
    known = Known(entities=incident_entities(ctx, services), requester=ctx.requester)
    alerts = {a for r in ctx.runbooks for a in r.alerts}
    for fact in ctx.facts:
        if not fact.ok:
            continue
        for row in rows(fact.data):
            for key in ("alertname", "name"):
                value = row.get(key)
                if not isinstance(value, str):
                    continue
                if key == "alertname" or "alert" in fact.tool:
                    alerts.add(value)
                else:
                    known.named.setdefault(key, set()).add(value)
        _collect_keys(fact.data, known.keyed)
        _collect_tags(fact, known)
    known.alerts = sorted(alerts)
    return known


def _collect_tags(fact: Any, known: Known) -> None:
    """Release tags of the named service's deployments ("checkout:1.8.5" → revision 42)."""
    service = known.entities.get("service")
    if not service or fact.arguments.get("service") != service:
        return
    for row in rows(fact.data):
        image, revision = row.get("image"), row.get("revision")
        if isinstance(image, str) and ":" in image and isinstance(revision, int):
            known.tags[image.rsplit(":", 1)[1].lstrip("v")] = revision


def _collect_keys(data: Any, out: dict[str, set[str]]) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
                flat = all(not isinstance(v, dict | list) for v in value.values())
                if flat:
                    out.setdefault(str(key), set()).update(value)
            _collect_keys(value, out)
    elif isinstance(data, list):
        for item in data[:200]:
            _collect_keys(item, out)


# -- changes --------------------------------------------------------------------------------
def _done(ctx: PlannerContext, tool: str, args: dict[str, Any]) -> bool:
    return any(
        f.tool == tool and all(f.arguments.get(k) == v for k, v in args.items()) for f in ctx.facts
    )


def _entity_kinds(entry: Entry) -> set[str]:
    return {p for p in entry.required if p in ENTITY_PARAMS}


def _change(
    ctx: PlannerContext, req: Request, changes: list[Entry], catalogue: list[Entry], known: Known
) -> Plan:
    filled = {e.name: fill(e, req, known) for e in changes}
    unresolved = {k for e in changes for k in _entity_kinds(e) if k in filled[e.name].missing}
    lookups = listing_reads(ctx, catalogue, {ENTITY_PARAMS[k][-1] for k in unresolved})
    if lookups:
        calls = [_read_call(ctx, e, {}, "lists the names this request needs") for e in lookups]
        names = ", ".join(call_text(c.tool, c.arguments) for c in calls)
        return Plan(f"Looking up what I can act on first: reading {names}.", calls)
    complete = [e for e in changes if not filled[e.name].missing]
    named_pack = [e for e in complete if e.pack in req.stem_set]
    if len(named_pack) == 1 or len(complete) == 1:
        chosen = (named_pack or complete)[0]
        return _propose(ctx, req, chosen, filled[chosen.name], catalogue)
    if len(complete) > 1:
        return _clarify(req, complete, filled)
    fewest = min(len(f.missing) for f in filled.values())
    closest = [e for e in changes if len(filled[e.name].missing) == fewest]
    if len(closest) == 1:
        # a name the state of the target gives (its flags, its config keys): read it first
        reads = _related_reads(ctx, closest[0], filled[closest[0].name].arguments, catalogue)
        if reads and ctx.round < ctx.max_rounds:
            names = ", ".join(call_text(c.tool, c.arguments) for c in reads)
            return Plan(f"Reading {names} first.", reads)
        return _ask_missing(ctx, closest[0], filled[closest[0].name], req)
    return _clarify(req, closest, filled)


def _read_call(ctx: PlannerContext, entry: Entry, args: dict[str, Any], why: str) -> PlannedCall:
    return PlannedCall(entry.name, args, Citation(call=1, tool=entry.name, why=why))


def _clarify(req: Request, options: list[Entry], filled: dict[str, Filled]) -> Plan:
    lines = []
    for i, e in enumerate(options[:MAX_CLARIFY], 1):
        f = filled[e.name]
        shown = call_text(e.name, masked(f.arguments))
        need = f" — still needs {describe_params(e, f.missing)}" if f.missing else ""
        lines.append(f"{i}. {shown}: {e.description}{need}")
    return Plan(
        f"More than one tool could do that; {CLARIFY_MARK} Say it with the tool's "
        "name (e.g. “use " + options[0].name + "”):\n" + "\n".join(lines)
    )


def _ask_missing(ctx: PlannerContext, entry: Entry, filled: Filled, req: Request) -> Plan:
    so_far = call_text(entry.name, masked(filled.arguments))
    text = f"To propose {so_far} {ASK_MARK}{describe_params(entry, filled.missing)}."
    known = entity_candidates(ctx.facts)
    for param in filled.missing:
        names = next((known[k] for k in ENTITY_PARAMS.get(param, ()) if known.get(k)), [])
        if not names:
            continue
        typed = [w for w in re.findall(r"[\w.-]+", req.text) if len(w) > 2]
        close = {m for w in typed for m in difflib.get_close_matches(w, names, n=1, cutoff=0.75)}
        if close:
            text += f" Did you mean {' or '.join(sorted(close))}?"
        text += f" Known {param}s: {', '.join(names[:12])}."
    if req.version_tag and any("revision" in p for p in filled.missing):
        text += (
            f" No deployment read shows a release tagged {req.version_tag}; name the revision"
            " (“revision 41”)."
        )
    if req.relative:
        text += " I set a count, not a change by some: say how many in all."
    return Plan(text + " What should it be? Tell me and I will propose it.")


def _related_reads(
    ctx: PlannerContext, entry: Entry, args: dict[str, Any], catalogue: list[Entry]
) -> list[PlannedCall]:
    """Reads of the state a change acts on, not yet done with these arguments: those named
    like it (``rollback_deployment`` → ``list_deployments``, ``create_silence`` →
    ``silences``) and the status read of what it names (``service_status(service=...)``),
    so the card cites the state it was proposed on and verify can re-read its health."""
    stems = entry.name_stems | {entry.verb}
    named = {p for p in args if p in ENTITY_PARAMS}
    related = [e for e in catalogue if e.read and e.pack == entry.pack and e.name_stems & stems]
    related += [
        e
        for e in catalogue
        if e.read and e.pack == entry.pack and named & set(e.params) and _STATUS in e.name_stems
    ]
    out: list[PlannedCall] = []
    for e in {e.name: e for e in related}.values():
        call_args = {p: args[p] for p in e.params if p in args and p in ENTITY_PARAMS}
        if any(p not in call_args for p in e.required) or (named and not call_args):
            continue
        if _done(ctx, e.name, call_args):
            continue
        out.append(_read_call(ctx, e, call_args, f"the state {entry.name} would change"))
    return out[:3]


def _several_targets(ctx: PlannerContext, req: Request, args: dict[str, Any]) -> list[str]:
    """Names of the kind the change acts on that the request lists together with its target
    ("roll back payments and checkout", "scale checkout to 5 and payments to 0"). A name
    said otherwise ("restart payments, orders is failing") is no second target."""
    known = entity_candidates(ctx.facts, {"service": [s for r in ctx.runbooks for s in r.services]})
    for param, target in args.items():
        if not isinstance(target, str):
            continue
        for kind in ENTITY_PARAMS.get(param, ()):
            others = [n for n in known.get(kind, []) if n != target and target not in n]
            listed = [n for n in others if _listed_with(req.text, target, n)]
            if listed:
                return [target, *listed]
    return []


# "X and Y", "X, Y and Z", "X & Y", "X to 5 and Y to 0" — Y not followed by a verb that
# makes it the subject of another clause ("and payments is fine")
_JOIN = r"(?:\s+to\s+\S+(?:\s+\w+)?)?\s*(?:,\s*(?:and\s+)?|\s+and\s+|\s*&\s*|\s+plus\s+)(?:the\s+)?"
_CLAUSE = r"(?!\s+(?:is|are|was|were|has|have|shows?|looks?|seems?|keeps?|its|it)\b)"


def _listed_with(text: str, a: str, b: str) -> bool:
    x, y = re.escape(a), re.escape(b)
    edge, end = r"(?<![\w.-])", r"(?![\w-])"
    return bool(
        re.search(rf"{edge}{x}{end}{_JOIN}{y}{end}{_CLAUSE}", text, re.I)
        or re.search(rf"{edge}{y}{end}{_JOIN}{x}{end}{_CLAUSE}", text, re.I)
    )


def _propose(
    ctx: PlannerContext, req: Request, entry: Entry, filled: Filled, catalogue: list[Entry]
) -> Plan:
    label = call_text(entry.name, masked(filled.arguments))
    if filled.bounds:
        return Plan(
            f"{entry.name}: {'; '.join(filled.bounds)}. Nothing was proposed; ask again "
            "with a value in range."
        )
    several = _several_targets(ctx, req, filled.arguments)
    if several:
        return Plan(
            f"You named {' and '.join(several)}; a card changes one, so nothing was proposed "
            "(one of them would have been dropped). Ask for each on its own."
        )
    if filled.force:
        return Plan(
            f"You asked for {entry.name} with {', '.join(filled.force)}: that bypasses the "
            "tool's own safety check, so I do not propose it from chat. Nothing was proposed. "
            f"If it must be done, an allowed person can propose it with `copilot call "
            f"{entry.name}` and it still needs its approvals."
        )
    if filled.stops:
        return Plan(
            f"{label}: {filled.stops}, so I do not propose it from chat. Nothing was proposed. "
            f"If you mean it, propose it with `copilot call {entry.name}`; it still needs "
            "its approvals."
        )
    reads = _related_reads(ctx, entry, filled.arguments, catalogue)
    if reads and ctx.round < ctx.max_rounds:
        names = ", ".join(call_text(c.tool, c.arguments) for c in reads)
        return Plan(f"Before proposing {label}, reading {names}.", reads)
    same = already(ctx, filled.arguments)
    if same:
        return Plan(f"Not proposing {label}: {same}. Nothing to change.")
    unsafe = unsafe_now(ctx, entry)
    if unsafe:
        return Plan(
            f"I am not proposing {label}: {unsafe}. Nothing was proposed; a person should decide."
        )
    earlier = next(
        (
            a
            for a in ctx.actions
            if a.tool == entry.name
            and a.state in ("proposed", "approved", "executing", "unknown")
            and all(a.arguments.get(k) == v for k, v in filled.arguments.items())
        ),
        None,
    )
    if earlier is not None:
        return Plan(f"{label} is already proposed ({earlier.approval_id}, {earlier.state}).")
    facts = facts_about(ctx, filled.arguments)
    runbook = runbook_step(ctx, entry, filled.arguments)
    why = f"asked by {ctx.requester}"
    citation = Citation(call=1, tool=entry.name, runbook=runbook, facts=facts, why=why, asked=True)
    text = [f"Proposing {label}, as {ctx.requester} asked."]
    text += state_lines(ctx, filled.arguments, facts)
    for note in (
        cost_note(ctx, entry, filled.arguments),
        runbook_note(ctx, entry, filled.arguments, runbook, catalogue),
    ):
        if note:
            text.append(note)
    return Plan("\n".join(text), [PlannedCall(entry.name, filled.arguments, citation)])
