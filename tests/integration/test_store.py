from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, insert, text
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlmodel import select

from notifier.store.bulk import insert_ignoring_conflicts, insert_rows
from notifier.store.db import make_engine, unit_of_work
from notifier.store.migrate import HEAD, current_revision, is_current, upgrade
from notifier.store.models import Customer, Event, Payment, Receivable, Reminder
from notifier.store.queries import items_for, portfolio_outstanding

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def add_customer(session: object, cid: str = "C1") -> None:
    session.add(  # type: ignore[attr-defined]
        Customer(id=cid, name="上海星辰贸易", kind="business", phone="+8613912345678",
                 created_at=NOW, updated_at=NOW)
    )  # fmt: skip


def add_receivable(session: object, rid: str, cents: int, due: date, cid: str = "C1") -> None:
    session.add(  # type: ignore[attr-defined]
        Receivable(id=rid, customer_id=cid, amount_cents=cents, issued_on=due - timedelta(days=30),
                   due_on=due, created_at=NOW, updated_at=NOW)
    )  # fmt: skip


def test_init_creates_the_schema_and_a_second_run_changes_nothing(blank_db_url: str) -> None:
    engine = make_engine(blank_db_url)
    assert current_revision(engine) is None and not is_current(engine)
    before, after = upgrade(engine)
    assert before is None and is_current(engine)
    assert upgrade(engine) == (after, after)


def test_the_head_every_command_checks_is_alembics_own(blank_db_url: str) -> None:
    """is_current compares with HEAD without loading Alembic: HEAD must be the newest
    migration, and an older schema is not current."""
    from alembic.script import ScriptDirectory

    from notifier.store.migrate import alembic_config

    engine = make_engine(blank_db_url)
    assert ScriptDirectory.from_config(alembic_config(engine)).get_current_head() == HEAD
    upgrade(engine)
    with engine.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    assert not is_current(engine)


def test_sqlite_runs_with_wal_busy_timeout_and_foreign_keys(engine: Engine, store: str) -> None:
    if store != "sqlite":
        pytest.skip("SQLite pragmas")
    with engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert c.execute(text("PRAGMA busy_timeout")).scalar() == 30000


def test_receivable_of_unknown_customer_is_refused(engine: Engine) -> None:
    with pytest.raises(IntegrityError), unit_of_work(engine) as s:
        add_receivable(s, "R1", 100, date(2026, 3, 1), cid="nobody")


