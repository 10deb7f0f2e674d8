"""When each customer next needs the planner (issue 12): the ``planner_due`` rows.

The planner writes each customer's ``next_at`` after planning it; the triggers of
migration 0009 set "recompute now" (:data:`RECOMPUTE`) whenever a row of its standing
changes, in the writer's own transaction. A tick reads only the rows due by its instant.

What all the states were computed under is kept beside them (``planner_meta``): the
digest of the policy and of the calendar package (a change marks every customer), and the
latest instant planned (a run as at an earlier instant plans everyone: see
:func:`needs_full_scan`).

Writers that change a customer's standing outside the tables the triggers watch call
:func:`recompute_now` in their own transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy import insert as sql_insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from notifier.domain.policy import Policy
from notifier.store.bulk import insert_ignoring_conflicts
from notifier.store.models import Customer, PlannerDue, PlannerMeta
from notifier.store.types import UTCDateTime

RECOMPUTE = datetime(1970, 1, 1, tzinfo=UTC)  # before every tick: the next one plans it
_D = PlannerDue.__table__  # type: ignore[attr-defined]
_M = PlannerMeta.__table__  # type: ignore[attr-defined]
_AT = UTCDateTime()
POLICY_KEY = "policy_digest"
PLANNED_KEY = "planned_until"
PRESTEP_LOCK = 0x706C616E  # "plan": the advisory lock of a tick's first step


def policy_digest(policy: Policy) -> str:
    """What the planning states depend on besides the data: the policy and the working-day
    calendar (the ``holidays`` package's version: a new year's notice changes slots)."""
    text = policy.model_dump_json() + "|holidays " + version("holidays")
    return hashlib.sha256(text.encode()).hexdigest()


def partition_of(engine_name: str, parts: int, part: int) -> Any:
    """The SQL condition "this customer is in partition ``part`` of ``parts``" (PostgreSQL:
    a hash of the id; one partition elsewhere)."""
    if parts <= 1 or engine_name != "postgresql":
        return None
    return func.abs(func.hashtext(col(PlannerDue.customer_id))) % parts == part


def due_ids(
    session: Session,
    now: datetime,
    *,
    after: str = "",
    limit: int = 1000,
    parts: int = 1,
    part: int = 0,
) -> list[str]:
    """The next ``limit`` customers (by id, after ``after``) due by ``now`` in this
    partition. On PostgreSQL the rows are locked (SKIP LOCKED: a customer being changed
    right now is left to the next tick, which its change marks anyway), so a change the
    planner did not read is never overwritten by its result."""
    query = (
        select(col(PlannerDue.customer_id))
        .where(col(PlannerDue.next_at) <= now, col(PlannerDue.customer_id) > after)
        .order_by(col(PlannerDue.customer_id))
        .limit(limit)
    )
    dialect = session.get_bind().dialect.name
    where = partition_of(dialect, parts, part)
    if where is not None:
        query = query.where(where)
    if dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def lock_ids(session: Session, ids: Sequence[str]) -> set[str]:
    """A full scan's batch: the rows it could lock like :func:`due_ids` (PostgreSQL; SKIP
    LOCKED). The scan plans every customer of the batch but writes the state of these
    only: a row locked elsewhere is another planner's or a writer's, which writes it."""
    if session.get_bind().dialect.name != "postgresql":
        return set(ids)
    if not ids:
        return set()
    return set(
        session.scalars(
            select(col(PlannerDue.customer_id))
            .where(col(PlannerDue.customer_id).in_(ids))
            .with_for_update(skip_locked=True)
        )
    )


def save(session: Session, states: Iterable[tuple[str, datetime | None, str, bool]]) -> None:
    """Write (customer, next_at, why, portfolio_bound) for customers just planned: one
    executemany upsert (a row missing, of a customer restored from a dump, is created)."""
    rows = [
        {"customer_id": c, "next_at": n, "why": w[:20], "portfolio_bound": b}
        for c, n, w, b in states
    ]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(_D)
    statement = statement.on_conflict_do_update(
        index_elements=["customer_id"],
        set_={name: statement.excluded[name] for name in ("next_at", "why", "portfolio_bound")},
    )
    session.execute(statement, rows)


def planner_writes(session: Session) -> None:
    """Mark this transaction as the planner's: its own changes to reminders (the drafts it
    inserts, the ones it cancels) do not mark their customers "recompute now", since it
    writes those customers' states itself (:func:`save`). On PostgreSQL the reminders
    triggers read this setting; without it, planners racing for the same drafts lock each
    other's ``planner_due`` rows from their triggers and deadlock. SQLite has one writer."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT set_config('notifier.planner', 'on', true)"))


