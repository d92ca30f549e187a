"""Where the sandbox world lives: loading and saving it, and the operator's own actions.

Fault injection, reset and the status summary are for the CLI (`copilot sandbox ...`),
tests and evals; they are deliberately not tools, so the copilot cannot call them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from copilot.errors import CopilotError
from copilot.toolkit import StateStore

from .faults import inject
from .genesis import new_world
from .planted import plant
from .reports import certificate_info, database_info, job_info, service_info
from .world import World, active_faults

DEFAULT_SEED = 7
DEFAULT_WORLD = "prod"


def sandbox_settings(settings: Any) -> tuple[int, str]:
    """(seed, world name) from ``settings.sandbox``; defaults when settings is None."""
    sandbox = getattr(settings, "sandbox", None)
    return getattr(sandbox, "seed", DEFAULT_SEED), getattr(sandbox, "world", DEFAULT_WORLD)


def world_doc_name(settings: Any) -> str:
    """The state-store document that holds the world named in settings."""
    return f"sandbox/{sandbox_settings(settings)[1]}"


def load_world(state: StateStore, settings: Any, now: datetime) -> tuple[World, int]:
    """The stored world and its version; a new world is created and saved on first use."""
    name = world_doc_name(settings)
    found = state.load(name)
    if found is None:
        world = new_world(sandbox_settings(settings)[0], now)
        try:
            return world, state.save(name, world.model_dump(mode="json"), None)
        except CopilotError:
            # Created concurrently by someone else: theirs is the world.
            found = state.load(name)
            if found is None:
                raise
    doc, version = found
    return World.model_validate(doc), version


def save_world(state: StateStore, settings: Any, world: World, version: int | None) -> int:
    """Save with optimistic concurrency: the store raises if ``version`` is no longer current."""
    return state.save(world_doc_name(settings), world.model_dump(mode="json"), version)


def inject_fault(
    state: StateStore, settings: Any, fault: str, target: str | None, now: datetime
) -> str:
    """Inject ``fault`` (a key of ``FAULTS``) into the stored world; returns what was done."""
    world, version = load_world(state, settings, now)
    after, what = inject(world, fault, target, now)
    save_world(state, settings, after, version)
    return what


def plant_text(
    state: StateStore,
    settings: Any,
    kind: str,
    target: str,
    text: str,
    now: datetime,
    level: str = "ERROR",
) -> str:
    """Plant ``text`` in a service's logs, newest deploy note or alerts (``planted``)."""
    world, version = load_world(state, settings, now)
    save_world(state, settings, plant(world, kind, target, text, now, level), version)
    return f"planted {len(text)} characters in {target}'s {kind}"


def reset_world(state: StateStore, settings: Any, now: datetime, seed: int | None = None) -> str:
    """Replace the stored world with a fresh, healthy one (seed from settings by default)."""
    seed = sandbox_settings(settings)[0] if seed is None else seed
    found = state.load(world_doc_name(settings))
    world = new_world(seed, now)
    save_world(state, settings, world, None if found is None else found[1])
    name = world_doc_name(settings)
    return f"sandbox world {name!r} reset with seed {seed}: {len(world.services)} services healthy"


def world_status(state: StateStore, settings: Any, now: datetime) -> dict[str, Any]:
    """Operator summary (JSON-ready): services, jobs, database, certificates, faults, changes."""
    world, version = load_world(state, settings, now)
    services = [service_info(world, s, now) for s in world.services]
    active = active_faults(world, now)
    return {
        "world": world_doc_name(settings),
        "version": version,
        "seed": world.seed,
        "created_at": world.created_at.isoformat(),
        # A job's cost is already inside the cost of the service it runs against.
        "cost_per_hour": round(sum(s.cost_per_hour for s in services), 2),
        "services": [
            s.model_dump(mode="json", exclude={"config", "flags", "owner"}) for s in services
        ],
        "jobs": [job_info(world, j, now).model_dump(mode="json") for j in world.jobs],
        "database": database_info(world, now).model_dump(mode="json"),
        "certificates": [
            certificate_info(world, d, now).model_dump(mode="json") for d in world.certificates
        ],
        "faults": [{**f.model_dump(mode="json"), "active": f in active} for f in world.faults],
        "recent_changes": [c.model_dump(mode="json") for c in world.changes[-10:]],
    }
