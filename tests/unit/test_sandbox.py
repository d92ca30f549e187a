"""The sandbox: a deterministic simulated production whose faults have symptoms and remedies."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel

from copilot.domain import Risk
from copilot.errors import CopilotError, InvalidInput, ToolFailed, ToolRetry
from copilot.toolkit import ToolContext, ToolSpec
from copilot_tools import sandbox as sb

T0 = datetime(2025, 3, 4, 14, 30, 12, tzinfo=UTC)


class Conflict(CopilotError):
    """What the fake store raises on a stale version, like the real store's StateConflict."""


class MemoryState:
    """A dict-backed StateStore with versions; ``after_load`` lets a test race a writer in."""

    def __init__(self) -> None:
        self.docs: dict[str, tuple[dict[str, Any], int]] = {}
        self.saves = 0
        self.after_load: Callable[[], object] | None = None

    def load(self, name: str) -> tuple[dict[str, Any], int] | None:
        found = self.docs.get(name)
        hook, self.after_load = self.after_load, None
        if hook:
            hook()
        return None if found is None else (json.loads(json.dumps(found[0])), found[1])

    def save(self, name: str, doc: dict[str, Any], expected_version: int | None) -> int:
        current = self.docs.get(name)
        if (current[1] if current else None) != expected_version:
            raise Conflict(f"state {name!r} changed concurrently", "retry the call")
        version = (current[1] if current else 0) + 1
        self.docs[name] = (json.loads(json.dumps(doc)), version)
        self.saves += 1
        return version


def settings(seed: int = 7, world: str = "prod") -> Any:
    return SimpleNamespace(sandbox=SimpleNamespace(seed=seed, world=world))


class Sandbox:
    """One store, one settings object and a movable clock: call tools like the executor does."""

    def __init__(self, seed: int = 7, now: datetime = T0) -> None:
        self.state, self.settings, self.now = MemoryState(), settings(seed), now

    def ctx(self) -> ToolContext:
        return ToolContext(
            state=self.state, settings=self.settings, principal="bob", clock=lambda: self.now
        )

    def run(self, spec: ToolSpec, **args: Any) -> Any:
        return spec.run_unchecked(self.ctx(), spec.validate(args))

    def plan(self, spec: ToolSpec, **args: Any) -> str | None:
        return spec.plan(self.ctx(), spec.validate(args))

    def inject(self, fault: str, target: str | None = None) -> str:
        return sb.inject_fault(self.state, self.settings, fault, target, self.now)

    def status(self) -> dict[str, Any]:
        return sb.world_status(self.state, self.settings, self.now)

    def metrics(self, service: str) -> Any:
        return self.run(sb.get_metrics, service=service)

    def log_text(self, service: str, **args: Any) -> str:
        lines = self.run(sb.get_logs, service=service, **args).lines
        return "\n".join(f"{line.level} {line.message}" for line in lines)

    def faults(self) -> dict[str, bool]:
        return {f["kind"]: f["active"] for f in self.status()["faults"]}


@pytest.fixture
def box() -> Sandbox:
    return Sandbox()


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


# -- the catalogue ------------------------------------------------------------------------
def test_tools_declare_honest_risks_locks_and_plans() -> None:
    specs = {t.name: t for t in sb.TOOLS}
    assert specs["sandbox.failover_database"].risk is Risk.HIGH
    assert not specs["sandbox.failover_database"].idempotent
    assert specs["sandbox.rotate_secret"].risk is Risk.HIGH
    assert specs["sandbox.rollback_deployment"].risk is Risk.MEDIUM
    assert specs["sandbox.scale_service"].idempotent
    assert not specs["sandbox.restart_service"].idempotent
    for spec in sb.TOOLS:
        if spec.risk is Risk.READ:
            assert spec.resource_template is None and not spec.side_effects
        else:
            assert spec.side_effects and spec.plan_fn is not None
            assert str(spec.resource_template).startswith("sandbox/")
    args = sb.rollback_deployment.validate({"service": "checkout"})
    assert sb.rollback_deployment.resource(args) == "sandbox/service/checkout"


