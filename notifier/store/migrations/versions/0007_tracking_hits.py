"""tracking_hits: how often each tracking link was hit (repeats counted, not logged)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import notifier.store.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_UTC = notifier.store.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "tracking_hits",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reminder_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("first_at", _UTC(), nullable=False),
        sa.Column("last_at", _UTC(), nullable=False),
        sa.ForeignKeyConstraint(["reminder_id"], ["reminders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_tracking_hits_reminder_id", "tracking_hits", ["reminder_id"])


def downgrade() -> None:
    op.drop_index("ix_tracking_hits_reminder_id", table_name="tracking_hits")
    op.drop_table("tracking_hits")
