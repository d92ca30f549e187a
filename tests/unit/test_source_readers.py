"""The Prometheus, Alertmanager and Loki packs against loopback fakes and dead ports.

Readers must never crash a turn: an unset URL, a closed port, a rejected query or a body
of the wrong shape all come back as a typed ``unavailable`` the agent can report. Writes
raise ``ToolFailed`` instead, so a silence that was not made is recorded as failed. The
Loki reader is checked on 5,000 realistic lines: templates, counts, the causal error
kept, and (through the executor) the bearer token a service logged never comes out.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from fakes.loki_server import CAUSAL, END, PARSE_ERROR, TOKEN, TOTAL_LINES, fake_loki
from sqlalchemy import select

from copilot.canonical import canonical_hash
from copilot.domain import ApprovalState, Risk
from copilot.errors import InvalidInput, ToolFailed
from copilot.settings import Settings
from copilot.store.schema import metadata
from copilot.toolkit import ToolContext, ToolSpec
from tools import alertmanager, loki, prometheus
from tools._timeargs import resolve_time

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SILENCE_ID = "0b7c9f2e-3a41-4d6b-8e5f-9a1c2d3e4f50"

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


def run(spec: ToolSpec, args: dict[str, Any], principal: str = "alice", **sources: Any) -> Any:
    """Call a tool as the executor would (validated arguments, a context)."""
    ctx = context(principal, **sources)
    return spec.run_unchecked(ctx, spec.validate(args))


def context(principal: str = "alice", approval_id: str | None = None, **sources: Any) -> Any:
    settings = Settings(sources=sources)
    return ToolContext(
        state=None,  # type: ignore[arg-type]
        settings=settings,
        principal=principal,
        approval_id=approval_id,
        clock=lambda: NOW,
    )


def dead_port() -> int:
    """A loopback port nothing listens on: bound, then closed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Scripted:
    """A loopback HTTP server answering from ``routes`` and recording every request."""

    Answer = tuple[int, Any]

    def __init__(self, routes: dict[tuple[str, str], Answer | Callable[[], Answer]]) -> None:
        self.routes = routes
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                url = urlsplit(self.path)
                size = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(size) if size else b""
                fake.requests.append(
                    {
                        "method": self.command,
                        "path": url.path,
                        "params": parse_qsl(url.query),
                        "headers": dict(self.headers.items()),
                        "body": json.loads(raw) if raw else None,
                    }
                )
                found = fake.routes.get((self.command, url.path), (404, None))
                status, body = found() if callable(found) else found
                data = b"" if body is None else body if isinstance(body, bytes) else None
                if data is None:
                    data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted() -> Iterator[Callable[..., Scripted]]:
    servers: list[Scripted] = []

    def start(routes: dict[tuple[str, str], Any]) -> Scripted:
        servers.append(Scripted(routes))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _prom_ok(data: dict[str, Any], warnings: list[str] | None = None) -> tuple[int, Any]:
    body: dict[str, Any] = {"status": "success", "data": data}
    if warnings:
        body["warnings"] = warnings
    return 200, body


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


def test_a_reader_through_the_executor_succeeds_with_unavailable(make_core):
    core = make_core("sqlite:///:memory:")
    _, ran = core.call(core.principal("dana"), "prometheus.alerts", {})
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


# -- Prometheus ------------------------------------------------------------------------------
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


# -- Alertmanager ----------------------------------------------------------------------------
SILENCE_ARGS = {
    "matchers": [
        {"name": "service", "value": "checkout"},
        {"name": "alertname", "value": "SandboxHighErrorRate"},
    ],
    "duration": "2h",
    "comment": "INC-42: rollback in progress",
}
FIRING = [
    {
        "fingerprint": "a1b2c3d4e5f60718",
        "labels": {"alertname": "SandboxHighErrorRate", "service": "checkout", "severity": "crit"},
        "annotations": {"summary": "checkout is failing"},
        "startsAt": "2026-11-27T11:52:03.000Z",
        "endsAt": "2026-11-27T12:10:00.000Z",
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
        "receivers": [{"name": "oncall"}],
    }
]


