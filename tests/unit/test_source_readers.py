"""What every telemetry reader (Prometheus, Alertmanager, Loki) promises, whichever it is.

Readers must never crash a turn: an unset URL or a closed port comes back as a typed
``unavailable`` the agent can report, also through the executor. Each pack declares its
risks and side effects. Each reader's own behaviour is in test_prometheus_reader.py,
test_alertmanager_reader.py and test_loki_reader.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes.scripted_http import dead_port
from fakes.tool_context import NOW, run

from copilot.domain import ApprovalState, Risk
from copilot.toolkit import ToolSpec
from copilot_tools import alertmanager, loki, prometheus
from copilot_tools._common.timeargs import resolve_time

READERS: list[tuple[ToolSpec, dict[str, Any], str]] = [
    (prometheus.query, {"query": "up"}, "prometheus"),
    (prometheus.query_range, {"query": "up", "start": "30m"}, "prometheus"),
    (prometheus.alerts, {}, "prometheus"),
    (prometheus.targets, {}, "prometheus"),
    (alertmanager.alerts, {}, "alertmanager"),
    (alertmanager.silences, {"state": "active"}, "alertmanager"),
    (loki.query_range, {"query": '{app="checkout"}'}, "loki"),
]
IDS = [spec.name for spec, _, _ in READERS]


# -- every reader: unset and unreachable sources -----------------------------------------
@pytest.mark.parametrize(("spec", "args", "source"), READERS, ids=IDS)
def test_an_unset_source_is_a_typed_unavailable_naming_the_setting(spec, args, source):
    out = run(spec, args)
    assert out.source == source and out.untrusted is True and not out.ok
    assert out.unavailable.error == f"{source} is not configured"
    assert f"COPILOT_SOURCES__{source.upper()}_URL" in out.unavailable.hint


@pytest.mark.parametrize(("spec", "args", "source"), READERS, ids=IDS)
def test_an_unreachable_source_is_a_typed_unavailable_without_a_trace(spec, args, source):
    port = dead_port()
    out = run(spec, args, **{f"{source}_url": f"http://127.0.0.1:{port}", "timeout_s": 2})
    assert out.unavailable is not None and out.unavailable.source == source
    assert out.unavailable.error == f"cannot reach {source} (ConnectError)"
    assert f":{port}/" in (out.unavailable.url or "")
    text = json.dumps(out.model_dump(mode="json"))
    assert "Traceback" not in text and "File \\" not in text and "Errno" not in text


def test_a_reader_through_the_executor_succeeds_with_unavailable(make_copilot):
    svc = make_copilot("sqlite:///:memory:")
    _, ran = svc.call(svc.principal("dana"), "prometheus.alerts", {})
    assert ran is not None and ran.status is ApprovalState.SUCCEEDED
    assert ran.result is not None and ran.result["unavailable"]["error"] == (
        "prometheus is not configured"
    )


def test_risks_and_side_effects_are_declared():
    readers = {spec.name for spec, _, _ in READERS}
    for spec in (*[s for s, _, _ in READERS], alertmanager.create_silence):
        assert (spec.risk is Risk.READ) is (spec.name in readers)
    assert alertmanager.create_silence.risk is Risk.MEDIUM
    assert not alertmanager.create_silence.idempotent
    assert alertmanager.expire_silence.risk is Risk.LOW and alertmanager.expire_silence.idempotent


def test_relative_times_resolve_against_the_tools_clock():
    assert resolve_time("1h30m", NOW) == NOW - timedelta(minutes=90)
    assert resolve_time("now", NOW) == NOW
    assert resolve_time("2026-11-27T13:00:00.123456789+01:00", NOW) == datetime(
        2026, 11, 27, 12, 0, 0, 123456, tzinfo=UTC
    )
