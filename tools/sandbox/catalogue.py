"""The sandbox's fixed cast: how each simulated service, job, certificate and secret behaves.

These profiles are code, not state: the world document records what changed (revisions,
replicas, flags, faults); how a service reacts to those changes is described here.
"""

from __future__ import annotations

from dataclasses import dataclass

# the services live in their own module; imported from here as before
from .services import CRASH_TEMPLATES, SERVICES, FlagProfile, ServiceProfile


@dataclass(frozen=True)
class JobProfile:
    """A scheduled job: where it runs, what it costs, and how it looks when it runs away."""

    name: str
    schedule: str
    service: str
    owner: str
    workers: int
    worker_cost_per_hour: float
    runaway_workers: int
    typical_minutes: int
    runaway_log: str
    # Utilisation one worker adds to ``service`` (a miner burns its own nodes: none).
    load_per_worker: float = 0.008
    # Not part of a healthy world: created only by a fault (the suspicious_job fault).
    rogue: bool = False


__all__ = [
    "CRASH_TEMPLATES",
    "SERVICES",
    "FlagProfile",
    "JobProfile",
    "ServiceProfile",
]

# A job nobody owns, started with a leaked credential: the suspicious_job fault creates it.
ROGUE_JOB = "tmp-data-sync"

JOBS: dict[str, JobProfile] = {
    j.name: j
    for j in (
        JobProfile(
            "nightly-reindex",
            "0 2 * * *",
            "search",
            "team-search",
            4,
            0.85,
            48,
            40,
            "bulk request rejected (429 es_rejected_execution_exception); retrying shard 3",
        ),
        JobProfile(
            "invoice-export",
            "15 * * * *",
            "payments",
            "team-payments",
            2,
            0.40,
            24,
            12,
            "export batch failed validation (duplicate invoice id); restarting from batch 0",
        ),
        JobProfile(
            "cache-warmup",
            "*/15 * * * *",
            "frontend",
            "team-web",
            1,
            0.30,
            16,
            3,
            "warm-up crawl re-queued 12000 URLs after a redirect loop",
        ),
        JobProfile(
            ROGUE_JOB,
            "none (started by hand)",
            "search",
            "unknown",
            64,
            2.50,
            64,
            0,
            "worker connected to pool stratum+tcp://198.51.100.23:3333; hashrate 41.2 kH/s",
            load_per_worker=0.0,
            rogue=True,
        ),
    )
}

# domain -> (service that serves it, issuer)
CERTIFICATES: dict[str, tuple[str, str]] = {
    "shop.example.com": ("frontend", "Let's Encrypt R11"),
    "api.shop.example.com": ("checkout", "Let's Encrypt R11"),
    "payments.shop.example.com": ("payments", "Let's Encrypt E6"),
}

# secret -> services that mount it (they restart when it rotates)
SECRETS: dict[str, tuple[str, ...]] = {
    "payments-psp-key": ("payments",),
    "orders-db-password": ("checkout", "payments", "inventory", "orders"),
    "session-signing-key": ("frontend",),
    "search-index-token": ("search",),
}

DATABASE_NAME = "orders-db"
DATABASE_NODES = ("orders-db-0", "orders-db-1")
DATABASE_ENGINE = "PostgreSQL 15.6"
# The job whose long read on the replica blocks WAL replay in the replication-lag fault.
REPLICA_READER_JOB = "invoice-export"
# The ad-hoc session whose report query blocks replay in the replica_lag_cascade fault.
AD_HOC_READER = "metabase"
# What each reader's long query on the replica looks like in pg_stat_activity.
BLOCKING_QUERIES: dict[str, str] = {
    REPLICA_READER_JOB: "SELECT ... FROM invoices JOIN order_lines ...",
    AD_HOC_READER: "SELECT customer_id, sum(total) FROM orders JOIN order_lines ... "
    "GROUP BY customer_id (quarterly revenue report)",
}
# The secret the rogue job was started with (it is then exposed: rotate it).
ROGUE_JOB_SECRET = "search-index-token"
SECRET_MAX_AGE_DAYS = 90
CERT_WARN_DAYS = 14
CERT_VALIDITY_DAYS = 90
FAILOVER_MAX_LAG_S = 30.0
# The CPU an autoscaler aims for; like a Kubernetes HPA it leaves a 10 % band alone.
TARGET_CPU_PCT = 60.0
HPA_TOLERANCE = 0.1
MAX_REPLICAS = 50
