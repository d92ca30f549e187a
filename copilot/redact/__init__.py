"""Redaction: secrets and PII become stable placeholders before anything leaves the process."""

from copilot.redact.engine import Finding, Redacted, Redactor
from copilot.redact.rules import Rule, compile_rule

__all__ = ["Finding", "Redacted", "Redactor", "Rule", "compile_rule"]
