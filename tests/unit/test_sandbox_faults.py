"""The later sandbox faults and their remedies: the orders cascade and cancel_query, a
traffic surge and the autoscaler's recommendation, a broken flag, a leaked secret, a job
nobody owns, and a primary that stops answering."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from test_sandbox import Sandbox

from copilot.domain import Risk
from copilot.errors import InvalidInput
from copilot_tools import sandbox as sb
from copilot_tools.sandbox.catalogue import SERVICES
from copilot_tools.sandbox.world import secret_value

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # the evals' start


@pytest.fixture
def box() -> Sandbox:
    return Sandbox(now=T0)


def test_cancel_query_is_a_medium_locked_change() -> None:
    spec = {t.name: t for t in sb.TOOLS}["sandbox.cancel_query"]
    assert spec.risk is Risk.MEDIUM and not spec.idempotent
    args = spec.validate({"pid": 43756})
    assert spec.resource(args) == "sandbox/database/orders-db"  # the failover's lock too


def test_the_cascade_slows_checkout_through_orders_and_cancel_query_ends_it(box: Sandbox) -> None:
    box.inject("replica_lag_cascade")
    box.now += timedelta(minutes=2)
    db = box.run(sb.database_status)
    assert db.replay == "blocked" and db.replication_lag_s > 600
    assert db.blocking_application == "metabase" and db.blocking_pid is not None
    orders, checkout = box.metrics("orders"), box.metrics("checkout")
    assert orders.error_rate > 0.1 and orders.p99_ms > 2000
    # the loudest symptom: checkout's tail, while its own errors stay under the alert's 5 %
    assert checkout.p99_ms > 10 * SERVICES["checkout"].p99_ms and checkout.error_rate < 0.05
    lines = box.run(sb.get_logs, service="checkout", level="ERROR", limit=5).lines
    assert any("call to orders failed: 504" in line.message for line in lines)

    with pytest.raises(InvalidInput, match="is not the query blocking replay"):
        box.run(sb.cancel_query, pid=db.blocking_pid + 1)
    plan = str(box.plan(sb.cancel_query, pid=db.blocking_pid))
    assert f"cancel pid {db.blocking_pid} on orders-db-1 (application_name=metabase" in plan
    done = box.run(sb.cancel_query, pid=db.blocking_pid)
    assert (done.replay_before, done.replay, done.application) == (
        "blocked",
        "streaming",
        "metabase",
    )
    assert box.run(sb.database_status).replication_lag_s < 1
    assert box.metrics("orders").error_rate < 0.01 and box.metrics("checkout").p99_ms < 300
    assert box.faults() == {"replica_lag_cascade": False}
    with pytest.raises(InvalidInput, match="no query blocks WAL replay"):
        box.run(sb.cancel_query, pid=db.blocking_pid)


def test_a_younger_lag_stays_within_orders_budget_and_cancel_fails_the_job(box: Sandbox) -> None:
    box.inject("replication_lag")
    box.now += timedelta(minutes=5)
    assert box.metrics("orders").error_rate < 0.01  # 480 s behind, budget 600 s
    pid = box.run(sb.database_status).blocking_pid
    assert pid is not None
    assert "invoice-export's run fails" in str(box.plan(sb.cancel_query, pid=pid))
    box.run(sb.cancel_query, pid=pid)
    job = next(j for j in box.run(sb.list_jobs).jobs if j.job == "invoice-export")
    assert job.state == "scheduled" and job.last_status == "failed"
    assert box.faults() == {"replication_lag": False}


def test_healthy_services_need_no_more_replicas(box: Sandbox) -> None:
    for name in SERVICES:
        m = box.metrics(name)
        assert m.recommended_replicas == m.replicas, name


def test_a_surge_is_scaled_to_the_recommended_replicas_with_the_cost_in_the_plan(
    box: Sandbox,
) -> None:
    box.inject("traffic_surge", "search")
    box.now += timedelta(minutes=5)
    m = box.metrics("search")
    assert m.cpu_pct > 85 and m.replicas == 5 and m.recommended_replicas == 9
    plan = str(box.plan(sb.scale_service, service="search", replicas=9))
    assert "pod cost $1.20/h → $2.16/h (+$0.96/h, +$23.04/day)" in plan
    assert "(-$0.24/h" in str(box.plan(sb.scale_service, service="search", replicas=4))
    box.run(sb.scale_service, service="search", replicas=9)
    after = box.metrics("search")
    assert after.cpu_pct < 70 and after.recommended_replicas == 9 and after.cost_per_hour == 2.16
    assert box.faults() == {"traffic_surge": False}


def test_a_broken_flag_shows_as_the_last_flag_change_and_turning_it_off_ends_it(
    box: Sandbox,
) -> None:
    box.inject("bad_flag", "checkout")
    box.now += timedelta(minutes=2)
    status = box.run(sb.service_status, service="checkout").services[0]
    assert status.error_rate > 0.05 and status.flags["new_tax_engine"]
    last = status.last_flag_change
    assert last is not None and (last.flag, last.enabled) == ("new_tax_engine", True)
    assert last.at == T0 - timedelta(minutes=8)
    changes = box.run(sb.recent_changes, limit=1).changes
    assert changes[0].action == "toggle_flag" and "new_tax_engine → on" in changes[0].summary
    errors = box.run(sb.get_logs, service="checkout", level="ERROR", limit=10).lines
    assert any("TaxQuoteException" in line.message for line in errors)
    box.run(sb.toggle_feature_flag, service="checkout", flag="new_tax_engine", enabled=False)
    assert box.metrics("checkout").error_rate < 0.01
    assert box.faults() == {"bad_flag": False}
    with pytest.raises(InvalidInput, match="cannot target"):
        box.inject("bad_flag", "no-such-service")


def test_a_leaked_secret_is_exposed_until_rotated_and_its_value_is_never_stored(
    box: Sandbox,
) -> None:
    box.inject("leaked_secret", "payments-psp-key")
    box.now += timedelta(minutes=2)
    report = box.run(sb.list_secrets)
    assert (report.exposed_count, report.exposed_secret_name) == (1, "payments-psp-key")
    sec = next(s for s in report.secrets if s.name == "payments-psp-key")
    value = secret_value(7, sec.name, sec.version)
    assert value.startswith("sk_live_") and value not in report.model_dump_json()
    dumped = box.run(sb.get_logs, service="payments", contains="configuration dump", limit=5)
    assert dumped.lines and all(value in line.message for line in dumped.lines)
    doc = box.state.load("sandbox/prod")
    assert doc is not None and value not in json.dumps(doc[0])  # only computed for the log
    plan = str(box.plan(sb.rotate_secret, name="payments-psp-key"))
    assert "ends the exposure of version" in plan
    rotated = box.run(sb.rotate_secret, name="payments-psp-key")
    assert rotated.restarted == ["payments"]
    assert box.run(sb.list_secrets).exposed_count == 0
    assert box.faults() == {"leaked_secret": False}


def test_a_job_nobody_owns_is_contained_by_a_pause_and_a_rotation(box: Sandbox) -> None:
    assert "tmp-data-sync" not in {j.job for j in box.run(sb.list_jobs).jobs}
    box.inject("suspicious_job")
    box.now += timedelta(minutes=2)
    job = next(j for j in box.run(sb.list_jobs).jobs if j.job == "tmp-data-sync")
    assert (job.owner, job.state, job.workers, job.cost_per_hour) == (
        "unknown",
        "running",
        64,
        160.0,
    )
    assert box.run(sb.list_secrets).exposed_secret_name == "search-index-token"
    assert box.metrics("search").cpu_pct < 85  # a miner burns its own nodes, not search's
    box.run(sb.pause_job, job="tmp-data-sync")
    assert box.faults() == {"suspicious_job": True}  # the credential is still out there
    box.run(sb.rotate_secret, name="search-index-token")
    assert box.faults() == {"suspicious_job": False}


def test_a_primary_that_stops_answering_is_failed_over_without_force(box: Sandbox) -> None:
    box.inject("primary_down")
    box.now += timedelta(minutes=2)
    db = box.run(sb.database_status)
    assert not db.primary_up and db.failover_safe and db.replay == "streaming"
    for name in ("checkout", "payments", "inventory", "orders"):
        assert box.metrics(name).error_rate > 0.3, name
    assert box.metrics("search").error_rate < 0.01  # no database client
    plan = str(box.plan(sb.failover_database))
    assert "orders-db-0 has not answered since" in plan and "rebuilt as the new replica" in plan
    done = box.run(sb.failover_database)
    assert (done.primary, done.data_loss_window_s) == ("orders-db-1", 0.0)
    after = box.run(sb.database_status)
    assert after.primary_up and after.primary == "orders-db-1"
    assert box.faults() == {"primary_down": False}
