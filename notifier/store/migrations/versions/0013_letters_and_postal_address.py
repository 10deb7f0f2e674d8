"""formal letters and the postal address (issue 15)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02

- ``customers.address``: the postal address (地址) a formal letter goes to; optional.
- ``letter_posts``: a letter (a reminder on channel ``letter``) as posted: carrier,
  tracking number, who and when; later the day of the signed receipt. Evidence (D18):
  rows are added and completed once (the receipt), never deleted.
"""

import sqlalchemy as sa
from alembic import op

import notifier.store.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

REFUSED = "posted letters are evidence (D18): they are never deleted"


def upgrade() -> None:
    op.add_column("customers", sa.Column("address", sa.String(length=500), nullable=True))
    op.create_table(
        "letter_posts",
        sa.Column("reminder_id", sa.Integer(), sa.ForeignKey("reminders.id"), primary_key=True,
                  autoincrement=False),
        sa.Column("carrier", sa.String(length=40), nullable=False),
        sa.Column("tracking_no", sa.String(length=64), nullable=False),
        sa.Column("posted_by", sa.String(length=64), nullable=False),
        sa.Column("posted_at", notifier.store.types.UTCDateTime(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=True),
        sa.Column("received_recorded_by", sa.String(length=64), nullable=True),
        sa.Column("received_recorded_at", notifier.store.types.UTCDateTime(), nullable=True),
    )  # fmt: skip
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER letter_posts_refuse_delete BEFORE DELETE ON letter_posts "
            f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END"
        )
    else:
        op.execute(
            "CREATE FUNCTION letter_posts_refuse() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{REFUSED}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER letter_posts_refuse BEFORE DELETE ON letter_posts "
            "FOR EACH ROW EXECUTE FUNCTION letter_posts_refuse()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS letter_posts_refuse_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS letter_posts_refuse ON letter_posts")
        op.execute("DROP FUNCTION IF EXISTS letter_posts_refuse()")
    op.drop_table("letter_posts")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("address")
