"""`make demo`: a bad deploy in the sandbox, a rollback proposed, refused, approved, verified.

Runs entirely offline on the embedded default (SQLite in ./.copilot, packaged policies,
the sandbox). Every step goes through the same core the CLI uses.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from rich.console import Console

from copilot.cli.render import print_execution, print_outcome
from copilot.core import Core
from copilot.errors import CopilotError
from copilot.settings import load_settings


def _error_rate(core: Core, service: str) -> float:
    _, ran = core.call(core.principal("dana"), "sandbox.get_metrics", {"service": service})
    assert ran is not None and ran.result is not None
    return float(ran.result["error_rate"])


def main() -> int:
    from tools import sandbox

    c = Console(highlight=False)
    # The demo's clock runs ahead when the story says "minutes later", so the sandbox has
    # logs and metrics for that time; everything else uses it like the real one.
    ahead = [timedelta(0)]
    core = Core.open(load_settings(), clock=lambda: datetime.now(UTC) + ahead[0])
    now = core.book.clock()
    c.rule("1. production is healthy")
    c.print(sandbox.reset_world(core.store, core.settings, now))
    c.print(f"checkout error rate: {_error_rate(core, 'checkout'):.1%}")

    c.rule("2. a bad deploy reaches checkout")
    c.print(sandbox.inject_fault(core.store, core.settings, "bad_deploy", "checkout", now))
    c.print(f"checkout error rate: {_error_rate(core, 'checkout'):.1%}")

    ahead[0] += timedelta(minutes=2)
    c.rule("3. minutes later: the logs dump a bearer token, redacted")
    _, ran_logs = core.call(
        core.principal("dana"),
        "sandbox.get_logs",
        {"service": "checkout", "contains": "Authorization", "limit": 2},
    )
    assert ran_logs is not None and ran_logs.result is not None
    for line in ran_logs.result["lines"]:
        c.print(f"{line['level']} {line['pod']}: {line['message']}", markup=False)

    c.rule("4. alice (responder) proposes a rollback")
    outcome, _ = core.call(
        core.principal("alice"), "sandbox.rollback_deployment", {"service": "checkout"}
    )
    print_outcome(outcome)
    approval_id = outcome.approval.id

    c.rule("5. alice tries to approve her own change")
    try:
        core.approve(approval_id, core.principal("alice"))
    except CopilotError as err:
        c.print(f"[red]refused[/red]: {err.message}")

    c.rule("6. bob (SRE) approves: the executor runs it, once")
    ran = core.approve(approval_id, core.principal("bob"))
    assert ran is not None
    print_execution(ran)
    try:
        core.executor.execute(approval_id, core.principal("bob"))
    except CopilotError as err:
        c.print(f"replaying the approval: [red]refused[/red]: {err.message}")

    c.rule("7. verify: checkout recovered, the audit chain holds")
    c.print(f"checkout error rate: {_error_rate(core, 'checkout'):.1%}")
    from copilot.audit import verify_chain

    report = verify_chain(core.store)
    c.print(
        f"audit: {'ok' if report.ok else report.problem} — {report.events} events, "
        f"head {report.head_seq}:{report.head_hash[:16]}…"
    )
    c.print(
        "\nNext: `.venv/bin/copilot proposals`, `.venv/bin/copilot audit export --format ocsf`, "
        "`.venv/bin/copilot sandbox faults`"
    )
    core.close()
    return 0 if report.ok and ran.status.value == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
