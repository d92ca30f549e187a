"""Load extra rules from a gitleaks-format TOML file, the format teams already keep.

``[[rules]]`` give ``id``, ``regex`` (Go RE2 syntax), ``secretGroup``, ``entropy``,
``keywords`` and ``[[rules.allowlists]]`` (``regexes``, ``stopwords``); a top-level
``[allowlist]`` applies to every rule. Patterns compile with the ``regex`` module, which
accepts RE2 syntax Python's ``re`` rejects (``\\z``, ``\\p{L}``, possessive forms, ...).
A rule that still does not compile, or that only matches file paths, is skipped and
reported with its line; nothing is dropped silently. A file that is not TOML refuses to
load, naming the line.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regex

from copilot.errors import ConfigError
from copilot.redact.rules import Rule

FIRST_GROUP = -1  # gitleaks' default: the first capture group that matched, else the match


@dataclass(frozen=True)
class Skipped:
    rule: str
    line: int
    reason: str


@dataclass(frozen=True)
class LoadedRules:
    rules: tuple[Rule, ...]
    skipped: tuple[Skipped, ...]


def _go_to_python(pattern: str) -> str:
    # RE2's end-of-text \z is \Z here; the rest of RE2's syntax the regex module accepts.
    return pattern.replace(r"\z", r"\Z")


def _allow_patterns(spec: dict[str, Any]) -> list[Any]:
    out = [regex.compile(_go_to_python(r)) for r in spec.get("regexes", [])]
    out += [regex.compile(regex.escape(w), regex.IGNORECASE) for w in spec.get("stopwords", [])]
    return out


def _id_lines(text: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("id") and "=" in stripped:
            value = stripped.split("=", 1)[1].strip().strip("'\"")
            lines.setdefault(value, n)
    return lines


def load_gitleaks(path: Path) -> LoadedRules:
    """Parse ``path``; return the rules that compile and a report of those skipped."""
    try:
        raw = path.read_text(encoding="utf-8")
        doc = tomllib.loads(raw)
    except OSError as exc:
        raise ConfigError(
            f"cannot read rule file {path}: {exc.strerror}", "check the path"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", "fix the rule file") from None
    where = _id_lines(raw)
    try:
        global_allow = _allow_patterns(doc.get("allowlist") or {})
    except regex.error as exc:
        raise ConfigError(
            f"{path}: the global [allowlist] has a bad pattern: {exc}", "fix or remove it"
        ) from None
    rules: list[Rule] = []
    skipped: list[Skipped] = []
    for n, spec in enumerate(doc.get("rules") or [], 1):
        rid = str(spec.get("id") or f"rule-{n}")
        line = where.get(rid, 0)
        if "regex" not in spec:
            skipped.append(Skipped(rid, line, "matches file paths only; nothing to redact"))
            continue
        try:
            pattern = regex.compile(_go_to_python(spec["regex"]), regex.VERSION0)
            allow = [p for a in spec.get("allowlists") or [] for p in _allow_patterns(a)]
        except regex.error as exc:
            skipped.append(Skipped(rid, line, f"pattern does not compile: {exc}"))
            continue
        group = spec.get("secretGroup")
        rules.append(
            Rule(
                id=rid,
                pattern=pattern,
                group=int(group) if group else (FIRST_GROUP if pattern.groups else 0),
                keywords=tuple(str(k).lower() for k in spec.get("keywords") or ()),
                entropy=float(spec["entropy"]) if spec.get("entropy") else None,
                allow=tuple(allow + global_allow),
                description=str(spec.get("description", "")),
                tags=("gitleaks",),
            )
        )
    return LoadedRules(tuple(rules), tuple(skipped))
