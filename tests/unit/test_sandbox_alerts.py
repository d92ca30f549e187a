"""The sandbox's alerts and silences: the rules of alerts.yml on the world, silenced offline."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_sandbox import Sandbox

from copilot.domain import Risk
from copilot.errors import InvalidInput
from copilot.toolkit.registry import discover
from copilot_tools import sandbox as sb
from copilot_tools.sandbox.alerting import RULES

ALERTS_YML = Path(sb.__file__).parent / "alerts.yml"


@pytest.fixture
def box() -> Sandbox:
    return Sandbox()


def firing(box: Sandbox, **args: Any) -> dict[str, Any]:
    """alertname{service} -> the alert, as the read returns it."""
    report = box.run(sb.alerts, **args)
    return {f"{a.alertname}{{{a.labels.get('service')}}}": a for a in report.alerts}


def test_rules_are_the_prometheus_rules_by_name_severity_and_for() -> None:
    doc = yaml.safe_load(ALERTS_YML.read_text(encoding="utf-8"))
    rules = {r["alert"]: r for g in doc["groups"] for r in g["rules"]}
    assert [r.name for r in RULES] == list(rules)
    for rule in RULES:
        declared = rules[rule.name]
        assert declared["labels"]["severity"] == rule.severity
        assert {"0s": 0, "1m": 60}[declared["for"]] == rule.for_s
        assert declared["annotations"]["runbook_url"] == rule.runbook_url


def test_tools_are_declared_with_honest_risks_and_one_lock() -> None:
    specs = {t.name: t for t in sb.TOOLS}
    assert specs["sandbox.alerts"].risk is Risk.READ
    assert specs["sandbox.silences"].risk is Risk.READ
    create, expire = specs["sandbox.create_silence"], specs["sandbox.expire_silence"]
    assert create.risk is Risk.MEDIUM and not create.idempotent
    assert expire.risk is Risk.LOW and expire.idempotent
    args = create.validate({"alertname": "HighErrorRate", "duration": "1h"})
    assert create.resource(args) == "sandbox/silences"
    # registered like every sandbox tool: `copilot tools list` shows them
    listed = {t.name for t in discover([])}
    assert {"sandbox.alerts", "sandbox.silences", "sandbox.create_silence"} <= listed
    assert "sandbox.expire_silence" in listed


def test_a_healthy_world_fires_nothing(box: Sandbox) -> None:
    report = box.run(sb.alerts)
    assert report.alerts == [] and report.firing == 0


def test_a_bad_deploy_fires_high_error_rate_since_the_deploy(box: Sandbox) -> None:
    box.inject("bad_deploy", "checkout")
    deployed = box.now.replace(microsecond=0)
    box.now += timedelta(minutes=5)
    alerts = firing(box)
    alert = alerts["SandboxHighErrorRate{checkout}"]
    assert alert.state == "firing" and alert.severity == "critical"
    assert alert.labels["environment"] == "prod" and alert.labels["alertname"] == alert.alertname
    assert "checkout is failing" in alert.summary and not alert.silenced
    assert deployed <= alert.since <= deployed + timedelta(minutes=1)
    # `service` keeps one service's alerts (frontend, which calls checkout, fails too)
    assert set(firing(box, service="checkout")) == {"SandboxHighErrorRate{checkout}"}


@pytest.mark.parametrize(
    ("fault", "target", "minutes", "wanted"),
    [
        ("crash_loop", "payments", 3, {"SandboxNoReadyReplicas{payments}"}),
        ("crash_loop", "payments", 3, {"SandboxCrashLooping{payments}"}),
        ("runaway_job", "nightly-reindex", 3, {"SandboxJobRunaway{search}"}),
        ("replication_lag", None, 5, {"SandboxReplicationLagHigh{orders-db}"}),
        ("expiring_cert", None, 1, {"SandboxCertificateExpiringSoon{checkout}"}),
        ("memory_leak", "search", 60, {"SandboxMemoryHigh{search}"}),
        (
            "replica_lag_cascade",
            None,
            2,
            {"SandboxHighLatency{checkout}", "SandboxHighErrorRate{orders}"},
        ),
        ("traffic_surge", "search", 5, {"SandboxCpuSaturated{search}"}),
        ("bad_flag", "checkout", 2, {"SandboxHighErrorRate{checkout}"}),
        ("leaked_secret", None, 1, {"SandboxSecretExposed{payments}"}),
        ("suspicious_job", None, 2, {"SandboxJobCostHigh{search}", "SandboxSecretExposed{search}"}),
        ("primary_down", None, 2, {"SandboxDatabasePrimaryDown{orders-db}"}),
    ],
)
def test_each_fault_fires_its_alert(
    box: Sandbox, fault: str, target: str | None, minutes: int, wanted: set[str]
) -> None:
    box.inject(fault, target)
    box.now += timedelta(minutes=minutes)
    alerts = firing(box)
    assert wanted <= set(alerts), sorted(alerts)
    assert all(alerts[w].state == "firing" for w in wanted)


def test_a_rule_with_for_is_pending_first(box: Sandbox) -> None:
    box.inject("replication_lag")
    # blocked 3 min before injection: lag > 60 s holds, but has it held for 1 min?
    box.now -= timedelta(minutes=1, seconds=59)
    alert = firing(box)["SandboxReplicationLagHigh{orders-db}"]
    assert alert.state == "pending"


def test_silence_the_error_rate_alert_for_an_hour(box: Sandbox) -> None:
    box.inject("bad_deploy", "checkout")
    box.now += timedelta(minutes=3)
    plan = box.plan(sb.create_silence, alertname="HighErrorRate", service="checkout", duration="1h")
    assert plan is not None
    assert plan.startswith("silence SandboxHighErrorRate (service=checkout) for 1h")
    assert "silences now: SandboxHighErrorRate{service=checkout}" in plan
    made = box.run(
        sb.create_silence,
        alertname="high error rate",
        service="checkout",
        duration="1h",
        comment="INC-12",
    )
    assert made.alertname == "SandboxHighErrorRate" and made.ends_at - made.starts_at == timedelta(
        hours=1
    )
    assert made.silencing_now == ["SandboxHighErrorRate{service=checkout}"]
    alert = firing(box)["SandboxHighErrorRate{checkout}"]
    assert alert.silenced and alert.silenced_by == [made.silence_id]
    report = box.run(sb.alerts, include_silenced=False)
    assert "SandboxHighErrorRate" not in {
        a.alertname for a in report.alerts if a.labels["service"] == "checkout"
    }
    listed = box.run(sb.silences).silences
    assert [s.id for s in listed] == [made.silence_id] and listed[0].state == "active"
    assert listed[0].created_by == "bob" and listed[0].comment == "INC-12"
    assert box.status()["recent_changes"][-1]["action"] == "create_silence"

    # an hour later it has run out by itself
    box.now += timedelta(hours=1, minutes=1)
    assert not firing(box)["SandboxHighErrorRate{checkout}"].silenced
    assert box.run(sb.silences).silences == []
    assert box.run(sb.silences, include_expired=True).silences[0].state == "expired"


def test_expire_ends_a_silence_and_is_idempotent(box: Sandbox) -> None:
    box.inject("bad_deploy", "checkout")
    made = box.run(sb.create_silence, alertname="SandboxHighErrorRate", duration="2h")
    plan = box.plan(sb.expire_silence, silence_id=made.silence_id)
    assert plan is not None and plan.startswith(f"expire {made.silence_id}")
    assert box.run(sb.expire_silence, silence_id=made.silence_id).was == "active"
    assert not firing(box)["SandboxHighErrorRate{checkout}"].silenced
    again = box.run(sb.expire_silence, silence_id=made.silence_id)
    assert again.was == "expired" and again.summary == "no change"
    with pytest.raises(InvalidInput, match="no silence 'sil-0000000000'"):
        box.run(sb.expire_silence, silence_id="sil-0000000000")


def test_a_silence_that_matches_nothing_says_so(box: Sandbox) -> None:
    plan = box.plan(sb.create_silence, alertname="SandboxMemoryHigh", duration="30m")
    assert plan is not None and "nothing matches now" in plan


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"alertname": "DiskFull", "duration": "1h"}, "unknown alert 'DiskFull'"),
        ({"alertname": "HighErrorRate", "duration": "2m"}, "from 5m to 24h"),
        ({"alertname": "HighErrorRate", "duration": "25h"}, "from 5m to 24h"),
        ({"alertname": "HighErrorRate", "duration": "forever"}, "duration"),
    ],
)
def test_bad_arguments_are_refused_by_field(args: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        sb.create_silence.validate(args)


def test_an_unknown_service_is_named(box: Sandbox) -> None:
    with pytest.raises(InvalidInput, match="unknown service 'billing'"):
        box.run(sb.create_silence, alertname="HighErrorRate", service="billing", duration="1h")
    with pytest.raises(InvalidInput, match="unknown service 'billing'"):
        box.run(sb.alerts, service="billing")


def test_reads_save_nothing_and_old_worlds_load(box: Sandbox) -> None:
    box.run(sb.alerts)
    box.run(sb.silences)
    assert box.state.saves == 1  # the world's creation only
    doc, version = box.state.docs["sandbox/prod"]
    del doc["silences"]
    box.state.docs["sandbox/prod"] = (doc, version)
    assert box.run(sb.silences).silences == []
