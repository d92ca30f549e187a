"""The sandbox's metrics in Prometheus exposition format, for a real Prometheus to scrape.

Every scrape loads the stored world and derives each service's metrics at the current
time (``telemetry.metrics``), so an injected fault shows on the next scrape.
The collector lives in its own ``CollectorRegistry``, never the process-wide default one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from copilot.toolkit import StateStore

from .catalogue import SERVICES
from .reports import certificate_info, database_info, job_info
from .state import load_world
from .telemetry import ServiceMetrics, metrics
from .world import World

MIB = 1024 * 1024
LABELS = ("service", "environment")

# name, help, kind, value from a service's metrics (kind "counter": ``_total`` is appended)
SERIES: tuple[tuple[str, str, str, Callable[[ServiceMetrics], float]], ...] = (
    (
        "sandbox_http_requests_per_second",
        "Requests per second the service receives.",
        "gauge",
        lambda m: m.requests_per_s,
    ),
    (
        "sandbox_http_error_ratio",
        "Share of requests that fail (0..1).",
        "gauge",
        lambda m: m.error_rate,
    ),
    (
        "sandbox_http_latency_p50_seconds",
        "Median request latency.",
        "gauge",
        lambda m: m.p50_ms / 1000,
    ),
    (
        "sandbox_http_latency_p99_seconds",
        "99th percentile request latency.",
        "gauge",
        lambda m: m.p99_ms / 1000,
    ),
    (
        "sandbox_http_latency_p99_objective_seconds",
        "The p99 the service should stay under (twice its normal p99).",
        "gauge",
        lambda m: 2 * SERVICES[m.service].p99_ms / 1000,
    ),
    (
        "sandbox_cpu_utilisation_ratio",
        "CPU used, as a share of the CPU requested (0..1).",
        "gauge",
        lambda m: m.cpu_pct / 100,
    ),
    (
        "sandbox_memory_bytes",
        "Memory used per replica.",
        "gauge",
        lambda m: m.memory_mb * MIB,
    ),
    (
        "sandbox_memory_limit_bytes",
        "Memory limit per replica.",
        "gauge",
        lambda m: m.memory_limit_mb * MIB,
    ),
    ("sandbox_replicas", "Replicas desired.", "gauge", lambda m: m.replicas),
    ("sandbox_ready_replicas", "Replicas ready to serve.", "gauge", lambda m: m.ready_replicas),
    (
        "sandbox_container_restarts",
        "Container restarts since the current rollout.",
        "counter",
        lambda m: m.restarts,
    ),
    (
        "sandbox_cost_dollars_per_hour",
        "What the service costs to run right now, jobs included.",
        "gauge",
        lambda m: m.cost_per_hour,
    ),
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class SandboxCollector(Collector):
    """Yields every service's metrics from the stored world, as of ``clock()``, per scrape."""

    def __init__(
        self, state: StateStore, settings: Any, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.state, self.settings, self.clock = state, settings, clock
        self.environment = str(getattr(settings, "environment", "prod"))

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        world, _ = load_world(self.state, self.settings, now)
        samples = [metrics(world, service, now) for service in world.services]
        for name, doc, kind, value in SERIES:
            family: GaugeMetricFamily | CounterMetricFamily
            if kind == "counter":
                family = CounterMetricFamily(name, doc, labels=LABELS)
            else:
                family = GaugeMetricFamily(name, doc, labels=LABELS)
            for m in samples:
                family.add_metric([m.service, self.environment], float(value(m)))
            yield family
        yield from self._others(world, now)

    def _others(self, world: World, now: datetime) -> Iterator[Metric]:
        """Jobs, the database and certificates: each sample names the service it belongs to."""
        env = self.environment
        workers = GaugeMetricFamily(
            "sandbox_job_workers", "Workers a job runs right now.", labels=(*LABELS, "job")
        )
        usual = GaugeMetricFamily(
            "sandbox_job_usual_workers", "Workers a job normally runs.", labels=(*LABELS, "job")
        )
        cost = GaugeMetricFamily(
            "sandbox_job_cost_dollars_per_hour",
            "What a job's workers cost right now.",
            labels=(*LABELS, "job"),
        )
        for name in world.jobs:
            j = job_info(world, name, now)
            workers.add_metric([j.service, env, name], float(j.workers))
            usual.add_metric([j.service, env, name], float(j.usual_workers))
            cost.add_metric([j.service, env, name], j.cost_per_hour)
        yield workers
        yield usual
        yield cost
        db = database_info(world, now)
        lag = GaugeMetricFamily(
            "sandbox_database_replication_lag_seconds",
            "How far the database replica is behind its primary.",
            labels=LABELS,
        )
        lag.add_metric([db.database, env], db.replication_lag_s)
        yield lag
        up = GaugeMetricFamily(
            "sandbox_database_primary_up", "1 while the database primary answers.", labels=LABELS
        )
        up.add_metric([db.database, env], 1.0 if db.primary_up else 0.0)
        yield up
        exposed = GaugeMetricFamily(
            "sandbox_secret_exposed",
            "1 while a secret's current value is known to have leaked.",
            labels=(*LABELS, "secret"),
        )
        for name, sec in world.secrets.items():
            exposed.add_metric([sec.used_by[0], env, name], 1.0 if sec.exposed_at else 0.0)
        yield exposed
        expiry = GaugeMetricFamily(
            "sandbox_certificate_expiry_timestamp_seconds",
            "When a TLS certificate expires (Unix time).",
            labels=(*LABELS, "domain"),
        )
        for domain in world.certificates:
            c = certificate_info(world, domain, now)
            expiry.add_metric([c.service, env, domain], c.not_after.timestamp())
        yield expiry

    def describe(self) -> Iterator[Metric]:
        return iter(())  # no world loaded at registration: describe nothing, collect on scrape


def sandbox_registry(
    state: StateStore, settings: Any, clock: Callable[[], datetime] = utcnow
) -> CollectorRegistry:
    """A fresh registry holding only the sandbox collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SandboxCollector(state, settings, clock))
    return registry


def serve_metrics(
    settings: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    state: StateStore | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> tuple[WSGIServer, int]:
    """Serve ``/metrics`` from a background thread; returns the server and its bound port.

    ``state`` defaults to the store named in ``settings`` (``settings.db_url``). Stop the
    server with ``server.shutdown(); server.server_close()``.
    """
    if state is None:
        from copilot.store.db import open_store

        state = open_store(settings.db_url)
    server, _ = start_http_server(
        port, addr=host, registry=sandbox_registry(state, settings, clock)
    )
    return server, int(server.server_port)
