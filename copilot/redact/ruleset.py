"""The rule set a process redacts with, built from settings, and the redactor over it.

Every boundary (audit, tool results, errors, exports, traces, logs, model context) uses a
redactor built here, so one setting changes them all. Compiling the built-in rules costs
tens of milliseconds, so rule sets are cached per configuration.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from copilot.redact.engine import Redactor
from copilot.redact.rules import Rule
from copilot.settings import RedactionSettings, Settings

log = logging.getLogger("copilot.redact")


@lru_cache(maxsize=8)
def rules_for(
    *, pii: bool = True, ips: bool = False, rules_file: Path | None = None
) -> tuple[Rule, ...]:
    """Built-in secret rules, plus PII and IP rules when asked, plus a gitleaks-format file.

    A rule of that file that cannot be compiled is skipped with a warning naming it and its
    line (never silently); a file that cannot be read or parsed raises ``ConfigError``.
    """
    from copilot.redact.builtin import BUILTIN_RULES, IP_RULES, PII_RULES
    from copilot.redact.gitleaks import load_gitleaks

    chosen = [*BUILTIN_RULES, *(PII_RULES if pii else ()), *(IP_RULES if ips else ())]
    if rules_file is not None:
        loaded = load_gitleaks(rules_file)
        for s in loaded.skipped:
            log.warning("%s:%d: rule %s skipped: %s", rules_file, s.line, s.rule, s.reason)
        chosen += loaded.rules
    return tuple(chosen)


def redactor_for(config: Settings | RedactionSettings | None = None) -> Redactor:
    """A fresh redactor (its own placeholder memory) with the configured rules."""
    if isinstance(config, Settings):
        config = config.redaction
    config = config or RedactionSettings()
    return Redactor(rules_for(pii=config.pii, ips=config.ips, rules_file=config.rules_file))


def default_redactor() -> Redactor:
    """Built-in secrets and PII: for paths that have no settings (e.g. a CLI error line)."""
    return redactor_for(None)
