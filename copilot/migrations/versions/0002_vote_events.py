"""each vote row names the audit event that records it

Revision ID: 0002
Revises: 0001

Rows written before this revision get no event: they back nothing, and a call approved
only by them must be approved again (the executor counts only votes the chain records).
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("approval_votes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("event_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("approval_votes", schema=None) as batch_op:
        batch_op.drop_column("event_hash")
        batch_op.drop_column("event_seq")