def test_the_silence_plan_lists_the_alerts_it_would_hide_and_ignores_the_clock(scripted):
    am = scripted({("GET", "/api/v2/alerts"): (200, FIRING)})
    spec = alertmanager.create_silence
    args = spec.validate(SILENCE_ARGS)
    ctx = context("alice", alertmanager_url=am.url)
    plan = spec.plan(ctx, args)
    assert plan is not None
    assert "for 2h from when it runs, created by alice" in plan
    assert 'alertname="SandboxHighErrorRate", service="checkout"' in plan
    assert 'SandboxHighErrorRate {service="checkout", severity="crit"}' in plan
    ctx.clock = lambda: NOW + timedelta(minutes=7)
    assert spec.plan(ctx, args) == plan  # the approval is bound to its hash
    filters = [v for k, v in am.requests[0]["params"] if k == "filter"]
    assert sorted(filters) == ['alertname="SandboxHighErrorRate"', 'service="checkout"']
    assert spec.resource(args) == (
        'alertmanager:silence:alertname="SandboxHighErrorRate",service="checkout"'
    )


def test_the_silence_plan_says_when_alertmanager_cannot_be_read():
    spec = alertmanager.create_silence
    ctx = context("alice", alertmanager_url=f"http://127.0.0.1:{dead_port()}", timeout_s=2)
    plan = spec.plan(ctx, spec.validate(SILENCE_ARGS))
    assert plan is not None and "Could not read the firing alerts" in plan
    assert "cannot reach alertmanager" in plan


def test_create_silence_posts_alertmanagers_wire_format(scripted):
    am = scripted({("POST", "/api/v2/silences"): (200, {"silenceID": SILENCE_ID})})
    spec = alertmanager.create_silence
    args = {
        **SILENCE_ARGS,
        "matchers": [
            *SILENCE_ARGS["matchers"],
            {"name": "pod", "value": "canary-.*", "is_regex": True, "is_equal": False},
        ],
    }
    ctx = context("alice", approval_id="apr_123", alertmanager_url=am.url)
    out = spec.run_unchecked(ctx, spec.validate(args))
    body = am.requests[0]["body"]
    assert body["matchers"][2] == {
        "name": "pod",
        "value": "canary-.*",
        "isRegex": True,
        "isEqual": False,
    }
    assert body["createdBy"] == "alice"
    assert body["comment"] == "INC-42: rollback in progress [incident copilot apr_123]"
    starts, ends = (datetime.fromisoformat(body[k]) for k in ("startsAt", "endsAt"))
    assert starts == NOW and ends - starts == timedelta(hours=2)
    assert out.silence_id == SILENCE_ID and 'pod!~"canary-.*"' in out.matchers


def test_create_silence_fails_cleanly_when_alertmanager_is_down():
    spec = alertmanager.create_silence
    ctx = context(alertmanager_url=f"http://127.0.0.1:{dead_port()}", timeout_s=2)
    with pytest.raises(ToolFailed, match="cannot reach alertmanager"):
        spec.run_unchecked(ctx, spec.validate(SILENCE_ARGS))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"matchers": [{"name": "alertname", "value": ".*", "is_regex": True}]}, "empty value"),
        ({"matchers": [{"name": "service", "value": "x", "is_equal": False}]}, "empty value"),
        ({"matchers": [{"name": "a", "value": "(", "is_regex": True}]}, "regular expression"),
        ({"matchers": []}, "at least 1"),
        ({"matchers": [{"name": "bad-name", "value": "x"}]}, "pattern"),
        ({"duration": "1m"}, "5m to 24h"),
        ({"duration": "25h"}, "5m to 24h"),
        ({"comment": ""}, "at least 3"),
    ],
)
def test_silences_are_bounded(change, message):
    with pytest.raises(InvalidInput, match=message):
        alertmanager.create_silence.validate({**SILENCE_ARGS, **change})


