"""Variables for playbook conditions and templates, derived from gathered facts (pure).

A fact's result is cut into records (the result itself, and the elements of its lists that
name a service, job, domain ...), each flattened to its numeric, bool and text leaves plus
a few derived values the bundled runbooks need: ``memory_pct``, ``<x>_minutes_ago`` for
every ``<x>_at``, ``running_hours`` for ``running_since``, and from a deployment history
``current_revision``, ``previous_revision`` and ``deployed_minutes_ago``. The records
about the incident's entities become the variables; a job's or certificate's own fields
are also available prefixed (``job_running_hours``). Each variable remembers its fact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from copilot.domain.views import FactView

# Keys that say which thing a record is about, most specific first: a job record also names
# the service it writes to, but it is about the job.
IDENTITY_KEYS = ("job", "domain", "database", "pod", "deployment", "namespace", "service")
_IDENT = re.compile(r"^[A-Za-z_]\w{0,63}$")


def entity_candidates(
    facts: Iterable[FactView], extra: Mapping[str, Iterable[str]] | None = None
) -> dict[str, list[str]]:
    """Names of each identity kind that appear in the facts (services, jobs, domains ...),
    merged with ``extra`` (e.g. ``{"service": runbook.services}``)."""
    out: dict[str, set[str]] = {k: set(v) for k, v in (extra or {}).items()}
    for fact in facts:
        if fact.ok:
            for rec in _walk(_plain(fact.data), top=True):
                for kind, value in _identity(rec).items():
                    out.setdefault(kind, set()).add(value)
    return {k: sorted(v) for k, v in out.items()}


# -- records and variables ------------------------------------------------------------------
@dataclass
class Record:
    """One thing a fact describes (a service, a job, a certificate ...), flattened."""

    fact_id: str
    tool: str
    identity: dict[str, str]
    values: dict[str, Any]
    top: bool  # the fact's result itself, not an element of a list inside it

    @property
    def kind(self) -> str | None:
        return next((k for k in IDENTITY_KEYS if k in self.identity), None)


@dataclass
class Variables:
    """Variables for conditions and templates, with the fact each came from."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # variable -> fact id
    entities: dict[str, str] = field(default_factory=dict)  # named or inferred

    def facts_for(self, names: Iterable[str]) -> list[str]:
        return sorted({self.sources[n] for n in names if n in self.sources}, key=_fact_order)


def fact_records(facts: Iterable[FactView], now: datetime) -> list[Record]:
    """Every record in the successful facts, flattened, with derived values added."""
    out: list[Record] = []
    for fact in facts:
        if not fact.ok or fact.data is None:
            continue
        data = _plain(fact.data)
        for rec in _walk(data, top=True):
            out.append(
                Record(
                    fact_id=fact.id,
                    tool=fact.tool,
                    identity=_identity(rec),
                    values=_flatten(rec, now),
                    top=rec is data,
                )
            )
    return out


def collect_variables(
    facts: Iterable[FactView], now: datetime, entities: Mapping[str, str]
) -> Variables:
    """Variables from the records about ``entities`` (plus entities inferred from facts:
    the running job, the certificate closest to expiry, the one unhealthy service)."""
    records = fact_records(facts, now)
    chosen = {k: str(v) for k, v in entities.items()}
    inferred = _infer_entities(records, chosen)
    about_service: dict[str, tuple[Any, str]] = {}
    other: dict[str, tuple[Any, str]] = {}
    scoped: dict[str, tuple[Any, str]] = {}
    for rec in records:
        if not _relevant(rec, chosen):
            continue
        kind = rec.kind
        bare = about_service if kind in (None, "service") else other
        for name, value in rec.values.items():
            bare[name] = (value, rec.fact_id)
            if kind and kind != "service" and not name.startswith(f"{kind}_"):
                scoped[f"{kind}_{name}"] = (value, rec.fact_id)
    merged = {**other, **about_service, **scoped}
    result = Variables(entities=dict(chosen))
    for name, (value, fact_id) in merged.items():
        result.values[name] = value
        result.sources[name] = fact_id
    for kind, value in chosen.items():  # the incident's entities win over any record
        result.values[kind] = value
        result.sources.pop(kind, None)  # named in the request: no fact to cite
        if kind in inferred:
            result.sources[kind] = inferred[kind]
    return result


def fact_variables(
    facts: Iterable[FactView], now: datetime, entities: Mapping[str, str]
) -> dict[str, Any]:
    """The variables ``when:`` conditions and argument templates may use (see module doc)."""
    return collect_variables(facts, now, entities).values


def _fact_order(fact_id: str) -> tuple[int, str]:
    digits = fact_id[1:] if fact_id[:1] == "f" else ""
    return (int(digits), fact_id) if digits.isdigit() else (1 << 30, fact_id)


def _plain(data: Any) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    return data


def _walk(data: Any, top: bool) -> Iterator[dict[str, Any]]:
    """The record dicts in a result: the result itself, and elements of its lists that
    carry an identity (services, jobs, certificates); other nested lists are not records."""
    if not isinstance(data, dict):
        if top and isinstance(data, list):
            for item in data:
                if isinstance(item, dict):
                    yield from _walk(item, top=False)
        return
    yield data
    for value in data.values():
        records = isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
        if records and any(_identity(v) for v in value):
            for item in value:
                yield from _walk(item, top=False)


def _identity(rec: dict[str, Any]) -> dict[str, str]:
    return {k: rec[k] for k in IDENTITY_KEYS if isinstance(rec.get(k), str) and rec[k]}