def test_world_is_created_once_under_the_configured_name() -> None:
    box = Sandbox(seed=11)
    box.settings = settings(11, "staging")
    box.run(sb.service_status)
    box.run(sb.get_metrics, service="search")
    assert list(box.state.docs) == ["sandbox/staging"]
    assert box.state.docs["sandbox/staging"][1] == 1  # reads never save again
    assert box.status()["seed"] == 11


def test_missing_settings_fall_back_to_seed_7_and_prod() -> None:
    state = MemoryState()
    ctx = ToolContext(state=state, clock=lambda: T0)
    sb.service_status.run_unchecked(ctx, sb.service_status.validate({}))
    doc, _ = state.docs["sandbox/prod"]
    assert doc["seed"] == 7


# -- determinism --------------------------------------------------------------------------
def test_same_seed_and_clock_give_identical_telemetry() -> None:
    a, b = Sandbox(), Sandbox()
    for box in (a, b):
        box.inject("bad_deploy")
    assert dump(a.run(sb.service_status)) == dump(b.run(sb.service_status))
    assert dump(a.metrics("checkout")) == dump(b.metrics("checkout"))
    assert dump(a.run(sb.get_logs, service="checkout")) == dump(
        b.run(sb.get_logs, service="checkout")
    )


def test_different_seed_gives_different_noise() -> None:
    a, b = Sandbox(seed=7), Sandbox(seed=8)
    assert dump(a.metrics("checkout")) != dump(b.metrics("checkout"))
    assert a.log_text("checkout") != b.log_text("checkout")


def test_log_lines_keep_their_content_as_the_clock_moves(box: Sandbox) -> None:
    early = box.run(sb.get_logs, service="frontend", limit=200).lines
    box.now += timedelta(seconds=40)
    later = box.run(sb.get_logs, service="frontend", limit=200).lines
    overlap = [line for line in later if line.ts <= T0]
    assert overlap and overlap == early[-len(overlap) :]
    assert all(line.ts <= box.now for line in later)


# -- faults and their remedies ------------------------------------------------------------
def test_bad_deploy_gives_500s_and_rollback_clears_them(box: Sandbox) -> None:
    before = box.run(sb.service_status, service="checkout").services[0]
    box.inject("bad_deploy")
    m = box.metrics("checkout")
    assert m.error_rate > 0.2 and m.ready_replicas == m.replicas
    bad_rev = before.revision + 1
    logs = box.log_text("checkout", level="ERROR")
    assert "NullPointerException" in logs and "PaymentClient.charge" in logs
    assert f"500 (revision {bad_rev})" in logs
    history = box.run(sb.list_deployments, service="checkout")
    assert history.current_revision == bad_rev and history.deployments[0].current

    plan = box.plan(sb.rollback_deployment, service="checkout")
    assert plan is not None and plan.startswith(f"checkout: revision {bad_rev} → {before.revision}")
    assert before.image in plan and "6 pods" in plan
    change = box.run(sb.rollback_deployment, service="checkout")
    assert (change.before_revision, change.after_revision) == (bad_rev, before.revision)
    box.now += timedelta(minutes=2)
    assert box.metrics("checkout").error_rate < 0.01
    assert box.faults() == {"bad_deploy": False}
    assert "NullPointerException" not in box.log_text("checkout", limit=20)


def test_a_second_bad_deploy_rolls_back_to_what_ran_before_not_to_the_first_bad_one(
    box: Sandbox,
) -> None:
    good = box.run(sb.service_status, service="checkout").services[0].revision
    box.inject("bad_deploy")
    box.run(sb.rollback_deployment, service="checkout")
    box.now += timedelta(minutes=10)
    box.inject("bad_deploy")  # another bad build, numbered after the first bad one
    history = box.run(sb.list_deployments, service="checkout")
    marked = [d.revision for d in history.deployments if d.previous]
    assert marked == [good]  # the history says where "the previous version" is
    change = box.run(sb.rollback_deployment, service="checkout")
    assert change.after_revision == good
    box.now += timedelta(minutes=2)
    assert box.metrics("checkout").error_rate < 0.01


