"""planner_due: when each customer next needs the planner, kept by triggers (issue 12)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

One row per customer. ``next_at`` is the earliest instant at which planning the customer
could do anything (its next cadence step's slot entering the horizon, a promise date, an
instalment falling due, ...); NULL means nothing until its data changes. "Recompute now"
is the instant 1970-01-01 00:00: every tick is later, so the next tick plans it.

The triggers set "recompute now" whenever a row that makes up a customer's standing
changes (customers, receivables, payments, disputes, promises, plans, instalments, and a
reminder's status, step, cycle, channel or slot), in the writer's own transaction, so no
writer can forget. On PostgreSQL they are statement-level with transition tables, so an
import of a million rows marks its customers in one set-based statement. The upsert
locks the customer's row even when it is already marked: a planner that holds the row
(SELECT ... FOR UPDATE SKIP LOCKED) finishes before a concurrent change marks it again,
so a change that the planner did not read is never overwritten by its result.

``planner_meta`` keeps what the states were computed under (the policy's digest): a
changed policy marks every customer.
"""

import sqlalchemy as sa
from alembic import op

import notifier.store.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

NOW_SQLITE = "'1970-01-01 00:00:00.000000'"
NOW_PG = "TIMESTAMP '1970-01-01 00:00:00'"

# table -> how a changed row r names its customer (SQLite row triggers: r is NEW or OLD).
SOURCES = {
    "customers": ("SELECT {r}.id AS customer_id", "SELECT r.id AS customer_id FROM {rows} r"),
    "receivables": (
        "SELECT {r}.customer_id AS customer_id",
        "SELECT r.customer_id AS customer_id FROM {rows} r",
    ),
    "payments": (
        "SELECT customer_id FROM receivables WHERE id = {r}.invoice_id",
        "SELECT v.customer_id AS customer_id FROM {rows} r "
        "JOIN receivables v ON v.id = r.invoice_id",
    ),
    "disputes": (
        "SELECT customer_id FROM receivables WHERE id = {r}.invoice_id",
        "SELECT v.customer_id AS customer_id FROM {rows} r "
        "JOIN receivables v ON v.id = r.invoice_id",
    ),
    "payment_promises": (
        "SELECT {r}.customer_id AS customer_id",
        "SELECT r.customer_id AS customer_id FROM {rows} r",
    ),
    "instalment_plans": (
        "SELECT {r}.customer_id AS customer_id",
        "SELECT r.customer_id AS customer_id FROM {rows} r",
    ),
    "instalments": (
        "SELECT customer_id FROM instalment_plans WHERE id = {r}.plan_id",
        "SELECT p.customer_id AS customer_id FROM {rows} r "
        "JOIN instalment_plans p ON p.id = r.plan_id",
    ),
    "reminders": (
        "SELECT {r}.customer_id AS customer_id",
        "SELECT r.customer_id AS customer_id FROM {rows} r",
    ),
}
# What of a reminder the planner reads (its text and delivery bookkeeping it does not).
REMINDER_COLUMNS = ("status", "step", "cycle", "channel", "slot_start", "fallback_of")


def upgrade() -> None:
    op.create_table(
        "planner_due",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("next_at", notifier.store.types.UTCDateTime(), nullable=True),
        sa.Column("why", sa.String(length=20), nullable=False),
        # Its tier leans on the whole portfolio's total (D1's share rule): any change
        # anywhere may change it, so any change marks it too.
        sa.Column("portfolio_bound", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_index("ix_planner_due_next_at", "planner_due", ["next_at"])
    op.create_table(
        "planner_meta",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    now = NOW_SQLITE if sqlite else NOW_PG
    op.execute(
        f"INSERT INTO planner_due (customer_id, next_at, why) "
        f"SELECT id, {now}, 'migration' FROM customers"
    )
    if sqlite:
        _sqlite_triggers()
    else:
        _postgres_triggers()


def _upsert(customers: str, now: str, why: str) -> str:
    """Mark ``customers`` (a SELECT of ids) "recompute now". The DO UPDATE's WHERE spares
    rewriting a row already marked; PostgreSQL locks the row all the same."""
    return (
        f"INSERT INTO planner_due (customer_id, next_at, why) "
        f"SELECT DISTINCT m.customer_id, {now}, '{why}' FROM ({customers}) m WHERE true "
        f"ON CONFLICT (customer_id) DO UPDATE SET next_at = excluded.next_at, "
        f"why = excluded.why WHERE planner_due.next_at IS NULL "
        f"OR planner_due.next_at <> excluded.next_at"
    )


def _sqlite_triggers() -> None:
    for table, (key, _) in SOURCES.items():
        columns = f" OF {', '.join(REMINDER_COLUMNS)}" if table == "reminders" else ""
        for short, event, rows in (
            ("ins", "INSERT", ("NEW",)),
            ("upd", f"UPDATE{columns}", ("NEW", "OLD")),
            ("del", "DELETE", ("OLD",)),
        ):
            if table == "customers" and short == "del":
                continue  # a customer removed has nothing left to plan
            union = " UNION ".join(key.format(r=r) for r in rows)
            op.execute(
                f"CREATE TRIGGER planner_due_{table}_{short} AFTER {event} ON {table} "
                f"FOR EACH ROW BEGIN {_upsert(union, NOW_SQLITE, table[:20])}; END"
            )


def _postgres_triggers() -> None:
    for table, (_, key) in SOURCES.items():
        for short, event, rows in (
            ("ins", "INSERT", ("new_rows",)),
            ("upd", "UPDATE", ("new_rows", "old_rows")),
            ("del", "DELETE", ("old_rows",)),
        ):
            if table == "customers" and short == "del":
                continue  # a customer removed has nothing left to plan
            selects = []
            for rel in rows:
                select = key.format(rows=rel)
                if table == "reminders" and short == "upd":
                    # A column list cannot go with transition tables: compare the rows.
                    other = "old_rows" if rel == "new_rows" else "new_rows"
                    changed = " OR ".join(f"r.{c} IS DISTINCT FROM o.{c}" for c in REMINDER_COLUMNS)
                    select += f" JOIN {other} o ON o.id = r.id WHERE {changed}"
                selects.append(select)
            function = f"planner_due_{table}_{short}"
            sql = _upsert(" UNION ".join(selects), NOW_PG, table[:20])
            if table == "reminders":
                # The planner's own drafts and cancellations: it writes those customers'
                # states itself (store/planning.py: planner_writes).
                sql = f"IF current_setting('notifier.planner', true) IS DISTINCT FROM 'on' THEN {sql}; END IF"
            op.execute(
                f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN {sql}; RETURN NULL; END $$"
            )
            referencing = " ".join(
                f"{'NEW' if rel == 'new_rows' else 'OLD'} TABLE AS {rel}" for rel in rows
            )
            op.execute(
                f"CREATE TRIGGER {function} AFTER {event} ON {table} "
                f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in SOURCES:
        for short in ("ins", "upd", "del"):
            name = f"planner_due_{table}_{short}"
            if sqlite:
                op.execute(f"DROP TRIGGER IF EXISTS {name}")
            else:
                op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
                op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_table("planner_meta")
    op.drop_index("ix_planner_due_next_at", table_name="planner_due")
    op.drop_table("planner_due")
