"""The tamper-evident evidence log and its export (D18), and the retention purge (C5), on
SQLite and PostgreSQL: chains sealed after real sweeps verify; a row changed or removed
behind the triggers' back breaks the chain at that event; the databases refuse UPDATE and
DELETE; the purge anonymises exactly the customers settled past their country's period,
its dry run writes nothing, and the chain still verifies afterwards; the export ZIP holds
every record with the stored amounts."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import col

from notifier.channels.capture import CaptureChannel
from notifier.domain.policy import Policy
from notifier.evidence.seal import seal, verify
from notifier.services.review import approve_all_pending
from notifier.store.db import unit_of_work
from notifier.store.evidence import EventSeal
from notifier.store.models import (
    Customer,
    Dispute,
    Event,
    Payment,
    PaymentPromise,
    Receivable,
    Reminder,
)
from notifier.sweeps.deliver import deliver
from notifier.sweeps.purge import PURGED_NAME
from notifier.tracking import Tracker
from tests.support import add_deciders, run, sweep_context, two_customer_portfolio

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2019, 1, 1, tzinfo=UTC)
STAMPS = {"created_at": T0, "updated_at": T0}
PURGE_AT = "2029-03-10T09:00:00+08:00"


@pytest.fixture
def swept(engine: Engine, policy: Policy, tmp_path: Path) -> dict[str, int]:
    """The two-customer portfolio planned, approved by a person and delivered (captured):
    drafted, approved and sent events, the text as sent among them."""
    ids = two_customer_portfolio(engine, policy)
    ctx = sweep_context(policy)
    add_deciders(engine, "wang")
    with unit_of_work(engine) as s:
        approved, _ = approve_all_pending(s, "wang", datetime(2026, 3, 2, 8, 5, tzinfo=SH),
                                          policy, ctx.calendar)  # fmt: skip
        slot = min(r.slot_start for r in approved)
    channels: dict[str, Any] = {ch: CaptureChannel(ch, tmp_path / "out") for ch in ("sms", "email")}
    report = deliver(engine, slot + timedelta(minutes=1), ctx, channels,
                     Tracker("t" * 40, "https://notifier.example"))  # fmt: skip
    assert report.sent == 2
    return ids


def _kinds(engine: Engine, customer: str) -> list[str]:
    with unit_of_work(engine) as s:
        return list(s.scalars(select(col(Event.kind)).where(col(Event.customer_id) == customer)
                              .order_by(col(Event.id))))  # fmt: skip


def _drop_triggers(engine: Engine) -> None:
    """What someone with the database's password could do: the guards off."""
    with engine.begin() as c:
        if engine.dialect.name == "sqlite":
            for name in ("events_append_only", "events_refuse_delete",
                         "event_seals_refuse_update", "event_seals_refuse_delete"):  # fmt: skip
                c.execute(text(f"DROP TRIGGER {name}"))
        else:
            c.execute(text("ALTER TABLE events DISABLE TRIGGER USER"))
            c.execute(text("ALTER TABLE event_seals DISABLE TRIGGER USER"))


def test_chain_verifies_after_real_sweeps_and_every_event_is_sealed(
    engine: Engine, swept: dict[str, int], db_url: str
) -> None:
    assert {"approved", "sent"} <= set(_kinds(engine, "C1"))
    verdict = verify(engine, datetime.now(UTC))
    assert verdict.ok and verdict.breaks == []
    with unit_of_work(engine) as s:
        events = s.scalar(select(func.count()).select_from(Event))
        seals = s.scalar(select(func.count()).select_from(EventSeal))
    assert events == seals == verdict.events and events
    done = run("evidence", "verify", db=db_url)
    assert done.returncode == 0, done.stderr
    assert "evidence log intact" in done.stdout


def test_sealing_twice_changes_nothing_and_new_events_extend_their_chain(
    engine: Engine, swept: dict[str, int]
) -> None:
    now = datetime.now(UTC)
    seal(engine, now)
    assert seal(engine, now) == 0
    with unit_of_work(engine) as s:
        s.add(Event(at=now, kind="replied", customer_id="C1", actor="customer",
                    data={"text": "明天付"}))  # fmt: skip
    assert seal(engine, now) == 1
    assert verify(engine, now, "C1").ok


