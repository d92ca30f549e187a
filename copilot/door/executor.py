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
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from copilot.canonical import canonical_hash, canonical_json, sha256_hex
from copilot.domain import Approval, ApprovalState, ExecutionOutcome, Principal, Proposal
from copilot.door import locks
from copilot.door.approvals import Approvals
from copilot.door.deps import DoorDeps
from copilot.door.preflight import Preflight
from copilot.door.transition import transition
from copilot.errors import (
    ApprovalInvalid,
    CopilotError,
    InvalidInput,
    RateLimited,
    ResourceBusy,
    ToolFailed,
    ToolRetry,
    ToolTimeout,
    describe_validation_error,
)
from copilot.telemetry import tracer
from copilot.toolkit import ToolSpec, run_with_timeout

log = logging.getLogger("copilot.executor")
_RUNNING = frozenset({ApprovalState.EXECUTING})  # a run's outcome is recorded only once


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

    def __init__(self, deps: DoorDeps, approvals: Approvals) -> None:
        self.deps = deps
        self.preflight = Preflight(deps, approvals)

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
        approval, proposal = self.deps.load(approval_id, who.id)
        done = self.deps.execution(approval_id)
        if done is not None:
            raise self.deps.refuse(
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
            out = ExecutionOutcome(
                approval_id=approval.id, tool=spec.name, status=ApprovalState.FAILED, error=stale
            )
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
        """Approved → executing, with the run record, rate limits and the resource's lock,
        in one transaction: any refusal leaves all of it as it was."""
        d = self.deps
        now = d.clock()
        budget = spec.timeout_s * (d.settings.executor.max_attempts if spec.idempotent else 1)
        deadline = now + timedelta(seconds=budget + d.settings.executor.lock_grace_s)
        run = {"started_at": now, "deadline": deadline, "attempts": 0, "owner": _owner()}
        data = {
            "tool": spec.name,
            "args_hash": approval.args_hash,
            "plan_hash": approval.plan_hash,
            "resource": resource,
            "triggered_by": who.id,
            "deadline": deadline.isoformat(),
        }
        try:
            with d.store.write() as conn:
                started = (ApprovalState.EXECUTING, "execution.started")
                if not transition(
                    conn,
                    d.audit,
                    approval.id,
                    *started,
                    actor=proposal.requester,
                    now=now,
                    data=data,
                    unexpired=True,
                    run=run,
                ):
                    raise ApprovalInvalid(
                        f"approval {approval.id} is no longer approved (expired or already used)",
                        "nothing ran twice; check `copilot proposals`",
                    )
                if spec.risk.level > 0:
                    d.limits.check(conn, proposal.requester, spec.name, now, this_run=approval.id)
                if resource is not None:
                    locks.acquire(conn, resource, approval.id, proposal.requester, now, deadline)
        except (ApprovalInvalid, ResourceBusy, RateLimited) as err:
            raise d.refuse(who.id, approval.id, err) from None
        except IntegrityError:
            # The primary key on executions: someone else claimed this approval first.
            raise d.refuse(
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
        ctx = self.deps.tool_context(proposal.requester, approval.id)
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
                    stop=stop_after_attempt(self.deps.settings.executor.max_attempts),
                    wait=wait_exponential(
                        multiplier=self.deps.settings.executor.retry_wait_s, max=5
                    ),
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
        redactor = self.deps.redactor
        out = ExecutionOutcome(
            approval_id=approval.id,
            tool=spec.name,
            status=status,
            result=None if result is None else redactor.value(result),
            error=None if error is None else redactor.text(error),
            attempts=attempts,
        )
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
            self._record(
                approval, resource, out.model_copy(update={"result": None, "error": error})
            )

    def _record(self, approval: Approval, resource: str | None, out: ExecutionOutcome) -> None:
        d = self.deps
        now = d.clock()
        run = {
            "finished_at": now,
            "result": out.result,
            "error": out.error,
            "attempts": out.attempts,
        }
        with d.store.write() as conn:
            event = f"execution.{out.status.value}"
            data = {"tool": out.tool, "attempts": out.attempts, "error": out.error}
            if not transition(
                conn,
                d.audit,
                approval.id,
                out.status,
                event,
                actor=approval.requester,
                now=now,
                data={**data, **_result(out.result)},
                only_from=_RUNNING,
                run=run,
            ):
                # The reconciler already declared this run unknown: keep its verdict, but
                # put what actually happened on the record for the person reconciling.
                d.audit.append(
                    conn,
                    "execution.late_result",
                    subject=approval.id,
                    ts=now,
                    data={"status": out.status.value, "error": out.error},
                )
                return
            # After a timeout the tool may still be running: its lease stays until the
            # deadline, so no second write to the same resource starts underneath it.
            if resource is not None and out.status is not ApprovalState.UNKNOWN:
                locks.release(conn, resource, approval.id)


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
