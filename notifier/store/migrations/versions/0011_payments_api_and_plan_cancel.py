"""payments from an ERP or a provider (idempotency keys) and cancelled instalment plans

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

``idempotency_keys`` keeps each ``Idempotency-Key`` of ``POST /api/payments`` with the
SHA-256 of the request it came with and the answer given: a repeat with the same key and
the same body gets that answer again and changes nothing; the same key with another body
is refused (409).

``instalment_plans`` gains ``cancelled_at`` and ``cancelled_by``: a cancelled plan keeps its
rows as evidence (D18) and lets its invoices fall due again.
"""

import sqlalchemy as sa
from alembic import op

import notifier.store.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(length=200), primary_key=True),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("user_name", sa.String(length=64), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", notifier.store.types.UTCDateTime(), nullable=False),
    )
    # Plain ADD COLUMN (no table copy): the table keeps its planner triggers (0009).
    op.add_column(
        "instalment_plans",
        sa.Column("cancelled_at", notifier.store.types.UTCDateTime(), nullable=True),
    )
    op.add_column(
        "instalment_plans", sa.Column("cancelled_by", sa.String(length=64), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("instalment_plans", schema=None) as batch_op:
        batch_op.drop_column("cancelled_by")
        batch_op.drop_column("cancelled_at")
    op.drop_table("idempotency_keys")
