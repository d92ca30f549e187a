"""A real Prometheus scrapes the sandbox exporter and a real Alertmanager receives its alert;
the copilot's Prometheus and Alertmanager packs then read both and silence the alert.

Debian's ``prometheus`` and ``prometheus-alertmanager`` run as subprocesses on loopback
(``promstack``). A fault injected into the sandbox must come out as a firing
``SandboxHighErrorRate`` in Prometheus, in Alertmanager's API and at a webhook; then,
through the svc (policy, approvals, executor), the reader tools must see it, and a silence
proposed by a responder and approved by an SRE must really silence it, and expire.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import approve
from promstack import Proc, start_stack, wait_for

from copilot.domain import ApprovalState

RULES = Path(__file__).parents[2] / "tools" / "sandbox" / "alerts.yml"
DEADLINE_S = 60.0
ALERT = "SandboxHighErrorRate"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Exporter, Prometheus and Alertmanager on loopback; everything stopped afterwards."""
    from copilot.settings import Settings
    from copilot.store.db import open_store
    from copilot_tools.sandbox.exporter import serve_metrics

    settings = Settings(data_dir=tmp_path / "data")
    store = open_store(settings.db_url)
    exporter, exporter_port = serve_metrics(settings)  # its own store, real time
    try:
        with start_stack(tmp_path, RULES, f"127.0.0.1:{exporter_port}") as running:
            yield {
                "store": store,
                "settings": settings,
                "prometheus": running.prometheus,
                "alertmanager": running.alertmanager,
                "hook": running.hook,
                "procs": running.procs,
            }
    finally:
        exporter.shutdown()
        exporter.server_close()
        store.dispose()