def _silence(state: str) -> dict[str, Any]:
    return {
        "id": SILENCE_ID,
        "status": {"state": state},
        "matchers": [{"name": "service", "value": "checkout", "isRegex": False, "isEqual": True}],
        "startsAt": "2026-11-27T11:00:00Z",
        "endsAt": "2026-11-27T13:00:00Z",
        "createdBy": "bob",
        "comment": "deploy",
    }


def test_expiring_an_expired_silence_changes_nothing(scripted):
    am = scripted({("GET", f"/api/v2/silence/{SILENCE_ID}"): (200, _silence("expired"))})
    spec = alertmanager.expire_silence
    ctx = context(alertmanager_url=am.url)
    args = spec.validate({"silence_id": SILENCE_ID})
    assert "already expired: nothing will change" in (spec.plan(ctx, args) or "")
    out = spec.run_unchecked(ctx, args)
    assert out.already_expired and out.was == "expired"
    assert [r["method"] for r in am.requests] == ["GET", "GET"]  # plan, run: no DELETE


def test_expire_silence_deletes_an_active_one_and_refuses_an_unknown_id(scripted):
    am = scripted(
        {
            ("GET", f"/api/v2/silence/{SILENCE_ID}"): (200, _silence("active")),
            ("DELETE", f"/api/v2/silence/{SILENCE_ID}"): (200, None),
            ("GET", "/api/v2/alerts"): (200, FIRING),
        }
    )
    spec = alertmanager.expire_silence
    ctx = context(alertmanager_url=am.url)
    args = spec.validate({"silence_id": SILENCE_ID})
    plan = spec.plan(ctx, args) or ""
    assert "created by bob: deploy" in plan and 'service="checkout"' in plan
    assert "notify again" in plan and "SandboxHighErrorRate" in plan
    out = spec.run_unchecked(ctx, args)
    assert out.was == "active" and not out.already_expired
    assert ("DELETE", f"/api/v2/silence/{SILENCE_ID}") in [
        (r["method"], r["path"]) for r in am.requests
    ]
    other = spec.validate({"silence_id": SILENCE_ID.replace("0b7c", "ffff")})
    assert "no silence" in (spec.plan(ctx, other) or "")
    with pytest.raises(ToolFailed, match="has no silence"):
        spec.run_unchecked(ctx, other)


def test_alertmanager_alerts_and_silences_are_read(scripted):
    silenced = {**FIRING[0], "status": {"state": "suppressed", "silencedBy": [SILENCE_ID]}}
    # Someone else's silence with a value the copilot would not create must still list.
    odd = {**_silence("pending"), "id": "x"}
    odd["matchers"] = [{"name": "msg", "value": 'a "b"\n' + "c" * 600, "isRegex": False}]
    am = scripted(
        {
            ("GET", "/api/v2/alerts"): (200, [silenced]),
            ("GET", "/api/v2/silences"): (200, [_silence("expired"), _silence("active"), odd]),
        }
    )
    out = run(
        alertmanager.alerts,
        {"filter": ['service="checkout"'], "inhibited": False},
        alertmanager_url=am.url,
    )
    (alert,) = out.alerts
    assert alert.state == "suppressed" and alert.silenced_by == [SILENCE_ID]
    assert alert.receivers == ["oncall"] and alert.name == "SandboxHighErrorRate"
    assert ("filter", 'service="checkout"') in am.requests[0]["params"]
    assert ("inhibited", "false") in am.requests[0]["params"]
    out = run(alertmanager.silences, {}, alertmanager_url=am.url)
    assert [s.state for s in out.silences] == ["active", "pending", "expired"]
    assert out.silences[0].matchers == ['service="checkout"']
    assert out.silences[1].matchers[0].startswith('msg="a \\"b\\"\\nccc')
    assert run(alertmanager.silences, {"state": "active"}, alertmanager_url=am.url).total == 1


