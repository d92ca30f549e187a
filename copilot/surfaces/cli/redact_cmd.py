"""`copilot redact`: a stdin → stdout filter that removes secrets (useful on its own)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from copilot.surfaces.cli.common import print_json


def redact(
    rules: Path | None = typer.Option(None, "--rules", help="extra gitleaks-format TOML rules"),
    as_json: bool = typer.Option(False, "--json", help="print the findings, not the text"),
    pii: bool = typer.Option(True, "--pii/--no-pii", help="also e-mails, phones, card numbers"),
    ips: bool = typer.Option(False, "--ips", help="also IP addresses (off: incidents need them)"),
) -> None:
    """Read text on stdin, write it with secrets replaced by [REDACTED:<rule>:<n>]."""
    from copilot.redact.engine import Redactor
    from copilot.redact.ruleset import rules_for
    from copilot.redact.stream import redact_stream

    _warn_to_stderr()
    chosen = rules_for(pii=pii, ips=ips, rules_file=rules)
    findings = []
    for chunk, found in redact_stream(sys.stdin.buffer, Redactor(chosen)):
        if as_json:
            findings += found
        else:
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
    if as_json:
        print_json(
            [
                {
                    "rule": f.rule,
                    "kind": f.kind,
                    "start": f.start,
                    "end": f.end,
                    "placeholder": f.placeholder,
                }
                for f in findings
            ]
        )


def _warn_to_stderr() -> None:
    """Skipped rules of a --rules file are reported on stderr, never silently."""
    import logging

    log = logging.getLogger("copilot.redact")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("warning: %(message)s"))
        log.addHandler(handler)
        log.propagate = False
