"""The Prometheus reader against a scripted loopback Prometheus.

A rejected query, a body of the wrong shape or a refused token come back as a typed
``unavailable`` with Prometheus's own message; instant and range queries are capped and
summarised (NaN kept as text, spikes kept); alerts and targets are read and filtered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fakes.scripted_http import Scripted, scripted_servers
from fakes.tool_context import NOW, run

from copilot.canonical import canonical_hash
from copilot.errors import InvalidInput
from copilot_tools import prometheus


@pytest.fixture
def scripted() -> Iterator[Callable[..., Scripted]]:
    with scripted_servers() as start:
        yield start


def _prom_ok(data: dict[str, Any], warnings: list[str] | None = None) -> tuple[int, Any]:
    body: dict[str, Any] = {"status": "success", "data": data}
    if warnings:
        body["warnings"] = warnings
    return 200, body


def test_bad_promql_comes_back_with_prometheuss_own_message(scripted):
    error = '1:6: parse error: unexpected "}" in label matching, expected string'
    prom = scripted(
        {
            ("GET", "/api/v1/query"): (
                400,
                {"status": "error", "errorType": "bad_data", "error": error},
            )
        }
    )
    out = run(prometheus.query, {"query": 'up{job="}'}, prometheus_url=prom.url)
    assert out.unavailable is not None and out.samples == []
    assert out.unavailable.error == f"prometheus answered HTTP 400: {error}"
    assert "query was rejected" in out.unavailable.hint
    assert dict(prom.requests[0]["params"])["query"] == 'up{job="}'


def test_an_instant_query_caps_series_and_keeps_nan_as_text(scripted):
    values = ["0.5", "NaN", "+Inf", "2", "3"]
    result = [
        {"metric": {"__name__": "x", "i": str(i)}, "value": [1795780800.5, v]}
        for i, v in enumerate(values)
    ]
    prom = scripted(
        {("GET", "/api/v1/query"): _prom_ok({"resultType": "vector", "result": result}, ["w1"])}
    )
    out = run(
        prometheus.query,
        {"query": "x", "time": "2026-11-27T11:00:00Z", "max_series": 3},
        prometheus_url=prom.url,
    )
    assert out.ok and out.result_type == "vector" and out.warnings == ["w1"]
    assert [s.value for s in out.samples] == [0.5, "NaN", "+Inf"]
    assert (out.total, out.cut) == (5, 2)
    assert out.samples[0].labels == {"__name__": "x", "i": "0"}
    assert out.samples[0].at == datetime(2026, 11, 27, 12, 0, 0, 500000, tzinfo=UTC)
    canonical_hash(out.model_dump(mode="json"))  # storable: no NaN reaches the store
    params = dict(prom.requests[0]["params"])
    assert params["time"] == f"{datetime(2026, 11, 27, 11, tzinfo=UTC).timestamp():.3f}"
    assert params["timeout"] == "10s"


def test_a_range_query_is_summarised_and_keeps_the_spike(scripted):
    t0 = NOW.timestamp() - 3600
    points = [[t0 + 15 * i, "1" if i != 117 else "42"] for i in range(240)]
    result = [{"metric": {"service": "checkout"}, "values": points}]
    prom = scripted(
        {("GET", "/api/v1/query_range"): _prom_ok({"resultType": "matrix", "result": result})}
    )
    out = run(prometheus.query_range, {"query": "x", "points": 10}, prometheus_url=prom.url)
    (series,) = out.series
    assert series.points_total == 240 and series.min == 1.0 and series.max == 42.0
    assert series.first is not None and series.first.value == 1.0
    assert series.last is not None and series.last.at.timestamp() == t0 + 15 * 239
    assert 10 <= len(series.points) <= 12
    assert any(p.value == 42.0 for p in series.points)
    params = dict(prom.requests[0]["params"])
    # "1h" ago to now at the automatic step: 3600 s / 240 points
    assert params["start"] == f"{t0:.3f}" and params["end"] == f"{NOW.timestamp():.3f}"
    assert params["step"] == "15" and out.step == "15s"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"start": "now", "end": "1h"}, "must be before end"),
        ({"start": "30d", "step": "1s"}, "points per series"),
    ],
)
def test_a_range_query_refuses_a_bad_window_before_asking(args, message):
    with pytest.raises(InvalidInput, match=message):
        run(prometheus.query_range, {"query": "up", **args}, prometheus_url="http://127.0.0.1:1")


@pytest.mark.parametrize(
    "bad",
    [
        {"query": ""},
        {"query": "x" * 2001},
        {"query": "up", "time": "yesterday"},
        {"query": "up", "time": "2026-13-01T00:00:00Z"},
        {"query": "up", "max_series": 0},
    ],
)
def test_prometheus_arguments_are_bounded(bad):
    with pytest.raises(InvalidInput):
        prometheus.query.validate(bad)


def test_an_unexpected_body_is_unavailable_not_a_crash(scripted):
    prom = scripted(
        {
            ("GET", "/api/v1/query"): _prom_ok(
                {"resultType": "vector", "result": [{"metric": "oops"}]}
            ),
            ("GET", "/api/v1/alerts"): (200, b"<html>login</html>"),
        }
    )
    out = run(prometheus.query, {"query": "up"}, prometheus_url=prom.url)
    assert out.unavailable is not None and "shape the reader does not know" in (
        out.unavailable.error
    )
    out = run(prometheus.alerts, {}, prometheus_url=prom.url)
    assert out.unavailable is not None and "not JSON" in out.unavailable.error


def test_the_bearer_token_is_sent_and_never_echoed(scripted):
    prom = scripted({("GET", "/api/v1/targets"): (401, {"error": "unauthorized"})})
    token = "prom-" + "k3y" * 8
    out = run(prometheus.targets, {}, prometheus_url=prom.url, bearer_token=token)
    assert prom.requests[0]["headers"]["Authorization"] == f"Bearer {token}"
    assert out.unavailable is not None and "BEARER_TOKEN" in out.unavailable.hint
    assert token not in json.dumps(out.model_dump(mode="json"))


def test_prometheus_alerts_and_targets_are_read_and_filtered(scripted):
    alerts = [
        {
            "labels": {"alertname": "SandboxHighErrorRate", "service": "checkout"},
            "annotations": {"summary": "checkout is failing 12% of requests"},
            "state": "firing",
            "activeAt": "2026-11-27T11:52:03.123456789Z",
            "value": "1.2e-01",
        },
        {"labels": {"alertname": "Other"}, "annotations": {}, "state": "pending", "value": ""},
    ]
    targets = [
        {
            "labels": {"job": "sandbox", "instance": "127.0.0.1:9200"},
            "scrapePool": "sandbox",
            "scrapeUrl": "http://127.0.0.1:9200/metrics",
            "lastError": "",
            "lastScrape": "2026-11-27T11:59:58.5Z",
            "lastScrapeDuration": 0.0042,
            "health": "up",
        },
        {
            "labels": {"job": "node", "instance": "10.0.0.9:9100"},
            "scrapeUrl": "http://10.0.0.9:9100/metrics",
            "lastError": "connection refused",
            "lastScrape": "0001-01-01T00:00:00Z",
            "health": "down",
        },
    ]
    prom = scripted(
        {
            ("GET", "/api/v1/alerts"): _prom_ok({"alerts": alerts}),
            ("GET", "/api/v1/targets"): _prom_ok({"activeTargets": targets, "droppedTargets": []}),
        }
    )
    out = run(prometheus.alerts, {"state": "firing"}, prometheus_url=prom.url)
    (alert,) = out.alerts
    assert alert.name == "SandboxHighErrorRate" and alert.value == 0.12
    assert alert.active_at == datetime(2026, 11, 27, 11, 52, 3, 123456, tzinfo=UTC)
    out = run(prometheus.targets, {}, prometheus_url=prom.url)
    assert (out.total, out.up, out.down) == (2, 1, 1)
    down = next(t for t in out.targets if t.health == "down")
    assert down.last_error == "connection refused" and down.last_scrape is None
    assert run(prometheus.targets, {"job": "sandbox"}, prometheus_url=prom.url).total == 1
