"""The offline planner's words: answers to questions, honest abstention, fact summaries.

Everything here is read from a :class:`PlannerContext` parsed back out of the messages
(never from anything a hosted model would not see) and cites the fact ids it used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from copilot.domain.views import FactView, RunbookView
from copilot.knowledge.playbooks import Record, entity_candidates, fact_records
from copilot.model.context import Citation, PlannerContext

# The fields worth showing a person, in the order they read best; other records fall back
# to their first few scalar fields.
KEY_FIELDS = (
    "health",
    "state",
    "status",
    "revision",
    "current_revision",
    "previous_revision",
    "deployed_minutes_ago",
    "ready_replicas",
    "replicas",
    "error_rate",
    "p99_ms",
    "memory_pct",
    "restarts",
    "cost_per_hour",
    "days_left",
    "running_hours",
    "workers",
    "replication_lag_s",
    "replay",
    "blocking_query",
    "last_renewal_error",
    "last_status",
)
MAX_FIELDS = 9


@dataclass
class PlannedCall:
    tool: str
    arguments: dict[str, Any]
    citation: Citation


@dataclass
class Plan:
    """What the planner says (text) and proposes (calls, each with its citation)."""

    text: str
    calls: list[PlannedCall] = field(default_factory=list)


# -- reading facts --------------------------------------------------------------------------
def show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str) and len(value) > 80:
        return value[:77] + "..."
    return str(value)


def said_whole(error: str) -> str:
    """The door's own words, whole: "a silence lasts ..." told the person nothing."""
    return error if len(error) <= 400 else error[:397] + "..."


