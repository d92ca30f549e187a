"""Inline charts for the web chat: which series the facts hold, and safe, accessible SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from test_sandbox import Sandbox

from copilot.domain.views import FactView
from copilot.surfaces.web.chart_svg import BOTTOM, RIGHT, TOP, svg
from copilot.surfaces.web.charts import (
    Chart,
    fact_charts,
    format_value,
    unit_of_query,
    values_table,
)
from copilot.toolkit import ToolSpec
from copilot_tools import sandbox as sb

SVG = "{http://www.w3.org/2000/svg}"
T = datetime(2025, 3, 4, 14, 0, tzinfo=UTC)


class Conversation:
    """Reads through the sandbox's tools, kept as the web page gets them: dumped FactViews."""

    def __init__(self) -> None:
        self.box = Sandbox()
        self.facts: list[dict[str, Any]] = []

    def read(self, spec: ToolSpec, **args: Any) -> str:
        fact_id = f"f{len(self.facts) + 1}"
        data = self.box.run(spec, **args).model_dump(mode="json")
        view = FactView(id=fact_id, tool=spec.name, arguments=args, data=data, at=self.box.now)
        self.facts.append(view.model_dump(mode="json"))
        return fact_id


def iso(minutes: float) -> str:
    return (T + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def metrics_fact(fact_id: str, minutes: float, service: str = "checkout", **values: Any) -> Any:
    data = {"service": service, "at": iso(minutes), "error_rate": 0.002, "p99_ms": 210.0}
    data |= {"replicas": 6, "ready_replicas": 6, "memory_mb": 640.0, **values}
    return {"id": fact_id, "tool": "sandbox.get_metrics", "ok": True, "data": data}


def range_fact(fact_id: str, query: str, values: list[Any], **labels: str) -> dict[str, Any]:
    points = [{"at": iso(i), "value": v} for i, v in enumerate(values)]
    series = {"labels": labels, "points_total": len(points), "points": points}
    data = {"source": "prometheus", "query": query, "series": [series], "untrusted": True}
    return {"id": fact_id, "tool": "prometheus.query_range", "ok": True, "data": data}


def parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # well-formed XML, or this raises


def coords(markup: str) -> list[tuple[float, float]]:
    line = parse(markup).find(f"{SVG}polyline")
    assert line is not None
    pairs = (p.split(",") for p in line.attrib["points"].split())
    return [(float(x), float(y)) for x, y in pairs]


# -- the series found in facts ------------------------------------------------------------------
def test_a_bad_deploy_conversation_charts_the_step_up_and_cites_its_facts() -> None:
    talk = Conversation()
    talk.box.now += timedelta(minutes=40)
    deployed = talk.box.now
    talk.box.inject("bad_deploy")
    talk.box.now += timedelta(minutes=6)
    talk.read(sb.get_metrics, service="checkout")
    talk.read(sb.list_deployments, service="checkout", limit=3)
    talk.read(sb.get_metrics_history, service="checkout")
    talk.box.run(sb.rollback_deployment, service="checkout")
    talk.box.now += timedelta(minutes=3)
    talk.read(sb.get_metrics, service="checkout")  # the verify re-read after the rollback

    charts = fact_charts(talk.facts)
    assert [c.title for c in charts] == [
        "checkout error rate, last 63 min",
        "checkout p99 latency, last 63 min",
        "checkout ready replicas, last 63 min",
    ]
    rate = charts[0]
    assert rate.unit == "ratio" and rate.fact_ids == ["f3", "f4"] and rate.fact_id == "f4"
    assert [m[1].split(":")[0] for m in rate.marks] == ["deploy"]
    assert rate.marks[0][0] == deployed.isoformat().replace("+00:00", "Z")
    values = [v for _, v in rate.points]
    stepped = [v for at, v in rate.points if at >= rate.marks[0][0]]
    assert max(values[: len(values) - len(stepped)]) < 0.01  # before the deploy
    assert min(stepped[:-1]) > 0.3 and stepped[-1] < 0.01  # after it; after the rollback
    assert {v for _, v in charts[2].points} == {6}
    assert charts[1].unit == "ms" and charts[2].unit == "count"


def test_get_metrics_readings_of_one_service_become_a_series() -> None:
    facts = [
        metrics_fact("f1", 0, error_rate=0.002),
        metrics_fact("f2", 0, "payments"),  # another service: a reading of its own
        {"id": "f3", "tool": "sandbox.get_metrics", "ok": False, "error": "unavailable"},
        metrics_fact("f4", 12, error_rate=0.31),
        metrics_fact("f5", 5, error_rate=0.30),  # read out of order: sorted by time
    ]
    charts = fact_charts(facts)
    assert [c.title for c in charts] == [
        "checkout error rate, 3 readings over 12 min",
        "checkout p99 latency, 3 readings over 12 min",
        "checkout ready replicas, 3 readings over 12 min",
    ]
    assert charts[0].points == [(iso(0), 0.002), (iso(5), 0.30), (iso(12), 0.31)]
    assert charts[0].fact_ids == ["f1", "f5", "f4"]
    assert fact_charts([metrics_fact("f1", 0)]) == []  # one reading: read it, no chart


def test_memory_is_charted_only_when_it_moves() -> None:
    steady = [metrics_fact(f"f{i}", i, memory_mb=640 + i) for i in range(3)]
    assert "memory" not in " ".join(c.title for c in fact_charts(steady))
    climbing = [metrics_fact(f"f{i}", 30 * i, memory_mb=400 + 200 * i) for i in range(3)]
    memory = [c for c in fact_charts(climbing) if "memory" in c.title]
    title = "checkout memory per pod, 3 readings over 60 min"
    assert [(c.title, c.unit) for c in memory] == [(title, "MB")]


def test_range_query_series_are_charted_and_the_newest_answer_wins() -> None:
    q = 'sandbox_http_latency_p99_seconds{service="checkout"}'
    older = range_fact("f1", q, [0.2, 0.2, 0.2], service="checkout")
    newer = range_fact("f2", q, [0.21, "NaN", 0.25, 0.9], service="checkout", __name__="x")
    charts = fact_charts([older, metrics_fact("f3", 0), newer])
    assert len(charts) == 1
    chart = charts[0]
    assert chart.title == f'{q} {{service="checkout"}}, last 3 min'
    assert chart.unit == "s" and chart.fact_ids == ["f2"]
    assert [v for _, v in chart.points] == [0.21, 0.25, 0.9]  # NaN is not drawn
    assert values_table(chart)[-1].value == "900 ms"


@pytest.mark.parametrize(
    "junk",
    [
        None,
        "text",
        {"id": "f1", "tool": "sandbox.get_metrics_history", "data": None},
        {"id": "f1", "tool": "sandbox.get_metrics_history", "data": {"service": "a", "points": 3}},
        {
            "id": "f1",
            "tool": "sandbox.get_metrics_history",
            "data": {"service": "a", "points": [{"at": "yesterday", "error_rate": 1}, 7]},
        },
        {"id": "f1", "tool": "sandbox.get_metrics", "data": {"service": "a", "error_rate": True}},
        {"id": "f1", "tool": "x.query_range", "data": {"series": [{"points": [{"at": 1}]}, 3]}},
        metrics_fact("f1", 0, error_rate=float("inf"), p99_ms=None, ready_replicas="6"),
    ],
)
def test_malformed_facts_are_skipped_never_raised(junk: Any) -> None:
    assert fact_charts([junk, junk]) == []


def test_query_units_follow_the_naming_convention_or_stay_plain() -> None:
    assert unit_of_query("sandbox_http_error_ratio") == "ratio"
    assert unit_of_query("histogram_quantile(0.99, rate(h_seconds_bucket[5m]))") == "s"
    assert unit_of_query('max(sandbox_memory_bytes{pod=~"x_ratio"})') == "bytes"
    assert unit_of_query("rate(a_seconds_sum[5m]) / rate(a_seconds_count[5m])") == ""
    assert unit_of_query("rate(http_requests_total[5m])") == ""
    assert unit_of_query("up_ratio + mem_bytes") == ""


# -- formats and the table under a chart ---------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (0.3127, "ratio", "31.3 %"),
        (0.0015, "ratio", "0.15 %"),
        (0.0, "ratio", "0 %"),
        (1.0, "ratio", "100.0 %"),
        (231.6, "ms", "232 ms"),
        (4.3, "ms", "4.3 ms"),
        (1234.0, "ms", "1,234 ms"),
        (0.4123, "s", "412 ms"),
        (2.5, "s", "2.50 s"),
        (6.0, "count", "6"),
        (645.9, "MB", "646 MB"),
        (512.0, "bytes", "512 B"),
        (1536.0, "bytes", "1.5 KiB"),
        (3 * 1024**3, "bytes", "3.0 GiB"),
        (12345.6, "", "12,346"),
        (0.01234, "", "0.0123"),
    ],
)
def test_values_are_formatted_for_people(value: float, unit: Any, shown: str) -> None:
    assert format_value(value, unit) == shown


