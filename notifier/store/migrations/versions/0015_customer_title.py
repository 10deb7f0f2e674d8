"""a person's title, so messages greet 李强先生 / Mr Li (issue 13)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02

``customers.title`` (nullable): ``mr`` or ``ms`` for an individual whose title is known,
else NULL (the messages then greet with a plain 您好 / Hello). Imported from the optional
customers column ``title`` (称谓); blanked by the retention purge.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("title", sa.String(length=2), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("title")
