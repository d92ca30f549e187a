"""The embedded default model: a deterministic planner served as a litellm provider.

``copilot/offline-planner`` answers like any chat model: it reads the messages built by
``copilot.model.prompts.build_messages`` (parsing the same ``<untrusted>`` blocks a hosted
model is shown) and the request's ``tools``, and returns an OpenAI-format assistant
message with ``tool_calls`` and a ``<provenance>`` block. What it does:

- a question ("what is the status of checkout", "is search healthy", "which runbook
  applies") is answered from the facts and runbooks, without tool calls (a status question
  about something no fact covers first reads ``sandbox.service_status`` when offered);
- no runbook covers the request (retrieval abstained, or none has a playbook): it says so,
  lists what was gathered and what looks abnormal, and proposes nothing;
- otherwise it follows the best runbook's playbook (``offline_plan``), and on a repair round
  fixes what the rejection names or gives up.

It cannot reason beyond its runbooks: no diagnosis across services, no free-form chat, no
plans a playbook does not spell out. It never streams.

litellm is imported only by ``copilot.model.gateway``: this module receives the module
object and builds its ``CustomLLM`` subclass at registration.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from typing import Any

from copilot.errors import InvalidInput
from copilot.model.context import Citation, PlannerContext, format_provenance
from copilot.model.offline_answers import (
    Plan,
    PlannedCall,
    abstain,
    answer_runbooks,
    answer_status,
    entity_status,
)
from copilot.model.offline_plan import (
    Tools,
    best_runbook,
    follow_playbook,
    incident_entities,
    repair,
)
from copilot.model.prompts import (
    encode_tool_name,
    read_context,
    tool_descriptions,
    tool_parameters,
    tool_risks,
)

PROVIDER = "copilot"
OFFLINE_MODEL = "copilot/offline-planner"

_ACTION = re.compile(
    r"\b(what (do|should|can|shall|must) (we|i)|what now|what next|fix|mitigat\w*|"
    r"remediat\w*|resolve|roll ?back|restart|do something|deal with|handle)\b",
    re.I,
)
_RUNBOOK_Q = re.compile(
    r"\b(which|what|is there|are there|any|do we have|find|show)\b.*\b(runbooks?|playbooks?)\b",
    re.I,
)
_STATUS_Q = re.compile(
    r"^\s*(?:what(?:'s| is| are)?\s+(?:the\s+)?(?:current\s+)?(?:status|state|health)\b"
    r"|how(?:'s| is| are)\b"
    r"|(?:is|are)\s+[\w.-]+(?:\s+[\w.-]+)?\s+(?:healthy|ok|okay|up|down|fine|working|alright)\b"
    r"|(?:show|give)(?:\s+me)?\s+(?:the\s+)?(?:status|health)\b"
    r"|status\b)"
    r"|\b(?:status|health)\s+of\b|\bstatus\s*\??\s*$",
    re.I,
)


def classify(request: str) -> str:
    """``runbook`` / ``status`` questions, or an ``incident`` to act on."""
    if _ACTION.search(request):
        return "incident"
    if _RUNBOOK_Q.search(request):
        return "runbook"
    if _STATUS_Q.search(request):
        return "status"
    return "incident"


def plan(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Plan:
    """What the offline planner says and proposes for these messages (pure)."""
    ctx = read_context(messages)
    if ctx is None:
        return Plan(
            "I am the copilot's offline planner: I work from the runbooks and telemetry the "
            "copilot gathers for an incident, which these messages do not carry. Ask through "
            "the copilot, or set COPILOT_MODEL to a chat model for free-form questions."
        )
    offered = Tools(
        descriptions=tool_descriptions(tools),
        parameters=tool_parameters(tools),
        risks=tool_risks(tools),
    )
    kind = classify(ctx.request)
    if kind == "runbook":
        return answer_runbooks(ctx)
    if kind == "status":
        return _status(ctx, offered)
    book = best_runbook(ctx)
    if ctx.no_runbook or book is None:
        why = "No runbook covers this request"
        why += f" ({ctx.no_runbook_reason})." if ctx.no_runbook_reason else "."
        if not ctx.no_runbook and ctx.runbooks:
            why = "The runbooks retrieved for this request have no executable playbook."
        return abstain(ctx, why)
    result = follow_playbook(ctx, book, offered)
    if ctx.repair:
        result = repair(result, ctx.repair, offered)
    return result


_SUBJECT = re.compile(
    r"\b(?:status|health|state)\s+of\s+(?:the\s+)?([a-z][\w.-]*)"
    r"|^\s*(?:is|are|how(?:'s| is| are))\s+(?:the\s+)?([a-z][\w.-]*)",
    re.I,
)
_NOT_A_NAME = {"it", "everything", "things", "we", "service", "services", "prod", "the"}


def _status(ctx: PlannerContext, tools: Tools) -> Plan:
    entities = incident_entities(ctx, [])
    if not any(k != "revision" for k in entities) and (m := _SUBJECT.search(ctx.request)):
        name = (m.group(1) or m.group(2) or "").rstrip(".?!")
        if name and name.lower() not in _NOT_A_NAME:
            entities["service"] = name  # unknown to any fact: the status read will tell
    service = entities.get("service")
    status_tool = "sandbox.service_status"
    if service and tools.has(status_tool) and not entity_status(ctx, "service", service)[0]:
        asked = [f for f in ctx.facts if f.tool == status_tool]
        if not any(f.arguments.get("service") in (service, None) for f in asked):
            call = PlannedCall(
                status_tool,
                {"service": service},
                Citation(call=1, tool=status_tool, why=f"the question asks about {service}"),
            )
            return Plan(f"Reading the status of {service} first.", [call])
    return answer_status(ctx, entities)


# -- the OpenAI-format reply ----------------------------------------------------------------
def to_message(result: Plan) -> dict[str, Any]:
    """The assistant message: text plus provenance, and the tool calls (names encoded)."""
    citations = []
    calls = []
    for n, call in enumerate(result.calls, 1):
        citations.append(call.citation.model_copy(update={"call": n, "tool": call.tool}))
        arguments = json.dumps(call.arguments, sort_keys=True)
        digest = hashlib.sha256(f"{n}:{call.tool}:{arguments}:{result.text}".encode()).hexdigest()
        calls.append(
            {
                "id": f"call_{digest[:24]}",
                "type": "function",
                "function": {"name": encode_tool_name(call.tool), "arguments": arguments},
            }
        )
    content = result.text
    if citations:
        content = f"{content}\n\n{format_provenance(citations)}"
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    return message


def rough_tokens(value: Any) -> int:
    """About four characters a token: no tokenizer download, good enough for accounting."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return math.ceil(len(text) / 4)