def test_the_table_gives_each_raw_value_with_its_time() -> None:
    chart = Chart(title="t", unit="ratio", points=[(iso(2), 0.3), (iso(0), 0.002)], fact_ids=["f1"])
    assert [tuple(r) for r in values_table(chart)] == [
        ("14:00", "0.20 %", iso(0)),
        ("14:02", "30.0 %", iso(2)),
    ]
    same_minute = Chart(title="t", points=[(iso(0), 1), (iso(0.5), 2)], fact_ids=["f1"])
    assert [r.time for r in values_table(same_minute)] == ["14:00:00", "14:00:30"]
    days = Chart(title="t", points=[(iso(0), 1), (iso(24 * 60), 2)], fact_ids=["f1"])
    assert [r.time for r in values_table(days)] == ["03-04 14:00", "03-05 14:00"]


def test_a_chart_refuses_points_it_cannot_draw() -> None:
    with pytest.raises(ValidationError):
        Chart(title="t", points=[(iso(0), float("nan"))], fact_ids=["f1"])
    with pytest.raises(ValidationError):
        Chart(title="t", points=[("not a time", 1.0)], fact_ids=["f1"])
    with pytest.raises(ValidationError):
        Chart(title="t", points=[], fact_ids=["f1"])


# -- the SVG --------------------------------------------------------------------------------------
def test_the_svg_is_accessible_and_shows_range_last_value_and_hover_values() -> None:
    chart = Chart(
        title="checkout error rate, last 4 min",
        unit="ratio",
        points=[(iso(0), 0.002), (iso(2), 0.31), (iso(4), 0.3127)],
        fact_ids=["f3"],
        marks=[(iso(1), "deploy: checkout: revision 43 → 44")],
    )
    markup = svg(chart)
    root = parse(markup)
    assert root.tag == f"{SVG}svg" and root.attrib["role"] == "img"
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == chart.title
    assert root.attrib["aria-labelledby"] == title.attrib["id"]
    desc = root.find(f"{SVG}desc")
    assert desc is not None and root.attrib["aria-describedby"] == desc.attrib["id"]
    assert "lowest 0.20 %, highest 31.3 %, last 31.3 % at 14:04" in str(desc.text)
    assert "Source: f3" in str(desc.text)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "0 %" in texts and "31.3 %" in texts  # axis min and max, last value
    assert "14:00" in texts and "14:04 UTC" in texts
    hovers = [t.text for t in root.iter(f"{SVG}title")][1:]
    assert hovers == [
        "14:01 deploy: checkout: revision 43 → 44",
        "14:00 UTC: 0.20 %",
        "14:02 UTC: 31.0 %",
        "14:04 UTC: 31.3 %",
    ]
    xs = [x for x, _ in coords(markup)]
    assert xs == sorted(xs) and xs[-1] == RIGHT


