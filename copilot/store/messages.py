"""Messages of conversations: appended once, read in order (the web's history, and later
an incident's timeline). Texts arrive redacted; this module stores what it is given."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from copilot.domain.conversations import ConversationSummary, Message
from copilot.store.schema import messages

TITLE_CHARS = 80


def add_message(
    conn: Connection,
    *,
    conversation: str,
    at: datetime,
    author: str,
    role: str,
    text: str,
    cards: list[str] | None = None,
    facts: list[dict[str, Any]] | None = None,
) -> int:
    res = conn.execute(
        insert(messages).values(
            conversation=conversation,
            at=at,
            author=author,
            role=role,
            text=text,
            cards=list(cards or []),
            facts=list(facts or []),
        )
    )
    key = res.inserted_primary_key
    assert key is not None
    return int(key[0])


def list_messages(
    conn: Connection, conversation: str, *, after: int = 0, limit: int = 500
) -> list[Message]:
    """The conversation's messages with an id above ``after``, oldest first."""
    rows = conn.execute(
        select(messages)
        .where(messages.c.conversation == conversation, messages.c.id > after)
        .order_by(messages.c.id)
        .limit(limit)
    ).all()
    return [
        Message(
            id=r.id,
            conversation=r.conversation,
            at=r.at,
            author=r.author,
            role=r.role,
            text=r.text,
            cards=list(r.cards or []),
            facts=list(r.facts or []),
        )
        for r in rows
    ]


def last_message_id(conn: Connection, conversation: str) -> int:
    found = conn.execute(
        select(func.max(messages.c.id)).where(messages.c.conversation == conversation)
    ).scalar()
    return int(found or 0)


def list_conversations(conn: Connection, limit: int = 100) -> list[ConversationSummary]:
    """Conversations, the most recently active first."""
    stats = (
        select(
            messages.c.conversation,
            func.min(messages.c.id).label("first_id"),
            func.min(messages.c.at).label("started_at"),
            func.max(messages.c.at).label("last_at"),
            func.max(messages.c.id).label("last_id"),
            func.count().label("n"),
        )
        .group_by(messages.c.conversation)
        .order_by(func.max(messages.c.id).desc())
        .limit(limit)
        .subquery()
    )
    rows = conn.execute(
        select(stats, messages.c.text).join(messages, messages.c.id == stats.c.first_id)
    ).all()
    rows = sorted(rows, key=lambda r: r.last_id, reverse=True)
    out = []
    for r in rows:
        title = " ".join(r.text.split())
        if len(title) > TITLE_CHARS:
            title = title[: TITLE_CHARS - 1] + "…"
        out.append(
            ConversationSummary(
                id=r.conversation,
                title=title,
                started_at=_aware(r.started_at),
                last_at=_aware(r.last_at),
                messages=r.n,
            )
        )
    return out


def _aware(value: Any) -> datetime:
    """Aggregates bypass the column type on SQLite: give them their UTC zone back."""
    from datetime import UTC

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    result: datetime = value if value.tzinfo else value.replace(tzinfo=UTC)
    return result
