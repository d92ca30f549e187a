"""Seeded distractor runbooks: realistic operational prose about services that do not exist.

They pad the retrieval index to 10k chunks, so the benchmark can say how fast a search is at
that size and whether the right runbook still wins among thousands of plausible wrong ones.
Each distractor is a Markdown runbook with the usual sections (Meaning, Impact, Diagnosis,
Mitigation) about an invented service and fault; none names a kube-prometheus alert.
"""

from __future__ import annotations

import random
from pathlib import Path

_PREFIX = ["ledger", "billing", "invoice", "search", "catalog", "payments", "session", "quota"]
_SUFFIX = ["api", "worker", "gateway", "indexer", "scheduler", "proxy", "store", "relay"]
_COMPONENT = [
    ("connection pool", "connections", "pool size"),
    ("message queue", "queue depth", "consumer count"),
    ("redis cache", "hit ratio", "eviction policy"),
    ("object storage bucket", "request errors", "retry budget"),
    ("gRPC upstream", "deadline exceeded errors", "client timeout"),
    ("TLS terminator", "handshake failures", "cipher list"),
    ("batch importer", "rows per second", "batch size"),
    ("feature flag client", "stale flags", "poll interval"),
    ("rate limiter", "rejected requests", "token bucket size"),
    ("search shard", "query latency", "replica count"),
    ("outbox relay", "undelivered events", "dispatch interval"),
    ("license service", "validation errors", "cache lifetime"),
]
_SYMPTOM = [
    "responds slowly after the nightly compaction",
    "drops requests when the upstream restarts",
    "returns stale results for several minutes",
    "leaks file descriptors under sustained load",
    "retries forever on malformed payloads",
    "falls behind during the morning traffic peak",
    "logs authentication failures after a credentials change",
    "stops emitting heartbeats while garbage collection runs",
    "rejects writes once the disk quota is reached",
    "serves partial pages when a dependency times out",
]
_IMPACT = [
    "Customers see delayed confirmations; no data is lost but support tickets rise.",
    "Background reconciliation stops, so reports for the day are incomplete.",
    "A fraction of requests fail with retriable errors; clients usually recover.",
    "Downstream teams receive duplicate notifications until the backlog drains.",
    "Dashboards show gaps and capacity planning for the week is unreliable.",
    "Checkout is unaffected, but exports for finance are late.",
]
_DIAGNOSE = [
    "Compare the {metric} of the {component} with the previous week's baseline.",
    "Check the {service} dashboard for a step change in {metric} around the alert time.",
    "List recent deploys of {service} and look for a change to the {setting}.",
    "Inspect the logs of {service} for repeated warnings from the {component}.",
    "Confirm that the {component} is reachable from a {service} pod with a simple probe.",
    "Look at saturation of the node pool that hosts {service}: CPU steal and memory pressure.",
    "Query the tracing backend for slow spans between {service} and its {component}.",
]
_MITIGATE = [
    "Raise the {setting} of {service} temporarily and watch {metric} for ten minutes.",
    "Roll back the last deploy of {service} if it changed the {setting}.",
    "Restart one {service} replica at a time; never all of them together.",
    "Drain traffic away from the affected zone and let the {component} recover.",
    "Pause the jobs that feed the {component} until the {metric} panel is back to normal.",
    "Open a ticket with the owning team and link the dashboard panel you used.",
]


def _paragraph(rng: random.Random, pool: list[str], n: int, fill: dict[str, str]) -> str:
    return " ".join(s.format(**fill) for s in rng.sample(pool, n))


def distractor_runbook(i: int, seed: int = 11) -> tuple[str, str]:
    """(file name, Markdown text) of distractor ``i``: four sections, ~4 chunks."""
    rng = random.Random(seed * 1_000_003 + i)
    service = f"{rng.choice(_PREFIX)}-{rng.choice(_SUFFIX)}-{i}"
    component, metric, setting = rng.choice(_COMPONENT)
    symptom = rng.choice(_SYMPTOM)
    fill = {"service": service, "component": component, "metric": metric, "setting": setting}
    title = f"{service}: {component} {symptom}"
    text = "\n".join(
        [
            f"# {title}",
            "",
            "## Meaning",
            "",
            f"The {component} used by {service} {symptom}. "
            f"The team notices it as a rise in {metric}.",
            "",
            "## Impact",
            "",
            rng.choice(_IMPACT),
            "",
            "## Diagnosis",
            "",
            _paragraph(rng, _DIAGNOSE, 3, fill),
            "",
            "## Mitigation",
            "",
            _paragraph(rng, _MITIGATE, 3, fill),
            "",
        ]
    )
    return f"distractor-{i:05d}.md", text


def write_distractors(folder: Path, chunks: int, seed: int = 11) -> int:
    """Write enough distractor runbooks under ``folder`` for about ``chunks`` chunks."""
    folder.mkdir(parents=True, exist_ok=True)
    n = max(0, (chunks + 3) // 4)
    for i in range(n):
        name, text = distractor_runbook(i, seed)
        (folder / name).write_text(text, encoding="utf-8")
    return n
