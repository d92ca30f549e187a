"""The offline planner follows the best runbook's playbook, one round at a time.

A round: the playbook's read steps not yet done (no fact with the same tool and arguments)
become read calls; once they are all done, the first write step whose ``when`` holds on the
facts is proposed (one change at a time), unless it was proposed before. A condition that
does not hold is said in words; one that needs a value no fact gives first asks for the
read that would give it. Only tools in the request's ``tools`` are ever called.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from copilot.domain import Risk
from copilot.domain.views import ActionView, RunbookView, StepView
from copilot.knowledge.playbooks import (
    READS_FOR,
    Variables,
    check_when,
    collect_variables,
    entities_from_text,
    entity_candidates,
    fill_args,
    template_names,
)
from copilot.model.context import Citation, PlannerContext
from copilot.model.offline.answers import (
    Plan,
    PlannedCall,
    call_text,
    failed_facts,
    notable,
    said_whole,
)


@dataclass
class Tools:
    """The tools the request offers: names, descriptions, parameters and declared risks."""

    descriptions: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    risks: dict[str, Risk] = field(default_factory=dict)
    aliases: dict[str, list[str]] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.descriptions

    def is_read(self, name: str) -> bool:
        """Only a tool declared read-only is a read: one not offered, or offered without
        its risk, is planned as a change (a card), never run as a read."""
        return self.risks.get(name) is Risk.READ


def best_runbook(ctx: PlannerContext) -> RunbookView | None:
    """The best-ranked runbook's chunk when that runbook has a playbook. A lower-ranked
    runbook is never followed because it has one: the best match is the answer."""
    best = ctx.runbooks[0] if ctx.runbooks else None
    if best is None:
        return None
    return next((r for r in ctx.runbooks if r.source == best.source and r.playbook), None)


_DIAGNOSIS = re.compile(r"diagnos|investigat|triage|troubleshoot|check|steps", re.I)
_STEP_LINE = re.compile(r"^\s*(?:[-*+]|\d+[.)]|\$)\s+\S")


def by_hand(ctx: PlannerContext, best: RunbookView) -> Plan:
    """The best match has no executable playbook: say so, and show its steps to a person
    (from its diagnosis section when the agent fetched it, else from the matching chunk)."""
    steps_of = next(
        (r for r in ctx.runbooks[1:] if r.source == best.source and _DIAGNOSIS.search(r.heading)),
        best,
    )
    text = [
        f"The best match is “{best.title}” [{best.chunk_id}]. It has no executable playbook, "
        "so I am not proposing any action: follow it by hand."
    ]
    lines = steps_of.text.splitlines()
    steps = [ln.strip() for ln in lines if _STEP_LINE.match(ln)]
    body = steps or [ln.strip() for ln in lines if ln.strip()][:6]
    if body:
        label = f"Its steps ({steps_of.heading})" if steps else f"From “{steps_of.heading}”"
        text.append(f"{label} [{steps_of.chunk_id}]:\n" + "\n".join(body[:12]))
    signals = notable(ctx)
    if signals:
        text.append("Worth a look:\n- " + "\n- ".join(signals))
    return Plan("\n".join(text))


def incident_entities(ctx: PlannerContext, services: list[str]) -> dict[str, str]:
    """Entities the request names; kinds it leaves out are taken from earlier user turns."""
    extra = {"service": [*services, *(s for r in ctx.runbooks for s in r.services)]}
    candidates = entity_candidates(ctx.facts, extra)
    found = entities_from_text(ctx.request, candidates)
    for turn in reversed(ctx.history):
        if turn.role == "user":
            for kind, value in entities_from_text(turn.text, candidates).items():
                found.setdefault(kind, value)
    return found


def _same(tool: str, arguments: dict[str, Any], other_tool: str, other: dict[str, Any]) -> bool:
    return tool == other_tool and all(other.get(k) == v for k, v in arguments.items())


def _chunk_for(ctx: PlannerContext, book: RunbookView, tool: str) -> str:
    """The chunk of ``book`` that mentions ``tool`` (Diagnosis, Mitigation ...), else the
    best-ranked chunk of that runbook."""
    mine = [r for r in ctx.runbooks if r.source == book.source]
    short = tool.rsplit(".", 1)[-1]
    hit = next((r for r in mine if tool in r.text or short in r.text), None)
    return (hit or book).chunk_id


@dataclass
class _Round:
    ctx: PlannerContext
    book: RunbookView
    tools: Tools
    variables: Variables
    values: dict[str, Any]
    reads: list[PlannedCall] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    read_facts: list[str] = field(default_factory=list)

    def done(self, tool: str, args: dict[str, Any]) -> bool:
        return any(_same(tool, args, f.tool, f.arguments) for f in self.ctx.facts)

    def action(self, tool: str, args: dict[str, Any]) -> ActionView | None:
        """The same call proposed earlier in the conversation that still stands in the way:
        waiting for approval, running, or of unknown outcome. One that ended (succeeded,
        failed, rejected, expired, withdrawn) never blocks a new card: when this turn's
        fresh facts meet the step's condition again, the fault came back."""
        return next(
            (
                a
                for a in self.ctx.actions
                if a.state in _OPEN and _same(tool, args, a.tool, a.arguments)
            ),
            None,
        )

    def ended(self, tool: str, args: dict[str, Any]) -> ActionView | None:
        """The latest card for the same call that ran or was turned down (said, not
        blocking). One that lapsed unused (expired, withdrawn) counts as never proposed."""
        same = [
            a
            for a in self.ctx.actions
            if a.state not in _LAPSED and _same(tool, args, a.tool, a.arguments)
        ]
        return same[-1] if same else None

    def cite(self, tool: str, step: int | None, names: set[str], why: str) -> Citation:
        facts = self.variables.facts_for(names)
        return Citation(
            call=1,
            tool=tool,
            runbook=_chunk_for(self.ctx, self.book, tool),
            step=step,
            facts=facts,
            why=why,
        )


