"""What ``copilot eval`` runs each scenario with: a clock that moves only when the scenario
lets minutes pass, a model gateway that keeps what it sends (for token counts and canary
checks), and what all scenarios share (packaged settings, the registry, one runbook index)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from copilot.model.gateway import ModelGateway, load_litellm
from copilot.model.prompts import decode_tool_name
from copilot.settings import DEMO, Settings, load_settings
from copilot_evals.results import Tokens
from copilot_evals.scoring import dumps

# The settings that choose and reach the model: the only ones taken from the environment.
MODEL_FIELDS = (
    "model",
    "model_api_base",
    "model_api_key",
    "model_timeout_s",
    "model_retries",
    "model_fallbacks",
    "litellm_offline",
)
# The first diagnosis of an incident opened by an alert step runs as this user.
ONCALL = "alice"


# -- the clock and the recording gateway ---------------------------------------------------
class ScenarioClock:
    """Stands still unless the scenario lets time pass (no flakiness from the wall clock)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


class RecordingGateway(ModelGateway):
    """The real gateway, keeping what it sends: the tools offered and the (redacted)
    messages, exactly as litellm receives them."""

    def __init__(self, settings: Settings, redactor: Any) -> None:
        super().__init__(settings, redactor)
        self.sent: list[tuple[list[str], str]] = []  # (tools offered, messages as JSON)
        self.received_chars = 0

    def _kwargs(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> dict[str, Any]:
        kwargs = super()._kwargs(messages, tools)
        names = [decode_tool_name(t["function"]["name"]) for t in kwargs.get("tools") or []]
        self.sent.append((names, dumps(kwargs["messages"])))
        return kwargs

    def _record(self, litellm: Any, response: Any) -> Any:
        reply = super()._record(litellm, response)
        self.received_chars += len(reply.content or "") + len(dumps(reply.tool_calls))
        return reply

    def tokens(self) -> Tokens:
        """What this scenario's model calls used: the provider's count, else an estimate."""
        t = self.totals
        if t.prompt_tokens or t.completion_tokens:
            return Tokens(prompt=t.prompt_tokens, completion=t.completion_tokens, calls=t.calls)
        sent = sum(len(m) for _, m in self.sent)
        return Tokens(
            prompt=sent // 4,
            completion=self.received_chars // 4,
            calls=len(self.sent),
            estimated=True,
        )


# -- what scenarios share ------------------------------------------------------------------
@dataclass
class Shared:
    model_settings: dict[str, Any]
    root: Path
    registry: Any = None
    index: Any = None

    def settings(self, data_dir: Path, overrides: dict[str, Any]) -> Settings:
        """Packaged defaults for everything but the model; explicit values win over the
        environment in pydantic-settings, so nothing of the operator's config leaks in."""
        values = {
            name: f.get_default(call_default_factory=True)
            for name, f in Settings.model_fields.items()
            if name not in MODEL_FIELDS
        }
        # the scenarios' people are the demo's (dana, alice, bob, sam, carol, root)
        values["users"] = DEMO
        values["incidents"] = values["incidents"].model_copy(update={"oncall": ONCALL})
        return Settings(**{**values, **self.model_settings, **overrides, "data_dir": data_dir})

    def open(self) -> None:
        from copilot.redact.ruleset import redactor_for
        from copilot.service import open_runbook_index
        from copilot.toolkit.registry import discover

        self.registry = discover([])
        settings = self.settings(self.root / "runbooks", {})
        self.index = open_runbook_index(settings, redactor_for(settings))
        # Load what the first scenario would otherwise pay for, so its time is its own.
        self.index.search("warm up the embedder")
        load_litellm(bool(self.model_settings["litellm_offline"]))


def model_settings_for(model: str | None, base: Settings | None) -> dict[str, Any]:
    base = base if base is not None else load_settings()
    values = {name: getattr(base, name) for name in MODEL_FIELDS}
    if model is not None:
        values["model"] = model or None
    return values
