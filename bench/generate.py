"""A synthetic portfolio for the benchmarks: deterministic from a seed, shaped for an instant.

At ``AT`` (2026-03-02 08:00 Shanghai, a Monday) most customers have a cadence step due, in
every stage from pre_due to legal, with history enough for the tiers to differ: settled
invoices paid on time or late, partial payments, a few disputes, promises to pay, payment
plans, and earlier reminders of the same cycle (sent, or still waiting for approval).

Two outputs from the same rows:
- :func:`generate_db`: straight into a migrated database, one executemany per table and
  chunk of customers (SQLAlchemy Core on the tables of ``notifier.store.models``);
- :func:`write_csvs`: customers, receivables and payments as the CSV import reads them,
  for measuring ``notifier.importer.import_file``.

    python -m bench.generate --scale 1000000 --db bench/data/portfolio.db  # receivables
    python -m bench.generate --customers 20000 --csv bench/data/csv
"""

from __future__ import annotations

import argparse
import csv
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic_core import PydanticUndefined
from sqlalchemy import Engine, Table, insert, text
from sqlmodel import SQLModel

from notifier.domain.cadence import cycle_key
from notifier.domain.instalments import share_schedule
from notifier.domain.items import cents_to_money, money_to_cents
from notifier.domain.policy import CadenceStep, Policy
from notifier.settings import load_policy
from notifier.store.db import make_engine
from notifier.store.migrate import upgrade
from notifier.store.models import (
    Customer,
    Dispute,
    InstalmentPlan,
    Payment,
    PaymentPromise,
    Receivable,
    Reminder,
)
from notifier.store.models import Instalment as InstalmentRow

