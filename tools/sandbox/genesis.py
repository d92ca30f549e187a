"""The sandbox's first day: a healthy world made from a seed (services with their recent
deployments, jobs, certificates, secrets, the database and the change log)."""

from __future__ import annotations

from datetime import datetime, timedelta

from .catalogue import (
    CERT_VALIDITY_DAYS,
    CERTIFICATES,
    DATABASE_ENGINE,
    DATABASE_NAME,
    DATABASE_NODES,
    JOBS,
    SECRETS,
    SERVICES,
)
from .world import (
    MAX_CHANGES,
    Certificate,
    Change,
    Database,
    Deployment,
    Job,
    Rollout,
    Secret,
    Service,
    World,
    _second,
    fingerprint,
    previous_fire,
    rng,
    serial,
)

FIRST_CAST = ("checkout", "payments", "search", "frontend", "inventory")
_AUTHORS = ("jlee", "mpatel", "akim", "sgarcia", "tnguyen", "rbrown")
_CHANGES = (
    "bump dependencies",
    "add request tracing spans",
    "tune connection pool",
    "fix pagination off-by-one",
    "improve error messages",
    "upgrade base image",
    "add metrics for cache hits",
    "remove dead feature code",
)


def new_world(seed: int, now: datetime) -> World:
    """A healthy production with a few days of deploy history, deterministic in ``seed``."""
    now = _second(now)
    first = rng(seed, "world")
    services: dict[str, Service] = {}
    changes: list[Change] = []
    for prof in SERVICES.values():
        # Services added to the cast later draw from their own generator, so the worlds a
        # seed made before (revisions and dates that tests and evals quote) stay the same.
        r = first if prof.name in FIRST_CAST else rng(seed, "world", prof.name)
        count, first_rev, patch = r.randint(4, 7), r.randint(20, 60), r.randint(0, 4)
        at = now - timedelta(hours=r.uniform(20, 80))
        times = []
        for _ in range(count):
            times.append(_second(at))
            at -= timedelta(days=r.uniform(1.5, 5))
        deployments = []
        for i, when in enumerate(reversed(times)):
            author = r.choice(_AUTHORS)
            dep = Deployment(
                revision=first_rev + i,
                image=f"{prof.name}:{prof.version}.{patch + i}",
                deployed_at=when,
                author=f"deploy-bot (PR #{r.randint(3000, 4999)} by {author})",
                change=r.choice(_CHANGES),
                config=dict(prof.config),
            )
            deployments.append(dep)
            changes.append(_deploy_change(prof.name, dep, None))
        services[prof.name] = Service(
            name=prof.name,
            revision=deployments[-1].revision,
            replicas=prof.replicas,
            deployments=deployments,
            rollouts=[
                Rollout(at=d.deployed_at, revision=d.revision, reason="deploy") for d in deployments
            ],
            flags={name: f.default for name, f in prof.flags.items()},
        )
    r = first
    jobs = {}
    for jp in JOBS.values():
        if jp.rogue:
            continue  # only a fault starts it
        duration = max(1, round(jp.typical_minutes * r.uniform(0.8, 1.2)))
        jobs[jp.name] = Job(
            name=jp.name,
            workers=jp.workers,
            last_run_at=previous_fire(jp.schedule, now - timedelta(minutes=duration)),
            last_duration_min=duration,
        )
    certificates = {}
    for domain, (service, issuer) in CERTIFICATES.items():
        not_after = (now + timedelta(days=r.randint(25, 80))).replace(minute=0, second=0)
        issued_at = not_after - timedelta(days=CERT_VALIDITY_DAYS)
        certificates[domain] = Certificate(
            domain=domain,
            service=service,
            issuer=issuer,
            serial=serial(seed, domain, issued_at),
            issued_at=issued_at,
            not_after=not_after,
        )
    secrets = {}
    for name, used_by in SECRETS.items():
        version = r.randint(2, 9)
        secrets[name] = Secret(
            name=name,
            version=version,
            rotated_at=_second(now - timedelta(days=r.uniform(5, 120))),
            fingerprint=fingerprint(seed, name, version),
            used_by=list(used_by),
        )
    database = Database(
        name=DATABASE_NAME,
        engine=DATABASE_ENGINE,
        nodes=list(DATABASE_NODES),
        primary=DATABASE_NODES[0],
    )
    changes.sort(key=lambda c: c.at)
    return World(
        seed=seed,
        created_at=now,
        services=services,
        jobs=jobs,
        database=database,
        certificates=certificates,
        secrets=secrets,
        changes=changes[-MAX_CHANGES:],
    )


def _deploy_change(service: str, dep: Deployment, previous: int | None) -> Change:
    before = f"revision {previous} → " if previous is not None else "revision "
    return Change(
        at=dep.deployed_at,
        actor=dep.author.split(" ", 1)[0],
        action="deploy",
        target=service,
        summary=f"{service}: {before}{dep.revision} ({dep.image}): {dep.change}",
    )
