"""What was said in each conversation, kept in the store: people's messages, the copilot's
replies and decisions on cards, in order. Surfaces show it (the web chat's history and its
live updates); the incident timeline will be built from it.

Everything stored here was redacted on the way in (``inbound``) or is the agent's own
reply, which is redacted once more before it is written.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from copilot.domain import Principal
from copilot.domain.conversations import ConversationSummary, ConversationView
from copilot.service.outbound import errors_redacted, outbound, scrub
from copilot.service.wiring import Parts

# A fact's data larger than this is kept without its data (its id, tool and arguments
# still say what was read): a page of logs does not belong in every history read.
MAX_FACT_BYTES = 32 * 1024


class TurnLocks:
    """One lock per conversation: two messages (or a message and a decision) in the same
    conversation take turns, since both advance the same checkpointed graph thread.
    Different conversations run at once. (Within one process; replicas that share a
    conversation rely on the checkpointer's own ordering.)"""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    @contextmanager
    def hold(self, conversation: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(conversation, threading.Lock())
        with lock:
            yield


class History:
    _parts: Parts

    @outbound
    def conversations(self, limit: int = 100) -> list[ConversationSummary]:
        """Conversations with messages, the most recently active first."""
        from copilot.store.messages import list_conversations

        with self._parts.door.deps.store.read() as conn:
            return list_conversations(conn, limit)

    @outbound
    def conversation(self, conversation: str, *, after: int = 0) -> ConversationView:
        """The messages of ``conversation`` after message id ``after`` (all by default),
        and every card the conversation has mentioned, as the store has it now."""
        from copilot.store.messages import list_messages

        with self._parts.door.deps.store.read() as conn:
            new = list_messages(conn, conversation, after=after)
            every = new if after == 0 else list_messages(conn, conversation)
        first: dict[str, int] = {}
        for m in every:
            for aid in m.cards:
                first.setdefault(aid, m.id)
        door = self._parts.door
        elsewhere = [aid for aid in door.changes_in(conversation) if aid not in first]
        ids = [*first, *elsewhere]
        state = self._thread_values(conversation)
        verified = {c["approval_id"]: c.get("verified") for c in state.get("cards", [])}
        cards = door.cards_of(ids, verified)
        waiting = "await_approval" in (self._thread_next(conversation) or ())
        return ConversationView(
            id=conversation,
            messages=new,
            cards={c.approval_id: c for c in cards},
            first_mention=first,
            elsewhere=elsewhere,
            pending=list(state.get("pending", [])) if waiting else [],
        )

    @errors_redacted
    def may_approve(self, principal: Principal, approval_id: str) -> bool:
        """Whether ``principal``'s roles let them approve this card's call at all (a
        surface shows Approve and Reject only then; policy decides again on the vote)."""
        return self._parts.door.may_approve(approval_id, principal)

    # -- recording (the conversation's own turns call these) ------------------------------
    def _record(
        self,
        conversation: str,
        author: str,
        role: str,
        text: str,
        *,
        cards: list[str] | None = None,
        facts: list[dict[str, Any]] | None = None,
    ) -> None:
        from copilot.store.messages import add_message

        parts = self._parts
        kept = [_bounded(f) for f in scrub(self._with_data(facts or []), parts.redactor)]
        with parts.door.deps.store.write() as conn:
            add_message(
                conn,
                conversation=conversation,
                at=parts.clock(),
                author=author,
                role=role,
                text=parts.redactor.text(text),
                cards=cards,
                facts=kept,
            )

    def _with_data(self, facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The facts with their data: the checkpoint keeps facts without it, and each
        read's (redacted) result is in the store under its approval id."""
        wanted = [str(f["call"]) for f in facts if f.get("data") is None and f.get("call")]
        if not wanted:
            return facts
        results = {c.approval_id: c.result for c in self._parts.door.cards_of(wanted)}
        return [
            {**f, "data": results.get(str(f.get("call")))} if f.get("data") is None else f
            for f in facts
        ]

    def _thread_values(self, conversation: str) -> dict[str, Any]:
        snapshot = self._parts.graph.get_state(_config(conversation))
        values: dict[str, Any] = dict(snapshot.values or {})
        return values

    def _thread_next(self, conversation: str) -> tuple[str, ...]:
        return tuple(self._parts.graph.get_state(_config(conversation)).next or ())


def _config(conversation: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": conversation}}


def _bounded(fact: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(fact.get("data"), default=str)) <= MAX_FACT_BYTES:
        return fact
    return {**fact, "data": None, "error": fact.get("error") or "too large to keep"}
