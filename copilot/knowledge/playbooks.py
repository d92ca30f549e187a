"""Playbook mechanics shared by the agent's gather node and the offline planner (pure, no I/O).

- :func:`entities_from_text`: which service, job, domain ... a request names;
- :func:`collect_variables` / :func:`fact_variables` (in ``playbook_facts``, re-exported):
  the values ``when:`` conditions and argument templates use, derived generically from
  gathered facts (numeric, bool and text leaves of the records about the incident's
  entities) plus a few derived ones the bundled runbooks need (``deployed_minutes_ago``,
  ``memory_pct``, ``job_running_hours``, ``previous_revision`` ...), each remembered with
  the fact it came from so a proposal can cite it;
- :func:`fill_args`: ``{{ name }}`` templates filled by a strict regex (no template engine:
  a runbook is untrusted text and only ever names a variable);
- :func:`check_when` / :func:`evaluate_when`: a condition checked against an allow-list of
  syntax (names, numbers, strings, comparisons, and/or/not, arithmetic), then evaluated by
  ``simpleeval`` with no functions. An unknown name gives ``None`` (gather more), a
  malformed or disallowed expression ``False`` with the reason.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from simpleeval import SimpleEval

from copilot.domain.views import StepView
from copilot.knowledge.playbook_facts import (
    IDENTITY_KEYS,
    Record,
    Variables,
    collect_variables,
    entity_candidates,
    fact_records,
    fact_variables,
)
from copilot.knowledge.runbooks import PlaybookStep

__all__ = [
    "IDENTITY_KEYS",
    "READS_FOR",
    "Condition",
    "Record",
    "Variables",
    "check_when",
    "collect_variables",
    "entities_from_text",
    "entity_candidates",
    "evaluate_when",
    "fact_records",
    "fact_variables",
    "fill_args",
    "template_names",
]

# Where a variable comes from when it is missing: the read that would provide it (sandbox
# tools; a playbook names its own reads, this only fills gaps a condition reveals).
READS_FOR: dict[str, tuple[str, dict[str, Any]]] = {
    "error_rate": ("sandbox.get_metrics", {"service": "{{ service }}"}),
    "p99_ms": ("sandbox.get_metrics", {"service": "{{ service }}"}),
    "memory_pct": ("sandbox.get_metrics", {"service": "{{ service }}"}),
    "ready_replicas": ("sandbox.service_status", {"service": "{{ service }}"}),
    "restarts": ("sandbox.service_status", {"service": "{{ service }}"}),
    "health": ("sandbox.service_status", {"service": "{{ service }}"}),
    "deployed_minutes_ago": ("sandbox.list_deployments", {"service": "{{ service }}", "limit": 3}),
    "previous_revision": ("sandbox.list_deployments", {"service": "{{ service }}", "limit": 3}),
    "days_left": ("sandbox.certificate_status", {}),
    "job_running_hours": ("sandbox.list_jobs", {}),
    "replication_lag_s": ("sandbox.database_status", {}),
}

_REVISION = re.compile(r"\b(?:revision|rev)\.?\s*#?\s*(\d{1,9})\b", re.I)
_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}")
_ANY_TEMPLATE = re.compile(r"\{\{|\}\}|\{%|%\}")
MAX_EXPRESSION_CHARS = 500


# -- entities -------------------------------------------------------------------------------
def entities_from_text(text: str, candidates: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """The candidate of each kind the text names (whole word, any case; the earliest
    mention wins, the longest on a tie), plus ``revision`` from "revision 12" / "rev 12"."""
    found: dict[str, str] = {}
    for kind, values in candidates.items():
        best: tuple[int, int, str] | None = None
        for value in {str(v) for v in values if v}:
            m = re.search(rf"(?<![\w.-]){re.escape(value)}(?![\w-]|\.\w)", text, re.I)
            if m and (best is None or (m.start(), -len(value)) < best[:2]):
                best = (m.start(), -len(value), value)
        if best is not None:
            found[kind] = best[2]
    if "revision" not in found and (m := _REVISION.search(text)):
        found["revision"] = m.group(1)
    return found


# -- templates ------------------------------------------------------------------------------
class _Unknown(Exception):
    pass


def template_names(step: StepView | PlaybookStep) -> set[str]:
    """The variables a step's argument templates use."""
    names: set[str] = set()

    def visit(value: Any) -> None:
        if isinstance(value, str):
            names.update(_TEMPLATE.findall(value))
        elif isinstance(value, dict):
            for v in value.values():
                visit(v)
        elif isinstance(value, list):
            for v in value:
                visit(v)

    visit(step.args)
    return names


