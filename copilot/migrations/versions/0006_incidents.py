"""incidents, the alerts that opened them, stable timeline ids, postmortem versions

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("num", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=32), nullable=False),
        sa.Column("commander", sa.String(length=200)),
        sa.Column("conversation", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("group_key", sa.String(length=500)),
        sa.Column("open_group", sa.String(length=64)),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("first_alert_at", sa.DateTime()),
        sa.Column("acknowledged_at", sa.DateTime()),
        sa.Column("mitigated_at", sa.DateTime()),
        sa.Column("resolved_at", sa.DateTime()),
        sa.Column("first_human_at", sa.DateTime()),
        sa.Column("slack_channel", sa.String(length=64)),
        sa.Column("slack_ts", sa.String(length=64)),
        sa.Column("audit_from", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("num"),
        sa.UniqueConstraint("conversation"),
        sa.UniqueConstraint("open_group"),
    )
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident", sa.Integer(), sa.ForeignKey("incidents.num"), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("annotations", sa.JSON(), nullable=False),
        sa.Column("starts_at", sa.DateTime()),
        sa.Column("ends_at", sa.DateTime()),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident", "key", name="uq_alert_once"),
    )
    op.create_index("ix_alert_events_incident", "alert_events", ["incident"])
    op.create_table(
        "timeline_ids",
        sa.Column("incident", sa.Integer(), sa.ForeignKey("incidents.num"), nullable=False),
        sa.Column("n", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("incident", "n"),
        sa.UniqueConstraint("incident", "ref", name="uq_timeline_ref"),
    )
    op.create_table(
        "postmortems",
        sa.Column("incident", sa.Integer(), sa.ForeignKey("incidents.num"), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("draft", sa.JSON(), nullable=False),
        sa.Column("markdown", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("incident", "version"),
    )


def downgrade() -> None:
    op.drop_table("postmortems")
    op.drop_table("timeline_ids")
    op.drop_index("ix_alert_events_incident", "alert_events")
    op.drop_table("alert_events")
    op.drop_index("ix_incidents_status", "incidents")
    op.drop_table("incidents")
