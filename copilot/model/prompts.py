"""The one prompt loader: ``prompts/*.j2`` rendered into OpenAI-format messages.

``build_messages(ctx)`` gives a system message (role, rules, how to cite) and a user message
holding the turn's trusted metadata in a ``<turn>`` block and everything from outside the
copilot in ``<untrusted kind="...">`` blocks (request, runbooks, facts, history, actions,
repair). ``read_context(messages)`` parses those blocks back into a :class:`PlannerContext`:
the offline planner reads exactly what a hosted model is shown. ``tool_schemas(specs)``
turns tool specs into the request's ``tools`` entries; tool names carry a dot
(``sandbox.get_metrics``), which OpenAI function names may not, so it is encoded as ``__``.
Each entry's ``parameters`` carries the tool's risk and nature in the vendor keyword
``x-copilot`` (JSON Schema ignores unknown keywords), so whoever reads the request, the
offline planner included, knows a read from a change without guessing from the text.

Templates are versioned by ``PROMPT_VERSION`` (shown in the system message's first line):
bump it whenever a template's meaning changes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import lru_cache
from importlib.resources import files
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from copilot.domain import Risk
from copilot.model.context import PlannerContext, parse_untrusted, untrusted_json
from copilot.toolkit import ToolSpec

PROMPT_VERSION = "2026-01.1"
_TURN = re.compile(r"<turn>\n(.*?)\n</turn>", re.DOTALL)
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TOOL_META = "x-copilot"


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja2 environment over the ``copilot_prompts`` package (``prompts/``), built once."""
    env = Environment(
        loader=FileSystemLoader(str(files("copilot_prompts"))),
        undefined=StrictUndefined,
        autoescape=False,  # the output is a prompt, not HTML; untrusted data goes through
        trim_blocks=True,  # untrusted_json, which escapes what could close a block
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["untrusted_json"] = untrusted_json
    return env


def render(name: str, **values: Any) -> str:
    """Render one template with the prompt version available as ``version``."""
    return environment().get_template(name).render(version=PROMPT_VERSION, **values).strip()


def build_messages(ctx: PlannerContext) -> list[dict[str, Any]]:
    """The system and user messages of one propose round."""
    turn = {
        "prompt": PROMPT_VERSION,
        "requester": ctx.requester,
        "now": ctx.now.isoformat(),
        "environment": ctx.environment,
        "round": ctx.round,
        "max_rounds": ctx.max_rounds,
        "no_runbook": ctx.no_runbook,
    }
    dump = _dump
    user = render(
        "turn.j2",
        ctx=ctx,
        turn=turn,
        runbooks=[dump(r) for r in ctx.runbooks],
        facts=[dump(f) for f in ctx.facts],
        history=[dump(h) for h in ctx.history],
        actions=[dump(a) for a in ctx.actions],
    )
    return [
        {"role": "system", "content": render("system.j2", environment=ctx.environment)},
        {"role": "user", "content": user},
    ]


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json")


def read_context(messages: list[dict[str, Any]]) -> PlannerContext | None:
    """The context a ``build_messages`` user message carries (the last one wins), or None
    when the messages were not built by it (a plain chat)."""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        text = _text(message.get("content"))
        turn = _TURN.search(text)
        if not turn:
            continue
        try:
            meta = json.loads(turn.group(1))
        except ValueError:
            continue
        blocks = parse_untrusted(text)
        runbooks = blocks.get("runbooks") or {}
        request = blocks.get("request") or {}
        return PlannerContext.model_validate(
            {
                "request": request.get("text", ""),
                "requester": meta.get("requester", ""),
                "now": meta["now"],
                "environment": meta.get("environment", "prod"),
                "runbooks": runbooks.get("runbooks", []),
                "no_runbook": bool(meta.get("no_runbook")),
                "no_runbook_reason": runbooks.get("reason", ""),
                "facts": blocks.get("facts") or [],
                "history": blocks.get("history") or [],
                "actions": blocks.get("actions") or [],
                "repair": (blocks.get("repair") or {}).get("error"),
                "round": meta.get("round", 1),
                "max_rounds": meta.get("max_rounds", 3),
            }
        )
    return None


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The text of the last user message (for messages not built by ``build_messages``)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return _text(message.get("content"))
    return ""


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # multi-part content: its text parts
        return "\n".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p
        )
    return ""


