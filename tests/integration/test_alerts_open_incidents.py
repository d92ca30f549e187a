"""Real servers end to end: a fault in the sandbox fires the Prometheus rule, the real
Alertmanager (Debian's package) posts to the copilot's webhook with the bearer token its
``http_config`` sends, an incident opens, and the card for the runbook's first change
appears in the incident's conversation, proposed by the first diagnosis."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from promstack import start_stack, wait_for

from copilot.service import CopilotService
from copilot.settings import Settings
from copilot.settings_incidents import IncidentSettings
from copilot.surfaces.web import create_app
from copilot.surfaces.web.threaded import serve_in_thread

RULES = Path(__file__).parents[2] / "tools" / "sandbox" / "alerts.yml"
TOKEN = "am-to-copilot-0123456789abcdef"
DEADLINE_S = 90.0


def test_prometheus_fires_alertmanager_posts_an_incident_opens_with_its_card(
    tmp_path: Path,
) -> None:
    from copilot_tools import sandbox as sb
    from copilot_tools.sandbox.exporter import serve_metrics

    settings = Settings(
        data_dir=tmp_path / "data",
        users="demo",
        incidents=IncidentSettings(webhook_token=TOKEN, oncall="alice"),
    )
    service = CopilotService.open(settings)
    service.reset_sandbox()
    web = serve_in_thread(create_app(settings, service))
    exporter, exporter_port = serve_metrics(settings)
    hook = {
        "url": f"{web.url}/webhooks/alertmanager",
        "send_resolved": True,
        "http_config": {"authorization": {"type": "Bearer", "credentials": TOKEN}},
    }
    try:
        with start_stack(tmp_path, RULES, f"127.0.0.1:{exporter_port}", [hook]) as stack:
            procs = stack.procs
            store = service.parts.door.deps.store
            sb.inject_fault(store, settings, "bad_deploy", "checkout", datetime.now(UTC))

            def opened() -> list[str]:
                return [
                    i.id
                    for i in service.incidents().incidents
                    if i.title.startswith("SandboxHighErrorRate") and "checkout" in i.title
                ]

            (incident_id,) = wait_for("an incident from Alertmanager", opened, procs, DEADLINE_S)
            incident = service.incident(incident_id)
            assert incident.source == "alertmanager" and incident.severity == "critical"
            assert incident.first_alert_at is not None

            def card() -> list[str]:
                view = service.conversation(incident.conversation)
                return [a for m in view.messages if m.role == "copilot" for a in m.cards]

            approval_id = wait_for("the diagnosis's card", card, procs, DEADLINE_S)[0]
            shown = service.card(approval_id, "bob")
            assert shown.tool == "sandbox.rollback_deployment"
            assert shown.arguments.get("service") == "checkout"
            assert shown.state.value == "proposed"  # a card: nothing ran without approval
            timeline = service.timeline(incident_id)
            fired = [e for e in timeline.events if e.kind == "alert.firing"]
            assert fired and fired[0].data["labels"]["service"] == "checkout"
            assert "checkout is failing" in fired[0].data["annotations"]["summary"]
            # the recording hook got the same group: one delivery, one incident
            assert len(service.incidents().incidents) == 1
    finally:
        web.stop()
        exporter.shutdown()
        exporter.server_close()
        service.close()
