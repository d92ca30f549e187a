"""The one door: the only code that calls a tool's function.

At execution time it re-validates the arguments against the approval's hashes, re-checks
every approver and the quorum with policy, recomputes the dry-run plan, applies rate limits,
takes the resource lock and claims the approval (its id is the idempotency key: a primary
key on ``executions`` plus a compare-and-set on the approval state), then runs the tool with
a timeout, retrying only idempotent tools, and records the outcome. A crash mid-run leaves
the row *executing*; the reconciler later marks it *unknown* and nothing re-runs it.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from copilot import locks
from copilot.approvals import ApprovalBook
from copilot.canonical import canonical_hash, canonical_json, sha256_hex
from copilot.domain import Approval, ApprovalState, Principal, Proposal
from copilot.errors import (
    ApprovalInvalid,
    CopilotError,
    InvalidInput,
    RateLimited,
    ResourceBusy,
    ToolFailed,
    ToolRetry,
    ToolTimeout,
)
from copilot.preflight import Preflight
from copilot.ratelimit import RateLimits
from copilot.store.records import get_execution
from copilot.store.schema import approvals, executions
from copilot.telemetry import tracer
from copilot.toolkit import ToolSpec, describe_validation_error, run_with_timeout

log = logging.getLogger("copilot.executor")


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


def describe_failure(exc: BaseException) -> str:
    """One short line about a tool's exception, for the record and for the model."""
    if isinstance(exc, ValidationError):
        text = f"tool returned an invalid result: {describe_validation_error(exc)}"
    elif isinstance(exc, CopilotError):
        text = exc.message
    else:
        text = f"tool raised {type(exc).__name__}: {exc}"
    return " ".join(text.split())[:300]