def call_text(tool: str, arguments: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={show(v)}" for k, v in arguments.items())
    return f"{tool}({args})"


def record_summary(rec: Record) -> str:
    values = rec.values
    keys = [k for k in KEY_FIELDS if values.get(k) is not None]
    if not keys:
        keys = [
            k
            for k, v in values.items()
            if k not in rec.identity and isinstance(v, int | float | str) and not _is_time(v)
        ]
    parts = [f"{k} {show(values[k])}" for k in keys[:MAX_FIELDS]]
    name = "/".join(rec.identity.values()) if rec.identity else ""
    body = ", ".join(parts) or "no values"
    return f"{name}: {body}" if name else body


def _is_time(value: Any) -> bool:
    return isinstance(value, str) and bool(re.match(r"^\d{4}-\d\d-\d\dT", value))


def fact_lines(ctx: PlannerContext, limit: int = 12) -> list[str]:
    """One line per fact (its records summarised, or its error), with its id."""
    records = fact_records(ctx.facts, ctx.now)
    lines = []
    for fact in ctx.facts[:limit]:
        head = f"[{fact.id}] {call_text(fact.tool, fact.arguments)}"
        if not fact.ok:
            lines.append(f"{head} failed: {fact.error or 'no result'}")
            continue
        mine = [r for r in records if r.fact_id == fact.id]
        listed = [r for r in mine if not r.top] or mine
        shown = "; ".join(record_summary(r) for r in listed[:4])
        more = f" (+{len(listed) - 4} more)" if len(listed) > 4 else ""
        lines.append(f"{head}: {shown}{more}" if shown else head)
    if len(ctx.facts) > limit:
        lines.append(f"... and {len(ctx.facts) - limit} more facts")
    return lines


def notable(ctx: PlannerContext) -> list[str]:
    """Signals in the facts a person should look at, each with the fact it came from."""
    out: list[str] = []
    for rec in fact_records(ctx.facts, ctx.now):
        v = rec.values
        name = "/".join(rec.identity.values()) or rec.tool
        signs = []
        if v.get("health") in ("degraded", "down"):
            signs.append(f"health {v['health']}")
        if _num(v.get("error_rate")) >= 0.05:
            signs.append(f"error_rate {show(v['error_rate'])}")
        if _num(v.get("replicas")) > _num(v.get("ready_replicas"), _num(v.get("replicas"))):
            signs.append(f"{v['ready_replicas']}/{v['replicas']} replicas ready")
        if _num(v.get("restarts")) > 0:
            signs.append(f"restarts {v['restarts']}")
        if _num(v.get("memory_pct")) >= 90:
            signs.append(f"memory at {show(v['memory_pct'])}% of its limit")
        if 0 <= _num(v.get("days_left"), 99) < 14:
            signs.append(f"certificate expires in {show(v['days_left'])} days")
        typical = _num(v.get("typical_duration_min"))
        if v.get("state") == "running" and typical and _num(v.get("running_minutes")) > 2 * typical:
            signs.append(f"running {show(v['running_minutes'])} min (usually {typical:g})")
        if _num(v.get("replication_lag_s")) > 30:
            signs.append(f"replication lag {show(v['replication_lag_s'])} s")
        if v.get("replay") not in (None, "streaming"):
            signs.append(f"replay {v['replay']}")
        if v.get("blocking_query"):
            signs.append(f"blocked by {show(v['blocking_query'])}")
        if v.get("last_status") == "failed":
            signs.append("last run failed")
        if signs:
            out.append(f"{name}: {', '.join(signs)} [{rec.fact_id}]")
    for fact in ctx.facts:
        if not fact.ok:
            out.append(f"{fact.tool} could not be read: {fact.error or 'no result'} [{fact.id}]")
        out.extend(_firing(fact))
    return list(dict.fromkeys(out))


def _firing(fact: FactView) -> list[str]:
    """A firing alert is itself a signal: never say "nothing looks abnormal" over one. Only
    its name and labels are shown; its free-text annotations stay in the fact."""
    data = fact.data if fact.ok and isinstance(fact.data, dict) else {}
    out = []
    for alert in data.get("alerts") or []:
        if isinstance(alert, dict) and str(alert.get("state")) in ("firing", "active"):
            raw = alert.get("labels")
            labels: dict[str, Any] = raw if isinstance(raw, dict) else {}
            about = ", ".join(
                f"{k}={labels[k]}" for k in ("service", "job", "namespace") if labels.get(k)
            )
            where = f" ({about})" if about else ""
            out.append(f"alert {alert.get('name', '?')} firing{where} [{fact.id}]")
    return out


def _num(value: Any, default: float = 0.0) -> float:
    if isinstance(value, bool):
        return default
    return float(value) if isinstance(value, int | float) else default


# -- questions ------------------------------------------------------------------------------
def entity_status(ctx: PlannerContext, kind: str, name: str) -> tuple[list[str], list[str]]:
    """What the facts say about one entity: summary lines and the fact ids used."""
    lines, used = [], []
    for rec in fact_records(ctx.facts, ctx.now):
        if rec.identity.get(kind, "").lower() != name.lower():
            continue
        lines.append(f"{record_summary(rec)} [{rec.fact_id}]")
        used.append(rec.fact_id)
    return list(dict.fromkeys(lines)), list(dict.fromkeys(used))


def answer_status(ctx: PlannerContext, entities: dict[str, str]) -> Plan:
    """The status of what the question names (or of everything unwell), from the facts."""
    targets = [(k, v) for k, v in entities.items() if k != "revision"]
    if not targets:
        signals = notable(ctx)
        if signals:
            return Plan("From the facts gathered, these need attention:\n- " + _join(signals))
        lines = fact_lines(ctx)
        if lines:
            return Plan("Nothing in the facts looks abnormal. Facts:\n- " + _join(lines))
        return Plan("I have no telemetry for this yet; name the service (or job, or domain).")
    parts = []
    for kind, name in targets:
        lines, _ = entity_status(ctx, kind, name)
        if lines:
            parts.append(f"{kind} {name}:\n- " + _join(lines))
        else:
            parts.append(f"{kind} {name}: no telemetry about it was gathered.{_known(ctx)}")
    return Plan("\n".join(parts))


def _known(ctx: PlannerContext) -> str:
    """The names the reads did find, so a typo or a wrong kind is seen at once."""
    found = entity_candidates(ctx.facts)
    shown = [f"{kind}s {', '.join(names[:8])}" for kind, names in sorted(found.items()) if names]
    return f" The reads know {'; '.join(shown)}." if shown else ""


def answer_runbooks(ctx: PlannerContext) -> Plan:
    """Which runbook applies, with its playbook, from the retrieved runbooks."""
    if ctx.no_runbook or not ctx.runbooks:
        reason = f" ({ctx.no_runbook_reason})" if ctx.no_runbook_reason else ""
        nearest = _titles(ctx.runbooks)
        tail = f" Nearest, not a match: {nearest}." if nearest else ""
        return Plan(f"No runbook covers this request{reason}.{tail}")
    best = ctx.runbooks[0]
    text = [f"The best match is “{best.title}” [{best.chunk_id}]" + _alerts(best) + "."]
    book = next((r for r in ctx.runbooks if r.source == best.source and r.playbook), None)
    if book:
        text.append("Its playbook:")
        for i, step in enumerate(book.playbook, 1):
            cond = f" when {step.when}" if step.when else ""
            what = f" — {step.description}" if step.description else ""
            text.append(f"{i}. {call_text(step.tool, step.args)}{cond}{what}")
    else:
        text.append("It has no executable playbook: read it and act by hand.")
    others = _titles([r for r in ctx.runbooks if r.source != best.source])
    if others:
        text.append(f"Also retrieved: {others}.")
    return Plan("\n".join(text))


def _alerts(book: RunbookView) -> str:
    return f" (alerts: {', '.join(book.alerts)})" if book.alerts else ""


def _titles(books: list[RunbookView]) -> str:
    seen = dict.fromkeys(f"“{b.title}” [{b.chunk_id}]" for b in books)
    return ", ".join(list(seen)[:3])


def _join(lines: list[str]) -> str:
    return "\n- ".join(lines)


# -- abstention -----------------------------------------------------------------------------
def abstain(ctx: PlannerContext, why: str) -> Plan:
    """No runbook covers it: say so, what was gathered, and what a person should look at."""
    text = [f"{why} I am not proposing any action: a person should decide."]
    lines = fact_lines(ctx)
    if lines:
        text.append("What I gathered:\n- " + _join(lines))
    signals = notable(ctx)
    if signals:
        text.append("Worth a look:\n- " + _join(signals))
    elif lines:
        text.append("Nothing in the gathered telemetry looks abnormal.")
    else:
        text.append("No telemetry was gathered; start with the service's metrics and logs.")
    nearest = _titles(ctx.runbooks)
    if nearest:
        text.append(f"Nearest runbooks (not a match; for reference only): {nearest}.")
    return Plan("\n".join(text))


def failed_facts(facts: list[FactView]) -> list[str]:
    return [f"[{f.id}] {f.tool} failed: {f.error or 'no result'}" for f in facts if not f.ok]
