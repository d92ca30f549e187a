"""Calls outside any conversation: propose a tool call directly, run or withdraw it,
reconcile an unknown outcome, and look at cards."""

from __future__ import annotations

from typing import Any

from copilot.domain import (
    ApprovalState,
    Card,
    ExecutionOutcome,
    Principal,
    ProposalOutcome,
    Risk,
)
from copilot.errors import InvalidInput
from copilot.service.outbound import check_conversation_id, errors_redacted, inbound, outbound
from copilot.service.wiring import Parts


class Calls:
    _parts: Parts

    @errors_redacted
    def principal(self, user_id: str, via: str = "cli") -> Principal:
        """The configured user ``user_id`` with their roles (each surface authenticates
        them its own way first, and names it in ``via``: it goes on the record)."""
        return self._parts.policy.principal(user_id, authenticated_by=via)

    @outbound
    def call(
        self,
        principal: Principal,
        tool: str,
        arguments: dict[str, Any],
        *,
        conversation: str | None = None,
    ) -> tuple[ProposalOutcome, ExecutionOutcome | None]:
        """Propose a tool call; it runs at once when policy lets it run without a card.
        (Arguments are not rewritten: the door refuses those holding a secret.)"""
        if conversation is not None:
            check_conversation_id(self._parts, conversation)
        return self._parts.door.call(principal, tool, arguments, conversation=conversation)

    @outbound
    def execute(self, approval_id: str, principal: Principal) -> ExecutionOutcome:
        """Run an approved call that could not run yet (resource busy, rate limited)."""
        return self._parts.door.executor.execute(approval_id, principal)

    @outbound
    def cancel(self, approval_id: str, principal: Principal) -> Card:
        """The requester withdraws their proposal before it runs."""
        approval = self._parts.door.approvals.cancel(approval_id, principal)
        return self.card(approval.id)

    @outbound
    def reconcile(self, approval_id: str, principal: Principal, outcome: str, note: str) -> Card:
        """Record what really happened to a call whose run ended *unknown*."""
        note = inbound(self._parts, note)
        self._parts.door.reconciler.reconcile(approval_id, principal, outcome, note)
        return self.card(approval_id)

    @outbound
    def card(self, approval_id: str, asked_by: str = "copilot") -> Card:
        """One card (by approval or proposal id) as the store has it now, drawn as a
        conversation draws it: expired once its time is up, and what verify found. An
        unknown id is refused on the record as asked by ``asked_by``."""
        door = self._parts.door
        card = door.card(approval_id, asked_by)
        return door.cards_of([card.approval_id], self._verified(card))[0]

    def _verified(self, card: Card) -> dict[str, bool | None]:
        """What the agent found after this card's call ran (kept in its conversation's
        checkpoint, not in the store); nothing to look up for a card that has not run."""
        if not card.conversation or (card.result is None and card.error is None):
            return {}
        config = {"configurable": {"thread_id": card.conversation}}
        values = self._parts.graph.get_state(config).values or {}
        return {ref["approval_id"]: ref.get("verified") for ref in values.get("cards", [])}

    @outbound
    def cards(
        self, states: list[str] | None = None, limit: int = 50, *, reads: bool = True
    ) -> list[Card]:
        """The newest cards, optionally only those in ``states`` (as cards show them: a
        waiting card past its expiry is expired; "pending" is proposed), and without the
        read-only calls unless ``reads``."""
        wanted = {_state(s) for s in states or []}
        # a card shows as expired before anyone has touched its record (still proposed)
        stored = wanted | ({"proposed", "approved"} if "expired" in wanted else set())
        fetch = limit
        while True:  # reads are most rows (the agent's own): page until enough changes
            found = self._parts.door.cards(sorted(stored) or None, fetch)
            shown = [
                c
                for c in found
                if (reads or c.risk is not Risk.READ) and (not wanted or c.state in wanted)
            ]
            if len(shown) >= limit or len(found) < fetch:
                return shown[:limit]
            fetch *= 4


# Words people use for the states a card shows.
STATE_SYNONYMS = {"pending": "proposed", "waiting": "proposed", "running": "executing"}


def _state(name: str) -> str:
    known = [s.value for s in ApprovalState]
    state = STATE_SYNONYMS.get(name.strip().lower(), name.strip().lower())
    if state not in known:
        raise InvalidInput(
            f"unknown state {name!r}", f"use one of {', '.join(known)} (or pending for proposed)"
        )
    return state
