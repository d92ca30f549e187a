"""The tool catalogue as the offline planner reads it (pure).

Each offered tool is read from what the request's ``tools`` carry and nothing else: its
name (``sandbox.scale_service``: the verb *scale*, the noun *service*), its description and
its parameters' names, types, enums and descriptions. A request names a change by its
verb ("scale", "roll back", "silence"); a read by its words ("logs", "what changed"). Its
arguments are filled from the request's values and from the names the conversation's facts
and runbooks know (services, jobs, alerts, flags) — see :func:`fill`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from copilot.domain import Risk
from copilot.model.offline.phrases import Request, as_duration, stem, words

# Name parts that say what a tool acts on, or nothing at all: never a change's verb.
_NOUN_WORDS = """service job database certificate secret config value feature flag deployment
rollout status history metric pattern log alert pod namespace domain recent list get create
read query range target event"""
_NOUNS = frozenset(stem(w) for w in _NOUN_WORDS.split())
# Parameters that name what a call acts on, with the kinds of names that fill them.
ENTITY_PARAMS: dict[str, tuple[str, ...]] = {
    "service": ("service",),
    "deployment": ("deployment", "service"),
    "job": ("job",),
    "domain": ("domain",),
    "database": ("database",),
    "namespace": ("namespace",),
    "pod": ("pod",),
}
# Arguments a person must ask for explicitly in a form the planner never writes: they
# bypass the tool's own safety checks.
FORCE_PARAMS = frozenset({"force", "skip_checks", "ignore_safety", "override"})
_NOTE = re.compile(r"\[[^\]]*\]|``[^`]*``")
_STOPS = re.compile(r"\b0\s+(?:stops|takes\s+it\s+out|disables|removes)", re.I)


@dataclass
class Entry:
    """One offered tool, as words."""

    name: str
    pack: str
    read: bool
    verb: str | None  # the change's verb stem (scale, restart, rollback ...), None for reads
    name_stems: set[str]
    desc_stems: set[str]
    description: str
    params: dict[str, dict[str, Any]]
    required: list[str]
    aliases: list[str] = field(default_factory=list)

    @property
    def short(self) -> str:
        return self.name.split(".", 1)[-1]


def entries(
    descriptions: Mapping[str, str],
    parameters: Mapping[str, dict[str, Any]],
    risks: Mapping[str, Risk],
    aliases: Mapping[str, list[str]] | None = None,
) -> list[Entry]:
    """The offered tools as :class:`Entry` (a tool without a declared risk is a change)."""
    out = []
    for name, description in descriptions.items():
        schema = parameters.get(name, {})
        pack, _, short = name.partition(".")
        parts = [stem(p) for p in short.split("_") if p]
        read = risks.get(name) is Risk.READ
        verb = None if read else next((p for p in parts if p not in _NOUNS), None)
        raw = schema.get("properties")
        props: dict[str, Any] = raw if isinstance(raw, dict) else {}
        out.append(
            Entry(
                name=name,
                pack=pack,
                read=read,
                verb=verb,
                name_stems=set(parts),
                desc_stems=set(words(_NOTE.sub(" ", description))),
                description=_NOTE.sub("", description).strip(),
                params={k: v for k, v in props.items() if isinstance(v, dict)},
                required=[r for r in schema.get("required", []) if isinstance(r, str)],
                aliases=list((aliases or {}).get(name, [])),
            )
        )
    return out


def says_alias(entry: Entry, text: str) -> bool:
    """Whether ``text`` uses one of the tool's alias phrases (its pack's own words)."""
    return any(word_in(text, alias) for alias in entry.aliases)


def read_score(entry: Entry, req: Request) -> float:
    """How well a read's words match the request's (name words and aliases weigh most)."""
    stems = req.stem_set
    score = 3.0 * len(entry.name_stems & stems) + 1.0 * len(entry.desc_stems & stems)
    score += 3.0 if says_alias(entry, req.text) else 0.0
    return score + (2.0 if entry.pack in stems else 0.0)


# -- arguments ------------------------------------------------------------------------------
@dataclass
class Known:
    """Names the conversation knows: entities by kind, alert names, and the dict-valued
    fields of the facts' records (a service's ``flags``, its ``config``)."""

    entities: dict[str, str] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)
    keyed: dict[str, set[str]] = field(default_factory=dict)  # "flags" → {"new_tax_engine"}
    named: dict[str, set[str]] = field(default_factory=dict)  # "name" → secret names ...
    tags: dict[str, int] = field(default_factory=dict)  # "1.8.5" → its revision (deployments)
    requester: str = ""


@dataclass
class Filled:
    arguments: dict[str, Any]
    missing: list[str]
    force: list[str]  # force-like parameters the request asked for
    stops: str | None = None  # "replicas=0 takes it out of service"
    bounds: list[str] = field(default_factory=list)  # "replicas is at most 50, not 99999"


def _types(schema: dict[str, Any]) -> set[str]:
    found = {schema["type"]} if isinstance(schema.get("type"), str) else set()
    for alt in schema.get("anyOf", []) or []:
        if isinstance(alt, dict) and isinstance(alt.get("type"), str):
            found.add(alt["type"])
    return found


def _enum(schema: dict[str, Any]) -> list[str]:
    values = list(schema.get("enum", []) or [])
    for alt in schema.get("anyOf", []) or []:
        if isinstance(alt, dict):
            values += alt.get("enum", []) or []
    return [str(v) for v in values]


def _is_duration(name: str, schema: dict[str, Any]) -> bool:
    pattern = str(schema.get("pattern", ""))
    for alt in schema.get("anyOf", []) or []:
        if isinstance(alt, dict):
            pattern += str(alt.get("pattern", ""))
    return name in ("duration", "since", "window", "ttl") or "ms|s|m|h|d" in pattern


def word_in(text: str, value: str) -> bool:
    return bool(re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", text, re.I))


def mentions(text: str, name: str) -> bool:
    """``name`` said whole, or each of its parts as words ("the payments PSP key" names
    ``payments-psp-key``)."""
    parts = [p for p in re.split(r"[-_.]", name) if p]
    return word_in(text, name) or (len(parts) > 1 and all(word_in(text, p) for p in parts))


def _alert(req: Request, known: Known) -> str | None:
    for name in req.camel:  # "HighErrorRate"; a rule may prefix it ("SandboxHighErrorRate")
        exact = [a for a in known.alerts if a.lower() == name.lower()]
        suffix = [a for a in known.alerts if a.lower().endswith(name.lower())]
        return (exact or suffix or [name])[0]
    return next((a for a in known.alerts if word_in(req.text, a)), None)


def _value(name: str, schema: dict[str, Any], req: Request, known: Known) -> Any:
    """The value the request gives parameter ``name``, or None."""
    types = _types(schema)
    if name in ENTITY_PARAMS:
        return next((known.entities[k] for k in ENTITY_PARAMS[name] if k in known.entities), None)
    if "alert" in name:
        return _alert(req, known)
    if name == "matchers" and "array" in types:
        alert = _alert(req, known)
        return [{"name": "alertname", "value": alert}] if alert else None
    if "integer" in types or "number" in types:
        if "revision" in name:
            if req.revision is None and req.version_tag:  # "to 1.8.5": its revision
                return known.tags.get(req.version_tag)
            return req.revision
        if name in ("minutes", "window_minutes"):
            return req.window_min
        if req.relative:  # "by 2": no count to set
            return None
        if req.count is not None and stem(name) in (req.count_unit, stem(req.count_unit)):
            return req.count
        return None
    if "boolean" in types:
        if name in FORCE_PARAMS:
            return None
        return req.on_off if name in ("enabled", "enable", "on", "active", "state") else None
    enum = _enum(schema)
    if enum:
        return next((v for v in enum if stem(v) in req.stem_set), None)
    if _is_duration(name, schema):
        if name == "duration" and req.duration_min is not None:
            return as_duration(req.duration_min)
        return as_duration(req.window_min) if req.window_min and name != "duration" else None
    if name in ("comment", "reason", "note", "why"):
        return f"asked by {known.requester} through the incident copilot"
    pools = [known.keyed.get(f"{name}s"), known.named.get(name)]
    if name in ("key", "setting", "config_key"):  # a config key: any keyed field's keys
        pools += list(known.keyed.values())
    for options in pools:
        ranked = sorted(options or (), key=len, reverse=True)
        hit = next((o for o in ranked if word_in(req.text, o)), None)
        hit = hit or next((o for o in ranked if mentions(req.text, o)), None)
        if hit is not None:
            return hit
    if name == "value" and known.keyed.get("config"):
        key = next((k for k in known.keyed["config"] if word_in(req.text, k)), None)
        m = re.search(rf"{re.escape(key)}\s*(?:to|=|:)\s*(\S+)", req.text, re.I) if key else None
        return m.group(1).strip("\"'`.,") if m else None
    return None


def fill(entry: Entry, req: Request, known: Known) -> Filled:
    """The call's arguments from the request; the required ones it lacks by name."""
    args: dict[str, Any] = {}
    force = []
    for name, schema in entry.params.items():
        if name in FORCE_PARAMS and req.force:
            force.append(name)
        value = _value(name, schema, req, known)
        if value is not None:
            args[name] = value
    # a required count the request gives bare ("scale checkout to 5")
    ints = [n for n in entry.required if n not in args and "integer" in _types(entry.params[n])]
    if len(ints) == 1 and req.number is not None and "revision" not in ints[0] and not req.relative:
        args[ints[0]] = req.number
    missing = [n for n in entry.required if n not in args]
    # a release named by its tag whose revision no read gave: ask, never take the default
    # ("the previous one") in its place
    missing += [n for n in entry.params if "revision" in n and req.version_tag and n not in args][
        :1
    ]
    stops = None
    for name, value in args.items():
        text = str(entry.params.get(name, {}).get("description", "")) + " " + entry.description
        if value == 0 and _STOPS.search(text):
            stops = f"{name}=0 takes it out of service ({entry.description.rstrip('.')})"
    bounds = []
    if req.duration_min is not None and req.duration_min <= 0 and "duration" in args:
        bounds.append(f"duration is longer than zero, not {args['duration']}")
    for name, value in args.items():
        schema = entry.params.get(name, {})
        if isinstance(value, float) and "integer" in _types(schema):
            bounds.append(f"{name} is a whole number, not {value}")
            continue
        low, high = schema.get("minimum"), schema.get("maximum")
        if isinstance(value, int) and isinstance(high, int | float) and value > high:
            bounds.append(f"{name} is at most {high:g}, not {value}")
        if isinstance(value, int) and isinstance(low, int | float) and value < low:
            bounds.append(f"{name} is at least {low:g}, not {value}")
    return Filled(arguments=args, missing=missing, force=force, stops=stops, bounds=bounds)


_CREDENTIAL = re.compile(r"pass(?:word|wd)?|secret|token|credential|api_?key|private", re.I)


def masked(arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments to show in words: a value set beside a credential's name (key=
    DB_PASSWORD, value=...) is not repeated back into the conversation."""
    names = [str(v) for v in arguments.values() if isinstance(v, str)] + list(arguments)
    if not any(_CREDENTIAL.search(n) for n in names):
        return arguments
    return {k: ("…" if k in ("value", "new_value", "data") else v) for k, v in arguments.items()}


def describe_params(entry: Entry, names: Iterable[str]) -> str:
    """``replicas (desired replicas; 0 stops it)`` for each name, joined."""
    out = []
    for name in names:
        desc = str(entry.params.get(name, {}).get("description", "")).strip()
        out.append(f"{name} ({desc})" if desc else name)
    return ", ".join(out)
