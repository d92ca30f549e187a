"""A real crash mid-run: the outcome becomes *unknown*, nothing re-runs it, a person reconciles.

The test pack's ``crash`` tool records its run, writes a marker file and kills its own
process with ``os._exit(9)``, so every execution of it happens in a spawned child. The
parent then moves time past the run's deadline, opens a copilot (which reconciles stale runs
on start-up) and checks the record; a second call on the same resource is refused while
the crashed run's lease lasts and runs once the lease is over.
"""

from __future__ import annotations

import multiprocessing
import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import PACKS, approve, runs

from copilot.audit import verify_chain
from copilot.domain import ApprovalState
from copilot.errors import ApprovalInvalid, PolicyDenied

ALREADY_USED = re.compile(r"already used|cannot run \(again\)")


def crash_worker(
    url: str, data_dir: str, steps: list[tuple[str, str, str, str, bool]], out: Any, go: Any
) -> None:
    """In a child: run ``steps`` (at, what, approval id, user, wait for ``go`` first) and
    send each outcome at once: the process may not survive the next step."""
    from conftest import FakeClock

    from copilot.errors import CopilotError
    from copilot.service import CopilotService
    from copilot.settings import Settings

    clock = FakeClock()
    clock.now = datetime.fromisoformat(steps[0][0])
    settings = Settings(data_dir=Path(data_dir), database_url=url, tool_paths=str(PACKS))
    # Opened on first use, at the first step's time: no run is past its deadline then.
    svc = CopilotService.open(settings, clock=clock)
    for at, what, approval_id, user, wait in steps:
        if wait:
            assert go.wait(60), "the parent never said go"
        clock.now = datetime.fromisoformat(at)
        who = svc.principal(user)
        try:
            if what == "approve":
                approve(svc, approval_id, who)
            else:
                svc.execute(approval_id, who)
            out.put((what, approval_id, "returned", ""))
        except CopilotError as err:
            out.put((what, approval_id, type(err).__name__, err.message))
    svc.close()


def spawn(url: str, data_dir: Path, steps: list[tuple[str, str, str, str, bool]]):
    ctx = multiprocessing.get_context("spawn")
    out, go = ctx.SimpleQueue(), ctx.Event()  # SimpleQueue: written through before _exit
    proc = ctx.Process(target=crash_worker, args=(url, str(data_dir), steps, out, go))
    proc.start()
    return proc, out, go


def receive(out: Any, proc: Any) -> tuple[str, str, str, str]:
    """The child's next outcome; fail (not hang) if it died or stalled before sending it."""
    deadline = time.monotonic() + 60
    while out.empty():
        if not proc.is_alive() and out.empty():
            pytest.fail(f"the child exited ({proc.exitcode}) before reporting")
        if time.monotonic() > deadline:
            pytest.fail("the child stalled")
        time.sleep(0.02)
    result: tuple[str, str, str, str] = out.get()
    return result


def finish(proc: Any) -> int | None:
    proc.join(timeout=60)
    if proc.is_alive():
        proc.kill()
        pytest.fail("the child process hung")
    return proc.exitcode


def test_crash_is_unknown_never_rerun_and_reconciled_by_a_person(
    make_copilot, db_url, tmp_path, clock
):
    svc = make_copilot(db_url)
    data_dir = tmp_path / "data"
    alice, bob = svc.principal("alice"), svc.principal("bob")
    marker = tmp_path / "crash-marker"
    first, _ = svc.call(alice, "crash", {"marker": str(marker)})
    crashed = first.approval.id
    t0 = clock()

    # 1. A child approves the call, which runs it, and the tool kills the child mid-run.
    # (Keep the queue and event referenced until the child is done: it unpickles them late.)
    proc, out, go = spawn(db_url, data_dir, [(t0.isoformat(), "approve", crashed, "bob", False)])
    assert finish(proc) == 9, "the tool should have killed its process"
    assert out.empty(), "approve returned: the tool did not crash the child"
    assert marker.read_text() == "started"
    assert runs(svc) == [["crash", crashed]]
    assert svc.door.deps.load(crashed, "test")[0].state is ApprovalState.EXECUTING
    reopened = make_copilot(db_url)  # start-up reconciliation: the deadline has not passed yet
    assert reopened.door.deps.load(crashed, "test")[0].state is ApprovalState.EXECUTING

    # A second call on the same resource, approved and waiting.
    second, _ = svc.call(alice, "crash", {"marker": str(marker)})
    svc.door.approvals.vote(second.approval.id, bob, "approve")
    spec = svc.door.deps.registry.get("crash")
    later = t0 + timedelta(seconds=svc.settings.executor.lock_grace_s + spec.timeout_s + 1)
    steps = [
        (t0.isoformat(), "execute", crashed, "bob", False),  # the crashed call again: refused
        (t0.isoformat(), "execute", second.approval.id, "bob", False),  # its lease holds
        (later.isoformat(), "execute", crashed, "carol", True),  # after reconciliation
        (later.isoformat(), "execute", second.approval.id, "bob", False),  # runs and dies
    ]
    proc, out, go = spawn(db_url, data_dir, steps)
    try:
        again = receive(out, proc)
        busy = receive(out, proc)
        assert again[2] == "ApprovalInvalid" and ALREADY_USED.search(again[3]), again
        assert busy[2] == "ResourceBusy" and crashed in busy[3], busy
        assert svc.door.deps.load(second.approval.id, "test")[0].state is ApprovalState.APPROVED

        # 2. Past the deadline, a copilot starting up marks the run unknown (and only that).
        clock.advance((later - t0).total_seconds())
        after = make_copilot(db_url)
        approval = after.door.deps.load(crashed, "test")[0]
        assert approval.state is ApprovalState.UNKNOWN
        unknown = [e for e in after.door.deps.audit.events() if e.kind == "execution.unknown"]
        assert [e.subject for e in unknown] == [crashed]
        assert "not retried" in unknown[0].data["note"]
        marker.unlink()
    finally:
        go.set()
    third = receive(out, proc)
    assert third[2] == "ApprovalInvalid" and ALREADY_USED.search(third[3]), third
    assert finish(proc) == 9, "the second call should have run (and crashed) once the lease ended"
    assert out.empty(), "executing the second call returned instead of running it"

    # 3. The crashed call ran once; the second one took over the expired lock and ran once.
    assert runs(after) == [["crash", crashed], ["crash", second.approval.id]]
    assert marker.read_text() == "started"

    # 4. Only someone who could have approved it may say what happened.
    with pytest.raises(PolicyDenied):
        after.door.reconciler.reconcile(crashed, after.principal("dana"), "failed", "looks fine")
    assert after.door.deps.load(crashed, "test")[0].state is ApprovalState.UNKNOWN
    after.door.reconciler.reconcile(crashed, after.principal("carol"), "failed", "checked the host")
    assert after.door.deps.load(crashed, "test")[0].state is ApprovalState.FAILED
    reconciled = [e for e in after.door.deps.audit.events() if e.kind == "execution.reconciled"]
    assert [(e.subject, e.actor, e.data) for e in reconciled] == [
        (crashed, "carol", {"outcome": "failed", "note": "checked the host"})
    ]
    with pytest.raises(ApprovalInvalid):  # reconciled once; not twice
        after.door.reconciler.reconcile(crashed, after.principal("carol"), "succeeded", "again")
    assert runs(after) == [["crash", crashed], ["crash", second.approval.id]]
    assert verify_chain(after.door.deps.store).ok
