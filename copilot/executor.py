"""The one door: the only code that calls a tool's function.

At execution time it re-validates the arguments against the approval's hashes, re-checks
every approver and the quorum with policy, recomputes the dry-run plan, applies rate limits,
takes the resource lock and claims the approval (its id is the idempotency key: a primary
key on ``executions`` plus a compare-and-set on the approval state), then runs the tool with
a timeout, retrying only idempotent tools, and records the outcome. A crash mid-run leaves
the row *executing*; the reconciler later marks it *unknown* and nothing re-runs it.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from copilot import locks
from copilot.approvals import ApprovalBook
from copilot.canonical import canonical_hash
from copilot.domain import Approval, ApprovalState, Principal, Proposal
from copilot.errors import (
    ApprovalInvalid,
    ApprovalRequired,
    CopilotError,
    InvalidInput,
    PolicyDenied,
    ResourceBusy,
    ToolFailed,
    ToolRetry,
)
from copilot.ratelimit import RateLimits
from copilot.store.records import get_execution
from copilot.store.schema import approvals, executions
from copilot.toolkit import ToolSpec


class ToolTimeout(CopilotError):
    """The tool did not finish in time; whether it had an effect is unknown."""


@dataclass(frozen=True)
class ExecutionOutcome:
    approval_id: str
    tool: str
    status: ApprovalState
    result: dict[str, Any] | None
    error: str | None
    attempts: int


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_with_timeout(fn: Callable[[], BaseModel], timeout_s: float) -> BaseModel:
    """Run ``fn`` in a daemon thread; raise ``ToolTimeout`` if it does not return in time.

    Python cannot kill a thread, so a timed-out call may still finish later: that is exactly
    why a timeout is recorded as *unknown* for non-idempotent tools.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True, name="copilot-tool")
    t.start()
    t.join(timeout_s)
    if t.is_alive():
        raise ToolTimeout(f"tool did not finish within {timeout_s:g}s")
    if "error" in box:
        raise box["error"]
    value: BaseModel = box["value"]
    return value