def recompute_now(session: Session, customer_ids: Iterable[str], why: str) -> None:
    """Mark these customers for the next tick (for writers the triggers do not see)."""
    ids = sorted(set(customer_ids))
    if ids:
        session.execute(
            update(_D).where(_D.c.customer_id.in_(ids)).values(next_at=RECOMPUTE, why=why[:20])
        )


def recompute_all(session: Session, why: str) -> int:
    """Every customer to the next tick (a changed policy); rows missing are created."""
    marked = session.execute(update(_D).values(next_at=RECOMPUTE, why=why[:20]))
    # NOT EXISTS, not NOT IN: PostgreSQL plans an anti-join for it, where NOT IN over more
    # ids than its work memory holds compares every customer with every row (hours at
    # 300,000 customers).
    known = select(_D.c.customer_id).where(_D.c.customer_id == col(Customer.id)).exists()
    session.execute(
        sql_insert(_D).from_select(
            ["customer_id", "next_at", "why", "portfolio_bound"],
            select(col(Customer.id), bindparam("at", RECOMPUTE, type_=_AT),
                   bindparam("why", why[:20]), bindparam("b", False))
            .where(~known),
        )
    )  # fmt: skip
    return int(marked.rowcount)  # type: ignore[attr-defined]


def mark_portfolio_bound(session: Session) -> int:
    """When anything changed since the last tick, the customers whose tier leans on the
    portfolio's total are planned again too (D1's share rule; rare: the delay rule
    usually decides first)."""
    changed = session.scalar(
        select(col(PlannerDue.customer_id)).where(col(PlannerDue.next_at) == RECOMPUTE).limit(1)
    )
    if changed is None:
        return 0
    result = session.execute(
        update(_D)
        .where(_D.c.portfolio_bound, _D.c.next_at != RECOMPUTE)
        .values(next_at=RECOMPUTE, why="portfolio")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def meta(session: Session, key: str) -> str | None:
    value: str | None = session.scalar(
        select(col(PlannerMeta.value)).where(col(PlannerMeta.key) == key)
    )
    return value


def set_meta(session: Session, key: str, value: str) -> None:
    done = session.execute(
        update(PlannerMeta).where(col(PlannerMeta.key) == key).values(value=value)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        row = {"key": key, "value": value}
        insert_ignoring_conflicts(session, _M, [row], ("key",), returning=("key",))


def check_policy(session: Session, policy: Policy) -> bool:
    """True (and every customer marked) when the policy changed since the states were
    computed."""
    digest = policy_digest(policy)
    if session.get_bind().dialect.name == "postgresql":
        # Planners starting together: one marks, the others then read its digest.
        session.execute(select(func.pg_advisory_xact_lock(PRESTEP_LOCK)))
    if meta(session, POLICY_KEY) == digest:
        return False
    recompute_all(session, "policy")
    set_meta(session, POLICY_KEY, digest)
    return True


def needs_full_scan(session: Session, now: datetime) -> bool:
    """A run as at an instant before the latest one planned cannot trust the states (they
    look forward from later): it plans every customer."""
    latest = meta(session, PLANNED_KEY)
    return latest is not None and now < datetime.fromisoformat(latest)


def planned(session: Session, now: datetime) -> None:
    latest = meta(session, PLANNED_KEY)
    if latest is None or now > datetime.fromisoformat(latest):
        set_meta(session, PLANNED_KEY, now.astimezone(UTC).isoformat())
