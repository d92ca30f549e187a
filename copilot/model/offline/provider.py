"""The offline planner as a litellm provider: ``copilot/offline-planner`` answers in the
OpenAI format (an assistant message with ``tool_calls`` and a ``<provenance>`` block).

litellm is imported only by ``copilot.model.gateway``: this module receives the module
object and builds its ``CustomLLM`` subclass at registration.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from typing import Any

from copilot.errors import InvalidInput
from copilot.model.context import format_provenance
from copilot.model.offline.answers import Plan
from copilot.model.offline.planner import plan
from copilot.model.prompts import encode_tool_name

PROVIDER = "copilot"
OFFLINE_MODEL = "copilot/offline-planner"


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
