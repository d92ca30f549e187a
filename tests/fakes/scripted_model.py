"""A scripted model for graph tests: a function from (messages, tools) to a reply.

It stands in for ``ModelGateway`` (same ``complete`` signature), so the graph runs exactly
as it would with a real model, minus the network and the latency. Every request is kept
for assertions (what the model was shown, which tools it was offered).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from copilot.model.context import parse_provenance, parse_untrusted
from copilot.model.gateway import ModelReply, ToolCall, Usage

Script = Callable[[list[dict[str, Any]], list[dict[str, Any]]], ModelReply]


def call(name: str, **arguments: Any) -> ToolCall:
    """A tool call as the gateway hands it over: the registry name decoded from the
    function name the model wrote (OpenAI function names have no dots)."""
    return ToolCall(
        id=f"call_{name}",
        name=name,
        raw_name=name.replace(".", "__"),
        arguments=json.dumps(arguments),
    )


def reply(content: str | None = None, *calls: ToolCall) -> ModelReply:
    """A reply as the gateway hands it over: the provenance block parsed out of the text."""
    text, citations = parse_provenance(content)
    return ModelReply(
        content=content,
        text=text,
        citations=citations,
        tool_calls=list(calls),
        usage=Usage(prompt_tokens=10, completion_tokens=5),
    )


class ScriptedModel:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []

    def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> ModelReply:
        self.requests.append((messages, tools or []))
        return self.script(messages, tools or [])

    # what the last request showed the model
    def blocks(self, index: int = -1) -> dict[str, Any]:
        text = "\n".join(str(m.get("content", "")) for m in self.requests[index][0])
        return parse_untrusted(text)

    def offered(self, index: int = -1) -> set[str]:
        return {t["function"]["name"].replace("__", ".") for t in self.requests[index][1]}
