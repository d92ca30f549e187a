"""Shared CLI plumbing: open the core, print JSON or rich output."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from copilot.core import Core


def open_core() -> Core:
    from copilot.core import Core
    from copilot.settings import load_settings
    from copilot.telemetry import setup_process_telemetry

    settings = load_settings()
    core = Core.open(settings)
    setup_process_telemetry(settings.telemetry, core.redactor)
    return core


def console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


def parse_args(pairs: list[str]) -> dict[str, Any]:
    """``k=v`` pairs. Values stay strings (the tool's schema coerces "3" or "true"), except
    a JSON list or object, which is parsed."""
    from copilot.errors import InvalidInput

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"argument {pair!r} is not key=value", "write --arg name=value")
        value: Any = raw
        if raw.startswith(("[", "{")):
            try:
                value = json.loads(raw)
            except ValueError:
                raise InvalidInput(
                    f"argument {key} is not valid JSON", "check the quoting"
                ) from None
        if key.strip() in out:
            raise InvalidInput(f"argument {key.strip()} is given twice", "give each argument once")
        out[key.strip()] = value
    return out
