"""Direct questions, answered from reads the catalogue names: "what changed in the last
hour?", "show me the error logs for checkout", "why is payments slow?".

A round runs the reads the question needs; the next round answers from their facts, every
line citing the fact it came from. "Why" questions gather what is known about the one
thing they name (its status, metrics, log patterns, recent changes) and say what looks
abnormal; they never infer a cause the facts do not show.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from copilot.knowledge.playbooks import entity_candidates, fact_records
from copilot.model.context import Citation, PlannerContext
from copilot.model.offline.answers import (
    KEY_FIELDS,
    MAX_FIELDS,
    Plan,
    PlannedCall,
    call_text,
    notable,
    record_summary,
    show,
)
from copilot.model.offline.catalogue import ENTITY_PARAMS, Entry, Known, fill, read_score
from copilot.model.offline.phrases import Request, stem

MAX_LINES = 12
# What a "why" question reads about its subject first (name words of the catalogue's reads).
_INVESTIGATE_ORDER = (("statu",), ("metric",), ("pattern", "log"), ("history",))
_NAME_FIELDS = ("alertname", "job", "domain", "database", "deployment", "target", "service", "name")
_LISTING = frozenset({stem("status"), stem("list")})
_TIME_FIELDS = ("at", "ts", "time", "timestamp", "started_at", "deployed_at", "created_at", "since")
_TEXT_FIELDS = ("summary", "message", "template", "example", "description")


def _plan_reads(ctx: PlannerContext, calls: list[PlannedCall], head: str) -> Plan:
    names = ", ".join(call_text(c.tool, c.arguments) for c in calls)
    return Plan(f"{head}: reading {names}.", calls)


def _call(entry: Entry, args: dict[str, Any], why: str) -> PlannedCall:
    return PlannedCall(entry.name, args, Citation(call=1, tool=entry.name, why=why))


def _done(ctx: PlannerContext, tool: str, args: dict[str, Any]) -> list[str]:
    return [
        f.id
        for f in ctx.facts
        if f.tool == tool and all(f.arguments.get(k) == v for k, v in args.items())
    ]


def listing_reads(ctx: PlannerContext, catalogue: list[Entry], kinds: set[str]) -> list[Entry]:
    """The reads that list the names of ``kinds`` when no fact names any yet: reads whose
    parameters are all optional, one of them the kind; best the one named for it
    (``service_status`` for services) over one that merely filters by it (``alerts``)."""
    candidates = entity_candidates(ctx.facts)
    out = []
    for kind in sorted(kinds):
        if candidates.get(kind):
            continue
        fits = [e for e in catalogue if e.read and not e.required and kind in e.params]
        fits.sort(key=lambda e: -(2 * (stem(kind) in e.name_stems) + bool(_LISTING & e.name_stems)))
        if fits and not _done(ctx, fits[0].name, {}):
            out.append(fits[0])
    return out


def _lookups(ctx: PlannerContext, catalogue: list[Entry], kinds: set[str]) -> list[PlannedCall]:
    return [
        _call(e, {}, "lists the names this question needs")
        for e in listing_reads(ctx, catalogue, kinds)
    ]


# -- "show me ...", "what changed ..." ------------------------------------------------------
def read_answer(
    ctx: PlannerContext, req: Request, reads: list[Entry], catalogue: list[Entry], known: Known
) -> Plan | None:
    """The best-matching read(s) for a question, then the answer from their facts."""
    scored = []
    for e in reads:
        f = fill(e, req, known)
        bonus = len([k for k in f.arguments if k not in ENTITY_PARAMS])
        scored.append((read_score(e, req) + bonus - 5 * len(f.missing), e, f))
    scored.sort(key=lambda t: -t[0])
    top = scored[0][0]
    best = [(e, f) for s, e, f in scored if s == top][:2]
    missing = {p for _, f in best for p in f.missing}
    if missing:
        kinds = {ENTITY_PARAMS[p][-1] for p in missing if p in ENTITY_PARAMS}
        lookups = _lookups(ctx, catalogue, kinds)
        if lookups:
            return _plan_reads(ctx, lookups, "Looking up the names this question needs first")
        e, f = best[0]
        need = ", ".join(sorted(missing))
        return Plan(f"To answer with {call_text(e.name, f.arguments)} I need {need}: name it.")
    todo = [
        _call(e, f.arguments, f"answers “{show(ctx.request)}”")
        for e, f in best
        if not _done(ctx, e.name, f.arguments)
    ]
    if todo and ctx.round < ctx.max_rounds:
        return _plan_reads(ctx, todo, "To answer that")
    parts = []
    for e, f in best:
        for fact_id in _done(ctx, e.name, f.arguments)[-1:]:
            parts.append(_fact_answer(ctx, req, fact_id, call_text(e.name, f.arguments)))
    return Plan("\n".join(parts) or "I could not read what that needs this turn; ask again.")


def _fact_answer(ctx: PlannerContext, req: Request, fact_id: str, label: str) -> str:
    fact = next(f for f in ctx.facts if f.id == fact_id)
    if not fact.ok:
        return f"{label} failed: {fact.error or 'no result'} [{fact_id}]"
    listed = rows(fact.data)
    window = ""
    if req.window_min:
        since = ctx.now - timedelta(minutes=req.window_min)
        listed = [r for r in listed if (_when(r) or ctx.now) >= since]
        window = f" in the last {_minutes(req.window_min)}"
    if not listed:
        return f"{label}: nothing{window} [{fact_id}]."
    lines = _lines(listed)
    head = f"{label}{window}: {len(listed)} [{fact_id}]"
    more = f"\n… and {len(lines) - MAX_LINES} more" if len(lines) > MAX_LINES else ""
    return head + "\n- " + "\n- ".join(lines[:MAX_LINES]) + more


def rows(data: Any) -> list[dict[str, Any]]:
    """The rows of a result: its longest list of objects (changes, log lines, jobs), else
    the result itself."""
    best: list[dict[str, Any]] = []

    def visit(value: Any) -> None:
        nonlocal best
        if isinstance(value, dict):
            for v in value.values():
                visit(v)
        elif isinstance(value, list):
            items = [v for v in value if isinstance(v, dict)]
            if len(items) > len(best):
                best = items
            for v in items:
                visit(v)

    visit(data)
    if best:
        return best
    return [data] if isinstance(data, dict) else []


def _when(row: dict[str, Any]) -> datetime | None:
    for key in _TIME_FIELDS:
        value = row.get(key)
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
    return None


def _row_text(row: dict[str, Any]) -> str:
    text = next((str(row[k]) for k in _TEXT_FIELDS if row.get(k)), None)
    if text is not None:
        return show(text)
    keys = [k for k in KEY_FIELDS if row.get(k) is not None]
    keys = keys or [
        k for k, v in row.items() if isinstance(v, int | float | str) and k not in _TIME_FIELDS
    ]
    return ", ".join(f"{k} {show(row[k])}" for k in keys[:MAX_FIELDS])


def _lines(listed: list[dict[str, Any]]) -> list[str]:
    """One line per kind of row: rows that differ only in their numbers (latencies, ids)
    are folded onto the first one's line with a count."""
    order: list[str] = []
    first: dict[str, str] = {}
    counts: dict[str, int] = {}
    for row in listed:
        # an alert's state leads its line ("firing SandboxHighErrorRate: ...")
        state = row.get("state") if row.get("alertname") else None
        kind = str(row.get("level") or row.get("action") or state or "")
        name = next((str(row[k]) for k in _NAME_FIELDS if row.get(k)), "")
        text = _row_text(row)
        about = f"{name}: " if name and name not in text else ""
        body = f"{kind} {about}{text}".strip()
        shape = re.sub(r"\d+", "#", body)
        if shape not in first:
            when = _when(row)
            stamp = when.strftime("%H:%M:%S ") if when else ""
            first[shape] = stamp + body
            order.append(shape)
        counts[shape] = counts.get(shape, 0) + 1
    return [first[k] + (f" (×{counts[k]})" if counts[k] > 1 else "") for k in order]


