"""Wires the deterministic core together: store, tools, policy, audit, approvals, executor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from copilot.approvals import ApprovalBook
from copilot.audit import AuditLog
from copilot.domain import ApprovalState, Principal, ProposalOutcome
from copilot.errors import RateLimited, ResourceBusy
from copilot.executor import ExecutionOutcome, Executor
from copilot.policy import PolicyEngine, load_policy_engine
from copilot.proposals import Proposer
from copilot.ratelimit import RateLimits
from copilot.reconcile import Reconciler
from copilot.redact.engine import Redactor
from copilot.redact.ruleset import redactor_for
from copilot.registry import Registry, discover
from copilot.settings import Settings
from copilot.store import Store, open_store


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Core:
    """One process's view of the core. Build it with ``Core.open(settings)``."""

    settings: Settings
    store: Store
    registry: Registry
    policy: PolicyEngine
    audit: AuditLog
    book: ApprovalBook
    executor: Executor
    reconciler: Reconciler
    proposer: Proposer
    # Everything the core writes or hands out (audit events, tool results, errors, plans)
    # passes this redactor first; its placeholders are stable for the process's life.
    redactor: Redactor

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
        registry: Registry | None = None,
        reconcile: bool = True,
    ) -> Core:
        """Load tools and policy (refusing to start if either is broken), open the store."""
        registry = registry or discover(settings.extra_tool_paths)
        policy = load_policy_engine(settings, registry)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        redactor = redactor_for(settings)
        store = open_store(settings.db_url)
        audit = AuditLog(store, redact=redactor.value)
        book = ApprovalBook(settings, store, registry, policy, audit, clock, redactor)
        executor = Executor(book, RateLimits(settings.executor))
        core = cls(
            settings,
            store,
            registry,
            policy,
            audit,
            book,
            executor,
            Reconciler(book),
            Proposer(book),
            redactor,
        )
        if reconcile:
            core.reconciler.reconcile_stale()
        return core

    def principal(self, user_id: str) -> Principal:
        return self.policy.principal(user_id)

    def call(
        self, who: Principal, tool: str, arguments: dict[str, Any], **kw: Any
    ) -> tuple[ProposalOutcome, ExecutionOutcome | None]:
        """Propose a call; run it at once if policy lets it run without approval."""
        outcome = self.proposer.propose(who, tool, arguments, **kw)
        if outcome.runs_without_approval:
            return outcome, self.executor.execute(outcome.approval.id, who)
        return outcome, None

    def approve(
        self, approval_id: str, who: Principal, *, break_glass: bool = False, reason: str = ""
    ) -> ExecutionOutcome | None:
        """Record an approval; if it completes the quorum, run the call."""
        approval = self.book.vote(
            approval_id, who, "approve", break_glass=break_glass, reason=reason
        )
        if approval.state is not ApprovalState.APPROVED:
            return None
        try:
            return self.executor.execute(approval_id, who)
        except (ResourceBusy, RateLimited) as err:
            raise type(err)(
                f"approval recorded, but the call cannot run yet: {err.message}",
                f"run `copilot execute {approval_id} --as {who.id}` later",
            ) from None

    def close(self) -> None:
        self.store.dispose()
