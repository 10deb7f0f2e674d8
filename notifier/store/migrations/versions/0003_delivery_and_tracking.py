"""delivery leases, provider ids, read tracking, opt-outs per address

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import notifier.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_UTC = notifier.store.types.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("reminders", schema=None) as batch:
        batch.add_column(sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
        batch.add_column(sa.Column("claimed_until", _UTC(), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("next_attempt_at", _UTC(), nullable=True))
        batch.add_column(sa.Column("provider_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch.add_column(sa.Column("sent_at", _UTC(), nullable=True))
        batch.add_column(sa.Column("delivered_at", _UTC(), nullable=True))
        batch.add_column(sa.Column("read_at", _UTC(), nullable=True))
        batch.add_column(sa.Column("clicked_at", _UTC(), nullable=True))
        batch.add_column(sa.Column("replied_at", _UTC(), nullable=True))
        batch.create_index("ix_reminders_provider_id", ["provider_id"], unique=False)
    op.create_table(
        "opt_outs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("at", _UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "address", name="uq_opt_outs_channel_address"),
    )


def downgrade() -> None:
    op.drop_table("opt_outs")
    with op.batch_alter_table("reminders", schema=None) as batch:
        batch.drop_index("ix_reminders_provider_id")
        for name in ("replied_at", "clicked_at", "read_at", "delivered_at", "sent_at",
                     "provider_id", "next_attempt_at", "attempts", "claimed_until", "claimed_by"):
            batch.drop_column(name)