def respond(messages: list[dict[str, Any]], optional_params: dict[str, Any]) -> dict[str, Any]:
    """The completion as a plain OpenAI-format dict (choices, usage)."""
    if optional_params.get("stream"):
        raise InvalidInput("the offline planner does not stream", "call it without stream=True")
    tools = optional_params.get("tools")
    message = to_message(plan(messages, tools))
    prompt = rough_tokens(messages) + (rough_tokens(tools) if tools else 0)
    completion = rough_tokens(message)
    return {
        "model": OFFLINE_MODEL,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


# -- litellm ------------------------------------------------------------------------------
class _OfflinePlannerMethods:
    """The ``CustomLLM`` methods; mixed into litellm's class at registration."""

    _litellm: Any = None

    def _answer(self, messages: list[Any], optional_params: dict[str, Any] | None) -> Any:
        body = respond([dict(m) for m in messages], dict(optional_params or {}))
        return self._litellm.ModelResponse(**body)

    def completion(self, *args: Any, **kwargs: Any) -> Any:
        return self._answer(kwargs["messages"], kwargs.get("optional_params"))

    async def acompletion(self, *args: Any, **kwargs: Any) -> Any:
        return self._answer(kwargs["messages"], kwargs.get("optional_params"))

    def streaming(self, *args: Any, **kwargs: Any) -> Any:
        raise InvalidInput("the offline planner does not stream", "call it without stream=True")

    async def astreaming(self, *args: Any, **kwargs: Any) -> Any:
        raise InvalidInput("the offline planner does not stream", "call it without stream=True")


_lock = threading.Lock()


def register_offline_model(litellm: Any) -> None:
    """Make ``copilot/offline-planner`` a litellm model (idempotent, thread-safe)."""
    with _lock:
        if any(item.get("provider") == PROVIDER for item in litellm.custom_provider_map):
            return
        cls = type("OfflinePlanner", (_OfflinePlannerMethods, litellm.CustomLLM), {})
        handler = cls()
        handler._litellm = litellm
        litellm.custom_provider_map = [
            *litellm.custom_provider_map,
            {"provider": PROVIDER, "custom_handler": handler},
        ]
        # Priced at zero, so cost accounting knows the model instead of failing on it.
        litellm.register_model(
            {
                OFFLINE_MODEL: {
                    "input_cost_per_token": 0.0,
                    "output_cost_per_token": 0.0,
                    "cache_creation_input_token_cost": 0.0,
                    "cache_read_input_token_cost": 0.0,
                    "litellm_provider": PROVIDER,
                    "mode": "chat",
                    "supports_function_calling": True,
                }
            }
        )
