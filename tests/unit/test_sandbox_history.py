"""The sandbox's metrics history: each point is what the world's recorded past gives then."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_sandbox import Sandbox

from copilot.domain import Risk
from copilot.errors import InvalidInput
from copilot_tools import sandbox as sb
from copilot_tools.sandbox.catalogue import REPLICA_READER_JOB
from copilot_tools.sandbox.history import MetricsHistory, world_at
from copilot_tools.sandbox.world import World


def history(box: Sandbox, service: str = "checkout", **args: int) -> MetricsHistory:
    result = box.run(sb.get_metrics_history, service=service, **args)
    assert isinstance(result, MetricsHistory)
    return result


@pytest.fixture
def box() -> Sandbox:
    return Sandbox()


def test_it_is_a_read_that_saves_nothing(box: Sandbox) -> None:
    spec = sb.get_metrics_history
    assert spec in sb.TOOLS and spec.name == "sandbox.get_metrics_history"
    assert spec.risk is Risk.READ and not spec.side_effects and spec.resource_template is None
    history(box)
    assert box.state.saves == 1  # the world's creation; reading never saves


def test_points_cover_the_window_oldest_first_ending_now(box: Sandbox) -> None:
    h = history(box, minutes=60, step_minutes=5)
    assert [p.at for p in h.points] == [box.now - timedelta(minutes=m) for m in range(60, -1, -5)]
    now = box.metrics("checkout")
    last = h.points[-1]
    # the newest point is exactly what get_metrics reads now
    assert (last.error_rate, last.p99_ms, last.requests_per_s, last.memory_mb) == (
        now.error_rate,
        now.p99_ms,
        now.requests_per_s,
        now.memory_mb,
    )
    assert (last.replicas, last.ready_replicas) == (now.replicas, now.ready_replicas)
    assert h.changes == []  # the seeded deploys are days old


def test_a_bad_deploy_steps_the_error_rate_up_when_it_went_out_and_a_rollback_down(
    box: Sandbox,
) -> None:
    box.now += timedelta(minutes=40)  # the demo moves its clock on
    deployed = box.now
    box.inject("bad_deploy")
    box.now += timedelta(minutes=12)
    h = history(box, minutes=30, step_minutes=2)
    before = [p.error_rate for p in h.points if p.at < deployed]
    after = [p.error_rate for p in h.points if p.at >= deployed]
    assert before and max(before) < 0.01
    assert len(after) == 7 and min(after) > 0.3
    assert [(c.at, c.action) for c in h.changes] == [(deployed, "deploy")]

    box.run(sb.rollback_deployment, service="checkout")
    rolled_back = box.now
    box.now += timedelta(minutes=10)
    h = history(box, minutes=30, step_minutes=2)
    bad = [p.at for p in h.points if p.error_rate > 0.3]
    assert bad and min(bad) >= deployed and max(bad) < rolled_back
    assert all(p.error_rate < 0.01 for p in h.points if p.at >= rolled_back)
    assert [c.action for c in h.changes] == ["deploy", "rollback"]


def test_an_upstream_s_past_fault_shows_in_its_callers_past(box: Sandbox) -> None:
    box.inject("bad_deploy", "payments")
    box.now += timedelta(minutes=10)
    h = history(box, minutes=20, step_minutes=5)
    rates = [p.error_rate for p in h.points]
    assert max(rates[:2]) < 0.01 < min(rates[-2:])  # checkout calls payments


def test_replica_changes_are_recorded_and_replayed(box: Sandbox) -> None:
    box.now += timedelta(minutes=5)
    box.run(sb.scale_service, service="checkout", replicas=0)
    stopped = box.now
    box.now += timedelta(minutes=10)
    box.run(sb.scale_service, service="checkout", replicas=4)
    restarted = box.now
    box.now += timedelta(minutes=10)
    h = history(box, minutes=30, step_minutes=1)
    by_time = {p.at: p for p in h.points}
    assert by_time[stopped - timedelta(minutes=1)].ready_replicas == 6
    assert by_time[stopped].ready_replicas == 0 and by_time[stopped].error_rate == 1.0
    assert by_time[restarted - timedelta(minutes=1)].replicas == 0
    assert by_time[restarted].ready_replicas == 4 and h.points[-1].replicas == 4
    assert [c.action for c in h.changes] == ["scale", "scale"]


def test_a_world_saved_before_replica_history_was_kept_still_loads(box: Sandbox) -> None:
    box.run(sb.scale_service, service="checkout", replicas=3)
    doc, version = box.state.docs["sandbox/prod"]
    for svc in doc["services"].values():
        del svc["scalings"], svc["toggles"]  # as an older version saved it
    box.state.docs["sandbox/prod"] = (doc, version)
    box.now += timedelta(minutes=10)
    h = history(box, minutes=20, step_minutes=5)
    # no record of the change: the past is read at today's replica count (documented)
    assert {p.replicas for p in h.points} == {3}


def test_flag_toggles_are_replayed(box: Sandbox) -> None:
    box.now += timedelta(minutes=10)
    box.run(sb.toggle_feature_flag, service="payments", flag="retry_soft_declines", enabled=True)
    switched = box.now
    box.now += timedelta(minutes=10)
    h = history(box, "payments", minutes=20, step_minutes=2)
    slow = [p.p99_ms for p in h.points if p.at >= switched]
    fast = [p.p99_ms for p in h.points if p.at < switched]
    assert min(slow) > max(fast) + 200  # the flag adds 400 ms to p99


def test_a_paused_runaway_job_was_running_before_the_pause(box: Sandbox) -> None:
    box.inject("runaway_job")
    box.now += timedelta(minutes=5)
    box.run(sb.pause_job, job="nightly-reindex")
    paused = box.now
    box.now += timedelta(minutes=5)
    world = World.model_validate(box.state.docs["sandbox/prod"][0])
    then = world_at(world, paused - timedelta(minutes=1)).jobs["nightly-reindex"]
    assert then.running_since is not None and then.runaway and then.workers > 8
    now = world_at(world, box.now).jobs["nightly-reindex"]
    assert now.running_since is None and not now.runaway


def test_replication_lag_windows_come_from_the_fault_record(box: Sandbox) -> None:
    box.inject("replication_lag")
    box.now += timedelta(minutes=5)
    box.run(sb.pause_job, job=REPLICA_READER_JOB)  # its query held replay back
    cleared = box.now
    world = World.model_validate(box.state.docs["sandbox/prod"][0])
    assert world.database.replay_blocked_since is None
    during = world_at(world, cleared - timedelta(minutes=1)).database
    assert during.replay_blocked_since is not None
    assert world_at(world, cleared).database.replay_blocked_since is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"minutes": 10, "step_minutes": 15}, "longer than the window"),
        ({"minutes": 180, "step_minutes": 1}, "more than 121 points"),
    ],
)
def test_windows_that_do_not_fit_are_refused_with_a_fix(
    box: Sandbox, args: dict[str, int], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as err:
        history(box, **args)
    assert err.value.hint


def test_an_unknown_service_names_the_known_ones(box: Sandbox) -> None:
    with pytest.raises(InvalidInput) as err:
        history(box, "nope")
    assert "checkout" in str(err.value.hint)