def _as_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        t = value
    elif isinstance(value, str) and len(value) >= 19 and value[4:5] == "-":
        try:
            t = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def _flatten(rec: dict[str, Any], now: datetime) -> dict[str, Any]:
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    out: dict[str, Any] = {}
    for key, value in rec.items():
        if not _IDENT.match(str(key)):
            continue
        if _scalar(value):
            out[key] = value
        elif isinstance(value, dict):  # one level: flags, config, labels
            for sub, v in value.items():
                name = f"{key}_{sub}"
                if _scalar(v) and _IDENT.match(name):
                    out[name] = v
    for key, value in list(out.items()):
        t = _as_time(value)
        if t is None:
            continue
        minutes = round((now - t).total_seconds() / 60, 1)
        if key.endswith("_at"):
            out[f"{key[:-3]}_minutes_ago"] = minutes
        elif key.endswith("_since"):
            out[f"{key[:-6]}_minutes"] = minutes
            out[f"{key[:-6]}_hours"] = round(minutes / 60, 2)
    if "running_since" in rec and rec["running_since"] is None:
        # not running: it has been running for no time (a condition on it is then false)
        out["running_minutes"], out["running_hours"] = 0.0, 0.0
    used, limit = rec.get("memory_mb"), rec.get("memory_limit_mb")
    if isinstance(used, int | float) and isinstance(limit, int | float) and limit > 0:
        out["memory_pct"] = round(used / limit * 100, 1)
    out.update(_revisions(rec, now))
    return out


def _revisions(rec: dict[str, Any], now: datetime) -> dict[str, Any]:
    """From a deployment history (a list of revisions, one ``current``): the current and
    previous revision, and how long ago the current one went out."""
    history = next(
        (
            v
            for v in rec.values()
            if isinstance(v, list)
            and v
            and all(isinstance(d, dict) and "revision" in d for d in v)
            and any(d.get("current") for d in v)
        ),
        None,
    )
    if history is None:
        return {}
    current = next(d for d in history if d.get("current"))
    out: dict[str, Any] = {"current_revision": current["revision"]}
    older = [d for d in history if isinstance(d.get("revision"), int) and not d.get("current")]
    older = [d for d in older if d["revision"] < current["revision"]] or older
    marked = [
        d for d in history if d.get("previous") is True and isinstance(d.get("revision"), int)
    ]
    if marked or older:
        # the history's own word for what ran before (a rollback's target), else the
        # highest earlier revision
        prev = marked[0] if marked else max(older, key=lambda d: d["revision"])
        out["previous_revision"] = prev["revision"]
        if isinstance(prev.get("image"), str):
            out["previous_image"] = prev["image"]
    if isinstance(current.get("image"), str):
        out["current_image"] = current["image"]
    if (t := _as_time(current.get("deployed_at"))) is not None:
        out["deployed_minutes_ago"] = round((now - t).total_seconds() / 60, 1)
    return out


def _relevant(rec: Record, chosen: Mapping[str, str]) -> bool:
    """A record counts when it is about one of the entities (its own kind decides: a job
    record about the chosen job counts whatever service it names), or names none of them
    differently and is the fact's result itself."""
    kind = rec.kind
    if kind is not None and kind in chosen:
        return chosen[kind].lower() == rec.identity[kind].lower()
    matched = False
    for k, value in rec.identity.items():
        if k in chosen:
            if chosen[k].lower() != value.lower():
                return False
            matched = True
    return matched or rec.top


def _consistent(rec: Record, named: Mapping[str, str]) -> bool:
    return all(named[k].lower() == v.lower() for k, v in rec.identity.items() if k in named)


def _infer_entities(records: list[Record], chosen: dict[str, str]) -> dict[str, str]:
    """Fill entities the request did not name from what is plainly the subject: the one
    running job (longest running), the certificate closest to expiry, the one service that
    is not healthy (each consistent with what the request named); then the other
    identities of the records picked (a job's service). Returns the fact each came from."""
    named = dict(chosen)
    listed = [r for r in records if not r.top and _consistent(r, named)]
    picked: list[Record] = []
    jobs = [r for r in listed if r.kind == "job"]
    if "job" not in named and jobs:
        running = [r for r in jobs if r.values.get("state") == "running"]
        pick = max(running, key=lambda r: r.values.get("running_hours") or 0, default=None)
        if pick is None and len({r.identity["job"] for r in jobs}) == 1:
            pick = jobs[0]
        if pick is not None:
            picked.append(pick)
    certs = [r for r in listed if r.kind == "domain"]
    if "domain" not in named and certs:
        timed = [r for r in certs if isinstance(r.values.get("days_left"), int | float)]
        pick = min(timed, key=lambda r: r.values["days_left"], default=None)
        if pick is not None:
            picked.append(pick)
    services = [r for r in listed if r.kind == "service"]
    if "service" not in named and services:
        unwell = {
            r.identity["service"]: r
            for r in services
            if r.values.get("health") not in (None, "ok", "healthy")
        }
        if len(unwell) == 1:
            picked.append(next(iter(unwell.values())))
    inferred: dict[str, str] = {}
    for rec in picked:  # first each pick's own kind, then what else it names
        kind = rec.kind
        assert kind is not None
        chosen[kind] = rec.identity[kind]
        inferred[kind] = rec.fact_id
    for rec in picked:
        for kind, value in rec.identity.items():
            if kind not in chosen:
                chosen[kind] = value
                inferred[kind] = rec.fact_id
    return inferred
