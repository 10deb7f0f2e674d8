"""events refuse DELETE (and TRUNCATE on PostgreSQL) as they refuse UPDATE (D18)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

The evidence log is append-only both ways: 0001 refused rewriting a row, this refuses
removing one. The retention purge (C5) is not built yet; when it is, it needs its own
reviewed path (a migration of its own), not a plain DELETE that any code could run.
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

MESSAGE = "events are append-only evidence (D18): rows are never deleted"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite has no TRUNCATE; DROP TABLE fires no trigger (migrations may rebuild it).
        op.execute(
            "CREATE TRIGGER events_refuse_delete BEFORE DELETE ON events "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )
        return
    op.execute(
        "CREATE FUNCTION events_refuse_delete() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{MESSAGE} (% refused)', TG_OP; END $$"
    )
    op.execute(
        "CREATE TRIGGER events_refuse_delete BEFORE DELETE ON events "
        "FOR EACH ROW EXECUTE FUNCTION events_refuse_delete()"
    )
    # TRUNCATE skips row triggers: a statement trigger of its own.
    op.execute(
        "CREATE TRIGGER events_refuse_truncate BEFORE TRUNCATE ON events "
        "FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_delete()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS events_refuse_delete")
        return
    op.execute("DROP TRIGGER IF EXISTS events_refuse_truncate ON events")
    op.execute("DROP TRIGGER IF EXISTS events_refuse_delete ON events")
    op.execute("DROP FUNCTION IF EXISTS events_refuse_delete()")
