"""Shared CLI plumbing: open the service, print JSON or rich output, parse ``k=v``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from copilot.service import CopilotService

AS_USER = typer.Option(..., "--as", help="the user acting (from copilot.toml [users])")
JSON = typer.Option(False, "--json", help="print JSON")


@contextmanager
def open_service(telemetry: bool = True) -> Iterator[CopilotService]:
    """The service for this process's settings, closed afterwards; with its logs and spans
    unless the command only reads configuration (a catalogue, a policy check)."""
    from copilot.service import CopilotService
    from copilot.settings import load_settings

    service = CopilotService.open(load_settings())
    try:
        if telemetry:
            service.setup_telemetry()
        yield service
    finally:
        service.close()


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
