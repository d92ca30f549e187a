"""The Loki reader against the loopback Loki of tests/fakes/loki_server.py.

It is checked on 5,000 realistic lines: templates, counts, the causal error kept, filters,
metric queries and a refused LogQL query; and (through the executor) the bearer token a
service logged never comes out, neither in the result nor in the store.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fakes.loki_server import CAUSAL, END, PARSE_ERROR, TOKEN, TOTAL_LINES, fake_loki
from fakes.tool_context import run
from sqlalchemy import select

from copilot.domain import ApprovalState
from copilot.store.schema import metadata
from copilot_tools import loki


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


def everything_stored(svc: Any) -> str:
    out = []
    with svc.door.deps.store.read() as conn:
        for table in metadata.sorted_tables:
            out.extend(repr(tuple(row)) for row in conn.execute(select(table)))
    return "\n".join(out)


def test_a_logged_bearer_token_never_leaves_the_executor(make_copilot, tmp_path):
    with fake_loki() as fake:
        svc = make_copilot(f"sqlite:///{tmp_path / 'redaction.db'}", sources={"loki_url": fake.url})
        _, ran = svc.call(
            svc.principal("dana"),
            "loki.query_range",
            {"query": '{app="payments"}', "limit": 5000, "raw_lines": 100},
        )
    assert ran is not None and ran.status is ApprovalState.SUCCEEDED and ran.result
    text = json.dumps(ran.result)
    assert TOKEN not in text and TOKEN.split(".")[2] not in text
    leak = next(t for t in ran.result["templates"] if "dumping request" in t["example"])
    assert "[REDACTED:" in leak["example"] and leak["level"] == "ERROR"
    assert any("certificate has expired" in t["example"] for t in ran.result["templates"])
    stored = everything_stored(svc)
    assert "dumping request" in stored  # the result is on the record, redacted
    assert TOKEN not in stored and TOKEN.split(".")[1] not in stored
