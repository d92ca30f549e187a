"""What every part of the door uses, passed explicitly: one ``DoorDeps`` per process.

Besides the parts themselves it holds the few things every step of the door does the
same way: build the policy context, refuse a request on the record, load an approval
with its proposal, build a tool's context and take its dry run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from copilot.audit import AuditLog
from copilot.domain import Approval, ApprovalState, Decision, Execution, Proposal
from copilot.door.ratelimit import RateLimits
from copilot.door.transition import transition
from copilot.errors import CopilotError, InvalidInput, PolicyDenied
from copilot.policy import PolicyEngine, RequestContext
from copilot.redact.engine import Redactor
from copilot.settings import Settings
from copilot.store import Store
from copilot.store.records import get_approval, get_execution
from copilot.store.schema import approvals
from copilot.toolkit import ToolContext, ToolSpec, run_with_timeout
from copilot.toolkit.registry import Registry


@dataclass(frozen=True)
class DoorDeps:
    settings: Settings
    store: Store
    registry: Registry
    policy: PolicyEngine
    audit: AuditLog
    # Everything the door writes or hands out (audit events, tool results, errors, plans)
    # passes this redactor first; its placeholders are stable for the process's life.
    redactor: Redactor
    clock: Callable[[], datetime]
    limits: RateLimits

    def context(self, **kw: Any) -> RequestContext:
        return RequestContext(
            environment=self.settings.environment, change_freeze=self.settings.change_freeze, **kw
        )

    def refuse(self, actor: str, subject: str | None, err: CopilotError) -> CopilotError:
        """Record a refused request (bad input, denial) and hand the error back to raise.

        Its text may quote arguments or a plan: it is redacted before anyone sees it."""
        err.redact_with(self.redactor.text)
        self.audit.record(
            "request.refused",
            actor=actor,
            subject=subject,
            data={"error": type(err).__name__, "message": err.message},
        )
        return err

    def record_decision(self, d: Decision, subject: str | None) -> None:
        self.audit.record(
            "policy.decision", actor=d.principal, subject=subject, data=d.audit_data()
        )

    def move(self, approval_id: str, to: ApprovalState, event: str, **kw: Any) -> bool:
        """``transition`` in a transaction of its own (see there); False: it had moved."""
        with self.store.write() as conn:
            return transition(conn, self.audit, approval_id, to, event, **kw)

    def require(
        self,
        action: str,
        who: str,
        tool: str,
        ctx: RequestContext,
        *,
        subject: str | None,
        denied: str,
        hint: str,
    ) -> Decision:
        """Policy's decision that ``who`` may ``action`` ``tool``; a denial is put on the
        record and raised as ``PolicyDenied("<denied>: <policy's reason>", hint)``."""
        decision = self.policy.decide(action, who, tool, ctx)
        if not decision.allowed:
            self.record_decision(decision, subject)
            raise PolicyDenied(f"{denied}: {decision.reason}", hint)
        return decision

    def load(self, approval_id: str, actor: str) -> tuple[Approval, Proposal]:
        """An approval and its proposal, by approval id (or by the proposal's id)."""
        with self.store.read() as conn:
            if approval_id.startswith("prp_"):
                approval_id = (
                    conn.execute(
                        select(approvals.c.id).where(approvals.c.proposal_id == approval_id)
                    ).scalar()
                    or approval_id
                )
            found = get_approval(conn, approval_id)
        if found is None:
            raise self.refuse(
                actor,
                approval_id,
                InvalidInput(
                    f"no proposal with id {approval_id!r}", "list them with `copilot proposals`"
                ),
            )
        return found

    def execution(self, approval_id: str) -> Execution | None:
        with self.store.read() as conn:
            return get_execution(conn, approval_id)

    def tool_context(self, principal: str, approval_id: str | None = None) -> ToolContext:
        return ToolContext(
            state=self.store,
            settings=self.settings,
            principal=principal,
            approval_id=approval_id,
            clock=self.clock,
        )

    def dry_run(self, spec: ToolSpec, args: Any, requester: str) -> str | None:
        """The tool's plan as ``requester`` would see it now, bounded by the tool's timeout.

        The plan is redacted with placeholders numbered afresh for each plan, so the same
        plan always reads (and hashes) the same: approvers approve what they were shown,
        and no secret a plan quotes reaches the store."""
        if spec.plan_fn is None:  # most reads: no thread, no context
            return None
        ctx = self.tool_context(requester)
        plan = run_with_timeout(lambda: spec.plan(ctx, args), spec.timeout_s)
        return None if plan is None else Redactor(self.redactor.rules).text(plan)