def test_bad_deploy_fires_in_prometheus_and_reaches_alertmanager(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    from copilot_tools import sandbox as sb

    procs, prom, am = stack["procs"], stack["prometheus"], stack["alertmanager"]
    client = httpx.Client(timeout=5)

    def ok(url: str) -> bool:
        return client.get(url).status_code == 200

    started = time.monotonic()
    wait_for("alertmanager ready", lambda: ok(f"{am}/-/ready"), procs, DEADLINE_S)
    wait_for("prometheus ready", lambda: ok(f"{prom}/-/ready"), procs, DEADLINE_S)

    def target_up() -> bool:
        active = client.get(f"{prom}/api/v1/targets").json()["data"]["activeTargets"]
        return any(t["health"] == "up" for t in active)

    wait_for("the exporter scraped", target_up, procs, DEADLINE_S)

    def firing_in_prometheus() -> list[dict[str, Any]]:
        alerts = client.get(f"{prom}/api/v1/alerts").json()["data"]["alerts"]
        return [
            a for a in alerts if a["labels"].get("alertname") == ALERT and a["state"] == "firing"
        ]

    assert not firing_in_prometheus(), "a healthy sandbox must not fire SandboxHighErrorRate"

    sb.inject_fault(stack["store"], stack["settings"], "bad_deploy", "checkout", datetime.now(UTC))

    fired = wait_for("SandboxHighErrorRate firing", firing_in_prometheus, procs, DEADLINE_S)
    assert [a["labels"]["service"] for a in fired] == ["checkout"]
    alert = fired[0]
    assert alert["labels"]["severity"] == "critical"
    assert alert["labels"]["environment"] == "prod"
    assert alert["annotations"]["runbook_url"] == "runbooks/sandbox/sandboxhigherrorrate"
    assert float(alert["value"]) > 0.05

    def in_alertmanager() -> list[dict[str, Any]]:
        alerts = client.get(f"{am}/api/v2/alerts", params={"active": "true"}).json()
        return [
            a
            for a in alerts
            if a["labels"].get("alertname") == ALERT and a["labels"].get("service") == "checkout"
        ]

    received = wait_for("the alert in Alertmanager", in_alertmanager, procs, DEADLINE_S)
    assert received[0]["status"]["state"] == "active"
    assert "checkout" in received[0]["annotations"]["summary"]

    def delivered() -> list[dict[str, Any]]:
        return [
            a
            for post in stack["hook"].posts
            for a in post["alerts"]
            if a["labels"].get("alertname") == ALERT and a["status"] == "firing"
        ]

    hooked = wait_for("the webhook notification", delivered, procs, DEADLINE_S)
    assert hooked[0]["labels"]["service"] == "checkout"
    client.close()

    # The agent, pointed at the same stack and world, answers a page that names nothing.
    agent_answers_the_page(stack, prom, am)
    # The same stack, read and acted on through the copilot's own tools.
    copilot_reads_and_silences(prom, am, procs, tmp_path)
    assert time.monotonic() - started < 3 * DEADLINE_S


def agent_answers_the_page(stack: dict[str, Any], prom: str, am: str) -> None:
    """A page that names nothing ("we got paged"): the firing alert, read from the real
    Alertmanager, finds the runbook; its labels fill the playbook; the offline planner
    proposes the rollback. Not approved here: the rest of the test needs the fault."""
    from copilot.service import CopilotService
    from copilot.settings import SourcesSettings

    sources = SourcesSettings(prometheus_url=prom, alertmanager_url=am, timeout_s=5)
    settings = stack["settings"].model_copy(update={"sources": sources})
    service = CopilotService.open(settings)
    try:
        out = service.handle_message(service.principal("alice"), "page-1", "we got paged")
        (card,) = out.cards
        assert card.tool == "sandbox.rollback_deployment", out.text
        assert card.arguments["service"] == "checkout"
        assert "bad-deploy" in str(card.provenance["runbook"])
        assert card.provenance["facts"], "the card cites what was read"
    finally:
        service.close()


def copilot_reads_and_silences(prom: str, am: str, procs: list[Proc], tmp_path: Path) -> None:
    from copilot.service import CopilotService
    from copilot.settings import Settings

    settings = Settings(
        data_dir=tmp_path / "svc",
        sources={"prometheus_url": prom, "alertmanager_url": am, "timeout_s": 5},
    )
    svc = CopilotService.open(settings)
    dana, alice, bob = (svc.principal(u) for u in ("dana", "alice", "bob"))

    def read(tool: str, args: dict[str, Any]) -> dict[str, Any]:
        _, ran = svc.call(dana, tool, args)
        assert ran is not None and ran.status is ApprovalState.SUCCEEDED, ran
        assert ran.result is not None and ran.result["untrusted"] is True
        return ran.result

    try:
        # -- Prometheus
        res = read("prometheus.alerts", {"state": "firing", "name": ALERT})
        assert res["unavailable"] is None
        (alert,) = res["alerts"]
        assert alert["labels"]["service"] == "checkout" and alert["value"] > 0.05
        assert alert["annotations"]["runbook_url"] == "runbooks/sandbox/sandboxhigherrorrate"

        res = read("prometheus.query", {"query": 'sandbox_http_error_ratio{service="checkout"}'})
        (sample,) = res["samples"]
        assert res["result_type"] == "vector" and sample["value"] > 0.05
        assert sample["labels"]["environment"] == "prod"

        res = read(
            "prometheus.query_range",
            {"query": "sandbox_http_error_ratio", "start": "1m", "step": "1s", "points": 5},
        )
        assert res["unavailable"] is None and res["total"] >= 1
        checkout = next(s for s in res["series"] if s["labels"]["service"] == "checkout")
        assert checkout["points_total"] > 1 and checkout["max"] > 0.05

        res = read("prometheus.targets", {"job": "sandbox"})
        assert res["up"] == 1 and res["targets"][0]["health"] == "up"
        assert res["targets"][0]["scrape_url"].endswith("/metrics")

        res = read("prometheus.query", {"query": "sum(rate(sandbox_http_requests_total[5m]"})
        assert res["samples"] == [] and "parse error" in res["unavailable"]["error"]
        assert "HTTP 400" in res["unavailable"]["error"]

        # -- Alertmanager: read, silence (a responder asks, an SRE approves), expire
        mine = [f'alertname="{ALERT}"', 'service="checkout"']
        res = read("alertmanager.alerts", {"filter": mine})
        (am_alert,) = res["alerts"]
        assert am_alert["state"] == "active" and am_alert["silenced_by"] == []

        outcome, ran = svc.call(
            alice,
            "alertmanager.create_silence",
            {
                "matchers": [
                    {"name": "alertname", "value": ALERT},
                    {"name": "service", "value": "checkout"},
                ],
                "duration": "30m",
                "comment": "INC-7: bad checkout deploy, rolling back",
            },
        )
        assert ran is None and outcome.approval.required == "1 approval: sre"
        plan = outcome.proposal.plan or ""
        assert "It matches 1 alert(s) firing now:" in plan
        (listed,) = [line for line in plan.splitlines() if line.startswith("  - ")]
        assert listed.startswith(f'  - {ALERT} {{environment="prod", instance="127.0.0.1:')
        assert listed.endswith('job="sandbox", service="checkout", severity="critical"}')
        done = approve(svc, outcome.approval.id, bob)
        assert done is not None and done.status is ApprovalState.SUCCEEDED, done
        assert done.result is not None
        silence_id = done.result["silence_id"]

        def silenced() -> bool:
            found = read("alertmanager.alerts", {"filter": mine})["alerts"]
            return (
                bool(found)
                and found[0]["silenced_by"] == [silence_id]
                and (found[0]["state"] == "suppressed")
            )

        wait_for("the alert silenced", silenced, procs, 10)
        (silence,) = read("alertmanager.silences", {"state": "active"})["silences"]
        assert silence["id"] == silence_id and silence["created_by"] == "alice"
        assert silence["matchers"] == mine
        assert silence["comment"].startswith("INC-7") and outcome.approval.id in silence["comment"]

        outcome, ran = svc.call(alice, "alertmanager.expire_silence", {"silence_id": silence_id})
        assert ran is None and f"Expire silence {silence_id} (active" in (
            outcome.proposal.plan or ""
        )
        done = approve(svc, outcome.approval.id, bob)
        assert done is not None and done.status is ApprovalState.SUCCEEDED, done
        assert done.result["was"] == "active" and done.result["already_expired"] is False

        def expired() -> bool:
            found = read("alertmanager.silences", {})["silences"]
            return [s["state"] for s in found if s["id"] == silence_id] == ["expired"]

        wait_for("the silence expired", expired, procs, 10)
        assert read("alertmanager.silences", {"state": "active"})["silences"] == []
    finally:
        svc.close()