def follow_playbook(ctx: PlannerContext, book: RunbookView, tools: Tools) -> Plan:
    """The next calls of ``book``'s playbook for this request, or why there are none."""
    entities = incident_entities(ctx, book.services)
    variables = collect_variables(ctx.facts, ctx.now, entities)
    values = dict(variables.values)
    if "service" not in values and len(book.services) == 1:
        values["service"] = book.services[0]
    r = _Round(ctx, book, tools, variables, values)
    writes: list[tuple[int, StepView, dict[str, Any] | None]] = []
    for i, step in enumerate(book.playbook, 1):
        args = fill_args(step, values)
        if not tools.is_read(step.tool):
            writes.append((i, step, args))
            continue
        if not tools.has(step.tool):
            r.notes.append(f"step {i} ({step.tool}) is not among the tools available to you")
            continue
        if args is None:
            need = sorted(n for n in template_names(step) if values.get(n) is None)
            r.notes.append(f"step {i} ({step.tool}) needs {', '.join(need)}: name it")
            continue
        if r.done(step.tool, args):
            r.read_facts += [f.id for f in ctx.facts if _same(step.tool, args, f.tool, f.arguments)]
            continue
        cond = check_when(step.when, values)
        if cond.holds is False:
            continue
        why = step.description or f"playbook step {i}"
        r.reads.append(
            PlannedCall(step.tool, args, r.cite(step.tool, i, template_names(step), why))
        )
    heading = f"Following runbook “{book.title}” [{book.chunk_id}]"
    subject = _subject(values)
    if r.reads:
        names = ", ".join(call_text(c.tool, c.arguments) for c in r.reads)
        return Plan(_text(f"{heading}{subject}: reading {names}.", r.notes), r.reads)
    return _writes(r, writes, heading + subject)


