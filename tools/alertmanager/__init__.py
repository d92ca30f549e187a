"""The Alertmanager pack: read alerts and silences; create and expire silences (API v2)."""

from __future__ import annotations

from copilot.toolkit import ToolSpec

from .changes import create_silence, expire_silence
from .reads import alerts, silences

TOOLS: list[ToolSpec] = [alerts, silences, create_silence, expire_silence]
