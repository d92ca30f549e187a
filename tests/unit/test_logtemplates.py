"""Log templating: lines that differ only by ids share a template; the causal line survives."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from copilot.bench.tokens import run_tokens_bench, sandbox_window
from copilot_tools._common.logtemplates import count_tokens, render, template_window, tokenizer_name

T0 = datetime(2025, 3, 4, 14, 30, 0, tzinfo=UTC)
CAUSAL = "unhandled exception on POST /api/v1/checkout: NullPointerException at Charge.java:118"


def _noise(i: int) -> str:
    return (
        f"request {i:08x}-1f2e-4d3c-8b7a-{i:012x} from 10.1.{i % 250}.{i % 200 + 1}:{40000 + i} "
        f"user {1000 + i} trace 0x{i * 7919:016x} took {i % 900}ms"
    )


def test_lines_that_differ_by_ids_share_one_template():
    lines = [
        {"ts": T0 + timedelta(seconds=i), "level": "INFO", "message": _noise(i)} for i in range(30)
    ]
    lines += [
        SimpleNamespace(ts=T0 + timedelta(seconds=40 + i), level="WARN", message=_noise(100 + i))
        for i in range(5)
    ]
    w = template_window(lines)
    assert w.total_lines == 35 and w.total_templates == 1 and len(w.templates) == 1
    t = w.templates[0]
    assert t.count == 35 and t.level == "WARN"
    assert t.first == T0 and t.last == T0 + timedelta(seconds=44)
    assert t.example == _noise(0)
    for mask in ("<UUID>", "<IP>", "<NUM>", "<HEX>", "<DURATION>"):
        assert mask in t.template


def test_plain_string_lines_carry_their_timestamp_and_level():
    lines = [f"{(T0 + timedelta(minutes=i)).isoformat()} INFO {_noise(i)}" for i in range(10)]
    lines.append(f"{(T0 + timedelta(minutes=11)).isoformat()} ERROR {CAUSAL}")
    w = template_window(lines)
    assert [t.count for t in w.templates] == [10, 1]
    assert w.templates[0].first == T0 and w.templates[0].last == T0 + timedelta(minutes=9)
    assert w.templates[1].level == "ERROR" and w.templates[1].example == lines[-1]


def test_a_single_error_survives_max_templates_one():
    lines = [f"GET /items/{i} 200 {i}ms" for i in range(50)]
    lines += [f"cache hit ratio 0.{i:02d} on shard {i}" for i in range(20)]
    lines += [{"ts": T0, "level": "error", "message": CAUSAL}]
    w = template_window(lines, max_templates=1)
    kept = {t.level for t in w.templates}
    assert w.templates[0].count == 50 and "ERROR" in kept
    assert w.dropped_templates == 1 and w.dropped_lines == 20
    text = render(w)
    assert CAUSAL in text and "1 rarer templates, 20 lines" in text
    assert text.splitlines()[-1].startswith("… ")


def test_render_is_one_line_per_template_in_the_documented_form():
    lines = [
        {"ts": T0 + timedelta(seconds=i), "level": "INFO", "message": _noise(i)} for i in range(3)
    ]
    body = render(template_window(lines)).splitlines()[1]
    assert body.startswith("3× [INFO] 14:30:00..14:30:02  request <UUID>")
    assert body.endswith(f"  | e.g. {_noise(0)}")


def test_rendered_5k_window_is_much_shorter_than_its_input():
    raw = sandbox_window(5000, "bad_deploy")
    assert len(raw) == 5000
    rendered = render(template_window(raw))
    raw_tokens, templated = count_tokens("\n".join(raw)), count_tokens(rendered)
    assert templated * 10 <= raw_tokens, (raw_tokens, templated)
    assert "unhandled exception on POST /api/v1/checkout" in rendered


def test_tokens_are_counted_offline_by_litellm():
    assert count_tokens("hello world") == 2
    assert tokenizer_name().startswith("litellm.token_counter")


def test_the_bench_function_reports_the_documented_keys():
    f = run_tokens_bench(sizes=(600,))
    assert set(f) == {"windows", "median_ratio", "tokenizer"}
    assert len(f["windows"]) == 2  # a bad deploy and a crash loop
    for w in f["windows"]:
        assert {"lines", "raw_tokens", "templated_tokens", "ratio", "causal_kept"} <= set(w)
        assert w["lines"] == 600 and w["causal_kept"] is True
        assert w["ratio"] >= 10
    assert f["median_ratio"] >= 10


def test_the_bench_command_prints_json():
    from typer.testing import CliRunner

    from copilot.surfaces.cli.admin import bench_app

    out = CliRunner().invoke(bench_app, ["tokens", "--json", "--sizes", "400"])
    assert out.exit_code == 0, out.output
    f = json.loads(out.stdout)
    assert all(w["causal_kept"] for w in f["windows"]) and f["median_ratio"] > 1
    bad = CliRunner().invoke(bench_app, ["tokens", "--sizes", "x"])
    assert bad.exit_code != 0