@pytest.mark.parametrize("remedy", ["rollback", "set_config", "restart"])
def test_crash_loop_is_fixed_by_config_or_rollback_not_restart(box: Sandbox, remedy: str) -> None:
    good = box.run(sb.service_status, service="checkout").services[0].config["PAYMENTS_API_URL"]
    box.inject("crash_loop")
    box.now += timedelta(minutes=5)
    m = box.metrics("checkout")
    assert (m.ready_replicas, m.error_rate) == (0, 1.0) and m.restarts > 0
    assert "missing required config key PAYMENTS_API_URL" in box.log_text("checkout", level="FATAL")
    diff = box.run(sb.list_deployments, service="checkout").deployments[0].config_changes
    assert f"-PAYMENTS_API_URL (was {good})" in diff

    if remedy == "rollback":
        box.run(sb.rollback_deployment, service="checkout")
    elif remedy == "set_config":
        box.run(sb.set_config_value, service="checkout", key="PAYMENTS_API_URL", value=good)
    else:
        assert "not becoming ready" in str(box.plan(sb.restart_service, service="checkout"))
        box.run(sb.restart_service, service="checkout")
    fixed = remedy != "restart"
    assert (box.metrics("checkout").ready_replicas == 6) is fixed
    assert box.faults() == {"crash_loop": not fixed}


def test_runaway_job_spikes_cost_until_paused(box: Sandbox) -> None:
    baseline = box.run(sb.service_status, service="search").services[0].cost_per_hour
    box.inject("runaway_job", "nightly-reindex")
    jobs = {j.job: j for j in box.run(sb.list_jobs).jobs}
    reindex = jobs["nightly-reindex"]
    assert reindex.state == "running" and reindex.workers > 10 * reindex.usual_workers
    assert box.metrics("search").cost_per_hour > 10 * baseline
    assert "retrying shard 3" in box.log_text("search", level="WARN")

    plan = box.plan(sb.pause_job, job="nightly-reindex")
    assert "cancel the run started" in str(plan) and "$40.80/h" in str(plan)
    result = box.run(sb.pause_job, job="nightly-reindex")
    assert result.cancelled_run and result.paused
    assert box.metrics("search").cost_per_hour == baseline
    assert box.faults() == {"runaway_job": False}
    # Pausing again is harmless: no change and no save.
    saves = box.state.saves
    assert box.run(sb.pause_job, job="nightly-reindex").summary == "no change"
    assert box.state.saves == saves


def test_expiring_certificate_warns_then_fails_until_renewed(box: Sandbox) -> None:
    box.inject("expiring_cert", "api.shop.example.com")
    certs = {c.domain: c for c in box.run(sb.certificate_status).certificates}
    cert = certs["api.shop.example.com"]
    assert cert.status == "expiring" and 2 < cert.days_left <= 3 and cert.last_renewal_error
    assert "expires at" in box.log_text("checkout", level="WARN")

    box.now += timedelta(days=4)
    assert box.metrics("checkout").error_rate > 0.5
    assert "tls: bad certificate" in box.log_text("checkout", level="ERROR")
    renewal = box.run(sb.renew_certificate, domain="api.shop.example.com")
    assert renewal.not_after == box.now + timedelta(days=90)
    assert renewal.serial != renewal.serial_before
    assert box.metrics("checkout").error_rate < 0.01
    assert box.faults() == {"expiring_cert": False}


def test_failover_refuses_a_lagging_replica_unless_forced(box: Sandbox) -> None:
    box.inject("replication_lag")
    db = box.run(sb.database_status)
    assert db.replication_lag_s > 30 and db.replay == "blocked" and not db.failover_safe
    assert "invoice-export" in str(db.blocking_query)
    assert "stale read from replica" in box.log_text("inventory", level="WARN")
    version = box.state.docs["sandbox/prod"][1]
    with pytest.raises(ToolFailed) as refused:
        box.run(sb.failover_database)
    assert "behind" in refused.value.message and "force" in refused.value.hint
    assert box.state.docs["sandbox/prod"][1] == version  # nothing was applied

    forced = box.run(sb.failover_database, force=True)
    assert forced.primary != forced.primary_before and forced.data_loss_window_s > 30
    assert box.run(sb.database_status).replication_lag_s < 1
    assert box.faults() == {"replication_lag": False}


