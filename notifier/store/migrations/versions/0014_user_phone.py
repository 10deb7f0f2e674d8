"""a collector's own phone, which click-to-call rings first (issue 14)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02

``users.phone`` (E.164, nullable): set with ``notifier user phone NAME +86...``.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("phone", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("phone")
