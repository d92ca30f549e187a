"""The one way to call a model: the context is redacted, then litellm is called.

Unset ``COPILOT_MODEL`` means the embedded offline planner (``copilot/offline-planner``,
registered with litellm on first use), so the same call path serves both.

Whatever the agent puts in front of a model — the request, retrieved runbooks, tool
output, chat history, earlier tool calls — passes the redactor here, at the last moment,
so no caller can forget it. litellm is imported on first use (it costs seconds) and runs
in offline mode unless the operator opts out (otherwise it fetches a price map and
tokenizers from the network).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from pydantic import BaseModel, Field

from copilot.errors import ConfigError
from copilot.model.context import Citation, parse_provenance
from copilot.model.offline import OFFLINE_MODEL, PROVIDER, register_offline_model
from copilot.model.prompts import decode_tool_name
from copilot.redact.engine import Redactor
from copilot.settings import Settings

log = logging.getLogger("copilot.model")


class ToolCall(BaseModel):
    id: str
    name: str  # the tool's registry name (``sandbox.get_metrics``), decoded
    arguments: str  # JSON text, as the model wrote it
    raw_name: str = ""  # the function name as the model wrote it (``sandbox__get_metrics``)


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0  # litellm's price for the call; 0 when it does not know the model
    calls: int = 0

    def plus(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_usd=round(self.cost_usd + other.cost_usd, 8),
            calls=self.calls + other.calls,
        )


class ModelReply(BaseModel):
    content: str | None = None  # as the model wrote it, provenance block included
    text: str = ""  # the words for people: content without the provenance block
    tool_calls: list[ToolCall] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    model: str = ""

    @property
    def cost_usd(self) -> float:
        return self.usage.cost_usd

    def citation_for(self, index: int) -> Citation | None:
        """The citation of ``tool_calls[index]`` (0-based): by its number, else the only
        citation naming its tool."""
        call = self.tool_calls[index]
        by_number = [c for c in self.citations if c.call == index + 1]
        if by_number and (not by_number[0].tool or _same_tool(by_number[0].tool, call.name)):
            return by_number[0]
        named = [c for c in self.citations if _same_tool(c.tool, call.name)]
        return named[0] if len(named) == 1 else None


def _same_tool(cited: str, name: str) -> bool:
    return decode_tool_name(cited) == name


def redact_messages(messages: list[dict[str, Any]], redactor: Redactor) -> list[dict[str, Any]]:
    """Copies of OpenAI-format messages with every string in them redacted: contents (text
    and multi-part), names, tool calls and their JSON arguments, dict keys, and any field a
    caller added -- all but ``role``, which is one of a few fixed words."""
    return [
        {
            k if k == "role" else redactor.text(k): v if k == "role" else redactor.value(v)
            for k, v in message.items()
        }
        for message in messages
    ]


def load_litellm(offline: bool) -> Any:
    """litellm, imported on first use (seconds), offline unless the operator opted out.
    The one place that imports it; others (token counting) get it from here."""
    if offline:
        os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")
    import litellm

    return litellm


class ModelGateway:
    """Calls the configured model (default: the offline planner) through litellm with a
    redacted context; timeouts, retries and fallbacks are litellm's; usage and cost are
    added up per gateway (``totals``) and returned with every reply."""

    def __init__(self, settings: Settings, redactor: Redactor) -> None:
        self.settings = settings
        self.redactor = redactor
        self.totals = Usage()
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return self.settings.model or OFFLINE_MODEL

    def warm(self) -> None:
        """Import litellm now (seconds), so a server's first turn does not wait for it; and
        load its tokenizer, which a first completion would otherwise build while holding
        the interpreter lock for a quarter of a second (every request of a server waits)."""
        litellm = self._litellm()
        try:
            litellm.encode(model=self.model, text="warm up")
        except Exception:  # an unknown tokenizer only costs the first turn its load time
            log.debug("could not load the tokenizer ahead of the first turn", exc_info=True)

    def _litellm(self) -> Any:
        litellm = load_litellm(self.settings.litellm_offline)
        if self.model.startswith(f"{PROVIDER}/") or any(
            f.startswith(f"{PROVIDER}/") for f in self.settings.model_fallbacks
        ):
            register_offline_model(litellm)
        return litellm

    def _kwargs(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> dict[str, Any]:
        s = self.settings
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": redact_messages(messages, self.redactor),
            "timeout": s.model_timeout_s,
            "num_retries": s.model_retries,
        }
        if tools:
            kwargs["tools"] = tools
        if s.model and s.model_api_base:
            kwargs["api_base"] = s.model_api_base
        if s.model and s.model_api_key:
            kwargs["api_key"] = s.model_api_key
        if s.model_fallbacks:
            # the offline planner as a fallback takes none of the hosted model's endpoint
            kwargs["fallbacks"] = [
                {"model": f, "api_base": None, "api_key": None}
                if f.startswith(f"{PROVIDER}/")
                else f
                for f in s.model_fallbacks
            ]
        return kwargs

    def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> ModelReply:
        litellm = self._litellm()
        response = litellm.completion(**self._kwargs(messages, tools))
        return self._record(litellm, response)

    async def acomplete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> ModelReply:
        litellm = self._litellm()
        response = await litellm.acompletion(**self._kwargs(messages, tools))
        return self._record(litellm, response)

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Embeddings of ``texts`` from ``COPILOT_EMBEDDING_MODEL``, each text redacted first
        (runbooks quote commands and sometimes credentials: they leave the process too)."""
        s = self.settings
        if not s.embedding_model:
            raise ConfigError(
                "no embedding model is configured",
                "set COPILOT_EMBEDDING_MODEL, or leave it unset for the bundled offline model",
            )
        litellm = load_litellm(s.litellm_offline)
        kwargs: dict[str, Any] = {
            "model": s.embedding_model,
            "input": [self.redactor.text(t) for t in texts],
            "timeout": s.model_timeout_s,
            "num_retries": s.model_retries,
        }
        base = s.embedding_api_base or s.model_api_base
        key = s.embedding_api_key or s.model_api_key
        if base:
            kwargs["api_base"] = base
        if key:
            kwargs["api_key"] = key
        response = litellm.embedding(**kwargs)
        rows = sorted(response.data, key=lambda d: _field(d, "index"))
        return [list(map(float, _field(d, "embedding"))) for d in rows]

    def _record(self, litellm: Any, response: Any) -> ModelReply:
        reply = _reply(response, _cost(litellm, response))
        with self._lock:
            self.totals = self.totals.plus(reply.usage)
        return reply


def _field(item: Any, name: str) -> Any:
    """litellm hands embedding rows back as dicts or objects, by version and provider."""
    return item[name] if isinstance(item, dict) else getattr(item, name)


def _cost(litellm: Any, response: Any) -> float:
    """litellm's price for the call; 0 when it does not know the model (never raises:
    accounting must not fail a turn)."""
    try:
        return float(litellm.completion_cost(completion_response=response) or 0.0)
    except Exception:
        return 0.0


def _reply(response: Any, cost: float = 0.0) -> ModelReply:
    message = response.choices[0].message
    calls = [
        ToolCall(
            id=c.id,
            name=decode_tool_name(c.function.name or ""),
            arguments=c.function.arguments or "{}",
            raw_name=c.function.name or "",
        )
        for c in (getattr(message, "tool_calls", None) or [])
    ]
    text, citations = parse_provenance(message.content)
    usage = getattr(response, "usage", None)
    return ModelReply(
        content=message.content,
        text=text,
        tool_calls=calls,
        citations=citations,
        usage=Usage(
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
            cost_usd=cost,
            calls=1,
        ),
        model=getattr(response, "model", "") or "",
    )