class Executor:
    """Runs approved calls. Nothing else in the code base calls ``ToolSpec.run_unchecked``."""

    def __init__(self, book: ApprovalBook, limits: RateLimits) -> None:
        self.book = book
        self.limits = limits
        self.preflight = Preflight(book)
        self.store = book.store
        self.audit = book.audit
        self.clock = book.clock
        self.settings = book.settings

    def execute(self, approval_id: str, who: Principal) -> ExecutionOutcome:
        """Run an approved call exactly once, or raise why not (state unchanged)."""
        attributes = {"copilot.approval_id": approval_id, "copilot.principal": who.id}
        with tracer().start_as_current_span("copilot.execute", attributes=attributes) as span:
            out = self._execute(approval_id, who)
            span.set_attribute("copilot.tool", out.tool)
            span.set_attribute("copilot.status", out.status.value)
            span.set_attribute("copilot.attempts", out.attempts)
            if out.error:
                span.set_attribute("copilot.error", out.error)
            log.info("%s %s by %s: %s", out.tool, approval_id, who.id, out.error or "ok")
            return out

    def _execute(self, approval_id: str, who: Principal) -> ExecutionOutcome:
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
        spec, args = self.preflight.check(approval, proposal, who)
        resource = spec.resource(args)
        self._claim(approval, proposal, spec, resource, who)
        # The world may have changed between the preflight and taking the lock (another run
        # on the same resource finished in between): the plan must still be the approved one.
        stale = self._stale_plan(approval, proposal, spec, args)
        if stale is not None:
            out = ExecutionOutcome(approval.id, spec.name, ApprovalState.FAILED, None, stale, 0)
            self._finish(approval, resource, out)
            return out
        return self._run(approval, proposal, spec, args, resource)

    def _stale_plan(
        self, approval: Approval, proposal: Proposal, spec: ToolSpec, args: Any
    ) -> str | None:
        try:
            plan = self.preflight.current_plan(proposal, spec, args)
        except CopilotError as err:
            return f"not run: the dry run failed after the lock was taken ({err.message})"
        if (None if plan is None else canonical_hash(plan)) != approval.plan_hash:
            return f"not run: the plan changed since approval (now: {plan}); propose it again"
        return None

    def _claim(
        self,
        approval: Approval,
        proposal: Proposal,
        spec: ToolSpec,
        resource: str | None,
        who: Principal,
    ) -> None:
        now = self.clock()
        budget = spec.timeout_s * (self.settings.executor.max_attempts if spec.idempotent else 1)
        deadline = now + timedelta(seconds=budget + self.settings.executor.lock_grace_s)
        try:
            with self.store.write() as conn:
                res = conn.execute(
                    update(approvals)
                    .where(
                        approvals.c.id == approval.id,
                        approvals.c.state == ApprovalState.APPROVED,
                        approvals.c.expires_at > now,
                    )
                    .values(state=ApprovalState.EXECUTING, updated_at=now)
                )
                if res.rowcount != 1:
                    raise ApprovalInvalid(
                        f"approval {approval.id} is no longer approved (expired or already used)",
                        "nothing ran twice; check `copilot proposals`",
                    )
                if spec.risk.level > 0:
                    self.limits.check(conn, proposal.requester, spec.name, now)
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
                        "plan_hash": approval.plan_hash,
                        "resource": resource,
                        "triggered_by": who.id,
                        "deadline": deadline.isoformat(),
                    },
                )
        except (ApprovalInvalid, ResourceBusy, RateLimited) as err:
            raise self.book.refuse(who.id, approval.id, err) from None
        except IntegrityError:
            # The primary key on executions: someone else claimed this approval first.
            raise self.book.refuse(
                who.id,
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
                # Only a tool's own "transient, nothing applied" signal is retried: after a
                # timeout the first attempt may still be running, so a retry could overlap it.
                produced = Retrying(
                    stop=stop_after_attempt(self.settings.executor.max_attempts),
                    wait=wait_exponential(multiplier=self.settings.executor.retry_wait_s, max=5),
                    retry=retry_if_exception_type(ToolRetry),
                    reraise=True,
                )(once)
            else:
                produced = once()
            result = produced.model_dump(mode="json")
        except ToolTimeout as exc:
            status, error = ApprovalState.UNKNOWN, f"{exc.message}; outcome unknown"
        except (ToolFailed, ToolRetry, InvalidInput) as exc:
            # The tool's own word that it applied nothing (or gave up cleanly).
            status, error = ApprovalState.FAILED, describe_failure(exc)
        except Exception as exc:
            # Anything else may have struck after the change was made: a tool that writes
            # cannot be called failed (someone would run it again), only unknown.
            unsure = spec.side_effects
            status = ApprovalState.UNKNOWN if unsure else ApprovalState.FAILED
            error = describe_failure(exc) + ("; outcome unknown" if unsure else "")
        # Tool output and errors are untrusted and may quote secrets (a config dump, a
        # connection string in a stack trace): redact before they are stored or shown.
        redactor = self.book.redactor
        result = None if result is None else redactor.value(result)
        error = None if error is None else redactor.text(error)
        out = ExecutionOutcome(approval.id, spec.name, status, result, error, attempts)
        self._finish(approval, resource, out)
        return out

    def _finish(self, approval: Approval, resource: str | None, out: ExecutionOutcome) -> None:
        try:
            self._record(approval, resource, out)
        except Exception as exc:
            # The tool has run: never lose that because its result cannot be stored (a
            # number RFC 8785 refuses, say). Record the outcome without the result.
            note = f"result not recorded ({type(exc).__name__})"
            error = f"{out.error}; {note}" if out.error else note
            self._record(approval, resource, replace(out, result=None, error=error))

    def _record(self, approval: Approval, resource: str | None, out: ExecutionOutcome) -> None:
        status, result, error, attempts = out.status, out.result, out.error, out.attempts
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
            # After a timeout the tool may still be running: its lease stays until the
            # deadline, so no second write to the same resource starts underneath it.
            if resource is not None and status is not ApprovalState.UNKNOWN:
                locks.release(conn, resource, approval.id)
            self.audit.append(
                conn,
                f"execution.{status.value}",
                actor=approval.requester,
                subject=approval.id,
                ts=now,
                data={"tool": out.tool, "attempts": attempts, "error": error, **_result(result)},
            )


# A result up to this size (canonical JSON) is copied into its audit event; a bigger one (a
# page of logs) is stored once, in the execution record, and the event binds its hash.
AUDIT_RESULT_MAX_BYTES = 2048


def _result(result: dict[str, Any] | None) -> dict[str, Any]:
    if result is None:
        return {"result": None}
    body = canonical_json(result)
    if len(body) <= AUDIT_RESULT_MAX_BYTES:
        return {"result": result}
    return {"result_sha256": sha256_hex(body), "result_bytes": len(body)}