# -- Loki ----------------------------------------------------------------------------------
def test_loki_lines_fold_into_templates_and_keep_the_causal_error():
    with fake_loki() as fake:
        out = run(
            loki.query_range,
            {"query": '{namespace="prod"}', "limit": 5000, "raw_lines": 5},
            loki_url=fake.url,
            bearer_token="loki-token-123456",
            loki_tenant="team-checkout",
        )
        (request,) = fake.requests
    assert out.ok and out.result_type == "streams"
    assert out.total_lines == TOTAL_LINES and sum(s.lines for s in out.streams) == TOTAL_LINES
    assert {s.labels["app"] for s in out.streams} == {"checkout", "payments"}
    assert 3 <= out.total_templates <= 10 and out.dropped_templates == 0
    assert sum(t.count for t in out.templates) == TOTAL_LINES
    counts = [t.count for t in out.templates]
    assert counts == sorted(counts, reverse=True) and counts[0] > 1000
    (causal,) = [t for t in out.templates if "certificate has expired" in t.example]
    assert causal.count == 1 and causal.level == "ERROR" and causal.example == CAUSAL
    assert causal.first == datetime(2026, 11, 27, 11, 52, 3, 120000, tzinfo=UTC)
    # Without the executor the tool's output is raw log content: the token is in it.
    assert TOKEN in json.dumps(out.model_dump(mode="json"))
    assert len(out.newest) == 5 and out.newest[0].at >= out.newest[-1].at
    assert out.limit_reached and "older lines" in out.note
    headers, params = request["headers"], request["params"]
    assert headers["Authorization"] == "Bearer loki-token-123456"
    assert headers["X-Scope-OrgID"] == "team-checkout"
    assert params["start"] == str(int((END - timedelta(minutes=15)).timestamp()) * 10**9)
    assert params["end"] == str(int(END.timestamp()) * 10**9)
    assert (params["limit"], params["direction"]) == ("5000", "backward")


def test_loki_filters_metric_queries_and_bad_logql():
    with fake_loki() as fake:
        out = run(
            loki.query_range,
            {"query": '{app="payments"} |= "error"', "start": "2026-11-27T11:50:00Z"},
            loki_url=fake.url,
        )
        assert out.total_lines == 2 and not out.limit_reached
        assert {t.level for t in out.templates} == {"ERROR"}
        out = run(
            loki.query_range, {"query": 'count_over_time({app="payments"}[1m])'}, loki_url=fake.url
        )
        (series,) = out.series
        assert out.result_type == "matrix" and series.points_total == 15
        out = run(loki.query_range, {"query": "checkout errors"}, loki_url=fake.url)
    assert out.unavailable is not None
    assert out.unavailable.error == f"loki answered HTTP 400: {PARSE_ERROR}"


def everything_stored(core: Any) -> str:
    out = []
    with core.store.read() as conn:
        for table in metadata.sorted_tables:
            out.extend(repr(tuple(row)) for row in conn.execute(select(table)))
    return "\n".join(out)


def test_a_logged_bearer_token_never_leaves_the_executor(make_core, tmp_path):
    with fake_loki() as fake:
        core = make_core(f"sqlite:///{tmp_path / 'redaction.db'}", sources={"loki_url": fake.url})
        _, ran = core.call(
            core.principal("dana"),
            "loki.query_range",
            {"query": '{app="payments"}', "limit": 5000, "raw_lines": 100},
        )
    assert ran is not None and ran.status is ApprovalState.SUCCEEDED and ran.result
    text = json.dumps(ran.result)
    assert TOKEN not in text and TOKEN.split(".")[2] not in text
    leak = next(t for t in ran.result["templates"] if "dumping request" in t["example"])
    assert "[REDACTED:" in leak["example"] and leak["level"] == "ERROR"
    assert any("certificate has expired" in t["example"] for t in ran.result["templates"])
    stored = everything_stored(core)
    assert "dumping request" in stored  # the result is on the record, redacted
    assert TOKEN not in stored and TOKEN.split(".")[1] not in stored


def test_relative_times_resolve_against_the_tools_clock():
    assert resolve_time("1h30m", NOW) == NOW - timedelta(minutes=90)
    assert resolve_time("now", NOW) == NOW
    assert resolve_time("2026-11-27T13:00:00.123456789+01:00", NOW) == datetime(
        2026, 11, 27, 12, 0, 0, 123456, tzinfo=UTC
    )
