"""`copilot bench slack` runs end to end against ``copilot serve`` in its own process and
the fake Slack, and every request is acknowledged and answered once (timings are not
asserted: they are the bench's figures)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from copilot.surfaces.cli.admin import bench_app


def test_bench_slack_answers_every_request_once():
    out = CliRunner().invoke(bench_app, ["slack", "--json", "--threads", "4", "--pace", "0.05"])
    assert out.exit_code == 0, out.output
    f = json.loads(out.stdout)
    assert f["threads"] == 4 and f["requests"] == 12  # a mention, its retry, a press each
    assert f["errors"] == 0 and f["duplicates_answered"] == 0
    assert f["turns_answered"] == 4
    assert 0 < f["ack_p50_ms"] <= f["ack_p99_ms"] <= f["ack_max_ms"]
    assert f["machine"]["cores"]
