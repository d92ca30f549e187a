"""Firing alerts as evidence: read first when an alert source is configured, and the way
to the runbook when a message names nothing ("we got paged")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fakes.scripted_http import Scripted, dead_port, scripted_servers
from test_agent_graph import facts_of, make_service, runbook_index, sre_script

from copilot.settings import SourcesSettings

__all__ = ["make_service", "runbook_index"]  # fixtures, shared with the graph tests

FIRING = {
    "status": "success",
    "data": {
        "alerts": [
            {
                "labels": {"alertname": "SandboxHighErrorRate", "service": "checkout"},
                "annotations": {"summary": "checkout answers more than 5% of requests with 5xx"},
                "state": "firing",
                "activeAt": "2026-11-27T11:58:00Z",
                "value": "3.1e-01",
            }
        ]
    },
}


@pytest.fixture
def prometheus() -> Iterator[Scripted]:
    with scripted_servers() as start:
        yield start({("GET", "/api/v1/alerts"): (200, FIRING)})


def test_a_page_without_names_finds_the_runbook_through_the_firing_alert(
    make_service: Any, prometheus: Scripted
) -> None:
    service, model = make_service(
        sre_script, sources=SourcesSettings(prometheus_url=prometheus.url)
    )
    out = service.handle_message(service.principal("alice"), "page-1", "we got paged")
    facts = facts_of(model, 0)
    assert facts[0]["tool"] == "prometheus.alerts" and facts[0]["ok"]
    assert facts[0]["data"]["alerts"][0]["name"] == "SandboxHighErrorRate"
    # the alert named the runbook; its labels filled the playbook's {{ service }}
    reads = [(f["tool"], f["arguments"].get("service")) for f in facts[1:]]
    assert reads == [
        ("sandbox.get_metrics", "checkout"),
        ("sandbox.list_deployments", "checkout"),
        ("sandbox.get_logs", "checkout"),
        ("sandbox.get_metrics_history", "checkout"),
    ]
    (card,) = out.cards
    assert card.tool == "sandbox.rollback_deployment" and "bad-deploy" in card.provenance["runbook"]
    assert [r["path"] for r in prometheus.requests] == ["/api/v1/alerts"]


def test_an_unreachable_alert_source_is_reported_and_the_turn_goes_on(make_service: Any) -> None:
    dead = f"http://127.0.0.1:{dead_port()}"
    service, model = make_service(sre_script, sources=SourcesSettings(prometheus_url=dead))
    out = service.handle_message(service.principal("alice"), "page-2", "checkout is returning 500s")
    first = facts_of(model, 0)[0]
    assert first["tool"] == "prometheus.alerts" and not first["ok"]
    assert "prometheus unavailable: cannot reach prometheus" in first["error"]
    assert len(out.cards) == 1  # the request alone still found the runbook
