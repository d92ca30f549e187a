"""The later sandbox runbooks on the offline planner, replayed on the real sandbox: with its
fault each playbook ends in its remedy with the arguments the facts give; healthy, or once
the remedy ran, it proposes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from test_offline_planner import SPECS, Incident, calls_of, offline

EVALS_START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
# runbook -> (fault, target, request, the change it proposes with its arguments)
CASES: dict[str, tuple[str, str | None, str, tuple[str, dict[str, Any]]]] = {
    "replica-lag-cascade": (
        "replica_lag_cascade",
        None,
        "checkout latency is up and orders times out",
        ("sandbox.cancel_query", {"pid": 43756}),
    ),
    "traffic-surge": (
        "traffic_surge",
        "search",
        "search CPU is pegged, traffic surge",
        ("sandbox.scale_service", {"service": "search", "replicas": 9}),
    ),
    "feature-flag": (
        "bad_flag",
        "checkout",
        "checkout errors after a flag change",
        (
            "sandbox.toggle_feature_flag",
            {"service": "checkout", "flag": "new_tax_engine", "enabled": False},
        ),
    ),
    "leaked-secret": (
        "leaked_secret",
        None,
        "the payments key leaked into the payments logs",
        ("sandbox.rotate_secret", {"name": "payments-psp-key"}),
    ),
    "suspicious-job": (
        "suspicious_job",
        None,
        "a job nobody owns costs a fortune",
        ("sandbox.pause_job", {"job": "tmp-data-sync"}),
    ),
    "database-primary-down": (
        "primary_down",
        None,
        "the orders-db primary is down",
        ("sandbox.failover_database", {"force": False}),
    ),
}


def play(incident: Incident, request: str, runbook: str) -> list[tuple[str, dict[str, Any]]]:
    """Rounds of the planner until it reads nothing more; the changes it then proposes."""
    calls: list[tuple[str, dict[str, Any]]] = []
    for _ in range(4):
        calls = calls_of(offline(incident.context(request, runbook=runbook)))
        reads = [(t, a) for t, a in calls if SPECS[t].risk.value == "read"]
        if not reads:
            break
        for tool, args in reads:
            incident.read(tool, args)
    for tool, args in calls:
        SPECS[tool].validate(args)  # filled arguments pass the tool's own schema
    return [(t, a) for t, a in calls if SPECS[t].risk.value != "read"]


@pytest.mark.parametrize("runbook", sorted(CASES))
def test_each_later_fault_ends_in_its_runbooks_remedy(runbook: str) -> None:
    fault, target, request, change = CASES[runbook]
    broken = Incident(None)
    broken.box.now = EVALS_START  # the traffic level the recommended replicas are for
    broken.box.inject(fault, target)
    writes = play(broken, request, runbook)
    assert writes == [change]
    tool, args = change
    broken.box.run(SPECS[tool], **args)
    broken.facts.clear()  # a new turn reads the world as the change left it
    after = play(broken, request, runbook)
    assert tool not in [t for t, _ in after]


@pytest.mark.parametrize("runbook", sorted(CASES))
def test_a_healthy_world_gets_no_change_from_them(runbook: str) -> None:
    _, _, request, _ = CASES[runbook]
    assert play(Incident(None), request, runbook) == []
