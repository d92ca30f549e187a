"""The built-in rule set: vendor token formats, contextual detectors, PII.

``BUILTIN_RULES`` are the secret detectors (always on). ``PII_RULES`` (e-mail, phone, payment
cards) are on by default too; ``IP_RULES`` are off by default because incident work needs
addresses. The card rule carries ``validate`` (a Luhn check) and the tag ``luhn``; the
private-key rule spans lines and carries the tag ``multiline``.
"""

from __future__ import annotations

from dataclasses import replace

from copilot.redact.builtin_generic import GENERIC_RULES, VALUE_ALLOW
from copilot.redact.builtin_pii import IP_RULES, PII_RULES, card_number_ok, luhn_ok
from copilot.redact.builtin_vendor import PLACEHOLDER, VENDOR_RULES
from copilot.redact.rules import Rule

_MULTILINE = {"private-key", "kubernetes-secret-data"}

BUILTIN_RULES: tuple[Rule, ...] = tuple(
    replace(r, tags=(*r.tags, "multiline")) if r.id in _MULTILINE else r
    for r in (*VENDOR_RULES, *GENERIC_RULES)
)
DEFAULT_RULES: tuple[Rule, ...] = (*BUILTIN_RULES, *PII_RULES)

__all__ = [
    "BUILTIN_RULES",
    "DEFAULT_RULES",
    "IP_RULES",
    "PII_RULES",
    "PLACEHOLDER",
    "VALUE_ALLOW",
    "card_number_ok",
    "luhn_ok",
]
