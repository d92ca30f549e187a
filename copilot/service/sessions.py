"""Sign-in sessions of the web surface, and deliveries of events that senders retry, kept
in the store. Sessions: a session ends for every copy
of its cookie when its person signs out (or ``end_sessions`` ends them all), and each
start and end is on the audit record. The store keeps the sha256 of a session's token,
never the token.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select, update

from copilot.service.outbound import errors_redacted
from copilot.service.wiring import Parts


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    _parts: Parts

    @errors_redacted
    def open_session(self, user_id: str, via: str, ttl_s: int) -> str:
        """Start a session for ``user_id`` (authenticated ``via`` password, oidc, ...);
        the token for the cookie."""
        from copilot.store.schema import web_sessions

        token = secrets.token_urlsafe(32)
        deps = self._parts.door.deps
        now = deps.clock()
        with deps.store.write() as conn:
            conn.execute(
                insert(web_sessions).values(
                    id=_digest(token),
                    user_id=user_id,
                    via=via,
                    created_at=now,
                    expires_at=now + timedelta(seconds=ttl_s),
                )
            )
            deps.audit.append(
                conn, "session.opened", actor=user_id, data={"via": via, "ttl_s": ttl_s}, ts=now
            )
        return token

    @errors_redacted
    def session_user(self, token: str) -> str | None:
        """The user of a live session (not ended, not expired), or None."""
        from copilot.store.schema import web_sessions

        if not token or len(token) > 100:
            return None
        deps = self._parts.door.deps
        with deps.store.read() as conn:
            row = conn.execute(
                select(web_sessions.c.user_id, web_sessions.c.expires_at).where(
                    web_sessions.c.id == _digest(token), web_sessions.c.ended_at.is_(None)
                )
            ).first()
        if row is None or deps.clock() >= row.expires_at:
            return None
        return str(row.user_id)

    @errors_redacted
    def close_session(self, token: str) -> None:
        """End one session (signing out): every copy of its cookie stops working."""
        from copilot.store.schema import web_sessions

        deps = self._parts.door.deps
        now = deps.clock()
        with deps.store.write() as conn:
            user = conn.execute(
                update(web_sessions)
                .where(web_sessions.c.id == _digest(token), web_sessions.c.ended_at.is_(None))
                .values(ended_at=now)
                .returning(web_sessions.c.user_id)
            ).scalar()
            if user is not None:
                deps.audit.append(conn, "session.closed", actor=user, ts=now)

    @errors_redacted
    def end_sessions(self, user_id: str) -> int:
        """End every live session of ``user_id`` (a lost laptop, a person who left)."""
        from copilot.store.schema import web_sessions

        deps = self._parts.door.deps
        now = deps.clock()
        with deps.store.write() as conn:
            ended = conn.execute(
                update(web_sessions)
                .where(web_sessions.c.user_id == user_id, web_sessions.c.ended_at.is_(None))
                .values(ended_at=now)
            ).rowcount
            if ended:
                deps.audit.append(
                    conn,
                    "session.ended_all",
                    actor="operator",
                    subject=user_id,
                    data={"sessions": ended},
                    ts=now,
                )
        return int(ended or 0)


class Deliveries:
    _parts: Parts

    @errors_redacted
    def first_delivery(self, source: str, event_id: str) -> bool:
        """Whether this is the first time ``source`` delivered ``event_id`` (recorded now);
        a retry, here or at another replica, gets False and is not answered again."""
        from sqlalchemy.exc import IntegrityError

        from copilot.errors import InvalidInput
        from copilot.store.schema import deliveries

        if not source or not event_id or len(source) > 32 or len(event_id) > 200:
            raise InvalidInput("an event needs a source and an id", "check the payload")
        deps = self._parts.door.deps
        try:
            with deps.store.write() as conn:
                conn.execute(
                    insert(deliveries).values(
                        source=source, event_id=event_id, received_at=deps.clock()
                    )
                )
        except IntegrityError:
            return False
        return True

    @errors_redacted
    def refused(self, surface: str, who: str, reason: str, subject: str | None = None) -> None:
        """Put on the record that ``surface`` refused a request from ``who`` before it
        reached the door (an unmapped Slack user, a button from another thread): nothing
        ran, and the audit log says who tried what. ``who`` is the surface's own id for
        them; the reason is redacted."""
        deps = self._parts.door.deps
        with deps.store.write() as conn:
            deps.audit.append(
                conn,
                f"{surface[:24]}.refused",
                actor=f"{surface[:24]}:{who[:64]}",
                subject=subject[:200] if subject else None,
                data={"reason": self._parts.redactor.text(reason[:500])},
                ts=deps.clock(),
            )

    def redacted(self, value: Any) -> Any:
        """``value`` (text, or JSON-like data: a Slack message's blocks) with every string
        passed through the redactor: the last pass before a surface sends anything out."""
        from copilot.service.outbound import scrub

        return scrub(value, self._parts.redactor)
