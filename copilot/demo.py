"""`make demo`: a bad deploy in the sandbox; the agent proposes a rollback from the runbook;
the requester's own approval is refused, an SRE's runs it, and the agent verifies.

Runs entirely offline on the embedded default (SQLite in ./.copilot, packaged policies,
the sandbox). Every step goes through the same core the CLI uses.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from rich.console import Console

from copilot.core import Core
from copilot.errors import CopilotError
from copilot.settings import load_settings


def _error_rate(core: Core, service: str) -> float:
    _, ran = core.call(core.principal("dana"), "sandbox.get_metrics", {"service": service})
    assert ran is not None and ran.result is not None
    return float(ran.result["error_rate"])


def main() -> int:
    from copilot.cli.agent_cmd import print_reply
    from copilot.service import CopilotService
    from copilot_tools import sandbox

    c = Console(highlight=False)
    # The demo's clock runs ahead when the story says "minutes later", so the sandbox has
    # logs and metrics for that time; everything else uses it like the real one.
    ahead = [timedelta(0)]
    service = CopilotService.open(load_settings(), clock=lambda: datetime.now(UTC) + ahead[0])
    core = service.core
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

    c.rule('4. alice (responder) asks the copilot: "checkout is returning 500s"')
    c.print("(offline planner, no network, no key: it follows the bad-deploy runbook)")
    reply = service.handle_message(core.principal("alice"), "demo", "checkout is returning 500s")
    print_reply(reply)
    if not reply.cards:
        c.print("[red]no card was proposed[/red]")
        service.close()
        return 1
    approval_id = reply.cards[0].approval_id

    c.rule("5. alice tries to approve her own change")
    try:
        service.decide(approval_id, core.principal("alice"), "approve")
    except CopilotError as err:
        c.print(f"[red]refused[/red]: {err.message}")

    c.rule("6. bob (SRE) approves: the executor runs it, once, and the copilot verifies")
    done = service.decide(approval_id, core.principal("bob"), "approve")
    print_reply(done)
    try:
        core.executor.execute(approval_id, core.principal("bob"))
    except CopilotError as err:
        c.print(f"replaying the approval: [red]refused[/red]: {err.message}")

    c.rule("7. checkout recovered, the audit chain holds")
    c.print(f"checkout error rate: {_error_rate(core, 'checkout'):.1%}")
    from copilot.audit import verify_chain

    report = verify_chain(core.store)
    c.print(
        f"audit: {'ok' if report.ok else report.problem} — {report.events} events, "
        f"head {report.head_seq}:{report.head_hash[:16]}…"
    )
    c.print(
        '\nNext: `.venv/bin/copilot ask "what is the status of checkout" --as dana`, '
        "`.venv/bin/copilot chat --as alice`, `.venv/bin/copilot audit export --format ocsf`, "
        "`.venv/bin/copilot sandbox faults`"
    )
    succeeded = bool(done.cards) and done.cards[0].state == "succeeded"
    service.close()
    return 0 if report.ok and succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
