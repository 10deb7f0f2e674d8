"""Reads of a set of customers' reminders go through the customers' own rows, however much
history the portfolio holds. Without statistics (no ANALYZE: an embedded database never
has them), SQLite answers ``customer_id IN (...) AND status IN (...)`` from the status
index: every reminder with those statuses, the whole sent history for the send-time
re-check (94 ms a group against 0.1 with 64,000 sent). So the planner's call carry, the
re-check and a payment's settling test the status themselves; here SQLite's own plan of
every such statement they run is read back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, update
from sqlmodel import col

from bench.generate import Spec, generate_db
from notifier.domain.policy import Policy
from notifier.services.payments import settle
from notifier.store.db import make_engine, unit_of_work
from notifier.store.models import Reminder
from notifier.sweeps.plan import plan
from notifier.sweeps.recheck import recheck_all
from tests.support import sweep_context

AT = datetime.fromisoformat("2026-03-02T08:00:00+08:00")


@pytest.fixture
def portfolio(tmp_path: Path, policy: Policy) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    generate_db(engine, Spec(customers=300, at=AT), policy)
    yield engine
    engine.dispose()


def _customer_reads(engine: Engine) -> tuple[list[tuple[str, Any]], Any]:
    seen: list[tuple[str, Any]] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        text = " ".join(statement.split())
        if (
            text.upper().startswith("SELECT")
            and "FROM reminders" in text
            and ("reminders.customer_id IN" in text)
        ):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    return seen, before


def test_reminder_reads_by_customer_use_the_customer_index_not_the_status_one(
    portfolio: Engine, policy: Policy
) -> None:
    ctx = sweep_context(policy)
    plan(portfolio, AT, ctx)
    with unit_of_work(portfolio) as s:  # history: most of the drafts went out long ago
        s.execute(update(Reminder).where(col(Reminder.channel) != "call")
                  .values(status="sent", sent_at=AT - timedelta(days=3)))  # fmt: skip
    seen, listener = _customer_reads(portfolio)
    try:
        plan(portfolio, AT + timedelta(days=1), ctx)  # the morning: calls nobody made carried
        with unit_of_work(portfolio) as s:
            group = s.scalars(select(Reminder).order_by(col(Reminder.id)).limit(50)).all()
            recheck_all(s, group, AT + timedelta(days=1, hours=2), policy)
            customers = sorted({r.customer_id for r in group})
            settle(s, customers, AT + timedelta(days=1, hours=2), policy, "test")
    finally:
        event.remove(portfolio, "before_cursor_execute", listener)
    assert len(seen) >= 4  # the planner's loads, its carry, the re-check, the settle
    raw = portfolio.raw_connection()
    try:
        for statement, parameters in seen:
            found = raw.cursor().execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
            steps = " / ".join(str(row[3]) for row in found.fetchall())
            assert "ix_reminders_status_slot" not in steps, (statement, steps)
    finally:
        raw.close()