def test_pausing_the_blocking_job_lets_the_replica_catch_up(box: Sandbox) -> None:
    box.inject("replication_lag")
    assert "cancels its query" in str(box.plan(sb.pause_job, job="invoice-export"))
    box.run(sb.pause_job, job="invoice-export")
    assert box.run(sb.database_status).failover_safe
    assert box.run(sb.failover_database).data_loss_window_s == 0


def test_restart_only_delays_a_memory_leak_and_rollback_ends_it(box: Sandbox) -> None:
    box.inject("memory_leak", "search")
    leaking = box.metrics("search")
    assert leaking.memory_mb > 0.75 * leaking.memory_limit_mb
    box.now += timedelta(hours=2)
    assert box.metrics("search").restarts > 0  # OOMKilled in the meantime
    box.run(sb.restart_service, service="search")
    assert box.metrics("search").memory_mb < 0.5 * leaking.memory_limit_mb
    box.now += timedelta(hours=1)
    assert box.metrics("search").memory_mb > 1.2 * box.metrics("inventory").memory_mb
    assert box.faults() == {"memory_leak": True}
    box.run(sb.rollback_deployment, service="search")
    box.now += timedelta(hours=3)
    assert box.metrics("search").memory_mb < 0.5 * leaking.memory_limit_mb
    assert box.faults() == {"memory_leak": False}


def test_oom_kills_show_in_the_logs(box: Sandbox) -> None:
    box.inject("memory_leak", "search")
    # The first kill comes 1.5 h after injection (3 h into a 4.5 h cycle).
    box.now += timedelta(hours=1, minutes=30, seconds=30)
    assert "OOMKilled (exit code 137" in box.log_text("search", level="ERROR", limit=500)


# -- plans --------------------------------------------------------------------------------
WRITE_CALLS: list[tuple[ToolSpec, dict[str, Any]]] = [
    (sb.rollback_deployment, {"service": "checkout"}),
    (sb.restart_service, {"service": "search"}),
    (sb.scale_service, {"service": "frontend", "replicas": 12}),
    (sb.set_config_value, {"service": "checkout", "key": "HTTP_TIMEOUT_MS", "value": "3000"}),
    (sb.toggle_feature_flag, {"service": "search", "flag": "semantic_ranking", "enabled": True}),
    (sb.pause_job, {"job": "nightly-reindex"}),
    (sb.resume_job, {"job": "nightly-reindex"}),
    (sb.renew_certificate, {"domain": "api.shop.example.com"}),
    (sb.failover_database, {}),
    (sb.failover_database, {"force": True}),
    (sb.rotate_secret, {"name": "orders-db-password"}),
]


def test_plans_do_not_drift_with_the_clock(box: Sandbox) -> None:
    for fault in sb.FAULTS:
        box.inject(fault)
    first = [box.plan(spec, **args) for spec, args in WRITE_CALLS]
    box.now += timedelta(hours=7, minutes=13)
    assert [box.plan(spec, **args) for spec, args in WRITE_CALLS] == first
    # Durations measured from now ("expires in 3 days") would make an approval go stale.
    assert all(p and not re.search(r"\bin \d+\s?(s|min|h|d|days?|hours?)\b", p) for p in first)


def test_a_plan_changes_when_the_world_does(box: Sandbox) -> None:
    plan = box.plan(sb.rollback_deployment, service="checkout")
    box.inject("bad_deploy")  # someone deploys between proposal and execution
    assert box.plan(sb.rollback_deployment, service="checkout") != plan