def _subject(values: dict[str, Any]) -> str:
    for kind in ("job", "domain", "database", "service"):
        if values.get(kind):
            return f" for {kind} {values[kind]}"
    return ""


# States of an earlier card for the same call that make the planner wait instead of
# proposing it again: one change at a time, and never on top of a run whose outcome is
# unknown (reconcile it first).
_OPEN = frozenset({"proposed", "approved", "executing", "unknown"})
_LAPSED = frozenset({"expired", "cancelled"})


def _writes(
    r: _Round, writes: list[tuple[int, StepView, dict[str, Any] | None]], head: str
) -> Plan:
    """The first write step to propose. Steps whose card ended earlier in the conversation
    (succeeded, failed, rejected) give way to the playbook's next remedy ("restart first;
    if it comes back, roll back"); when no other step is left, they are offered again, so
    a fault that comes back after a fix always gets a card when the facts call for one."""
    again: list[tuple[int, StepView, dict[str, Any]]] = []
    for i, step, args in writes:
        label = call_text(step.tool, args) if args is not None else step.tool
        if args is None:
            need = sorted(n for n in template_names(step) if r.values.get(n) is None)
            r.notes.append(f"step {i} ({step.tool}) needs {', '.join(need)}, which no fact gives")
            continue
        earlier = r.action(step.tool, args)
        if earlier is not None:
            r.notes.append(f"{label} was already proposed ({earlier.approval_id}, {earlier.state})")
            return _done(r, writes, head)  # one change at a time: wait for it (or reconcile)
        ended = r.ended(step.tool, args)
        if ended is not None:
            r.notes.append(f"{label} was already proposed ({ended.approval_id}, {ended.state})")
            again.append((i, step, args))
            continue
        plan = _propose_step(r, i, step, args, head)
        if plan is not None:
            return plan
    for i, step, args in again:
        plan = _propose_step(r, i, step, args, head, repeat=True)
        if plan is not None:
            return plan
    return _done(r, writes, head)


def _propose_step(
    r: _Round,
    i: int,
    step: StepView,
    args: dict[str, Any],
    head: str,
    *,
    repeat: bool = False,
) -> Plan | None:
    """The plan for write step ``i`` when its condition holds on the facts, else None
    (with a note saying why), or the reads its condition still needs."""
    label = call_text(step.tool, args)
    cond = check_when(step.when, r.values)
    if cond.holds is None:
        reads = _reads_for(r, cond.missing, i)
        if reads:
            names = ", ".join(call_text(c.tool, c.arguments) for c in reads)
            text = f"{head}: {cond.reason}; reading {names} first."
            return Plan(_text(text, r.notes), reads)
        r.notes.append(f"cannot decide on {label}: {cond.reason}, which no fact gives")
        return None
    if not cond.holds:
        if not repeat:
            r.notes.append(f"{cond.reason}: no {step.tool} proposed")
        return None
    if not r.tools.has(step.tool):
        because = f"{cond.reason}: " if step.when else ""
        r.notes.append(
            f"{because}step {i} is {label}, but that tool is not among the ones you may "
            "propose; ask someone whose role allows it"
        )
        return None
    why = f"{step.description}; {cond.reason}" if step.description else cond.reason
    citation = r.cite(step.tool, i, set(cond.used) | template_names(step), why)
    citation.facts = sorted({*citation.facts, *r.read_facts}, key=lambda f: (len(f), f))
    extra = _revision_note(step.tool, r.values)
    back = " again: the condition holds once more" if repeat else ""
    text = f"{head}: {cond.reason}. Proposing {label}{back}{extra}."
    return Plan(_text(text, r.notes), [PlannedCall(step.tool, args, citation)])


