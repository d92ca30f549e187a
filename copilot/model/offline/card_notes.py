"""What a direct request's card says beside the call: the facts it cites (the reads about
what it changes), the state it was proposed on, what the change costs, a fact that makes
it unsafe now, and the matching runbook's own remedy when the person asked for another."""

from __future__ import annotations

import re
from typing import Any

from copilot.knowledge.playbooks import check_when, collect_variables, fact_records
from copilot.model.context import PlannerContext
from copilot.model.offline.answers import record_summary, show
from copilot.model.offline.catalogue import ENTITY_PARAMS, Entry

_SAFE_FIELD = re.compile(r"^(\w+?)_?safe$")


def runbook_step(ctx: PlannerContext, entry: Entry, args: dict[str, Any]) -> str | None:
    """The retrieved runbook chunk whose playbook has this call as a step whose condition
    holds on the facts: the card may cite it. A step whose condition does not hold is not
    why the person asked; the card then cites only the request."""
    if ctx.no_runbook:
        return None
    named = {k: str(v) for k, v in args.items() if k in ENTITY_PARAMS and isinstance(v, str)}
    values = collect_variables(ctx.facts, ctx.now, named).values
    for rb in ctx.runbooks:
        for step in rb.playbook:
            if step.tool == entry.name and (not step.when or check_when(step.when, values).holds):
                return rb.chunk_id
    return None


def runbook_note(
    ctx: PlannerContext,
    entry: Entry,
    args: dict[str, Any],
    cited: str | None,
    catalogue: list[Entry],
) -> str | None:
    """When the runbook that matches the conversation's trouble remedies it another way
    ("restart checkout" while the orders cascade runbook cancels the blocking query), say
    so beside the card: the person may be treating the loudest symptom."""
    if cited or ctx.no_runbook or not ctx.runbooks:
        return None
    best = ctx.runbooks[0]
    book = next((r for r in ctx.runbooks if r.source == best.source and r.playbook), None)
    if book is None:
        return None
    reads = {e.name for e in catalogue if e.read}
    # A remedy whose condition the facts refute is not this trouble's: "restart the payments
    # pods" on a healthy service matched the crash-loop runbook by its words, and its
    # rollback (when restarts > 3) is no advice there. Unknown still counts: the cause may
    # sit elsewhere (the orders database behind a slow checkout).
    named = {k: str(v) for k, v in args.items() if k in ENTITY_PARAMS and isinstance(v, str)}
    values = collect_variables(ctx.facts, ctx.now, named).values
    others = [
        s.tool
        for s in book.playbook
        if s.tool not in reads
        and s.tool != entry.name
        and check_when(s.when, values).holds is not False
    ]
    if not others:
        return None
    return (
        f"Note: the runbook that matches, “{best.title}” [{best.chunk_id}], remedies this "
        f"with {others[0]} instead; ask what to do and I will follow it."
    )


def facts_about(ctx: PlannerContext, args: dict[str, Any]) -> list[str]:
    """The reads made about what the change names (its status, its history): what the card
    cites and verify re-reads. A listing of every service is not about one of them."""
    named = {k: v for k, v in args.items() if k in ENTITY_PARAMS and isinstance(v, str)}
    direct = [
        f.id
        for f in ctx.facts
        if f.ok and named and all(f.arguments.get(k) == v for k, v in named.items())
    ]
    if direct:
        return direct
    ids = []
    for rec in fact_records(ctx.facts, ctx.now):
        about = all(rec.identity.get(k) == v for k, v in named.items())
        if (named and about) or (not named and rec.top):
            ids.append(rec.fact_id)
    return list(dict.fromkeys(ids))


def state_lines(ctx: PlannerContext, args: dict[str, Any], facts: list[str]) -> list[str]:
    named = {k: v for k, v in args.items() if k in ENTITY_PARAMS and isinstance(v, str)}
    out = []
    for rec in fact_records(ctx.facts, ctx.now):
        if (
            rec.fact_id in facts
            and named
            and all(rec.identity.get(k) == v for k, v in named.items())
        ):
            summary = record_summary(rec)
            if not summary.endswith("no values"):  # a read of lists (log templates) says
                out.append(f"Now: {summary} [{rec.fact_id}]")  # nothing in one line
    return list(dict.fromkeys(out))[:2]


def already(ctx: PlannerContext, args: dict[str, Any]) -> str | None:
    """The facts say what the change would set is already so ("scale orders to 3" while
    it runs 3): a card would change nothing."""
    named = {k: v for k, v in args.items() if k in ENTITY_PARAMS and isinstance(v, str)}
    # counts only: a flag's ``enabled`` in a listing may be another flag's
    wanted = {
        k: v
        for k, v in args.items()
        if k not in named and isinstance(v, int) and not isinstance(v, bool)
    }
    if not named or not wanted:
        return None
    for rec in reversed(fact_records(ctx.facts, ctx.now)):  # the newest read decides
        if not all(rec.identity.get(k) == v for k, v in named.items()):
            continue
        if not all(k in rec.values for k in wanted):
            continue
        if all(rec.values[k] == v for k, v in wanted.items()):
            said = ", ".join(f"{k} is already {show(v)}" for k, v in wanted.items())
            return f"{', '.join(named.values())}: {said} [{rec.fact_id}]"
        return None
    return None


def unsafe_now(ctx: PlannerContext, entry: Entry) -> str | None:
    """A fact saying the change is unsafe now: a ``<verb>_safe: false`` field."""
    for rec in fact_records(ctx.facts, ctx.now):
        for key, value in rec.values.items():
            m = _SAFE_FIELD.match(key)
            if value is False and m and entry.verb and entry.verb.startswith(m.group(1)[:5]):
                detail = [
                    f"{k} {show(v)}"
                    for k, v in rec.values.items()
                    if k in ("replication_lag_s", "replay", "blocking_query") and v is not None
                ]
                more = f" ({', '.join(detail)})" if detail else ""
                return f"the facts say {key} is false{more} [{rec.fact_id}]"
    return None


def cost_note(ctx: PlannerContext, entry: Entry, args: dict[str, Any]) -> str | None:
    """Scaling a service: what the new replica count costs, from its current cost."""
    target = next((v for k, v in args.items() if k in ("replicas", "count")), None)
    service = args.get("service") or args.get("deployment")
    if not isinstance(target, int) or not service:
        return None
    for rec in fact_records(ctx.facts, ctx.now):
        v = rec.values
        if rec.identity.get("service") != service:
            continue
        cost, now = v.get("cost_per_hour"), v.get("replicas")
        if isinstance(cost, int | float) and isinstance(now, int) and now > 0:
            new = cost / now * target
            change = "more" if target > now else "less"
            return (
                f"Cost: {service} runs {now} replicas at {cost:g}/h; {target} would cost about "
                f"{new:.2f}/h ({abs(new - cost):.2f}/h {change}) [{rec.fact_id}]."
            )
    return None