def test_a_changed_payload_behind_the_triggers_names_the_customer_and_event(
    engine: Engine, swept: dict[str, int], db_url: str
) -> None:
    seal(engine, datetime.now(UTC))
    _drop_triggers(engine)
    with unit_of_work(engine) as s:
        sent = s.scalars(select(Event).where(col(Event.kind) == "sent",
                                             col(Event.customer_id) == "C1")).one()  # fmt: skip
    forged = {**sent.data, "body": "您已全部付清"}
    with engine.begin() as c:
        c.execute(Event.__table__.update().where(Event.__table__.c.id == sent.id)  # type: ignore[attr-defined]
                  .values(data=forged))  # fmt: skip
    done = run("evidence", "verify", db=db_url)
    assert done.returncode == 1
    assert f"customer C1: event {sent.id} " in done.stdout
    assert "its data was changed" in done.stdout
    assert "C2" not in done.stdout  # the other customer's chain is intact
    assert done.stderr.strip().splitlines()[-1].startswith("error: the evidence log was altered")


def test_a_changed_time_or_a_removed_event_breaks_the_chain_there(
    engine: Engine, swept: dict[str, int], db_url: str
) -> None:
    seal(engine, datetime.now(UTC))
    _drop_triggers(engine)
    with unit_of_work(engine) as s:
        ids = list(s.scalars(select(col(Event.id)).where(col(Event.customer_id) == "C1")
                             .order_by(col(Event.id))))  # fmt: skip
    assert len(ids) >= 3
    gone, after, retimed = ids[0], ids[1], ids[-1]
    with engine.begin() as c:  # the event and its seal: as if it had never been
        c.execute(text("DELETE FROM event_seals WHERE event_id = :i"), {"i": gone})
        c.execute(text("DELETE FROM events WHERE id = :i"), {"i": gone})
        c.execute(text("DELETE FROM events WHERE id = :i"), {"i": after})  # its seal stays
        c.execute(Event.__table__.update().where(Event.__table__.c.id == retimed)  # type: ignore[attr-defined]
                  .values(at=datetime(2026, 1, 1, tzinfo=UTC)))  # fmt: skip
    verdict = verify(engine, datetime.now(UTC), "C1")
    found = {(b.event_id, b.problem) for b in verdict.breaks}
    assert (after, "events #1..#1 are missing") in found
    assert (after, "the event row is gone") in found
    assert (retimed, "its time, kind, customer or actor was changed") in found
    done = run("evidence", "verify", "C1", db=db_url)
    assert done.returncode == 1 and f"customer C1: event {after} " in done.stdout


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET actor = 'someone'",
        'UPDATE events SET data = \'{"tombstone": "C5"}\'',  # a tombstone, but no grant
        "DELETE FROM events",
        "UPDATE event_seals SET hash = 'x'",
        "DELETE FROM event_seals",
    ],
)
def test_the_database_refuses_rewriting_and_removing_evidence(
    engine: Engine, swept: dict[str, int], statement: str
) -> None:
    seal(engine, datetime.now(UTC))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as c:
        c.execute(text(statement))


