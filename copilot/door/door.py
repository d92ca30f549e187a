"""``Door``: the deterministic core opened as one object: tools, policy, store, audit, and
the steps every change goes through (propose → approve → preflight → execute → record)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from copilot.audit import AuditLog
from copilot.domain import Card, ExecutionOutcome, Principal, ProposalOutcome
from copilot.door.approvals import Approvals
from copilot.door.deps import DoorDeps
from copilot.door.executor import Executor
from copilot.door.proposals import Proposer
from copilot.door.ratelimit import RateLimits
from copilot.door.reconcile import Reconciler
from copilot.policy import load_policy_engine
from copilot.redact.engine import Redactor
from copilot.redact.ruleset import redactor_for
from copilot.settings import Settings
from copilot.store import open_store
from copilot.store.records import get_records
from copilot.store.schema import approvals, proposals
from copilot.toolkit.registry import Registry, discover


def utcnow() -> datetime:
    return datetime.now(UTC)


class Door:
    """One process's door. Build it with ``Door.open(settings)``."""

    def __init__(self, deps: DoorDeps) -> None:
        self.deps = deps
        self.approvals = Approvals(deps)
        self.proposer = Proposer(deps)
        self.executor = Executor(deps, self.approvals)
        self.reconciler = Reconciler(deps)

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
        registry: Registry | None = None,
        redactor: Redactor | None = None,
        reconcile: bool = True,
    ) -> Door:
        """Load tools and policy (refusing to start if either is broken), open the store,
        and mark runs a crashed process left behind *unknown*."""
        registry = registry or discover(settings.extra_tool_paths)
        policy = load_policy_engine(settings, registry)
        limits = RateLimits(settings.executor)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        redactor = redactor or redactor_for(settings)
        store = open_store(settings.db_url)
        audit = AuditLog(store, redact=redactor.value, identity=redactor.identity)
        door = cls(DoorDeps(settings, store, registry, policy, audit, redactor, clock, limits))
        if reconcile:
            door.reconciler.reconcile_stale()
        return door

    def principal(self, user_id: str) -> Principal:
        return self.deps.policy.principal(user_id)

    def call(
        self, who: Principal, tool: str, arguments: dict[str, Any], **kw: Any
    ) -> tuple[ProposalOutcome, ExecutionOutcome | None]:
        """Propose a call; run it at once if policy lets it run without approval."""
        outcome = self.proposer.propose(who, tool, arguments, **kw)
        if outcome.runs_without_approval:
            return outcome, self.executor.execute(outcome.approval.id, who)
        return outcome, None

    def card(self, approval_id: str, actor: str, *, verified: bool | None = None) -> Card:
        """The card of one approval (or proposal) id, as the store has it now."""
        approval, proposal = self.deps.load(approval_id, actor)
        execution = self.deps.execution(approval.id)
        return Card.from_records(approval, proposal, execution, verified=verified)

    def may_approve(self, approval_id: str, who: Principal) -> bool:
        """Whether policy lets ``who`` approve calls of this card's tool and risk at all,
        as someone other than its requester (what a surface offers a button for). Not a
        decision: nothing is recorded, and the vote itself is decided again when cast."""
        approval, proposal = self.deps.load(approval_id, who.id)
        ctx = self.deps.context(
            is_requester=False,
            approval_count=sum(v.verdict == "approve" for v in approval.votes),
        )
        return self.deps.policy.decide("approve", who.id, proposal.tool, ctx).allowed

    def cards_of(
        self, approval_ids: list[str], verified: Mapping[str, bool | None] | None = None
    ) -> list[Card]:
        """The cards of these approval ids, in that order (ids the store lacks are left
        out); ``verified``: what the agent found after each change ran."""
        with self.deps.store.read() as conn:
            found = get_records(conn, approval_ids)
        seen = verified or {}
        now = self.deps.clock()
        return [
            Card.from_records(*found[aid], now=now, verified=seen.get(aid))
            for aid in approval_ids
            if aid in found
        ]

    def changes_in(self, conversation: str, limit: int = 200) -> list[str]:
        """Approval ids of the changes (not reads) proposed in ``conversation``, oldest
        first: what a conversation shows besides the cards its messages mention."""
        with self.deps.store.read() as conn:
            found = conn.execute(
                select(approvals.c.id)
                .join(proposals, proposals.c.id == approvals.c.proposal_id)
                .where(proposals.c.conversation == conversation, proposals.c.risk != "read")
                .order_by(approvals.c.created_at)
                .limit(limit)
            )
            return list(found.scalars())

    def cards(self, states: list[str] | None = None, limit: int = 50) -> list[Card]:
        """The newest cards, optionally in these states; a waiting card past its expiry
        shows as expired."""
        now = self.deps.clock()
        with self.deps.store.read() as conn:
            newest = select(approvals.c.id).order_by(approvals.c.created_at.desc()).limit(limit)
            if states:
                newest = newest.where(approvals.c.state.in_(states))
            ids = list(conn.execute(newest).scalars())
            found = get_records(conn, ids)
        return [Card.from_records(*found[aid], now=now) for aid in ids]

    def close(self) -> None:
        self.deps.store.dispose()
