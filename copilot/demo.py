"""`make demo`: a bad deploy in the sandbox fires an alert, which opens an incident; the
agent proposes a rollback from the runbook; the requester's own approval is refused, an
SRE's runs it, and the agent verifies; the incident is resolved and its postmortem drafted
from the timeline, every sentence citing its evidence.

Runs entirely offline on the embedded default (SQLite in ./.copilot, packaged policies,
the sandbox). Every step goes through ``CopilotService``, as every surface does.
"""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from rich.console import Console

from copilot.domain.incidents import duration
from copilot.errors import CopilotError
from copilot.settings import DEMO, load_settings

if TYPE_CHECKING:
    from copilot.service import CopilotService


def _error_rate(service: CopilotService, name: str) -> float:
    dana = service.principal("dana")
    _, ran = service.call(dana, "sandbox.get_metrics", {"service": name})
    assert ran is not None and ran.result is not None
    return float(ran.result["error_rate"])


def demo_alert(group: str) -> dict[str, object]:
    """What Alertmanager posts when the sandbox's SandboxHighErrorRate rule fires."""
    now = datetime.now(UTC).isoformat()
    labels = {"alertname": "SandboxHighErrorRate", "service": "checkout", "severity": "critical"}
    return {
        "version": "4",
        "groupKey": group,
        "status": "firing",
        "receiver": "copilot",
        "commonLabels": labels,
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": "checkout is failing 31% of requests"},
                "startsAt": now,
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": group,
            }
        ],
    }


def main() -> int:
    from copilot.service import CopilotService
    from copilot.surfaces.cli.render import print_reply

    c = Console(highlight=False)
    # The demo's clock runs ahead when the story says "minutes later", so the sandbox has
    # logs and metrics for that time; everything else uses it like the real one.
    ahead = [timedelta(0)]
    # Demo mode: the demo's people (dana, alice, bob, carol, root), whatever copilot.toml says.
    settings = load_settings(users=DEMO)
    service = CopilotService.open(settings, clock=lambda: datetime.now(UTC) + ahead[0])
    alice, bob = service.principal("alice"), service.principal("bob")
    c.rule("1. production is healthy")
    c.print(service.reset_sandbox())
    c.print(f"checkout error rate: {_error_rate(service, 'checkout'):.1%}")

    c.rule("2. a bad deploy reaches checkout; Alertmanager's webhook opens an incident")
    c.print(service.inject_fault("bad_deploy", "checkout"))
    c.print(f"checkout error rate: {_error_rate(service, 'checkout'):.1%}")
    # each run is an incident of its own: its own alert group, conversation and card
    got = service.receive_webhook("alertmanager", demo_alert(f"demo-{uuid.uuid4().hex[:8]}"))
    assert got is not None
    incident = got.incident
    c.print(f"{incident.id} opened: {incident.title}, severity {incident.severity}")
    service.update_incident(incident.id, bob, "ack")
    c.print(f"bob acknowledged {incident.id}")

    ahead[0] += timedelta(minutes=2)
    c.rule("3. minutes later: the logs dump a bearer token, redacted")
    _, ran_logs = service.call(
        service.principal("dana"),
        "sandbox.get_logs",
        {"service": "checkout", "contains": "Authorization", "limit": 2},
    )
    assert ran_logs is not None and ran_logs.result is not None
    for line in ran_logs.result["lines"]:
        c.print(f"{line['level']} {line['pod']}: {line['message']}", markup=False)

    c.rule('4. alice (responder) asks the copilot: "checkout is returning 500s"')
    c.print("(offline planner, no network, no key: it follows the bad-deploy runbook)")
    conversation = incident.conversation
    reply = service.handle_message(alice, conversation, "checkout is returning 500s")
    print_reply(reply)
    if not reply.cards:
        c.print("[red]no card was proposed[/red]")
        service.close()
        return 1
    approval_id = reply.cards[0].approval_id

    c.rule("5. alice tries to approve her own change")
    try:
        service.decide(approval_id, alice, "approve")
    except CopilotError as err:
        c.print(f"[red]refused[/red]: {err.message}")

    c.rule("6. bob (SRE) approves: the executor runs it, once, and the copilot verifies")
    done = service.decide(approval_id, bob, "approve")
    print_reply(done)
    try:
        service.execute(approval_id, bob)
    except CopilotError as err:
        c.print(f"replaying the approval: [red]refused[/red]: {err.message}")

    c.rule("7. checkout recovered, the audit chain holds")
    c.print(f"checkout error rate: {_error_rate(service, 'checkout'):.1%}")
    report = service.verify_audit()
    c.print(
        f"audit: {'ok' if report.ok else report.problem} — {report.events} events, "
        f"head {report.head_seq}:{report.head_hash[:16]}…"
    )
    c.rule(f"8. bob resolves {incident.id}; the postmortem is drafted from its timeline")
    service.update_incident(incident.id, bob, "resolve")
    pm = service.draft_postmortem(incident.id, bob)
    for claim in pm.draft.sections["Summary"]:
        c.print(f"- {claim.text}", markup=False)
    shown = service.incident(incident.id)
    claims = sum(len(v) for v in pm.draft.sections.values())
    c.print(
        f"{claims} claims, each citing the timeline; {len(pm.draft.open_questions)} open "
        f"questions; MTTA {duration(shown.mtta_s)}, MTTR {duration(shown.mttr_s)}. The whole "
        f"draft: `.venv/bin/copilot postmortem show {incident.id}`"
    )
    c.print(
        "\nNext, as the demo's people (`export COPILOT_USERS=demo`; your own go in "
        "copilot.toml as \\[users.NAME]): "
        '`.venv/bin/copilot ask "what is the status of checkout" --as dana`, '
        "`.venv/bin/copilot chat --as alice`, `.venv/bin/copilot audit export --format ocsf`, "
        "`.venv/bin/copilot sandbox faults`"
    )
    succeeded = bool(done.cards) and done.cards[0].state.value == "succeeded"
    report = service.verify_audit()  # with what step 8 added
    service.close()
    return 0 if report.ok and succeeded else 1


def run() -> int:
    """``main`` with a broken configuration told in one line (exit 78), as the CLI does."""
    from copilot.redact.ruleset import default_redactor
    from copilot.surfaces.cli.errors import exit_code

    try:
        return main()
    except CopilotError as err:
        print(f"error: {default_redactor().text(err.one_line())}", file=sys.stderr)
        return exit_code(err)


if __name__ == "__main__":
    sys.exit(run())