def test_the_database_refuses_truncating_evidence(engine: Engine, swept: dict[str, int],
                                                  store: str) -> None:  # fmt: skip
    if store != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    seal(engine, datetime.now(UTC))
    for table in ("events", "event_seals"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as c:
            c.execute(text(f"TRUNCATE {table}"))


# -- the retention purge --------------------------------------------------------------


def _customer(s: Any, cid: str, country: str, due: date, paid_on: date | None,
              amount: int = 100_000) -> None:  # fmt: skip
    s.add(Customer(id=cid, name=f"客户{cid}", kind="individual", phone="+8613912345678",
                   email=f"{cid.lower()}@x.example", country=country, notes="在深圳",
                   **STAMPS))  # fmt: skip
    s.flush()
    s.add(Receivable(id=f"{cid}-1", customer_id=cid, amount_cents=amount,
                     issued_on=due - timedelta(days=30), due_on=due, **STAMPS))  # fmt: skip
    s.flush()
    if paid_on is not None:
        s.add(Payment(id=f"P{cid}", invoice_id=f"{cid}-1", amount_cents=amount,
                      paid_on=paid_on, **STAMPS))  # fmt: skip
    s.add(Event(at=T0, kind="sent", customer_id=cid, actor="delivery",
                data={"reminder_id": 1, "channel": "sms", "address": "+8613912345678",
                      "body": f"客户{cid}您好，请付款"}))  # fmt: skip
    s.add(PaymentPromise(customer_id=cid, promised_on=due, note="他说发工资就付",
                         recorded_at=T0))  # fmt: skip


@pytest.fixture
def aged(engine: Engine, policy: Policy) -> None:
    """Settled customers of different ages and countries at 2029-03-10 (US 3, CN 5 years):

    - C1 US, the swept-like portfolio customer, settled 2026-03-05: past 3 years -> purged
    - C2 CN, settled 2026-03-05: within 5 years -> kept
    - C3 CN settled 2020-06-01 -> purged; C4 CN never paid -> kept
    - C5 US settled 2020 but an item in dispute -> kept; C6 US settled 2027-01-01 -> kept
    """
    two_customer_portfolio(engine, policy)  # C1, C2 with planned drafts (real messages)
    with unit_of_work(engine) as s:
        for cid, country in (("C1", "US"), ("C2", "CN")):
            c = s.get(Customer, cid)
            assert c is not None
            c.country = country
        for rid, cents in (("C1-1", 1_000_000), ("C1-2", 400_000), ("C2-1", 300_000)):
            s.add(Payment(id=f"F{rid}", invoice_id=rid, amount_cents=cents,
                          paid_on=date(2026, 3, 5), **STAMPS))  # fmt: skip
        _customer(s, "C3", "CN", date(2020, 3, 1), date(2020, 6, 1))
        _customer(s, "C4", "CN", date(2020, 3, 1), None)
        _customer(s, "C5", "US", date(2020, 3, 1), date(2020, 6, 1))
        _customer(s, "C6", "US", date(2026, 12, 1), date(2027, 1, 1))
        s.flush()
        s.add(Dispute(invoice_id="C5-1", reason="货物破损", opened_at=T0))


def _snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    tables = sorted(inspect(engine).get_table_names())
    with engine.connect() as c:
        return {t: sorted(map(tuple, c.execute(text(f"SELECT * FROM {t}"))), key=repr)
                for t in tables}  # fmt: skip


def test_purge_dry_run_reports_and_writes_nothing(engine: Engine, aged: None,
                                                  db_url: str) -> None:  # fmt: skip
    seal(engine, datetime.now(UTC))  # so that the purge's own sealing has nothing to add
    before = _snapshot(engine)
    done = run("purge", "--dry-run", "--at", PURGE_AT, "--json", db=db_url)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["dry_run"] is True
    assert [c["customer_id"] for c in report["customers"]] == ["C1", "C3"]
    assert _snapshot(engine) == before


def test_purge_anonymises_only_customers_settled_past_their_period_and_the_chain_verifies(
    engine: Engine, aged: None, db_url: str
) -> None:
    with unit_of_work(engine) as s:
        figures_before = _figures(s)
    done = run("purge", "--at", PURGE_AT, db=db_url)
    assert done.returncode == 0, done.stderr
    assert "purged 2" in done.stdout
    with unit_of_work(engine) as s:
        people = {c.id: c for c in s.scalars(select(Customer))}
        for cid in ("C1", "C3"):
            c = people[cid]
            assert (c.name, c.phone, c.email, c.notes) == (PURGED_NAME, None, None, None)
            events = s.scalars(select(Event).where(col(Event.customer_id) == cid)).all()
            record = [e for e in events if e.kind == "retention_purged"]
            assert len(record) == 1 and record[0].data["events_tombstoned"] == len(events) - 1
            for e in events:
                if e.kind != "retention_purged":
                    assert e.data.get("tombstone") == "C5"
                    assert not {"body", "address", "subject"} & set(e.data)
            notes = s.scalars(select(col(PaymentPromise.note))
                              .where(col(PaymentPromise.customer_id) == cid)).all()  # fmt: skip
            assert set(notes) <= {None}
        c1_messages = s.scalars(select(Reminder).where(col(Reminder.customer_id) == "C1")).all()
        assert c1_messages and all(m.body == "" and m.address == "" for m in c1_messages)
        assert all(m.stage and m.channel for m in c1_messages)  # the figures stay
        for cid in ("C2", "C4", "C5", "C6"):
            assert people[cid].name == f"客户{cid}" and people[cid].phone is not None
        c2_sent = s.scalars(select(Reminder).where(col(Reminder.customer_id) == "C2")).all()
        assert all(m.body for m in c2_sent)
        assert _figures(s) == figures_before
    verdict = verify(engine, datetime.now(UTC))
    assert verdict.ok, verdict.breaks
    assert verdict.tombstones >= 2
    again = run("purge", "--at", PURGE_AT, "--json", db=db_url)
    assert json.loads(again.stdout)["purged"] == 0  # nothing left to purge
    assert run("evidence", "verify", db=db_url).returncode == 0


def _figures(s: Any) -> tuple[Any, ...]:
    """What the reports need: every amount and date."""
    receivables = sorted(s.execute(select(col(Receivable.id), col(Receivable.amount_cents),
                                          col(Receivable.due_on))).all())  # fmt: skip
    payments = sorted(s.execute(select(col(Payment.id), col(Payment.amount_cents),
                                       col(Payment.paid_on))).all())  # fmt: skip
    return tuple(receivables), tuple(payments)


# -- the export ------------------------------------------------------------------------


def test_export_zip_holds_every_record_with_the_stored_amounts(
    engine: Engine, swept: dict[str, int], db_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "C1.zip"
    done = run("evidence", "export", "C1", "-o", str(target), db=db_url)
    assert done.returncode == 0, done.stderr
    archive = zipfile.ZipFile(target)
    names = set(archive.namelist())
    for record in ("customer", "receivables", "payments", "promises", "disputes", "messages",
                   "edits", "events"):  # fmt: skip
        assert {f"{record}.json", f"{record}.csv"} <= names
    assert {"summary.pdf", "manifest.json"} <= names

    def load(name: str) -> Any:
        return json.loads(archive.read(name))

    with unit_of_work(engine) as s:
        event_ids = set(s.scalars(select(col(Event.id)).where(col(Event.customer_id) == "C1")))
        paid = sum(s.scalars(select(col(Payment.amount_cents))
                             .join(Receivable, col(Receivable.id) == col(Payment.invoice_id))
                             .where(col(Receivable.customer_id) == "C1")))  # fmt: skip
        [message] = s.scalars(select(Reminder).where(col(Reminder.customer_id) == "C1")).all()
    events = load("events.json")
    assert {e["id"] for e in events} == event_ids
    assert all(e["hash"] and e["seq"] for e in events)
    [sent] = [e for e in events if e["kind"] == "sent"]
    [captured] = (tmp_path / "out").glob(f"*/{message.id:08d}-*.json")
    assert sent["data"]["body"] == json.loads(captured.read_text())["body"]  # the text as sent
    assert [m["body"] for m in load("messages.json")] == [message.body]
    assert sum(p["amount_cents"] for p in load("payments.json")) == paid
    assert [p["amount"] for p in load("payments.json")] == ["1000.00"]
    assert sum(r["amount_cents"] for r in load("receivables.json")) == 1_500_000
    manifest = load("manifest.json")
    assert manifest["chain"]["verified"] is True
    assert manifest["chain"]["head_seq"] == len(event_ids)
    assert manifest["invoiced"] == {"CNY": "15000.00"} and manifest["paid"] == {"CNY": "1000.00"}
    text_of_pdf = "".join(page.extract_text() for page in
                          PdfReader(io.BytesIO(archive.read("summary.pdf"))).pages)  # fmt: skip
    assert "证据档案" in text_of_pdf and "Evidence file" in text_of_pdf
    assert "客户C1" in text_of_pdf and "15,000.00 CNY" in text_of_pdf


def test_bad_input_is_one_line_and_exit_1(
    engine: Engine, swept: dict[str, int], db_url: str, tmp_path: Path
) -> None:
    cases = [
        (("evidence", "export", "NOPE", "-o", str(tmp_path / "x.zip")), "no customer with id"),
        (("evidence", "verify", "NOPE"), "no customer with id"),
        (("evidence", "export", "C1", "-o", str(tmp_path / "missing" / "x.zip")),
         "cannot write the evidence file"),
        (("evidence", "export", "C1", "-o", str(tmp_path)), "it is a folder"),
    ]  # fmt: skip
    for args, message in cases:
        done = run(*args, db=db_url)
        assert done.returncode == 1, args
        lines = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
        assert len(lines) == 1 and message in lines[0], done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "x.zip").exists()