def test_events_are_append_only(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        s.add(Event(at=NOW, kind="import", data={"rows": 3}))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as c:
        c.execute(text("UPDATE events SET kind = 'forged'"))


def test_events_refuse_delete_naming_d18_and_the_row_stays(engine: Engine, store: str) -> None:
    with unit_of_work(engine) as s:
        s.add(Event(at=NOW, kind="sent", customer_id="C1", data={"body": "as sent"}))
    statements = ["DELETE FROM events", "DELETE FROM events WHERE kind = 'sent'"]
    if store == "postgresql":
        statements.append("TRUNCATE events")  # row triggers do not see a TRUNCATE
    for statement in statements:
        with pytest.raises(DBAPIError, match=r"evidence \(D18\)"), engine.begin() as c:
            c.execute(text(statement))
    with engine.connect() as c:
        assert c.execute(text("SELECT kind, customer_id FROM events")).all() == [("sent", "C1")]


def test_times_are_stored_in_utc_and_read_back_aware(engine: Engine, store: str) -> None:
    shanghai = timezone(timedelta(hours=8))
    with unit_of_work(engine) as s:
        s.add(Event(at=datetime(2026, 3, 2, 9, 0, tzinfo=shanghai), kind="x", data={}))
    with engine.connect() as c:
        stored = c.execute(text("SELECT at FROM events")).scalar()
    if store == "sqlite":
        assert stored == "2026-03-02 01:00:00.000000"
    else:  # a timestamp without time zone, whatever the server's TimeZone
        assert stored == datetime(2026, 3, 2, 1, 0)
    with unit_of_work(engine) as s:
        event = s.exec(select(Event)).one()
        assert event.at == datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
        assert event.at.tzinfo is not None


def test_naive_datetime_is_refused(engine: Engine) -> None:
    with pytest.raises(Exception, match="naive datetime"), unit_of_work(engine) as s:
        s.add(Event(at=datetime(2026, 3, 2, 9, 0), kind="x", data={}))


def test_items_carry_payments_and_rates_exactly(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        add_customer(s)
        add_receivable(s, "R1", 8_600_000, date(2026, 2, 25))
        s.flush()
        s.get(Receivable, "R1").penalty_rate_daily = Decimal("0.00033")  # type: ignore[union-attr]
        s.add(Payment(id="P1", invoice_id="R1", amount_cents=100_050, paid_on=date(2026, 2, 27),
                      created_at=NOW, updated_at=NOW))  # fmt: skip
    with unit_of_work(engine) as s:
        [item] = items_for(s, ["C1"])["C1"]
    assert item.amount == Decimal("86000.00")
    assert item.penalty_rate_daily == Decimal("0.00033")
    assert item.outstanding_on(date(2026, 3, 2)) == Decimal("84999.50")


def test_portfolio_outstanding_ignores_later_payments_and_overpayment(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        add_customer(s)
        add_receivable(s, "R1", 10_000, date(2026, 2, 1))
        add_receivable(s, "R2", 20_000, date(2026, 2, 1))
        s.flush()
        s.add(Payment(id="P1", invoice_id="R1", amount_cents=4_000, paid_on=date(2026, 2, 10),
                      created_at=NOW, updated_at=NOW))  # fmt: skip
        s.add(Payment(id="P2", invoice_id="R2", amount_cents=20_000, paid_on=date(2026, 3, 10),
                      created_at=NOW, updated_at=NOW))  # fmt: skip
    with unit_of_work(engine) as s:
        assert portfolio_outstanding(s, date(2026, 3, 1)) == Decimal("260.00")
        assert portfolio_outstanding(s, date(2026, 3, 10)) == Decimal("60.00")


def test_a_plain_postgresql_url_as_pasted_uses_psycopg(pg_url: str) -> None:
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://")
    engine = make_engine(plain)
    try:
        assert engine.dialect.driver == "psycopg"
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM customers")).scalar() == 0
    finally:
        engine.dispose()


def _draft(cycle: str, **extra: Any) -> dict[str, Any]:
    shanghai = timezone(timedelta(hours=8))
    return {
        "customer_id": "C1", "step": "m1-first", "cycle": cycle, "channel": "email",
        "address": "ap@example.com", "status": "pending_approval", "stage": "m1", "tier": "B",
        "tone": "neutral", "locale": "zh-CN", "window": "morning",
        "slot_start": datetime(2026, 3, 2, 9, 0, 0, 120, tzinfo=shanghai),
        "slot_end": datetime(2026, 3, 2, 3, 0, tzinfo=UTC), "subject": "催款", "body": "请付款。",
        "html": None, "segments": None, "facts": {"total": "1.00", "dates": ["2026-03-05"]},
        "lint": [], "created_at": NOW, "updated_at": NOW, **extra,
    }  # fmt: skip


def _stored_reminders(engine: Engine) -> dict[str, dict[str, Any]]:
    """Every column but the id and the cycle, as the database holds them, by cycle."""
    with engine.connect() as c:
        rows = c.execute(text("SELECT * FROM reminders")).mappings().all()
    return {r["cycle"]: {k: v for k, v in r.items() if k not in ("id", "cycle")} for r in rows}


def test_bulk_inserts_store_what_sqlalchemys_insert_stores(engine: Engine) -> None:
    table = Reminder.__table__  # type: ignore[attr-defined]
    with unit_of_work(engine) as s:
        add_customer(s)
        s.flush()
        s.execute(insert(table), [_draft("core")])
        insert_ignoring_conflicts(s, table, [_draft("returning")], ("customer_id", "step", "cycle"))
        insert_rows(s, table, [_draft("plain")])
    stored = _stored_reminders(engine)
    core = stored.pop("core")
    # the same UTC instants, JSON, NULLs and defaults (attempts: the model's scalar default)
    assert stored == {"returning": core, "plain": core}


def test_bulk_insert_returns_exactly_the_rows_it_created_page_after_page(engine: Engine) -> None:
    table = Reminder.__table__  # type: ignore[attr-defined]
    key = ("customer_id", "step", "cycle")
    with unit_of_work(engine) as s:
        add_customer(s)
        s.flush()
        first = insert_ignoring_conflicts(s, table, [_draft(f"c{i}") for i in range(0, 2500, 2)],
                                          key, returning=("cycle", "slot_start"))  # fmt: skip
        # every key twice over: half of them exist, and each new one is given twice
        rows = [_draft(f"c{i}") for i in range(2500)] * 2
        second = insert_ignoring_conflicts(s, table, rows, key, returning=("id", "cycle"))
        insert_rows(s, table, rows, key)  # nothing left to insert: nothing happens
        third = insert_ignoring_conflicts(s, table, rows, key)
    assert len(first) == 1250 and first[0]["cycle"] == "c0"
    assert first[0]["slot_start"] == datetime(2026, 3, 2, 1, 0, 0, 120, tzinfo=UTC)
    assert sorted(r["cycle"] for r in second) == sorted(f"c{i}" for i in range(1, 2500, 2))
    assert third == []
    assert len(_stored_reminders(engine)) == 2500


def test_bulk_insert_of_rows_naming_different_columns_is_sqlalchemys(engine: Engine) -> None:
    events = Event.__table__  # type: ignore[attr-defined]
    given = [{"at": NOW, "kind": "a", "data": {}, "customer_id": "C1"},
             {"at": NOW, "kind": "b", "data": {}, "actor": "x"}]  # fmt: skip
    for write in (lambda s: insert_rows(s, events, given),
                  lambda s: insert_ignoring_conflicts(s, events, given, ("id",)),
                  lambda s: s.execute(insert(events), given)):  # fmt: skip
        with pytest.raises(StatementError, match="customer_id"), unit_of_work(engine) as s:
            write(s)
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM events")).scalar() == 0