def test_scale_plan_spells_out_risky_targets(box: Sandbox) -> None:
    assert "stops serving ALL traffic" in str(
        box.plan(sb.scale_service, service="checkout", replicas=0)
    )
    assert "below the usual peak" in str(box.plan(sb.scale_service, service="checkout", replicas=2))
    assert "no change" in str(box.plan(sb.scale_service, service="checkout", replicas=6))
    box.run(sb.scale_service, service="checkout", replicas=0)
    m = box.metrics("checkout")
    assert (m.ready_replicas, m.error_rate, m.cost_per_hour) == (0, 1.0, 0.0)


# -- wrong requests and concurrency -------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "args"),
    [
        (sb.get_logs, {"service": "chekout"}),
        (sb.service_status, {"service": "chekout"}),
        (sb.rollback_deployment, {"service": "chekout"}),
    ],
)
def test_unknown_service_is_invalid_input_naming_the_known_ones(
    box: Sandbox, spec: ToolSpec, args: dict[str, Any]
) -> None:
    with pytest.raises(InvalidInput) as err:
        box.run(spec, **args)
    assert "chekout" in err.value.message
    assert "checkout" in err.value.hint and "payments" in err.value.hint
    if spec.plan_fn is not None:
        with pytest.raises(InvalidInput):
            box.plan(spec, **args)


def test_other_bad_requests_are_refused_with_a_hint(box: Sandbox) -> None:
    with pytest.raises(InvalidInput) as err:
        box.run(sb.rollback_deployment, service="checkout", to_revision=9999)
    assert "known revisions" in err.value.hint
    with pytest.raises(InvalidInput) as err:
        box.run(sb.toggle_feature_flag, service="search", flag="nope", enabled=True)
    assert "semantic_ranking" in err.value.hint
    with pytest.raises(InvalidInput):
        box.run(sb.scale_service, service="search", replicas=51)
    with pytest.raises(InvalidInput):
        box.run(sb.set_config_value, service="search", key="lower_case", value="x")
    with pytest.raises(InvalidInput) as err:
        box.inject("meteor_strike")
    assert "bad_deploy" in err.value.hint
    with pytest.raises(InvalidInput) as err:
        box.inject("runaway_job", "checkout")
    assert "nightly-reindex" in err.value.hint


def test_a_concurrent_change_surfaces_as_a_conflict_and_is_not_overwritten(
    box: Sandbox,
) -> None:
    box.run(sb.service_status)
    box.state.after_load = lambda: box.inject("runaway_job")
    with pytest.raises(ToolRetry) as err:
        box.run(sb.scale_service, service="checkout", replicas=8)
    assert "nothing was applied" in err.value.message
    assert isinstance(err.value.__cause__, Conflict)
    assert box.faults() == {"runaway_job": True}
    assert box.run(sb.service_status, service="checkout").services[0].replicas == 6


# -- secrets, operator views --------------------------------------------------------------
def test_secrets_rotate_by_fingerprint_and_never_expose_a_value(box: Sandbox) -> None:
    listed = {s.name: s for s in box.run(sb.list_secrets).secrets}
    old = listed["orders-db-password"]
    assert old.fingerprint.startswith("sha256:")
    plan = str(box.plan(sb.rotate_secret, name="orders-db-password"))
    rotated = box.run(sb.rotate_secret, name="orders-db-password")
    assert rotated.version == old.version + 1 and rotated.fingerprint in plan
    assert rotated.restarted == ["checkout", "payments", "inventory", "orders"]
    assert "value" not in json.dumps(box.status())


def test_status_is_json_ready_and_reset_restores_health(box: Sandbox) -> None:
    box.inject("bad_deploy")
    status = box.status()
    json.dumps(status)
    checkout = next(s for s in status["services"] if s["service"] == "checkout")
    assert checkout["health"] in {"degraded", "down"}
    assert status["faults"][0]["kind"] == "bad_deploy"
    message = sb.reset_world(box.state, box.settings, box.now)
    assert "reset" in message
    after = box.status()
    assert after["faults"] == [] and {s["health"] for s in after["services"]} == {"healthy"}
