"""The Loki pack: a LogQL range query, folded into log templates for a compact answer (read)."""

from __future__ import annotations

from copilot.toolkit import ToolSpec

from .reads import query_range

TOOLS: list[ToolSpec] = [query_range]