# -- tools ----------------------------------------------------------------------------------
def encode_tool_name(name: str) -> str:
    """``sandbox.get_metrics`` -> ``sandbox__get_metrics`` (OpenAI names allow no dot)."""
    encoded = name.replace(".", "__")
    if "__" in name or not _FUNCTION_NAME.match(encoded):
        raise ValueError(f"tool name {name!r} cannot be given to a model as a function name")
    return encoded


def decode_tool_name(name: str) -> str:
    """The tool name a model's function name stands for (a dotted name passes through)."""
    return name if "." in name else name.replace("__", ".")


def tool_schemas(specs: Iterable[ToolSpec]) -> list[dict[str, Any]]:
    """OpenAI ``tools`` entries for exactly these specs, in order."""
    out = []
    for spec in specs:
        parameters = dict(spec.schema())
        parameters.pop("title", None)
        parameters[TOOL_META] = {
            "risk": spec.risk.value,
            "side_effects": spec.side_effects,
            "idempotent": spec.idempotent,
        }
        if spec.aliases:
            parameters[TOOL_META]["aliases"] = list(spec.aliases)
        out.append(
            {
                "type": "function",
                "function": {
                    "name": encode_tool_name(spec.name),
                    "description": f"{spec.description} {_risk_note(spec.risk)}",
                    "parameters": parameters,
                },
            }
        )
    return out


def _risk_note(risk: Risk) -> str:
    if risk is Risk.READ:
        return "[read-only: may run without a card; its result comes back as a fact]"
    return f"[changes state, risk {risk.value}: becomes a card and runs only after approval]"


def _functions(tools: Iterable[dict[str, Any]] | None) -> Iterable[tuple[str, dict[str, Any]]]:
    for entry in tools or []:
        function = entry.get("function") if isinstance(entry, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            yield decode_tool_name(function["name"]), function


def tool_names(tools: Iterable[dict[str, Any]] | None) -> list[str]:
    """The (decoded) tool names in a request's ``tools`` parameter."""
    return [name for name, _ in _functions(tools)]


def tool_descriptions(tools: Iterable[dict[str, Any]] | None) -> dict[str, str]:
    """Each (decoded) tool's description, from a request's ``tools``."""
    return {name: str(f.get("description") or "") for name, f in _functions(tools)}


def tool_parameters(tools: Iterable[dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """Each (decoded) tool's JSON-schema parameters, from a request's ``tools``."""
    return {name: dict(f.get("parameters") or {}) for name, f in _functions(tools)}


def tool_risks(tools: Iterable[dict[str, Any]] | None) -> dict[str, Risk]:
    """Each (decoded) tool's declared risk, from its ``x-copilot`` keyword; a tool without
    a valid one is left out, so a reader can treat it as a change (fail safe)."""
    out = {}
    for name, function in _functions(tools):
        meta = (function.get("parameters") or {}).get(TOOL_META)
        if isinstance(meta, dict) and meta.get("risk") in {r.value for r in Risk}:
            out[name] = Risk(meta["risk"])
    return out


def tool_aliases(tools: Iterable[dict[str, Any]] | None) -> dict[str, list[str]]:
    """Each (decoded) tool's alias phrases, from its ``x-copilot`` keyword."""
    out = {}
    for name, function in _functions(tools):
        meta = (function.get("parameters") or {}).get(TOOL_META)
        raw = meta.get("aliases") if isinstance(meta, dict) else None
        if isinstance(raw, list):
            out[name] = [str(a) for a in raw if isinstance(a, str)]
    return out