def test_the_svg_needs_nothing_the_content_security_policy_forbids() -> None:
    markup = svg(Chart(title="a", points=[(iso(0), 1.0), (iso(1), 2.0)], fact_ids=["f1"]))
    for element in parse(markup).iter():
        assert element.tag.removeprefix(SVG) not in ("script", "style", "foreignObject", "image")
        for name in element.attrib:
            assert name != "style" and not name.lower().startswith("on") and "href" not in name
    assert "url(" not in markup and "javascript:" not in markup


def test_tool_output_in_titles_and_marks_is_escaped() -> None:
    evil = "<script>alert(1)</script>"
    facts = [
        metrics_fact("f1", 0, evil),
        metrics_fact("f2", 3, evil, error_rate=0.4),
    ]
    history = {
        "id": "f3",
        "tool": "sandbox.get_metrics_history",
        "data": {
            "service": evil,
            "points": [{"at": iso(1), "error_rate": 0.1}],
            "changes": [{"at": iso(2), "action": "deploy", "summary": f'"{evil}" & <b onload=x>'}],
        },
    }
    charts = fact_charts([*facts, history])
    assert charts and charts[0].title.startswith(evil)
    for chart in charts:
        markup = svg(chart)
        assert "<script" not in markup and "<b " not in markup
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
        assert "&quot;&lt;script&gt;" in markup and "&amp; &lt;b onload=x&gt;" in markup
        root = parse(markup)
        assert [e for e in root.iter() if e.tag.removeprefix(SVG) == "script"] == []
        title = root.find(f"{SVG}title")
        assert title is not None and title.text == chart.title  # shown as text, verbatim


