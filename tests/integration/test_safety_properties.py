"""The safety contract under random sequences of operations (a hypothesis state machine).

Random proposals, votes, rejections, cancellations, tampering with stored arguments, expiry,
executions, simulated crashes and reconciliation, on SQLite and PostgreSQL. A model kept by
the test predicts, independently of the copilot's code, what each step may do; after every
step the test checks what actually ran (the test pack records each run in the store):

(a) every run's approval holds the votes the default policy requires, from eligible people
    other than the requester (medium and up), and the stored arguments and hashes are the
    ones proposed; (b) no approval runs twice; (c) nothing tampered, rejected, expired,
    crashed or unapproved runs, and what the model says must run does run; (d) the audit
    chain verifies. Counters must equal the fold of the runs over the approved arguments.
"""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import PACKS, POSTGRES_URL, FakeClock, runs
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import create_engine, delete, insert, select, text, update

from copilot.audit import verify_chain
from copilot.canonical import canonical_hash
from copilot.core import Core
from copilot.errors import CopilotError
from copilot.settings import ExecutorSettings, Settings
from copilot.store.db import normalise_url
from copilot.store.schema import approvals, executions, proposals, resource_locks

# -- the default policy, restated independently of the Cedar files -----------------------
ROLES: dict[str, frozenset[str]] = {
    "dana": frozenset({"viewer"}),
    "alice": frozenset({"viewer", "responder"}),
    "bob": frozenset({"viewer", "responder", "sre"}),
    "sam": frozenset({"viewer", "responder", "sre"}),
    "carol": frozenset({"viewer", "responder", "sre", "oncall-lead"}),
    "root": frozenset({"viewer", "responder", "sre", "oncall-lead", "admin"}),
}
USERS = sorted(ROLES)
RISK = {"low_note": 1, "bump_counter": 2, "reset_counter": 3, "drop_all": 4}
WRITE_TOOLS = sorted(RISK)
APPROVER_ROLE = {1: "responder", 2: "sre", 3: "sre", 4: "oncall-lead"}
NAMES = ("a", "b")
LEASE_S = 60  # the lease a simulated crashed run holds its lock and execution row for
TERMINAL = {"succeeded", "failed", "rejected", "cancelled", "expired"}


def may_approve(user: str, tool: str, requester: str) -> bool:
    """Who may vote (approve or reject) on, or reconcile, a call."""
    risk = RISK[tool]
    if risk >= 2 and user == requester:
        return False  # two-person rule
    return APPROVER_ROLE[risk] in ROLES[user]


def quorum_met(tool: str, requester: str, approvers: list[str]) -> bool:
    """Prod quorum: low 1; medium 1 SRE; high 2 incl. an on-call lead; critical 2 leads."""
    counted = {u for u in approvers if may_approve(u, tool, requester)}
    roles = set().union(*(ROLES[u] for u in counted)) if counted else set()
    risk = RISK[tool]
    if risk == 1:
        return len(counted) >= 1
    if risk == 2:
        return len(counted) >= 1 and "sre" in roles
    if risk == 3:
        return len(counted) >= 2 and {"sre", "oncall-lead"} <= roles
    return len(counted) >= 2 and "oncall-lead" in roles


def tool_args(tool: str, name: str, by: int) -> dict[str, Any]:
    if tool == "bump_counter":
        return {"name": name, "by": by}
    if tool == "drop_all":
        return {}
    return {"name": name}


def other_args(args: dict[str, Any]) -> dict[str, Any]:
    """Different arguments an attacker with database access might write instead."""
    if "by" in args:
        return {**args, "by": args["by"] + 10}
    if "name" in args:
        return {"name": "b" if args["name"] == "a" else "a"}
    return {"everything": True}