def _minutes(minutes: int) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return "hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"


# -- "why is payments slow?" ----------------------------------------------------------------
def investigate(
    ctx: PlannerContext, req: Request, catalogue: list[Entry], known: Known
) -> Plan | None:
    """Read what is known about the one thing the question names, then say what it shows."""
    subject = next(((k, known.entities[k]) for k in ENTITY_PARAMS if k in known.entities), None)
    if subject is None:
        lookups = _lookups(ctx, catalogue, {"service"})
        if lookups:
            return _plan_reads(ctx, lookups, "Looking up which services there are first")
        return None  # not about a named thing: the runbooks' path answers
    kind, name = subject
    calls = _subject_reads(catalogue, kind, name)
    todo = [c for c in calls if not _done(ctx, c.tool, c.arguments)]
    if todo and ctx.round < ctx.max_rounds:
        return _plan_reads(ctx, todo, f"Looking into {kind} {name}")
    return Plan(_explain(ctx, req, kind, name, calls))


def _subject_reads(catalogue: list[Entry], kind: str, name: str) -> list[PlannedCall]:
    """Reads taking only the subject (status, metrics, log patterns), then recent changes."""
    about = []
    for e in catalogue:
        if not e.read or kind not in e.params or set(e.required) - {kind}:
            continue
        rank = next((i for i, ws in enumerate(_INVESTIGATE_ORDER) if set(ws) & e.name_stems), None)
        if rank is not None:
            about.append((rank, e))
    about.sort(key=lambda t: t[0])
    seen: set[int] = set()
    calls = []
    for rank, e in about:
        if rank in seen:
            continue
        seen.add(rank)
        calls.append(_call(e, {kind: name}, f"what is known about {kind} {name}"))
    changes = next(
        (e for e in catalogue if e.read and not e.required and stem("changes") in e.name_stems),
        None,
    )
    calls = calls[:3]
    if changes is not None:
        calls.append(_call(changes, {}, "what changed recently"))
    return calls


