"""The Prometheus pack: instant and range PromQL queries, alerts and scrape targets (reads)."""

from __future__ import annotations

from copilot.toolkit import ToolSpec

from .reads import alerts, query, query_range, targets

TOOLS: list[ToolSpec] = [query, query_range, alerts, targets]
