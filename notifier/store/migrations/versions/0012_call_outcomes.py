"""call tasks' outcomes (issue 14)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

A call task is a reminder on channel ``call`` (status ``to_call``, then ``called``); each
outcome a collector records of it (reached, no answer, promised, ...) is a row here, with
what the customer said (the promised date and amount, the disputed invoice), who
recorded it and when. The rows count the calls made under the caps (C2) and the vague
answers that escalate (D21); the evidence of each is also an event (D18).
"""

import sqlalchemy as sa
from alembic import op

import notifier.store.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_outcomes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reminder_id", sa.Integer(), sa.ForeignKey("reminders.id"), nullable=False),
        sa.Column(
            "customer_id", sa.String(length=64), sa.ForeignKey("customers.id"), nullable=False
        ),  # fmt: skip
        sa.Column("cycle", sa.String(length=80), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("at", notifier.store.types.UTCDateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("promised_on", sa.Date(), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("invoice_id", sa.String(length=64), nullable=True),
    )
    op.create_index("ix_call_outcomes_customer_at", "call_outcomes", ["customer_id", "at"])
    op.create_index("ix_call_outcomes_reminder_id", "call_outcomes", ["reminder_id"])


def downgrade() -> None:
    op.drop_index("ix_call_outcomes_reminder_id", table_name="call_outcomes")
    op.drop_index("ix_call_outcomes_customer_at", table_name="call_outcomes")
    op.drop_table("call_outcomes")