def test_control_characters_never_reach_the_svg() -> None:
    chart = Chart(title="a\x00b\x1bc\nd", points=[(iso(0), 1.0)], fact_ids=["f\x07"])
    assert chart.title == "abc d"
    parse(svg(chart))  # an XML parser rejects control characters: none are left


def test_a_flat_series_is_a_level_line_and_zero_sits_on_the_axis() -> None:
    points = [(iso(i), 6.0) for i in range(4)]
    level = coords(svg(Chart(title="r", unit="count", points=points, fact_ids=["f1"])))
    assert {y for _, y in level} == {TOP}  # 6 of a 0..6 axis: the top
    zeros = [(iso(i), 0.0) for i in range(4)]
    markup = svg(Chart(title="e", unit="ratio", points=zeros, fact_ids=["f1"]))
    assert {y for _, y in coords(markup)} == {BOTTOM}
    texts = [t.text for t in parse(markup).iter(f"{SVG}text")]
    assert texts.count("0 %") == 2  # the axis and the last value; no made-up maximum


def test_a_single_point_is_a_dot_at_the_right_edge() -> None:
    markup = svg(Chart(title="one", unit="ms", points=[(iso(0), 250.0)], fact_ids=["f1"]))
    root = parse(markup)
    assert root.find(f"{SVG}polyline") is None
    dots = [c for c in root.iter(f"{SVG}circle") if "fill-opacity" not in c.attrib]
    assert [(float(c.attrib["cx"]), float(c.attrib["cy"])) for c in dots] == [(RIGHT, TOP)]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts.count("250 ms") == 2 and "14:00 UTC" in texts and "desc" in markup


def test_negative_values_scale_between_their_minimum_and_zero() -> None:
    markup = svg(Chart(title="d", points=[(iso(0), -4.0), (iso(1), 0.0)], fact_ids=["f1"]))
    assert coords(markup) == [(pytest.approx(44.0), BOTTOM), (RIGHT, TOP)]
    assert re.search(r">-4<", markup) and re.search(r">0<", markup)


def test_ids_differ_between_charts_on_one_page() -> None:
    charts = fact_charts([metrics_fact("f1", 0), metrics_fact("f2", 5)])
    ids = {parse(svg(c)).attrib["aria-labelledby"] for c in charts}
    assert len(ids) == len(charts) == 3
