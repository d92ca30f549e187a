"""The one way to call a model: the context is redacted, then litellm is called.

Whatever the agent puts in front of a model — the request, retrieved runbooks, tool
output, chat history, earlier tool calls — passes the redactor here, at the last moment,
so no caller can forget it. litellm is imported on first use (it costs seconds) and runs
in offline mode unless the operator opts out (otherwise it fetches a price map and
tokenizers from the network).
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, Field

from copilot.errors import ConfigError
from copilot.redact.engine import Redactor
from copilot.settings import Settings


class ToolCall(BaseModel):
    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ModelReply(BaseModel):
    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    model: str = ""


def redact_messages(messages: list[dict[str, Any]], redactor: Redactor) -> list[dict[str, Any]]:
    """Copies of OpenAI-format messages with every text redacted: string contents, text
    parts of multi-part contents, names, and the JSON arguments of earlier tool calls."""
    out = []
    for message in messages:
        m = dict(message)
        content = m.get("content")
        if isinstance(content, str):
            m["content"] = redactor.text(content)
        elif isinstance(content, list):
            m["content"] = [redactor.value(part) for part in content]
        if isinstance(m.get("name"), str):
            m["name"] = redactor.text(m["name"])
        if m.get("tool_calls"):
            m["tool_calls"] = [_redact_call(c, redactor) for c in m["tool_calls"]]
        out.append(m)
    return out


def _redact_call(call: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    call = dict(call)
    function = dict(call.get("function") or {})
    if isinstance(function.get("arguments"), str):
        function["arguments"] = redactor.text(function["arguments"])
    call["function"] = function
    return call


def load_litellm(offline: bool) -> Any:
    """litellm, imported on first use (seconds), offline unless the operator opted out.
    The one place that imports it; others (token counting) get it from here."""
    if offline:
        os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")
    import litellm

    return litellm


class ModelGateway:
    """Calls the configured model through litellm with a redacted context."""

    def __init__(self, settings: Settings, redactor: Redactor) -> None:
        self.settings = settings
        self.redactor = redactor

    def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> ModelReply:
        s = self.settings
        if not s.model:
            raise ConfigError(
                "no model is configured", "set COPILOT_MODEL to a litellm model string"
            )
        litellm = load_litellm(s.litellm_offline)
        kwargs: dict[str, Any] = {
            "model": s.model,
            "messages": redact_messages(messages, self.redactor),
            "timeout": s.model_timeout_s,
            "num_retries": s.model_retries,
        }
        if tools:
            kwargs["tools"] = tools
        if s.model_api_base:
            kwargs["api_base"] = s.model_api_base
        if s.model_api_key:
            kwargs["api_key"] = s.model_api_key
        response = litellm.completion(**kwargs)
        return _reply(response)


def _reply(response: Any) -> ModelReply:
    message = response.choices[0].message
    calls = [
        ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments or "{}")
        for c in (getattr(message, "tool_calls", None) or [])
    ]
    usage = getattr(response, "usage", None)
    return ModelReply(
        content=message.content,
        tool_calls=calls,
        usage=Usage(
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
        ),
        model=getattr(response, "model", "") or "",
    )