class Executor:
    """Runs approved calls. Nothing else in the code base calls ``ToolSpec.run_unchecked``."""

    def __init__(self, book: ApprovalBook, limits: RateLimits) -> None:
        self.book = book
        self.limits = limits
        self.store = book.store
        self.audit = book.audit
        self.policy = book.policy
        self.clock = book.clock
        self.settings = book.settings

    # -- checks ---------------------------------------------------------------------------
    def _check(
        self, approval: Approval, proposal: Proposal, who: Principal
    ) -> tuple[ToolSpec, Any]:
        if approval.state is ApprovalState.PROPOSED:
            raise ApprovalRequired(
                f"{approval.id} still needs approval ({approval.required})",
                f"ask an approver to run `copilot approve {approval.id}`",
            )
        if approval.state is not ApprovalState.APPROVED:
            raise self.book.refuse(
                who.id,
                approval.id,
                ApprovalInvalid(
                    f"approval {approval.id} is {approval.state.value}; it cannot run (again)",
                    "approvals are single-use: propose the call again if it is still needed",
                ),
            )
        self.book.expire_if_due(approval)
        spec = self.book.registry.get(proposal.tool)
        try:
            args = spec.validate(proposal.arguments)
        except InvalidInput as err:
            raise self.book.refuse(
                who.id,
                approval.id,
                ApprovalInvalid(
                    f"stored arguments of {approval.id} no longer validate: {err.message}",
                    "propose the call again",
                ),
            ) from None
        digest = canonical_hash(args.model_dump(mode="json"))
        if not (digest == proposal.args_hash == approval.args_hash):
            raise self.book.refuse(
                who.id,
                approval.id,
                ApprovalInvalid(
                    f"arguments of {approval.id} do not match what was approved (hash mismatch)",
                    "someone changed the stored call; propose it again and investigate",
                ),
            )
        decision = self.book.quorum(approval, proposal)
        self.book.record_decision(decision, approval.id)
        if not decision.allowed:
            raise PolicyDenied(
                f"policy refuses to run {approval.id}: {decision.reason}",
                f"it needs {approval.required} still valid at execution time",
            )
        plan = self.book._plan(who, spec, args)
        plan_digest = None if plan is None else canonical_hash(plan)
        if plan_digest != approval.plan_hash:
            raise self.book.refuse(
                who.id,
                approval.id,
                ApprovalInvalid(
                    f"the plan of {approval.id} changed since it was approved (now: {plan})",
                    "the system changed under the proposal; propose the call again",
                ),
            )
        return spec, args

    # -- the door ---------------------------------------------------------------------------
    def execute(self, approval_id: str, who: Principal) -> ExecutionOutcome:
        """Run an approved call exactly once, or raise why not (state unchanged)."""
        approval, proposal = self.book.load(approval_id, who.id)
        with self.store.read() as conn:
            done = get_execution(conn, approval_id)
        if done is not None:
            raise self.book.refuse(
                who.id,
                approval_id,
                ApprovalInvalid(
                    f"approval {approval_id} was already used ({done.status.value}); "
                    "nothing ran twice",
                    "propose the call again if it is still needed",
                ),
            )
        spec, args = self._check(approval, proposal, who)
        limited = self.limits.hit(proposal.requester, spec.name, spec.risk.level > 0)
        if limited is not None:
            raise self.book.refuse(who.id, approval_id, limited)
        resource = spec.resource(args)
        self._claim(approval, proposal, spec, resource)
        return self._run(approval, proposal, spec, args, resource)

    def _claim(
        self, approval: Approval, proposal: Proposal, spec: ToolSpec, resource: str | None
    ) -> None:
        now = self.clock()
        budget = spec.timeout_s * (self.settings.executor.max_attempts if spec.idempotent else 1)
        deadline = now + timedelta(seconds=budget + self.settings.executor.lock_grace_s)
        try:
            with self.store.write() as conn:
                res = conn.execute(
                    update(approvals)
                    .where(
                        approvals.c.id == approval.id, approvals.c.state == ApprovalState.APPROVED
                    )
                    .values(state=ApprovalState.EXECUTING, updated_at=now)
                )
                if res.rowcount != 1:
                    raise ApprovalInvalid(
                        f"approval {approval.id} is already being used",
                        "nothing ran twice; check `copilot proposals`",
                    )
                if resource is not None:
                    locks.acquire(conn, resource, approval.id, proposal.requester, now, deadline)
                conn.execute(
                    insert(executions).values(
                        approval_id=approval.id,
                        status=ApprovalState.EXECUTING,
                        started_at=now,
                        deadline=deadline,
                        attempts=0,
                        owner=_owner(),
                    )
                )
                self.audit.append(
                    conn,
                    "execution.started",
                    actor=proposal.requester,
                    subject=approval.id,
                    ts=now,
                    data={
                        "tool": spec.name,
                        "args_hash": approval.args_hash,
                        "resource": resource,
                        "deadline": deadline.isoformat(),
                    },
                )
        except ResourceBusy as err:
            raise self.book.refuse(proposal.requester, approval.id, err) from None
        except IntegrityError:
            # The primary key on executions: someone else claimed this approval first.
            raise self.book.refuse(
                proposal.requester,
                approval.id,
                ApprovalInvalid(
                    f"approval {approval.id} is already being used", "nothing ran twice"
                ),
            ) from None

    def _run(
        self,
        approval: Approval,
        proposal: Proposal,
        spec: ToolSpec,
        args: Any,
        resource: str | None,
    ) -> ExecutionOutcome:
        ctx = self.book.tool_context(proposal.requester, approval.id)
        attempts = 0

        def once() -> BaseModel:
            nonlocal attempts
            attempts += 1
            return run_with_timeout(lambda: spec.run_unchecked(ctx, args), spec.timeout_s)

        status, result, error = ApprovalState.SUCCEEDED, None, None
        try:
            if spec.idempotent:
                retrying = Retrying(
                    stop=stop_after_attempt(self.settings.executor.max_attempts),
                    wait=wait_exponential(multiplier=self.settings.executor.retry_wait_s, max=5),
                    retry=retry_if_exception_type((ToolRetry, ToolTimeout)),
                    reraise=True,
                )
                out = retrying(once)
            else:
                out = once()
            result = out.model_dump(mode="json")
        except ToolTimeout as exc:
            status, error = ApprovalState.UNKNOWN, f"{exc.message}; outcome unknown"
        except (ToolFailed, ToolRetry, InvalidInput) as exc:
            status, error = ApprovalState.FAILED, exc.message
        except Exception as exc:
            status, error = ApprovalState.FAILED, f"tool raised {type(exc).__name__}: {exc}"
        self._finish(approval, spec, resource, status, result, error, attempts)
        return ExecutionOutcome(approval.id, spec.name, status, result, error, attempts)

    def _finish(
        self,
        approval: Approval,
        spec: ToolSpec,
        resource: str | None,
        status: ApprovalState,
        result: dict[str, Any] | None,
        error: str | None,
        attempts: int,
    ) -> None:
        now = self.clock()
        with self.store.write() as conn:
            res = conn.execute(
                update(executions)
                .where(
                    executions.c.approval_id == approval.id,
                    executions.c.status == ApprovalState.EXECUTING,
                    executions.c.owner == _owner(),
                )
                .values(
                    status=status, finished_at=now, result=result, error=error, attempts=attempts
                )
            )
            if res.rowcount != 1:
                # The reconciler already declared this run unknown: keep its verdict, but
                # put what actually happened on the record for the person reconciling.
                self.audit.append(
                    conn,
                    "execution.late_result",
                    subject=approval.id,
                    ts=now,
                    data={"status": status.value, "error": error},
                )
                return
            conn.execute(
                update(approvals)
                .where(approvals.c.id == approval.id)
                .values(state=status, updated_at=now)
            )
            if resource is not None:
                locks.release(conn, resource, approval.id)
            self.audit.append(
                conn,
                f"execution.{status.value}",
                actor=approval.requester,
                subject=approval.id,
                ts=now,
                data={"tool": spec.name, "attempts": attempts, "error": error, "result": result},
            )