def _done(r: _Round, writes: list[tuple[int, StepView, dict[str, Any] | None]], head: str) -> Plan:
    """Nothing (more) to propose: what the reads showed, and why."""
    failures = failed_facts(r.ctx.facts)
    summary = "nothing more to propose from its playbook"
    if not writes:
        mitigation = next(
            (
                c.chunk_id
                for c in r.ctx.runbooks
                if c.source == r.book.source and "Mitigation" in c.heading
            ),
            r.book.chunk_id,
        )
        summary = f"its playbook only reads; the mitigation is for a person [{mitigation}]"
    read = set(r.read_facts)
    signals = [s for s in notable(r.ctx) if any(f"[{f}]" in s for f in read)]
    return Plan(_text(f"{head}: {summary}.", [*signals, *r.notes, *failures]))


def _reads_for(r: _Round, missing: tuple[str, ...], step: int) -> list[PlannedCall]:
    """The reads that would give the missing variables (available, fillable, not done)."""
    out: list[PlannedCall] = []
    for name in missing:
        source = READS_FOR.get(name)
        if source is None or not r.tools.has(source[0]):
            continue
        tool, template = source
        args = fill_args(StepView(tool=tool, args=template), r.values)
        if args is None or r.done(tool, args):
            continue
        if any(_same(tool, args, c.tool, c.arguments) for c in out):
            continue
        why = f"gives {name}, which step {step}'s condition needs"
        out.append(PlannedCall(tool, args, r.cite(tool, None, set(), why)))
    return out


def _revision_note(tool: str, values: dict[str, Any]) -> str:
    current, previous = values.get("current_revision"), values.get("previous_revision")
    if "rollback" in tool and current is not None and previous is not None:
        return f" (revision {current} → {previous})"
    return ""


def _text(head: str, notes: list[str]) -> str:
    if not notes:
        return head
    return head + "\n" + "\n".join(f"- {n}" for n in dict.fromkeys(notes))


# -- repair ---------------------------------------------------------------------------------
_FIELD = re.compile(r"^\s*:?\s*([A-Za-z_]\w*)(?:\.\w+)*\s*:")


def _complaints(error: str, calls: list[PlannedCall]) -> dict[str, set[str]]:
    """Which planned tools the error names, with the argument names it complains about
    (``invalid arguments for T: a: ...; b: ...; U: c: required``)."""
    spellings = sorted(
        {(name, c.tool) for c in calls for name in (c.tool, c.tool.replace(".", "__"))},
        key=lambda pair: -len(pair[0]),
    )
    found: dict[str, set[str]] = {}
    current: str | None = None
    for part in error.split(";"):
        hit = next(((n, t) for n, t in spellings if n in part), None)
        if hit is not None:
            current = hit[1]
            found.setdefault(current, set())
            part = part.split(hit[0], 1)[1]
        if current is not None and (m := _FIELD.match(part)):
            found[current].add(m.group(1))
    return found


def repair(plan: Plan, error: str, tools: Tools) -> Plan:
    """Fix what the rejection names: drop an optional argument it complains about, else
    drop the call it names; give up (no calls) when it names none of them."""
    complaints = _complaints(error, plan.calls)
    if not complaints:
        return Plan(
            f"My previous calls were rejected ({said_whole(error)}) and I cannot tell how to fix "
            "them: I propose nothing more this turn."
        )
    kept: list[PlannedCall] = []
    notes: list[str] = []
    for call in plan.calls:
        fields = complaints.get(call.tool)
        if fields is None:
            kept.append(call)
            continue
        required = set(tools.parameters.get(call.tool, {}).get("required", []))
        if fields and all(f in call.arguments and f not in required for f in fields):
            args = {k: v for k, v in call.arguments.items() if k not in fields}
            kept.append(PlannedCall(call.tool, args, call.citation))
            notes.append(f"dropped {', '.join(sorted(fields))} from {call.tool}")
        else:
            notes.append(f"dropped {call_text(call.tool, call.arguments)}")
    if not kept:
        return Plan(
            f"My previous calls were rejected ({said_whole(error)}); I cannot fix them, so I "
            "propose nothing more this turn."
        )
    return Plan(f"Repaired after a rejection: {'; '.join(notes)}.\n{plan.text}", kept)
