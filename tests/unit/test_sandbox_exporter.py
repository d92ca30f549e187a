"""The sandbox exporter: Prometheus exposition that parses and matches ``metrics()``."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from test_sandbox import T0, MemoryState, settings

from copilot_tools import sandbox as sb
from copilot_tools.sandbox.reports import certificate_info, database_info, job_info
from copilot_tools.sandbox.telemetry import metrics

try:
    import prometheus_client  # noqa: F401
except ImportError:  # pragma: no cover - prometheus-client is a dependency
    if os.environ.get("CI"):
        raise
    pytest.skip(
        "prometheus-client is not installed: exporter tests skipped", allow_module_level=True
    )

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from copilot_tools.sandbox.exporter import sandbox_registry, serve_metrics

RULES = Path(__file__).parents[2] / "tools" / "sandbox" / "alerts.yml"


def scrape(state: MemoryState, now: Any = T0) -> dict[tuple[str, str], float]:
    """{(sample name, service): value} from one scrape at ``now``."""
    text = generate_latest(sandbox_registry(state, settings(), lambda: now)).decode()
    out: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if "job" in s.labels or "domain" in s.labels:
                continue  # several per service: see test_jobs_and_certificates_carry_their_service
            assert s.labels["environment"] == "prod"
            assert (s.name, s.labels["service"]) not in out
            out[(s.name, s.labels["service"])] = s.value
    return out


def test_exposition_matches_metrics() -> None:
    state = MemoryState()
    sb.inject_fault(state, settings(), "bad_deploy", "checkout", T0)
    got = scrape(state)
    world, _ = sb.load_world(state, settings(), T0)
    assert {svc for _, svc in got} == {*world.services, "orders-db"}
    for name in world.services:
        m = metrics(world, name, T0)
        assert got[("sandbox_http_requests_per_second", name)] == m.requests_per_s
        assert got[("sandbox_http_error_ratio", name)] == m.error_rate
        assert got[("sandbox_http_latency_p50_seconds", name)] == pytest.approx(m.p50_ms / 1000)
        assert got[("sandbox_http_latency_p99_seconds", name)] == pytest.approx(m.p99_ms / 1000)
        assert got[("sandbox_cpu_utilisation_ratio", name)] == pytest.approx(m.cpu_pct / 100)
        assert got[("sandbox_memory_bytes", name)] == pytest.approx(m.memory_mb * 1024**2)
        assert got[("sandbox_memory_limit_bytes", name)] == m.memory_limit_mb * 1024**2
        assert got[("sandbox_replicas", name)] == m.replicas
        assert got[("sandbox_ready_replicas", name)] == m.ready_replicas
        assert got[("sandbox_container_restarts_total", name)] == m.restarts
        assert got[("sandbox_cost_dollars_per_hour", name)] == m.cost_per_hour
    assert got[("sandbox_http_error_ratio", "checkout")] > 0.05
    assert got[("sandbox_http_error_ratio", "payments")] < 0.05
    db = database_info(world, T0)
    assert got[("sandbox_database_replication_lag_seconds", db.database)] == db.replication_lag_s


def test_jobs_and_certificates_carry_their_service() -> None:
    state = MemoryState()
    sb.inject_fault(state, settings(), "runaway_job", None, T0)
    sb.inject_fault(state, settings(), "expiring_cert", None, T0)
    registry = sandbox_registry(state, settings(), lambda: T0)
    world, _ = sb.load_world(state, settings(), T0)
    workers = {s.labels["job"]: s for s in _samples(registry, "sandbox_job_workers")}
    usual = {s.labels["job"]: s for s in _samples(registry, "sandbox_job_usual_workers")}
    for name in world.jobs:
        j = job_info(world, name, T0)
        assert workers[name].labels["service"] == j.service
        assert (workers[name].value, usual[name].value) == (j.workers, j.usual_workers)
    assert workers["nightly-reindex"].value > 2 * usual["nightly-reindex"].value
    expiry = _samples(registry, "sandbox_certificate_expiry_timestamp_seconds")
    assert {s.labels["domain"] for s in expiry} == set(world.certificates)
    for s in expiry:
        c = certificate_info(world, s.labels["domain"], T0)
        assert s.labels["service"] == c.service and s.value == c.not_after.timestamp()
    soon = [s for s in expiry if s.value - T0.timestamp() < 14 * 86400]
    assert [s.labels["domain"] for s in soon] == ["api.shop.example.com"]


def test_each_scrape_reads_the_world_afresh() -> None:
    state = MemoryState()
    registry_now = [T0]
    registry = sandbox_registry(state, settings(), lambda: registry_now[0])
    before = {s.labels["service"]: s.value for s in _samples(registry, "sandbox_ready_replicas")}
    assert before["checkout"] == 6
    sb.inject_fault(state, settings(), "crash_loop", "checkout", T0)
    registry_now[0] = T0 + timedelta(minutes=2)
    after = {s.labels["service"]: s.value for s in _samples(registry, "sandbox_ready_replicas")}
    assert after["checkout"] == 0
    restarts = _samples(registry, "sandbox_container_restarts_total")
    assert any(s.labels["service"] == "checkout" and s.value > 0 for s in restarts)


def _samples(registry: Any, name: str) -> list[Any]:
    text = generate_latest(registry).decode()
    return [s for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]


def test_serve_metrics_over_http_on_loopback() -> None:
    import httpx

    state = MemoryState()
    server, port = serve_metrics(settings(), port=0, state=state, clock=lambda: T0)
    try:
        assert port > 0 and server.server_address[0] == "127.0.0.1"
        resp = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/plain")
        names = {f.name for f in text_string_to_metric_families(resp.text)}
        assert {"sandbox_http_error_ratio", "sandbox_container_restarts"} <= names
        # its own registry: none of the default registry's process or python collectors
        assert not any(n.startswith(("process_", "python_")) for n in names)
    finally:
        server.shutdown()
        server.server_close()


def test_alert_rules_are_valid_and_complete() -> None:
    import yaml

    rules = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    names = {r["alert"] for r in rules}
    assert {"SandboxHighErrorRate", "SandboxNoReadyReplicas", "SandboxCrashLooping"} <= names
    for r in rules:
        assert r["labels"]["severity"] in ("critical", "warning")
        assert {"summary", "description", "runbook_url"} <= set(r["annotations"])
        assert r["annotations"]["runbook_url"] == f"runbooks/sandbox/{r['alert'].lower()}"
        assert "sandbox_" in r["expr"]
    from copilot.knowledge.runbooks import bundled_runbooks_dir, discover_runbooks

    books, _ = discover_runbooks([bundled_runbooks_dir()])
    named = {a for b in books for a in b.alerts}
    assert named <= names, f"runbooks name alerts no rule defines: {named - names}"
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing under CI (.ci/run installs prometheus)")
        pytest.skip("promtool is not installed: rules checked for shape only")
    out = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_cli_registers_serve_metrics() -> None:
    from typer.testing import CliRunner

    from copilot.surfaces.cli.admin import sandbox_app

    out = CliRunner().invoke(sandbox_app, ["serve-metrics", "--help"])
    assert out.exit_code == 0 and "--port" in out.output
