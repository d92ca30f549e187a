"""Incident copilot: typed operational actions behind policy, approvals and an audit log."""

from copilot.toolkit import ToolContext, ToolSpec, tool

__all__ = ["ToolContext", "ToolSpec", "tool"]
__version__ = "0.1.0"