def _explain(
    ctx: PlannerContext, req: Request, kind: str, name: str, calls: list[PlannedCall]
) -> str:
    records = fact_records(ctx.facts, ctx.now)
    about = [r for r in records if r.identity.get(kind, "").lower() == name.lower()]
    per_fact: dict[str, Any] = {}
    for rec in about:  # one line per fact: its record about the subject
        if not record_summary(rec).endswith("no values"):
            per_fact.setdefault(rec.fact_id, rec)
    out = [f"What the facts show about {kind} {name}:"]
    for rec in list(per_fact.values())[-3:]:
        out.append(f"- {record_summary(rec)} [{rec.fact_id}]")
    signals = [s for s in notable(ctx) if s.lower().startswith(name.lower())]
    if signals:
        out.append("Abnormal: " + "; ".join(signals))
    else:
        out.append(f"Nothing in these facts marks {name} as unhealthy.")
    recent = _recent_changes(ctx, name)
    if recent:
        out.append("Recent changes to it:\n- " + "\n- ".join(recent))
    else:
        out.append(f"No change to {name} in the last 24 hours was found.")
    errors = _error_patterns(ctx)
    if errors:
        out.append("Its commonest error and warning logs:\n- " + "\n- ".join(errors))
    if ctx.runbooks and not ctx.no_runbook:
        best = ctx.runbooks[0]
        out.append(
            f"The runbook that matches is “{best.title}” [{best.chunk_id}]; ask what to do "
            "and I will follow it."
        )
    out.append("These are the facts, not a diagnosis: I do not infer a cause they do not show.")
    return "\n".join(out)


def _fact_rows(ctx: PlannerContext, needle: str) -> list[tuple[str, dict[str, Any]]]:
    """(fact id, row) of every successful fact whose tool's name contains ``needle``."""
    return [
        (f.id, row)
        for f in ctx.facts
        if f.ok and needle in f.tool.rsplit(".", 1)[-1]
        for row in rows(f.data)
    ]


def _recent_changes(ctx: PlannerContext, name: str) -> list[str]:
    since = ctx.now - timedelta(hours=24)
    out = []
    for fact_id, row in _fact_rows(ctx, "chang"):
        target = str(row.get("target") or row.get("service") or "")
        when = _when(row)
        if target.lower() != name.lower() or when is None or when < since:
            continue
        ago = int((ctx.now - when).total_seconds() // 60)
        what = f"{row.get('action', '')} {show(row.get('summary', ''))}".strip()
        out.append(f"{ago} min ago: {what} [{fact_id}]")
    return out[:5]


def _error_patterns(ctx: PlannerContext) -> list[str]:
    seen: set[str] = set()
    out = []
    for fact_id, row in _fact_rows(ctx, "log"):
        level = str(row.get("level", "")).upper()
        text = show(row.get("template") or row.get("example") or row.get("message") or "")
        if level not in ("ERROR", "WARN", "FATAL") or text in seen:
            continue
        seen.add(text)
        count = row.get("count")
        times = f" ×{count}" if count else ""
        out.append(f"{level}{times}: {text} [{fact_id}]")
    return out[:4]
