"""The tables. Alembic migrations create them; this module is their single description."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        aware: datetime = value.replace(tzinfo=UTC)
        return aware


metadata = MetaData()

proposals = Table(
    "proposals",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("tool", String(200), nullable=False),
    Column("arguments", JSON, nullable=False),
    Column("args_hash", String(64), nullable=False),
    Column("plan", Text),
    Column("plan_hash", String(64)),
    Column("risk", String(16), nullable=False),
    Column("requester", String(200), nullable=False),
    Column("environment", String(64), nullable=False),
    Column("conversation", String(200)),
    Column("provenance", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("proposal_id", String(40), ForeignKey("proposals.id"), nullable=False, unique=True),
    Column("state", String(16), nullable=False, index=True),
    Column("args_hash", String(64), nullable=False),
    Column("plan_hash", String(64)),
    Column("requester", String(200), nullable=False),
    Column("required", Text, nullable=False),
    Column("auto", Boolean, nullable=False, default=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

approval_votes = Table(
    "approval_votes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("approval_id", String(40), ForeignKey("approvals.id"), nullable=False),
    Column("approver", String(200), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("roles", JSON, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    # The audit event that records this vote (its sequence number and chain hash): the
    # executor counts a vote only while that event is in the chain and says the same. A row
    # without them (inserted by hand, or older than this column) backs nothing.
    Column("event_seq", Integer),
    Column("event_hash", String(64)),
    # One vote per person per approval: a double click cannot count twice.
    UniqueConstraint("approval_id", "approver", name="uq_vote_once"),
)

executions = Table(
    "executions",
    metadata,
    # The approval id is the idempotency key: the primary key makes a second run impossible.
    Column("approval_id", String(40), ForeignKey("approvals.id"), primary_key=True),
    Column("status", String(16), nullable=False, index=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("deadline", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("result", JSON),
    Column("error", Text),
    Column("owner", String(200), nullable=False),
)

resource_locks = Table(
    "resource_locks",
    metadata,
    Column("resource", String(300), primary_key=True),
    Column("approval_id", String(40), nullable=False),
    Column("holder", String(200), nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

tool_state = Table(
    "tool_state",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("doc", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

audit_events = Table(
    "audit_events",
    metadata,
    # seq is assigned by the appender under the head lock, never by the database.
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("body", Text, nullable=False),
    Column("leaf_hash", String(64), nullable=False),
    Column("chain_hash", String(64), nullable=False),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("chain_hash", String(64), nullable=False),
)

messages = Table(
    "messages",
    metadata,
    # The id orders a conversation and lets a live page ask for what came after it.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation", String(200), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("author", String(200), nullable=False),
    Column("role", String(16), nullable=False),  # user | copilot | event
    Column("text", Text, nullable=False),  # redacted before it is stored
    Column("cards", JSON, nullable=False),  # approval ids this message is about
    Column("facts", JSON, nullable=False),  # the reads of the turn it answers (redacted)
)

web_sessions = Table(
    "web_sessions",
    metadata,
    # sha256 of the session's token: the cookie holds the token, the store only its digest,
    # so a copy of the database signs nobody in.
    Column("id", String(64), primary_key=True),
    Column("user_id", String(200), nullable=False, index=True),
    Column("via", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime),  # signed out (or ended by an admin)
)

deliveries = Table(
    "deliveries",
    metadata,
    # An event a sender may deliver more than once (Slack retries with the same event_id;
    # webhooks resend): the first delivery inserts, every later one finds it here, in this
    # replica or another, before or after a restart.
    Column("source", String(32), primary_key=True),
    Column("event_id", String(200), primary_key=True),
    Column("received_at", UTCDateTime, nullable=False),
)

incidents = Table(
    "incidents",
    metadata,
    Column("num", Integer, primary_key=True, autoincrement=True),  # INC-{num}
    Column("title", String(300), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("severity", String(32), nullable=False),
    Column("commander", String(200)),
    Column("conversation", String(200), nullable=False, unique=True),
    Column("source", String(200), nullable=False),
    Column("group_key", String(500)),
    # The group key while the incident is not resolved: one open incident per alert group,
    # even when two deliveries race (NULLs never collide, so resolved ones free the key).
    Column("open_group", String(64), unique=True),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("first_alert_at", UTCDateTime),
    Column("acknowledged_at", UTCDateTime),
    Column("mitigated_at", UTCDateTime),
    Column("resolved_at", UTCDateTime),
    Column("first_human_at", UTCDateTime),
    Column("slack_channel", String(64)),
    Column("slack_ts", String(64)),
    # The audit log's head when it opened: its timeline reads the log from there on.
    Column("audit_from", Integer, nullable=False, default=0),
)

alert_events = Table(
    "alert_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident", Integer, ForeignKey("incidents.num"), nullable=False, index=True),
    Column("source", String(32), nullable=False),
    # sha256 of (fingerprint, status, startsAt): a resent delivery finds its alerts here
    Column("key", String(64), nullable=False),
    Column("fingerprint", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("name", String(300), nullable=False),
    Column("labels", JSON, nullable=False),  # redacted
    Column("annotations", JSON, nullable=False),  # redacted; untrusted text
    Column("starts_at", UTCDateTime),
    Column("ends_at", UTCDateTime),
    Column("received_at", UTCDateTime, nullable=False),
    UniqueConstraint("incident", "key", name="uq_alert_once"),
)

timeline_ids = Table(
    "timeline_ids",
    metadata,
    # E{n} of an incident's timeline, given once to the record ``ref`` (audit:12,
    # message:4, alert:9) and never changed: citations keep pointing at the same event.
    Column("incident", Integer, ForeignKey("incidents.num"), primary_key=True),
    Column("n", Integer, primary_key=True, autoincrement=False),
    Column("ref", String(64), nullable=False),
    UniqueConstraint("incident", "ref", name="uq_timeline_ref"),
)

postmortems = Table(
    "postmortems",
    metadata,
    Column("incident", Integer, ForeignKey("incidents.num"), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("author", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("draft", JSON, nullable=False),
    Column("markdown", Text, nullable=False),
)