@dataclass
class Call:
    """The model of one proposal and its approval record."""

    id: str
    proposal_id: str
    tool: str
    args: dict[str, Any]
    requester: str
    expires_at: datetime
    plan_counter: int | None  # counter value the bump plan was computed from
    state: str = "proposed"  # proposed approved ran rejected cancelled crashed unknown <outcome>
    approvers: list[str] = field(default_factory=list)
    voters: set[str] = field(default_factory=set)
    tampered: bool = False
    rejected: bool = False
    crashed: bool = False
    deadline: datetime | None = None

    @property
    def resource(self) -> str | None:
        return None if self.tool == "drop_all" else f"counter/{self.args['name']}"


class SafetyMachine(RuleBasedStateMachine):
    """One fresh Core (and database) per example; see the module docstring."""

    new_url: Callable[[], tuple[str, Path, Callable[[], None]]]
    stats: Counter[str]

    def __init__(self) -> None:
        super().__init__()
        url, data_dir, self._drop = self.new_url()
        self.clock = FakeClock()
        cfg = Settings(
            data_dir=data_dir,
            database_url=url,
            tool_paths=str(PACKS),
            executor=ExecutorSettings(user_rate="10000/minute", tool_rate="10000/minute"),
        )
        self.core = Core.open(cfg, clock=self.clock)
        self.ttl = timedelta(seconds=cfg.executor.approval_ttl_s)
        self.calls: dict[str, Call] = {}
        self.writes: list[Call] = []
        self.counters = dict.fromkeys(NAMES, 0)
        self.locks: dict[str, tuple[str, datetime]] = {}  # held by simulated crashed runs
        self.seen: list[list[str]] = []
        self.must: set[str] = set()
        self.may: set[str] = set()
        self.last_state: dict[str, str] = {}

    def teardown(self) -> None:
        self.core.close()
        self._drop()

    # -- model helpers -----------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock()

    def live(self, call: Call) -> bool:
        return self.now() < call.expires_at

    def pick(self, index: int) -> Call:
        """Recent proposals first: that is where quorums, runs and conflicts happen."""
        return self.writes[-1 - index % len(self.writes)]

    def would_run(self, call: Call) -> bool:
        """Everything the executor must check, decided from the model alone."""
        if call.state != "approved" or call.tampered or not self.live(call):
            return False
        if call.tool == "bump_counter" and self.counters[call.args["name"]] != call.plan_counter:
            return False  # the dry-run plan changed since approval
        held = self.locks.get(call.resource or "")
        return not (held and held[0] != call.id and held[1] > self.now())

    def ran(self, call: Call) -> None:
        call.state = "ran"
        if call.tool == "bump_counter":
            self.counters[call.args["name"]] += call.args["by"]
        elif call.tool == "reset_counter":
            self.counters[call.args["name"]] = 0
        if call.resource:
            self.locks.pop(call.resource, None)
        self.stats["runs"] += 1

    # -- operations --------------------------------------------------------------------
    @rule(
        tool=st.sampled_from(WRITE_TOOLS),
        user=st.sampled_from(USERS),
        name=st.sampled_from(NAMES),
        by=st.integers(1, 3),
    )
    def propose(self, tool: str, user: str, name: str, by: int) -> None:
        args = tool_args(tool, name, by)
        allowed = "responder" in ROLES[user]
        try:
            out, ran = self.core.call(self.core.principal(user), tool, dict(args))
        except CopilotError as err:
            assert not allowed, f"{user} could not propose {tool}: {err.message}"
            return
        assert allowed, f"{user}, a viewer, proposed {tool}"
        assert ran is None and out.approval.state.value == "proposed", "a write ran unapproved"
        call = Call(
            id=out.approval.id,
            proposal_id=out.proposal.id,
            tool=tool,
            args=args,
            requester=user,
            expires_at=self.now() + self.ttl,
            plan_counter=self.counters[name] if tool == "bump_counter" else None,
        )
        self.calls[call.id] = call
        self.writes.append(call)

    @rule(user=st.sampled_from(USERS), name=st.sampled_from(NAMES))
    def read(self, user: str, name: str) -> None:
        out, ran = self.core.call(self.core.principal(user), "read_counter", {"name": name})
        assert ran is not None and ran.result == {"value": self.counters[name]}
        call = Call(out.approval.id, out.proposal.id, "read_counter", {"name": name}, user,
                    self.now() + self.ttl, None, state="ran")  # fmt: skip
        self.calls[call.id] = call
        self.must.add(call.id)

    def vote(self, index: int, user: str, verdict: str) -> Call | None:
        call = self.pick(index)
        ok = (
            call.state == "proposed"
            and self.live(call)
            and user not in call.voters
            and may_approve(user, call.tool, call.requester)
        )
        try:
            approval = self.core.book.vote(call.id, self.core.principal(user), verdict)
        except CopilotError as err:
            assert not ok, f"{verdict} by {user} on {call} refused: {err.message}"
            return None
        assert ok, f"{verdict} by {user} accepted on {call}"
        call.voters.add(user)
        if verdict == "reject":
            call.state, call.rejected = "rejected", True
        else:
            call.approvers.append(user)
            if quorum_met(call.tool, call.requester, call.approvers):
                call.state = "approved"
        assert approval.state.value == call.state, (approval.state, call)
        return call

    @precondition(lambda self: self.writes)
    @rule(
        index=st.integers(0, 7),
        users=st.lists(st.sampled_from(USERS), min_size=1, max_size=3),
        run=st.booleans(),
    )
    def approve(self, index: int, users: list[str], run: bool) -> None:
        """Approvals by one to three people in turn; with ``run``, what ``Core.approve`` does:
        the vote that completes the quorum also runs the call."""
        for user in users:
            call = self.vote(index, user, "approve")
            if run and call is not None and call.state == "approved":
                self.execute_call(call, user)

    @precondition(lambda self: self.writes)
    @rule(index=st.integers(0, 7), user=st.sampled_from(USERS))
    def reject(self, index: int, user: str) -> None:
        self.vote(index, user, "reject")

    @precondition(lambda self: self.writes)
    @rule(index=st.integers(0, 7), user=st.sampled_from(USERS))
    def execute(self, index: int, user: str) -> None:
        self.execute_call(self.pick(index), user)

    def execute_call(self, call: Call, user: str) -> None:
        expected = self.would_run(call)
        if expected:
            # Anyone may press "run" on an approved call; a viewer pressing it may be refused.
            (self.may if user == "dana" else self.must).add(call.id)
        try:
            outcome = self.core.executor.execute(call.id, self.core.principal(user))
        except CopilotError as err:
            assert not expected or user == "dana", f"{call} did not run: {err.message}"
            self.stats["refused executions"] += 1
            return
        assert expected, f"{call} ran although the model forbids it"
        assert outcome.status.value == "succeeded", outcome
        self.ran(call)

    @precondition(lambda self: self.writes)
    @rule(index=st.integers(0, 7), user=st.sampled_from(USERS))
    def cancel(self, index: int, user: str) -> None:
        call = self.pick(index)
        ok = user == call.requester and call.state in ("proposed", "approved")
        try:
            self.core.book.cancel(call.id, self.core.principal(user))
        except CopilotError:
            # An expired record may already have been marked expired by an earlier touch.
            assert not ok or not self.live(call), f"{user} could not cancel {call}"
            return
        assert ok, f"{user} cancelled {call}"
        call.state = "cancelled"

    @precondition(lambda self: self.writes)
    @rule(index=st.integers(0, 7), how=st.sampled_from(["args", "args+hash", "approval-hash"]))
    def tamper(self, index: int, how: str) -> None:
        """Someone with database access rewrites what was approved."""
        call = self.pick(index)
        forged = other_args(call.args)
        with self.core.store.write() as conn:
            if how == "approval-hash":
                conn.execute(
                    update(approvals)
                    .where(approvals.c.id == call.id)
                    .values(args_hash=canonical_hash(forged))
                )
            else:
                values: dict[str, Any] = {"arguments": forged}
                if how == "args+hash":
                    values["args_hash"] = canonical_hash(forged)
                conn.execute(
                    update(proposals).where(proposals.c.id == call.proposal_id).values(**values)
                )
        call.tampered = True
        self.stats["tampered"] += 1

    @rule(seconds=st.integers(1, 90))
    def wait(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @rule()
    def expire(self) -> None:
        self.clock.advance(self.ttl.total_seconds() + 1)

    @precondition(lambda self: self.writes)
    @rule(index=st.integers(0, 7))
    def crash(self, index: int) -> None:
        """Simulate a process that claimed the call and died before running the tool."""
        call = self.pick(index)
        if not self.would_run(call):
            return  # a real claim would have been refused
        now, deadline = self.now(), self.now() + timedelta(seconds=LEASE_S)
        with self.core.store.write() as conn:
            claimed = conn.execute(
                update(approvals)
                .where(approvals.c.id == call.id, approvals.c.state == "approved")
                .values(state="executing", updated_at=now)
            )
            assert claimed.rowcount == 1, f"{call} is not approved in the store"
            if call.resource:
                conn.execute(
                    delete(resource_locks).where(resource_locks.c.resource == call.resource)
                )
                conn.execute(
                    insert(resource_locks).values(
                        resource=call.resource,
                        approval_id=call.id,
                        holder=call.requester,
                        acquired_at=now,
                        expires_at=deadline,
                    )
                )
            conn.execute(
                insert(executions).values(
                    approval_id=call.id,
                    status="executing",
                    started_at=now,
                    deadline=deadline,
                    attempts=0,
                    owner="gone-host:4242",
                )
            )
            self.core.audit.append(
                conn, "execution.started", actor=call.requester, subject=call.id, ts=now,
                data={"tool": call.tool, "simulated": "crash"},
            )  # fmt: skip
        call.state, call.crashed, call.deadline = "crashed", True, deadline
        if call.resource:
            self.locks[call.resource] = (call.id, deadline)
        self.stats["crashed"] += 1

    @rule()
    def reconcile_stale(self) -> None:
        marked = self.core.executor.reconcile_stale()
        due = {
            c.id
            for c in self.writes
            if c.state == "crashed" and c.deadline is not None and c.deadline < self.now()
        }
        assert sorted(marked) == sorted(due)
        for aid in due:
            self.calls[aid].state = "unknown"
        self.stats["marked unknown"] += len(due)

    @precondition(lambda self: self.writes)
    @rule(
        index=st.integers(0, 7),
        user=st.sampled_from(USERS),
        outcome=st.sampled_from(["succeeded", "failed"]),
    )
    def reconcile(self, index: int, user: str, outcome: str) -> None:
        call = self.pick(index)
        ok = call.state == "unknown" and may_approve(user, call.tool, call.requester)
        try:
            self.core.executor.reconcile(call.id, self.core.principal(user), outcome, "checked")
        except CopilotError as err:
            assert not ok, f"{user} could not reconcile {call}: {err.message}"
            return
        assert ok, f"{user} reconciled {call}"
        call.state = outcome
        self.stats["reconciled"] += 1

    # -- invariants ----------------------------------------------------------------------
    @invariant()
    def what_ran_was_allowed(self) -> None:
        got = runs(self.core)
        assert got[: len(self.seen)] == self.seen, "the record of runs was rewritten"
        ids = [aid for _, aid in got]
        assert len(ids) == len(set(ids)), f"an approval ran twice: {got}"  # (b)
        new = got[len(self.seen) :]
        new_ids = {aid for _, aid in new}
        assert self.must <= new_ids, f"expected to run: {self.must - new_ids}"
        assert new_ids <= self.must | self.may, f"ran unexpectedly: {new_ids}"  # (c)
        for tool, aid in new:
            self.check_run(tool, aid)
        self.seen, self.must, self.may = got, set(), set()

    def check_run(self, tool: str, aid: str) -> None:
        """(a) and (c), re-derived from the stored records at the moment the run appeared."""
        call = self.calls[aid]
        assert call.tool == tool
        approval, proposal = self.core.book.load(aid, "test")
        assert proposal.arguments == call.args
        assert proposal.args_hash == approval.args_hash == canonical_hash(call.args)
        if tool == "read_counter":
            assert approval.auto and approval.votes == []
            return
        assert not (call.tampered or call.rejected or call.crashed), call
        assert self.now() < call.expires_at, f"{aid} ran after it expired"
        assert not approval.auto
        approvers = [v.approver for v in approval.votes if v.verdict == "approve"]
        assert sorted(approvers) == sorted(call.approvers), "votes differ from who voted"
        assert all(v.verdict == "approve" for v in approval.votes), "a rejected call ran"
        assert all(may_approve(u, tool, call.requester) for u in approvers), approvers
        assert quorum_met(tool, call.requester, approvers), f"{tool} ran on {approvers}"
        if RISK[tool] >= 2:
            assert call.requester not in approvers
        if tool == "reset_counter":
            assert len(set(approvers)) >= 2 and {"carol", "root"} & set(approvers)

    @invariant()
    def chain_verifies(self) -> None:
        assert verify_chain(self.core.store).ok  # (d)

    @invariant()
    def stored_state_matches_model(self) -> None:
        for name in NAMES:
            found = self.core.store.load(f"counter:{name}")
            assert (found[0]["value"] if found else 0) == self.counters[name], name
        with self.core.store.read() as conn:
            stored = dict(conn.execute(select(approvals.c.id, approvals.c.state)).all())
        assert set(stored) == set(self.calls)
        by_model = {"ran": "succeeded", "crashed": "executing"}
        for aid, call in self.calls.items():
            expected = {by_model.get(call.state, call.state)}
            if call.state in ("proposed", "approved") and not self.live(call):
                expected.add("expired")
            assert stored[aid] in expected, (aid, stored[aid], call)
            before = self.last_state.get(aid)
            assert before not in TERMINAL or before == stored[aid], f"{aid}: {before} → reopened"
            self.last_state[aid] = stored[aid]


# -- fresh databases per example ------------------------------------------------------------
def sqlite_databases(root: Path) -> Iterator[tuple[str, Path, Callable[[], None]]]:
    for n in itertools.count():
        data = root / f"example{n}"
        yield f"sqlite:///{data / 'copilot.db'}", data, lambda: None


def postgres_databases(root: Path) -> Iterator[tuple[str, Path, Callable[[], None]]]:
    base = normalise_url(POSTGRES_URL)
    admin = create_engine(base)
    sep = "&" if "?" in base else "?"
    try:
        for n in itertools.count():
            schema = f"t_{uuid.uuid4().hex[:12]}"
            with admin.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))

            def drop(schema: str = schema) -> None:
                with admin.begin() as conn:
                    conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))

            yield f"{base}{sep}options=-csearch_path%3D{schema}", root / f"example{n}", drop
    finally:
        admin.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_safety_contract_holds_under_random_operations(backend: str, tmp_path: Path) -> None:
    if backend == "postgres" and not POSTGRES_URL:
        pytest.skip("COPILOT_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped")
    databases = (sqlite_databases if backend == "sqlite" else postgres_databases)(tmp_path)
    stats: Counter[str] = Counter()
    machine = type(
        "SafetyMachineRun",
        (SafetyMachine,),
        {"new_url": staticmethod(lambda: next(databases)), "stats": stats},
    )
    try:
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=30 if backend == "sqlite" else 15,
                stateful_step_count=25,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
            ),
        )
    finally:
        databases.close()
    # The examples must actually exercise what the invariants guard, or they prove nothing.
    for what in ("runs", "refused executions", "tampered", "crashed", "marked unknown"):
        assert stats[what] > 0, f"no example exercised {what!r}: {dict(stats)}"
