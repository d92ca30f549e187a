"""The sandbox's alerts: the rules of ``alerts.yml`` evaluated on the world, and silences.

The rules carry the same names, severities, ``for`` durations and conditions as the
Prometheus rules a real Prometheus evaluates on the exporter's metrics (a test holds the
two together), so the copilot sees offline the alerts it would see from Alertmanager. An
alert's ``since`` is found by stepping back a minute at a time through the world's recorded
past (``history.world_at``) while its condition still held, up to an hour.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from .catalogue import FAILOVER_MAX_LAG_S, JOBS, SERVICES
from .history import world_at
from .telemetry import ServiceMetrics, job_cost, metrics
from .world import Silence, World, replica_lag_s

LOOKBACK_MINUTES = 60
JOB_COST_ALERT = 50.0  # dollars per hour
SILENCE_MIN = timedelta(minutes=5)
SILENCE_MAX = timedelta(hours=24)

# An alert instance: its labels (besides alertname, severity, environment) and a summary.
Instance = tuple[dict[str, str], str]
Condition = Callable[[World, datetime], Iterator[Instance]]


@dataclass(frozen=True)
class Rule:
    name: str
    severity: str
    for_s: int
    description: str
    condition: Condition

    @property
    def runbook_url(self) -> str:
        return f"runbooks/sandbox/{self.name.lower()}"


def _each_service(w: World, t: datetime) -> Iterator[ServiceMetrics]:
    for name in w.services:
        yield metrics(w, name, t)


def _errors(w: World, t: datetime) -> Iterator[Instance]:
    for m in _each_service(w, t):
        if m.error_rate > 0.05:
            yield {"service": m.service}, f"{m.service} is failing {m.error_rate:.1%} of requests"


def _no_ready(w: World, t: datetime) -> Iterator[Instance]:
    for m in _each_service(w, t):
        if m.replicas > 0 and m.ready_replicas == 0:
            yield {"service": m.service}, f"{m.service} has no ready replicas"


def _restarting(w: World, t: datetime) -> Iterator[Instance]:
    # increase(restarts[10m]) > 0: the counter resets at a rollout, which Prometheus reads
    # as a reset, so a rollout inside the window counts whatever the counter says now.
    before = t - timedelta(minutes=10)
    past = world_at(w, before)
    for m in _each_service(w, t):
        if m.restarts == 0:
            continue
        rolled = w.services[m.service].rollout_at(t).at > before
        if rolled or m.restarts > metrics(past, m.service, before).restarts:
            yield {"service": m.service}, f"{m.service} containers are restarting"


def _slow(w: World, t: datetime) -> Iterator[Instance]:
    for m in _each_service(w, t):
        if m.p99_ms > 2 * SERVICES[m.service].p99_ms:
            yield {"service": m.service}, f"{m.service} p99 latency is {m.p99_ms / 1000:.2f}s"


def _memory(w: World, t: datetime) -> Iterator[Instance]:
    for m in _each_service(w, t):
        if m.memory_limit_mb and m.memory_mb / m.memory_limit_mb > 0.9:
            share = m.memory_mb / m.memory_limit_mb
            yield {"service": m.service}, f"{m.service} uses {share:.0%} of its memory limit"


def _runaway(w: World, t: datetime) -> Iterator[Instance]:
    for job in w.jobs.values():
        prof = JOBS[job.name]
        if job.running_since is not None and job.workers > 2 * prof.workers:
            cost = job_cost(w, job.name)
            yield (
                {"service": prof.service, "job": job.name},
                f"job {job.name} runs {job.workers} workers against {prof.service} (${cost:.2f}/h)",
            )


def _lag(w: World, t: datetime) -> Iterator[Instance]:
    lag = replica_lag_s(w, t)
    if lag > 60:
        name = w.database.name
        yield {"service": name}, f"{name} replica is {lag:.0f}s behind"


def _saturated(w: World, t: datetime) -> Iterator[Instance]:
    for m in _each_service(w, t):
        if m.ready_replicas and m.cpu_pct > 90:
            yield {"service": m.service}, f"{m.service} CPU is at {m.cpu_pct:.0f}%"


def _primary_down(w: World, t: datetime) -> Iterator[Instance]:
    db = w.database
    if db.down_node is not None and db.down_node == db.primary:
        yield {"service": db.name}, f"{db.name} primary {db.primary} does not answer"


def _exposed(w: World, t: datetime) -> Iterator[Instance]:
    for sec in w.secrets.values():
        if sec.exposed_at is not None:
            yield (
                {"service": sec.used_by[0], "secret": sec.name},
                f"secret {sec.name} is exposed ({sec.exposed_in})",
            )


def _job_cost(w: World, t: datetime) -> Iterator[Instance]:
    for job in w.jobs.values():
        cost = job_cost(w, job.name)
        if cost > JOB_COST_ALERT:
            service = JOBS[job.name].service
            yield {"service": service, "job": job.name}, f"job {job.name} costs ${cost:.2f}/h"


def _certificates(w: World, t: datetime) -> Iterator[Instance]:
    for cert in w.certificates.values():
        left = cert.not_after - t
        if left < timedelta(days=14):
            yield (
                {"service": cert.service, "domain": cert.domain},
                f"certificate for {cert.domain} expires in {left.total_seconds() / 86400:.1f} days",
            )


RULES: tuple[Rule, ...] = (
    Rule("SandboxHighErrorRate", "critical", 0, "More than 5% of requests fail.", _errors),
    Rule(
        "SandboxNoReadyReplicas",
        "critical",
        0,
        "None of the replicas is ready: the ingress answers 503.",
        _no_ready,
    ),
    Rule(
        "SandboxCrashLooping",
        "warning",
        0,
        "Containers restarted in the last 10 minutes (crash loop or OOM kills).",
        _restarting,
    ),
    Rule("SandboxHighLatency", "warning", 60, "p99 latency above twice its normal.", _slow),
    Rule("SandboxMemoryHigh", "warning", 60, "Memory above 90% of its limit.", _memory),
    Rule("SandboxJobRunaway", "warning", 60, "A job runs over twice its workers.", _runaway),
    Rule(
        "SandboxReplicationLagHigh",
        "warning",
        60,
        f"The replica lags its primary; a failover over {FAILOVER_MAX_LAG_S:.0f} s lag loses data.",
        _lag,
    ),
    Rule(
        "SandboxCertificateExpiringSoon",
        "warning",
        0,
        "A TLS certificate expires within 14 days.",
        _certificates,
    ),
    Rule("SandboxCpuSaturated", "warning", 60, "CPU above 90% of the pods' capacity.", _saturated),
    Rule(
        "SandboxDatabasePrimaryDown",
        "critical",
        60,
        "The database primary does not answer: writes fail.",
        _primary_down,
    ),
    Rule(
        "SandboxSecretExposed",
        "critical",
        0,
        "A secret's current value was seen outside the secret store.",
        _exposed,
    ),
    Rule("SandboxJobCostHigh", "warning", 60, "A job costs over $50/h.", _job_cost),
)
RULE_NAMES = tuple(r.name for r in RULES)


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def rule_named(name: str) -> Rule | None:
    """The rule ``name`` means: its exact name, or the name without ``Sandbox`` in any case
    and spacing ("HighErrorRate", "high error rate"), as people say it in chat."""
    want = _squash(name)
    for rule in RULES:
        full = _squash(rule.name)
        if want in (full, full.removeprefix("sandbox")):
            return rule
    return None


@dataclass(frozen=True)
class Alert:
    rule: Rule
    labels: dict[str, str]
    summary: str
    since: datetime
    state: str  # firing or pending (its condition holds, not yet for ``for``)
    silenced_by: tuple[str, ...] = ()


def _holds(rule: Rule, world: World, at: datetime, labels: dict[str, str]) -> bool:
    return any(found == labels for found, _ in rule.condition(world_at(world, at), at))


def _since(rule: Rule, world: World, now: datetime, labels: dict[str, str]) -> datetime:
    since = now
    for k in range(1, LOOKBACK_MINUTES + 1):
        at = now - timedelta(minutes=k)
        if not _holds(rule, world, at, labels):
            break
        since = at
    return since


def silence_active(silence: Silence, now: datetime) -> bool:
    ends = (
        silence.ends_at if silence.expired_at is None else min(silence.ends_at, silence.expired_at)
    )
    return silence.starts_at <= now < ends


def silences_match(silence: Silence, rule: Rule, labels: dict[str, str]) -> bool:
    return silence.alertname == rule.name and silence.service in (None, labels.get("service"))


def evaluate(world: World, now: datetime, rules: tuple[Rule, ...] = RULES) -> list[Alert]:
    """Every alert whose condition holds at ``now``, with what silences it."""
    out = []
    for rule in rules:
        for labels, summary in rule.condition(world, now):
            since = _since(rule, world, now, labels)
            firing = (now - since).total_seconds() >= rule.for_s
            by = tuple(
                s.id
                for s in world.silences
                if silence_active(s, now) and silences_match(s, rule, labels)
            )
            out.append(Alert(rule, labels, summary, since, "firing" if firing else "pending", by))
    return out


def silence_id(world: World, now: datetime, alertname: str, service: str | None) -> str:
    """A stable id: the same world, time and matchers give the same id."""
    key = f"{world.seed}:{now.isoformat()}:{alertname}:{service}:{len(world.silences)}"
    return "sil-" + hashlib.sha256(key.encode()).hexdigest()[:10]
