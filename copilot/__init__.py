"""Incident copilot: typed operational actions behind policy, approvals and an audit log."""

from copilot.toolkit import ToolContext, tool

__all__ = ["ToolContext", "tool"]
__version__ = "0.1.0"
