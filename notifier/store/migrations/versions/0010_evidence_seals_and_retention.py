"""evidence seals (a hash chain per customer) and the retention purge's one path (D18, C5)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

``event_seals`` holds each event's place in its customer's hash chain (see
notifier/evidence/chain.py); the database refuses UPDATE, DELETE (and TRUNCATE) of it as
it does for ``events``.

The events' UPDATE trigger of 0001 refused every UPDATE. It now lets exactly one change
through, the retention purge's (C5): the ``data`` of an event whose customer holds a row
in ``retention_grants`` may become a tombstone (a payload with a "tombstone" key); its
id, time, kind, customer and actor never change. The purge inserts the grant and deletes
it in its own transaction. DELETE stays refused (0008): the purge removes no event.
"""

import sqlalchemy as sa
from alembic import op

import notifier.store.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

REFUSED = ("events are append-only evidence (D18): only the retention purge may "
           "replace a payload by a tombstone")  # fmt: skip
SEALS_REFUSED = "event seals are append-only evidence (D18)"
OLD_REFUSED = "events are append-only"

_SQLITE_ALLOWED = (
    "EXISTS (SELECT 1 FROM retention_grants g WHERE g.customer_id = OLD.customer_id) "
    "AND NEW.id = OLD.id AND NEW.at IS OLD.at AND NEW.kind = OLD.kind "
    "AND NEW.customer_id IS OLD.customer_id AND NEW.actor IS OLD.actor "
    "AND json_extract(NEW.data, '$.tombstone') IS NOT NULL"
)
_PG_ALLOWED = (
    "NEW.id = OLD.id AND NEW.at IS NOT DISTINCT FROM OLD.at AND NEW.kind = OLD.kind "
    "AND NEW.customer_id IS NOT DISTINCT FROM OLD.customer_id "
    "AND NEW.actor IS NOT DISTINCT FROM OLD.actor "
    "AND (NEW.data ->> 'tombstone') IS NOT NULL "
    "AND EXISTS (SELECT 1 FROM retention_grants g WHERE g.customer_id = OLD.customer_id)"
)


def upgrade() -> None:
    op.create_table(
        "event_seals",
        # No foreign key: a seal must outlive a removed event to say it was removed (and
        # TRUNCATE events keeps meeting its own trigger, not a foreign-key error).
        sa.Column("event_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("chain", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_at", notifier.store.types.UTCDateTime(), nullable=False),
        sa.UniqueConstraint("chain", "seq", name="uq_event_seals_chain_seq"),
    )  # fmt: skip
    op.create_table(
        "retention_grants",
        sa.Column("customer_id", sa.String(length=64), primary_key=True),
        sa.Column("granted_at", notifier.store.types.UTCDateTime(), nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS events_append_only")
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE ON events "
            f"WHEN NOT ({_SQLITE_ALLOWED}) BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END"
        )
        for what in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER event_seals_refuse_{what.lower()} BEFORE {what} ON event_seals "
                f"BEGIN SELECT RAISE(ABORT, '{SEALS_REFUSED}'); END"
            )
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN IF {_PG_ALLOWED} THEN RETURN NEW; END IF; RAISE EXCEPTION '{REFUSED}'; END $$"
    )
    op.execute(
        "CREATE FUNCTION event_seals_refuse() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{SEALS_REFUSED} (% refused)', TG_OP; END $$"
    )
    op.execute(
        "CREATE TRIGGER event_seals_refuse BEFORE UPDATE OR DELETE ON event_seals "
        "FOR EACH ROW EXECUTE FUNCTION event_seals_refuse()"
    )
    op.execute(
        "CREATE TRIGGER event_seals_refuse_truncate BEFORE TRUNCATE ON event_seals "
        "FOR EACH STATEMENT EXECUTE FUNCTION event_seals_refuse()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS event_seals_refuse_update")
        op.execute("DROP TRIGGER IF EXISTS event_seals_refuse_delete")
        op.execute("DROP TRIGGER IF EXISTS events_append_only")
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE ON events "
            f"BEGIN SELECT RAISE(ABORT, '{OLD_REFUSED}'); END"
        )
    else:
        op.execute("DROP TRIGGER IF EXISTS event_seals_refuse_truncate ON event_seals")
        op.execute("DROP TRIGGER IF EXISTS event_seals_refuse ON event_seals")
        op.execute("DROP FUNCTION IF EXISTS event_seals_refuse()")
        op.execute(
            "CREATE OR REPLACE FUNCTION events_append_only() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{OLD_REFUSED}'; END $$"
        )
    op.drop_table("retention_grants")
    op.drop_table("event_seals")