def fill_args(step: StepView | PlaybookStep, values: Mapping[str, Any]) -> dict[str, Any] | None:
    """The step's arguments with ``{{ name }}`` filled from ``values``; a value that is only
    a template keeps the variable's type. None when a variable is unknown (or None), or a
    value holds template syntax other than ``{{ name }}``."""
    try:
        filled = _fill(step.args, values)
    except _Unknown:
        return None
    assert isinstance(filled, dict)
    return filled


def _fill(value: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if not isinstance(value, str):
        return value
    if _ANY_TEMPLATE.search(_TEMPLATE.sub("", value)):
        raise _Unknown  # {{ a | filter }}, {% ... %}: not a plain variable
    whole = _TEMPLATE.fullmatch(value.strip())
    if whole:
        return _lookup(whole.group(1), values)
    # one pass: a substituted value is never read as a template again
    return _TEMPLATE.sub(lambda m: str(_lookup(m.group(1), values)), value)


def _lookup(name: str, values: Mapping[str, Any]) -> Any:
    if values.get(name) is None:
        raise _Unknown(name)
    return values[name]


# -- conditions -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Condition:
    """A checked ``when``: ``holds`` is True/False, or None when a name is unknown."""

    holds: bool | None
    reason: str
    missing: tuple[str, ...] = ()
    used: dict[str, Any] = field(default_factory=dict)  # the names it read, with values


_ALLOWED_NODES = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Name,
    ast.Load,
    ast.Constant,
)


def _names(expr: str) -> tuple[list[str], str | None]:
    """The names an expression reads, or the reason it is not an allowed condition."""
    if len(expr) > MAX_EXPRESSION_CHARS:
        return [], f"longer than {MAX_EXPRESSION_CHARS} characters"
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        return [], f"not an expression ({exc.msg})"
    names: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            return [], f"{type(node).__name__} is not allowed in a condition"
        if isinstance(node, ast.Constant) and not _constant(node.value):
            return [], "only numbers, strings, true/false and null are allowed"
        if isinstance(node, ast.Name):
            if node.id.startswith("_"):
                return [], f"name {node.id!r} is not allowed"
            if node.id not in names:
                names.append(node.id)
    return names, None


def check_when(expr: str | None, variables: Mapping[str, Any]) -> Condition:
    """Evaluate a step's condition safely. No condition holds trivially."""
    if expr is None or not expr.strip():
        return Condition(True, "no condition")
    names, error = _names(expr)
    if error:
        return Condition(False, f"malformed condition `{expr}`: {error}")
    missing = tuple(n for n in names if variables.get(n) is None)
    if missing:
        return Condition(None, f"`{expr}` needs {', '.join(missing)}", missing=missing)
    used = {n: variables[n] for n in names}
    evaluator = SimpleEval(names=dict(used), functions={})
    try:
        value = evaluator.eval(expr.strip())
    except Exception as exc:  # a type mismatch or division by zero: it does not hold
        return Condition(False, f"`{expr}` cannot be evaluated: {type(exc).__name__}", used=used)
    if not isinstance(value, bool):
        return Condition(False, f"`{expr}` is not a true/false condition", used=used)
    shown = ", ".join(f"{n} = {_show(v)}" for n, v in used.items())
    verdict = "holds" if value else "does not hold"
    return Condition(value, f"`{expr}` {verdict} ({shown})" if shown else verdict, used=used)


def evaluate_when(expr: str | None, variables: Mapping[str, Any]) -> bool | None:
    """True/False, or None when a name it needs is unknown. A malformed or disallowed
    expression is False; :func:`check_when` gives the reason."""
    return check_when(expr, variables).holds


def _constant(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