GENERATOR_VERSION = 3  # bump when the shape of the data changes: cached databases rebuild
ROOT = Path(__file__).resolve().parent.parent
POLICY_PATH = ROOT / "config" / "notifier.toml"
AT = datetime(2026, 3, 2, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
DEFAULT_CUSTOMERS = 100_000
DEFAULT_SCALE = 1_000_000  # receivables
# The mix below averages 3.36 receivables a customer: 0.3 customers a receivable gives
# about ``scale`` receivables (300,000 customers hold about 1,008,000).
CUSTOMERS_PER_RECEIVABLE = 0.3
DEFAULT_SEED = 20260302
CHUNK = 5_000  # customers per executemany round


@dataclass(frozen=True)
class Region:
    country: str
    zone: str
    locale: str
    currency: str
    weight: float
    company_suffixes: tuple[str, ...]
    phone: str  # prefix; random digits follow


REGIONS = (
    Region("CN", "Asia/Shanghai", "zh-CN", "CNY", 0.85, (), "+86"),
    Region("US", "America/New_York", "en", "USD", 0.09, ("Inc.", "LLC", "Corp."), "+1"),
    Region("GB", "Europe/London", "en", "GBP", 0.06, ("Ltd.", "plc", "LLP"), "+447800"),
)
CN_MOBILE = ("139", "138", "137", "136", "135", "150", "151", "152", "158", "159", "186", "188")
US_AREAS = ("212", "646", "718", "917")

# The stage of the oldest open item at AT: (name, weight, days overdue from, to).
STATES = (
    ("settled", 0.04, 0, 0),  # everything paid
    ("current", 0.08, -40, -4),  # open, not due within the pre-due window
    ("gap", 0.03, 1, 2),  # just overdue: the pre-due step is over, friendly not yet
    ("pre_due", 0.12, -3, 0),
    ("m1", 0.35, 3, 30),
    ("m2", 0.18, 31, 60),
    ("m3", 0.10, 61, 90),
    ("legal", 0.10, 91, 400),
)
DUE_STATES = frozenset(("pre_due", "m1", "m2", "m3", "legal"))
RECEIVABLE_COUNTS = (1, 2, 3, 4, 5, 6, 7)
RECEIVABLE_WEIGHTS = (0.15, 0.20, 0.22, 0.18, 0.12, 0.08, 0.05)  # mean 3.36

CITIES = ("上海", "北京", "杭州", "深圳", "广州", "成都", "南京", "苏州", "武汉", "西安")
WORDS = ("星辰", "云帆", "恒泰", "华信", "南方", "天府", "鼎盛", "宏达", "远航", "金桥", "瑞丰")
TRADES = ("贸易", "科技", "电子", "建材", "物流", "餐饮管理", "供应链", "机械", "医药", "纺织")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
FIRST = ("Oliver", "Emma", "James", "Sophia", "Liam", "Olivia", "Noah", "Ava", "Harry", "Amelia")
LAST = ("Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Miller", "Clark")
ADJECTIVES = ("Acme", "Northwind", "Blue Harbor", "Summit", "Redwood", "Silverline", "Granite")
NOUNS = ("Supply", "Logistics", "Foods", "Electronics", "Trading", "Manufacturing", "Builders")
DOMAINS = ("xingchen", "yunfan", "hengtai", "huaxin", "nanfang", "tianfu", "acme", "summit")
COLLECTORS = ("张伟", "李娜", "王磊", "刘洋", "陈静", "amy", "ben", "chloe", None)


@dataclass(frozen=True)
class Spec:
    customers: int = DEFAULT_CUSTOMERS
    seed: int = DEFAULT_SEED
    at: datetime = AT

    @classmethod
    def for_scale(cls, receivables: int, seed: int = DEFAULT_SEED, at: datetime = AT) -> Spec:
        """The portfolio of about ``receivables`` receivables, in the usual mix."""
        return cls(max(1, round(receivables * CUSTOMERS_PER_RECEIVABLE)), seed, at)

    def cache_name(self, schema: str) -> str:
        return f"portfolio-{self.customers}-s{self.seed}-g{GENERATOR_VERSION}-r{schema}.db"


@dataclass
class Chunk:
    """The rows of a run of customers, per table, in the order they must be inserted."""

    customers: list[dict[str, Any]] = field(default_factory=list)
    instalment_plans: list[dict[str, Any]] = field(default_factory=list)
    receivables: list[dict[str, Any]] = field(default_factory=list)
    instalments: list[dict[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    payment_promises: list[dict[str, Any]] = field(default_factory=list)
    disputes: list[dict[str, Any]] = field(default_factory=list)
    reminders: list[dict[str, Any]] = field(default_factory=list)

    def tables(self) -> list[tuple[type[SQLModel], list[dict[str, Any]]]]:
        return [
            (Customer, self.customers),
            (InstalmentPlan, self.instalment_plans),
            (Receivable, self.receivables),
            (InstalmentRow, self.instalments),
            (Payment, self.payments),
            (PaymentPromise, self.payment_promises),
            (Dispute, self.disputes),
            (Reminder, self.reminders),
        ]


@dataclass
class Counts:
    customers: int = 0
    receivables: int = 0
    payments: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


class Portfolio:
    """The whole portfolio, ``CHUNK`` customers at a time (memory stays bounded); the
    counts are complete once :meth:`chunks` is exhausted."""

    def __init__(self, spec: Spec, policy: Policy | None = None) -> None:
        policy = policy or load_policy(POLICY_PATH)
        assert policy.cadence is not None
        self.spec = spec
        self._builder = _Builder(spec, policy.cadence.steps)

    @property
    def counts(self) -> Counts:
        return self._builder.counts

    def chunks(self) -> Iterator[Chunk]:
        total = self.spec.customers
        for start in range(0, total, CHUNK):
            chunk = Chunk()
            for number in range(start + 1, min(start + CHUNK, total) + 1):
                self._builder.customer(number, chunk)
            yield chunk


class _Builder:
    def __init__(self, spec: Spec, steps: tuple[CadenceStep, ...]) -> None:
        self.rng = random.Random(spec.seed)
        self.at = spec.at.astimezone(UTC)
        self.today = {r.country: spec.at.astimezone(ZoneInfo(r.zone)).date() for r in REGIONS}
        self.steps = sorted(steps, key=lambda s: s.day)
        self.next_plan_id = 1
        self.counts = Counts()

    def customer(self, number: int, chunk: Chunk) -> None:
        rng = self.rng
        cid = f"C{number:07d}"
        region = rng.choices(REGIONS, [r.weight for r in REGIONS])[0]
        business = rng.random() < 0.60
        kind = "business" if business else "individual"
        hand_set = rng.choice("ABC") if rng.random() < 0.03 else None
        created = self.at - timedelta(days=rng.randint(30, 1500))
        row = {
            "id": cid,
            "name": self._name(region, business),
            "kind": kind,
            "phone": self._phone(region) if rng.random() < (0.95 if business else 0.98) else None,
            "email": self._email(number, business)
            if rng.random() < (0.97 if business else 0.75)
            else None,
            "timezone": region.zone,
            "locale": region.locale,
            "country": region.country,
            "tier": hand_set,
            "tier_hand_set": hand_set is not None,
            "collector": rng.choice(COLLECTORS),
            "legal_authorised": rng.random() < 0.06,
            "sms_opt_out": rng.random() < 0.02,
            "email_opt_out": rng.random() < 0.01,
            "phone_invalid": rng.random() < 0.005,
            "created_at": created,
            "updated_at": created,
        }
        chunk.customers.append(row)
        self.counts.customers += 1
        state, _, low, high = rng.choices(STATES, [s[1] for s in STATES])[0]
        self.counts.by_state[state] = self.counts.by_state.get(state, 0) + 1
        self._receivables(row, region, state, rng.randint(low, high), chunk)

    def _receivables(
        self, customer: dict[str, Any], region: Region, state: str, days: int, chunk: Chunk
    ) -> None:
        rng = self.rng
        cid = customer["id"]
        today = self.today[region.country]
        count = rng.choices(RECEIVABLE_COUNTS, RECEIVABLE_WEIGHTS)[0]
        business = customer["kind"] == "business"
        opened = (
            0
            if state == "settled"
            else min(count, 1 + (rng.random() < 0.35) + (rng.random() < 0.15))
        )
        oldest_due = today - timedelta(days=days if state != "settled" else rng.randint(5, 40))
        open_rows: list[dict[str, Any]] = []
        due = oldest_due
        for seq in range(1, count + 1):
            is_open = seq <= opened
            if is_open:
                due = oldest_due if seq == 1 else due + timedelta(days=rng.randint(10, 40))
            else:  # settled history, older than the open items
                due = oldest_due - timedelta(days=30 * (seq - opened) + rng.randint(0, 10))
            terms = rng.choice((30, 30, 45, 60))
            issued = due - timedelta(days=terms)
            if is_open and issued >= today:
                issued = today - timedelta(days=rng.randint(1, 10))
            rid = f"INV-{cid[1:]}-{seq}"
            cents = self._amount(region, business)
            receivable = {
                "id": rid,
                "customer_id": cid,
                "amount_cents": cents,
                "currency": region.currency,
                "issued_on": issued,
                "due_on": due,
                "penalty_rate_daily": Decimal("0.0008")
                if business and rng.random() < 0.08
                else None,
                "payment_url": f"https://pay.example/inv/{rid}" if rng.random() < 0.10 else None,
                "plan_id": None,
                "created_at": self.at,
                "updated_at": self.at,
            }
            chunk.receivables.append(receivable)
            self.counts.receivables += 1
            if is_open:
                open_rows.append(receivable)
                if rng.random() < 0.15 and issued < today - timedelta(days=1):
                    part = cents * rng.randint(20, 70) // 100 // 100 * 100
                    paid_on = issued + timedelta(days=rng.randint(1, (today - issued).days - 1))
                    self._payment(chunk, rid, part, paid_on)
            else:
                delay = self._delay()
                paid_on = min(due + timedelta(days=delay), today - timedelta(days=1))
                self._payment(chunk, rid, cents, max(paid_on, issued))
        if not open_rows:
            return
        oldest = open_rows[0]
        if state in ("m1", "m2", "m3") and rng.random() < 0.005:
            self._plan(chunk, cid, oldest, today)
            return
        if rng.random() < 0.01:
            disputed = rng.choice(open_rows)
            chunk.disputes.append(
                {
                    "invoice_id": disputed["id"],
                    "amount_cents": None,
                    "reason": "goods returned, credit note pending",
                    "opened_by": "bench",
                    "opened_at": self.at - timedelta(days=5),
                    "resolved_at": None,
                }
            )
        if state in DUE_STATES:
            self._promises(chunk, cid, oldest["due_on"], today, days)
            self._earlier_reminders(chunk, customer, oldest, days)

    def _payment(self, chunk: Chunk, rid: str, cents: int, paid_on: date) -> None:
        """One payment per invoice: in full (history) or in part (an open invoice)."""
        chunk.payments.append(
            {
                "id": f"PAY-{rid[4:]}",
                "invoice_id": rid,
                "amount_cents": cents,
                "paid_on": paid_on,
                "created_at": self.at,
                "updated_at": self.at,
            }
        )
        self.counts.payments += 1

    def _plan(self, chunk: Chunk, cid: str, receivable: dict[str, Any], today: date) -> None:
        """D20: the oldest open invoice rescheduled into 3 instalments (the first 30 %)."""
        plan_id = self.next_plan_id
        self.next_plan_id += 1
        receivable["plan_id"] = plan_id
        total = cents_to_money(receivable["amount_cents"])
        created = datetime.combine(today - timedelta(days=40), datetime.min.time(), UTC)
        chunk.instalment_plans.append(
            {
                "id": plan_id,
                "customer_id": cid,
                "total_cents": receivable["amount_cents"],
                "note": "bench",
                "created_by": "bench",
                "created_at": created,
            }
        )
        for inst in share_schedule(total, Decimal("0.30"), 3, today - timedelta(days=35)):
            chunk.instalments.append(
                {
                    "plan_id": plan_id,
                    "seq": inst.seq,
                    "amount_cents": money_to_cents(inst.amount),
                    "due_on": inst.due_on,
                    "paid_cents": 0,
                }
            )

    def _promises(self, chunk: Chunk, cid: str, cycle_start: date, today: date, days: int) -> None:
        """D21: some promises pause reminders, some were broken (this run settles them)."""
        r = self.rng.random()
        recorded = self.at - timedelta(days=3)
        promised: list[tuple[date, str]] = []
        if r < 0.015:
            promised = [(today + timedelta(days=self.rng.randint(1, 7)), "open")]
        elif r < 0.025 and days >= 3:
            promised = [(today - timedelta(days=self.rng.randint(1, min(days - 1, 5))), "open")]
        elif r < 0.028 and days >= 5:
            promised = [(cycle_start + timedelta(days=d), "broken") for d in (1, 3)]
        for on, status in promised:
            chunk.payment_promises.append(
                {
                    "customer_id": cid,
                    "promised_on": on,
                    "amount_cents": None,
                    "status": status,
                    "note": None,
                    "recorded_by": "bench",
                    "recorded_at": recorded,
                }
            )

    def _earlier_reminders(
        self, chunk: Chunk, customer: dict[str, Any], oldest: dict[str, Any], days: int
    ) -> None:
        """Reminders of this cycle from earlier runs: the previous step (mostly delivered,
        a few still waiting, to be superseded), or, rarely, today's step already drafted."""
        legal = customer["legal_authorised"]
        ladder = [s for s in self.steps if legal or not s.requires_legal]
        reached = [s for s in ladder if s.day <= days]
        if not reached or (days > 0 and reached[-1].day <= 0):
            return
        r = self.rng.random()
        if r < 0.03:
            step, status, start = reached[-1], "pending_approval", self.at + timedelta(hours=6)
        elif r < 0.45 and len(reached) >= 2:
            step = reached[-2]
            status = "pending_approval" if self.rng.random() < 0.1 else "delivered"
            start = datetime.combine(
                oldest["due_on"] + timedelta(days=step.day), datetime.min.time(), UTC
            ) + timedelta(hours=6)
        else:
            return
        kind = customer["kind"]
        usable = {"sms": customer["phone"], "email": customer["email"]}
        channel = next((c for c in step.channels[kind] if usable.get(c)), None)
        if channel is None:
            return
        chunk.reminders.append(
            {
                "customer_id": customer["id"],
                "step": step.name,
                "cycle": cycle_key(oldest["id"], oldest["due_on"]),
                "channel": channel,
                "address": usable[channel],
                "status": status,
                "stage": _stage(step.day),
                "tier": "B",
                "tone": "neutral",
                "locale": customer["locale"],
                "window": "evening" if kind == "individual" else "morning",
                "slot_start": start,
                "slot_end": start + timedelta(hours=1),
                "subject": "Statement of account" if channel == "email" else None,
                "body": "(an earlier reminder of this cycle, written by bench.generate)",
                "segments": 1 if channel == "sms" else None,
                "created_at": start - timedelta(days=1),
                "updated_at": start - timedelta(days=1),
                "sent_at": start if status == "delivered" else None,
                "delivered_at": start if status == "delivered" else None,
            }
        )

    def _delay(self) -> int:
        """Days a settled invoice was paid after its due date: mostly on time."""
        r = self.rng.random()
        if r < 0.70:
            return self.rng.randint(-10, 0)
        if r < 0.93:
            return self.rng.randint(1, 30)
        return self.rng.randint(31, 90)

    def _amount(self, region: Region, business: bool) -> int:
        rng = self.rng
        if region.currency == "CNY":
            yuan = rng.randint(20, 3000) * 100 if business else rng.randint(300, 20_000)
        else:
            yuan = rng.randint(10, 800) * 100 if business else rng.randint(100, 5_000)
        return yuan * 100 + (rng.choice((0, 0, 0, 50)) if not business else 0)

    def _name(self, region: Region, business: bool) -> str:
        rng = self.rng
        if region.locale == "zh-CN":
            if business:
                return f"{rng.choice(CITIES)}{rng.choice(WORDS)}{rng.choice(TRADES)}有限公司"
            return rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))
        if business:
            suffix = rng.choice(region.company_suffixes)
            return f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {suffix}"
        return f"{rng.choice(FIRST)} {rng.choice(LAST)}"

    def _phone(self, region: Region) -> str:
        rng = self.rng
        if region.country == "CN":
            return f"+86{rng.choice(CN_MOBILE)}{rng.randint(0, 99_999_999):08d}"
        if region.country == "US":
            return f"+1{rng.choice(US_AREAS)}5550{rng.randint(100, 199)}"
        return f"{region.phone}{rng.randint(0, 999_999):06d}"

    def _email(self, number: int, business: bool) -> str:
        if business:
            return f"ar{number}@{self.rng.choice(DOMAINS)}.example"
        return f"user{number}@mail.example"


def _stage(day: int) -> str:
    if day <= 0:
        return "pre_due"
    return "m1" if day <= 30 else "m2" if day <= 60 else "m3" if day <= 90 else "legal"


def _defaults(model: type[SQLModel]) -> dict[str, Any]:
    """The model's Python-side defaults (Core inserts do not apply them)."""
    result: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if info.default is PydanticUndefined and info.default_factory is None:
            continue
        value = info.get_default(call_default_factory=True)
        if name == "id" and value is None:
            continue  # autoincrement
        result[name] = value
    return result


def generate_db(engine: Engine, spec: Spec, policy: Policy | None = None) -> Counts:
    """Migrate ``engine``'s database and fill it with ``spec``'s portfolio."""
    upgrade(engine)
    defaults = {model: _defaults(model) for model, _ in Chunk().tables()}
    source = Portfolio(spec, policy)
    counts = source.counts
    for chunk in source.chunks():
        with engine.begin() as connection:
            for model, rows in chunk.tables():
                if not rows:
                    continue
                table: Table = model.__table__  # type: ignore[attr-defined]
                base = defaults[model]
                connection.execute(insert(table), [{**base, **row} for row in rows])
                counts.rows[table.name] = counts.rows.get(table.name, 0) + len(rows)
    if engine.dialect.name == "sqlite":  # the file complete on its own, to be copied
        with engine.begin() as connection:
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    return counts


CSV_HEADERS = {
    "customers": (
        "customer_id",
        "name",
        "kind",
        "phone",
        "email",
        "timezone",
        "locale",
        "country",
        "tier",
        "collector",
        "notes",
    ),
    "receivables": (
        "invoice_id",
        "customer_id",
        "amount",
        "currency",
        "issued_on",
        "due_on",
        "penalty_rate_daily",
        "payment_url",
    ),
    "payments": ("payment_id", "invoice_id", "amount", "paid_on"),
}


def write_csvs(directory: Path, spec: Spec, policy: Policy | None = None) -> dict[str, Path]:
    """customers.csv, receivables.csv and payments.csv (CONTRACT.md, "CSV import")."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {kind: directory / f"{kind}.csv" for kind in CSV_HEADERS}
    files = {kind: path.open("w", newline="", encoding="utf-8") for kind, path in paths.items()}
    try:
        writers = {kind: csv.writer(f) for kind, f in files.items()}
        for kind, header in CSV_HEADERS.items():
            writers[kind].writerow(header)
        for chunk in Portfolio(spec, policy).chunks():
            writers["customers"].writerows(
                (
                    c["id"],
                    c["name"],
                    c["kind"],
                    c["phone"] or "",
                    c["email"] or "",
                    c["timezone"],
                    c["locale"],
                    c["country"],
                    c["tier"] or "",
                    c["collector"] or "",
                    "",
                )
                for c in chunk.customers
            )
            writers["receivables"].writerows(
                (
                    r["id"],
                    r["customer_id"],
                    _money(r["amount_cents"]),
                    r["currency"],
                    r["issued_on"].isoformat(),
                    r["due_on"].isoformat(),
                    "" if r["penalty_rate_daily"] is None else str(r["penalty_rate_daily"]),
                    r["payment_url"] or "",
                )
                for r in chunk.receivables
            )
            writers["payments"].writerows(
                (p["id"], p["invoice_id"], _money(p["amount_cents"]), p["paid_on"].isoformat())
                for p in chunk.payments
            )
    finally:
        for f in files.values():
            f.close()
    return paths


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--scale", type=int, help=f"receivables (default {DEFAULT_SCALE:,})")
    size.add_argument("--customers", type=int, help="customers instead of --scale")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--db", type=Path, help="a new SQLite file to migrate and fill")
    target.add_argument("--csv", type=Path, help="a directory for the three CSV files")
    args = parser.parse_args(argv)
    if args.customers:
        spec = Spec(customers=args.customers, seed=args.seed)
    else:
        spec = Spec.for_scale(args.scale or DEFAULT_SCALE, seed=args.seed)
    started = time.perf_counter()
    if args.db:
        if args.db.exists():
            parser.error(f"{args.db} exists; choose a new file")
        engine = make_engine(f"sqlite:///{args.db}")
        counts = generate_db(engine, spec)
        engine.dispose()
        print(f"{args.db}: {counts.rows} ({time.perf_counter() - started:.1f} s)")
    else:
        paths = write_csvs(args.csv, spec)
        print(f"{', '.join(map(str, paths.values()))} ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
