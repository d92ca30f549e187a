"""Two OS processes race for the same approvals: each call runs exactly once.

Each child opens its own copilot on the same database (SQLite file or PostgreSQL schema), and
a barrier releases both into the same operation at the same moment, round after round:

- both press "run" on one approved call: one runs it, the other is told it is already
  used (or being used), and it ran once;
- the two SREs both approve a medium change that needs one of them: one vote completes the
  quorum and runs it, the other vote is refused; it ran once, on one vote;
- an SRE and the on-call lead approve a high-risk prod change that needs both: neither vote
  is lost, and whichever completes the quorum runs it, once;
- each presses "run" on a different approved call writing the same resource: they never
  overlap, and a call that found the resource busy is told so and can still run afterwards.
"""

from __future__ import annotations

import multiprocessing
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from conftest import PACKS, approve, runs

from copilot.audit import verify_chain
from copilot.domain import ApprovalState

ROUNDS = 5
USED = re.compile(r"already (being )?used|cannot run \(again\)|no longer approved")


def race_worker(
    url: str,
    data_dir: str,
    now: str,
    jobs: list[tuple[str, str, str]],
    barrier: Any,
    results: Any,
    slot: int,
) -> None:
    """In a child process: one copilot of its own; each job starts when both children are ready."""
    from conftest import FakeClock

    from copilot.errors import CopilotError
    from copilot.service import CopilotService
    from copilot.settings import Settings

    clock = FakeClock()
    clock.now = datetime.fromisoformat(now)
    settings = Settings(data_dir=Path(data_dir), database_url=url, tool_paths=str(PACKS))
    svc = CopilotService.open(settings, clock=clock)
    outcomes: list[tuple[str, str]] = []
    try:
        for kind, approval_id, user in jobs:
            who = svc.principal(user)
            barrier.wait(timeout=60)
            try:
                if kind == "execute":
                    ran = svc.execute(approval_id, who)
                    outcomes.append(("ran", ran.status.value))
                else:
                    done = approve(svc, approval_id, who)
                    outcomes.append(("ran", done.status.value) if done else ("voted", ""))
            except CopilotError as err:
                outcomes.append((type(err).__name__, err.message))
    finally:
        results.put((slot, outcomes))
        svc.close()


def race(svc, url: str, data_dir: Path, now: datetime, jobs: list[list[tuple[str, str, str]]]):
    """Run the two job lists in two spawned processes; return each one's outcomes."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(
            target=race_worker,
            args=(url, str(data_dir), now.isoformat(), jobs[slot], barrier, results, slot),
        )
        for slot in (0, 1)
    ]
    for p in procs:
        p.start()
    try:
        got = dict(results.get(timeout=120) for _ in procs)
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    assert [p.exitcode for p in procs] == [0, 0]
    return got[0], got[1]


def test_two_processes_race_for_each_approval(make_copilot, db_url, tmp_path, clock):
    svc = make_copilot(db_url)
    alice = svc.principal("alice")
    # Round set 1: approved calls, both children press "run" at once.
    ready = []
    for i in range(ROUNDS):
        out, _ = svc.call(alice, "low_note", {"name": f"n{i}"})
        svc.door.approvals.vote(out.approval.id, svc.principal("bob"), "approve")
        ready.append(out.approval.id)
    # Round set 2: one SRE approval completes the quorum; both SREs click at once.
    medium = [
        svc.call(alice, "bump_counter", {"name": f"m{i}"})[0].approval.id for i in range(ROUNDS)
    ]
    # Round set 3: an SRE and the on-call lead are both needed; they click at once.
    high = [
        svc.call(alice, "reset_counter", {"name": f"h{i}"})[0].approval.id for i in range(ROUNDS)
    ]
    # Round set 4: two approved calls on one resource; each child runs one of them.
    shared: list[tuple[str, str]] = []
    for i in range(ROUNDS):
        pair = [svc.call(alice, "low_note", {"name": f"s{i}"})[0].approval.id for _ in "xy"]
        for aid in pair:
            svc.door.approvals.vote(aid, svc.principal("bob"), "approve")
        shared.append((pair[0], pair[1]))
    jobs: list[list[tuple[str, str, str]]] = [
        [("execute", a, "bob") for a in ready]
        + [("approve", a, "bob") for a in medium]
        + [("approve", a, "bob") for a in high]
        + [("execute", x, "bob") for x, _ in shared],
        [("execute", a, "sam") for a in ready]
        + [("approve", a, "sam") for a in medium]
        + [("approve", a, "carol") for a in high]
        + [("execute", y, "sam") for _, y in shared],
    ]
    first, second = race(svc, db_url, tmp_path / "data", clock(), jobs)

    busy = []
    for i, (x, y) in enumerate(shared):
        pair = [first[3 * ROUNDS + i], second[3 * ROUNDS + i]]
        assert ("ran", "succeeded") in pair, pair
        assert all(kind in ("ran", "ResourceBusy") for kind, _ in pair), pair
        busy += [aid for aid, (kind, _) in zip((x, y), pair, strict=True) if kind != "ran"]
    for aid in busy:  # refused as busy, not used up: it runs now that the resource is free
        assert svc.door.deps.load(aid, "test")[0].state is ApprovalState.APPROVED
        assert svc.execute(aid, svc.principal("bob")).status is ApprovalState.SUCCEEDED

    everything = ready + medium + high + [aid for pair in shared for aid in pair]
    ran = runs(svc)
    ids = [aid for _, aid in ran]
    assert len(ids) == len(set(ids)), f"an approval ran twice: {ran}"
    assert sorted(ids) == sorted(everything), "each call ran exactly once"

    for i, aid in enumerate(ready):
        pair = [first[i], second[i]]
        assert sorted(kind for kind, _ in pair) == ["ApprovalInvalid", "ran"], pair
        refused = next(msg for kind, msg in pair if kind == "ApprovalInvalid")
        assert USED.search(refused), refused
        assert svc.door.deps.load(aid, "test")[0].state is ApprovalState.SUCCEEDED

    for i, aid in enumerate(medium):
        pair = [first[ROUNDS + i], second[ROUNDS + i]]
        winners = [kind for kind, _ in pair if kind == "ran"]
        assert len(winners) == 1 and all(k in ("ran", "ApprovalInvalid") for k, _ in pair), pair
        approval = svc.door.deps.load(aid, "test")[0]
        assert len(approval.votes) == 1 and approval.state is ApprovalState.SUCCEEDED

    for i, aid in enumerate(high):
        pair = [first[2 * ROUNDS + i], second[2 * ROUNDS + i]]
        assert sorted(kind for kind, _ in pair) == ["ran", "voted"], pair
        approval = svc.door.deps.load(aid, "test")[0]
        assert sorted(v.approver for v in approval.votes) == ["bob", "carol"]
        assert approval.state is ApprovalState.SUCCEEDED

    started = Counter(
        e.subject for e in svc.door.deps.audit.events() if e.kind == "execution.started"
    )
    assert started == Counter(everything), "one execution.started per approval"
    assert verify_chain(svc.door.deps.store).ok
