"""`copilot bench turn` runs end to end and reports sane figures (timings are not asserted)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from copilot.surfaces.cli.admin import bench_app


def test_bench_turn_prints_its_figures_as_json():
    out = CliRunner().invoke(bench_app, ["turn", "--json", "--turns", "4", "--warmup", "1"])
    assert out.exit_code == 0, out.output
    f = json.loads(out.stdout)

    assert f["turns"] == 4 and f["warmup"] == 1 and f["backend"] == "sqlite"
    assert f["cards_per_turn"] == 1.0  # every turn ended in the rollback card
    assert 0 < f["p50_ms"] <= f["p99_ms"] and 0 < f["wall_p50_ms"] <= f["wall_p99_ms"]
    assert f["p50_ms"] <= f["wall_p50_ms"]  # the overhead leaves the tools' own work out
    assert abs(f["share_with_1s_model"] - f["p50_ms"] / (f["p50_ms"] + 1000)) < 1e-3
    assert 0 < f["share_with_1s_model"] < 1
    parts = f["breakdown_ms"]
    assert {"retrieval", "reads", "proposals", "checkpoint", "model", "tool_work"} <= set(parts)
    assert all(ms >= 0 for name, ms in parts.items() if name != "other")
    calls = f["calls_per_turn"]
    assert calls["model"] == 2 and calls["retrieval"] == 1 and calls["reads"] >= 2
    assert calls["checkpoint"] > 0
    assert f["goals"] == {"p50_ms": 30.0, "p99_ms": 150.0, "share_with_1s_model": 0.05}
    assert f["machine"]["cores"] and f["machine"]["python"]
