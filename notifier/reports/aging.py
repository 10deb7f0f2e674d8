"""D26: the aging report over the whole portfolio, as a table, CSV or JSON.

The report is taken at one instant; each customer is aged on its own local date at that
instant (its standing's day), so a New York and a Beijing customer may be a day apart, as
on their own pages. The report names its instant in a reference zone (the operator's, by
default the customers' default zone). A report asked for a calendar day is taken at the
end of that day in the reference zone. Totals are per currency.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from notifier.domain.aging import (
    AgingRow,
    BucketTotal,
    aging_of,
    bucket_order,
    bucket_totals,
    late_buckets,
)
from notifier.domain.items import local_date
from notifier.domain.policy import Policy
from notifier.domain.standing import standing_of
from notifier.reports.export import Cell, Money, Sheet, write_csv, write_xlsx
from notifier.store.queries import items_for, iter_customers
from notifier.words import text

REFERENCE_ZONE = "Asia/Shanghai"  # the customers' default zone (D11)
COLUMNS = (
    "customer_id", "customer_name", "collector", "invoice_id", "currency", "issued_on",
    "due_on", "days_overdue", "amount", "outstanding", "penalty", "bucket", "settled_on",
    "paused", "as_of",
)  # fmt: skip


def end_of_day(day: date, zone: str) -> datetime:
    """The last instant of ``day`` in ``zone``: a report "as of" a day counts that day."""
    start = datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(zone))
    return start.astimezone(UTC) - timedelta(microseconds=1)


def report_instant(at: date | datetime, zone: str = REFERENCE_ZONE) -> datetime:
    return at if isinstance(at, datetime) else end_of_day(at, zone)


def build_aging(
    session: Session,
    at: date | datetime,
    policy: Policy,
    settled_days: int = 30,
    zone: str = REFERENCE_ZONE,
) -> list[AgingRow]:
    """Every item open at instant ``at`` (a day: its end in ``zone``) and the items settled
    in the ``settled_days`` before, each customer on its own local date, oldest due first
    within each customer."""
    instant = report_instant(at, zone)
    rows: list[AgingRow] = []
    for customers in iter_customers(session):
        items = items_for(session, [c.id for c in customers])
        for c in customers:
            st = standing_of(c, items[c.id], instant, policy)
            since = st.today - timedelta(days=settled_days)
            rows.extend(aging_of(st, c.name, c.collector, policy.aging, since))
    rows.sort(key=lambda r: (r.customer_id, r.due_on, r.invoice_id))
    return rows


def as_of_text(at: datetime, zone: str) -> str:
    """How a report names its instant: the reference zone's date and time, and the zone."""
    local = at.astimezone(ZoneInfo(zone))
    return f"{local:%Y-%m-%d %H:%M} {zone}"


def _values(row: AgingRow) -> dict[str, str | int | None]:
    return {
        "customer_id": row.customer_id,
        "customer_name": row.customer_name,
        "collector": row.collector,
        "invoice_id": row.invoice_id,
        "currency": row.currency,
        "issued_on": row.issued_on.isoformat(),
        "due_on": row.due_on.isoformat(),
        "days_overdue": row.days_overdue,
        "amount": str(row.amount),
        "outstanding": str(row.outstanding),
        "penalty": str(row.penalty),
        "bucket": row.bucket,
        "settled_on": row.settled_on.isoformat() if row.settled_on else None,
        "paused": str(row.paused),
        "as_of": row.as_of.isoformat() if row.as_of else None,
    }


def to_csv(rows: list[AgingRow]) -> str:
    """Text cells (names, ids, collectors) are neutralised for spreadsheets; the amounts
    and days overdue are written from numbers (export.py says why)."""
    return write_csv(COLUMNS, (_cells(r) for r in rows))


def _cells(row: AgingRow) -> dict[str, Cell]:
    cells: dict[str, Cell] = dict(_values(row))
    cells.update(
        amount=row.amount, outstanding=row.outstanding, penalty=row.penalty, paused=row.paused
    )
    return cells


def by_bucket(totals: Iterable[BucketTotal], policy: Policy) -> list[dict[str, object]]:
    """Each bucket once, its amounts per currency (never one sum across currencies)."""
    result: dict[str, dict[str, object]] = {
        b: {"bucket": b, "items": 0, "outstanding": {}, "paused": {}, "penalty": {}}
        for b in bucket_order(policy.aging)
    }
    for t in totals:
        entry = result[t.bucket]
        entry["items"] = int(entry["items"]) + t.items  # type: ignore[call-overload]
        for key, value in (("outstanding", t.outstanding), ("paused", t.paused),
                           ("penalty", t.penalty)):  # fmt: skip
            entry[key][t.currency] = str(value)  # type: ignore[index]
    return list(result.values())


def to_json(
    rows: list[AgingRow],
    totals: list[BucketTotal],
    at: date | datetime,
    policy: Policy,
    zone: str = REFERENCE_ZONE,
) -> str:
    instant = report_instant(at, zone)
    return json.dumps(
        {
            "as_of": local_date(instant, zone).isoformat(),
            "at": instant.isoformat(),
            "zone": zone,
            "customers_aged_on": "each customer's own local date at the instant",
            "items": [_values(r) for r in rows],
            "buckets": by_bucket(totals, policy),
            "currencies": sorted({t.currency for t in totals}),
        },
        ensure_ascii=False,
        indent=2,
    )


def print_table(
    console: Console,
    rows: list[AgingRow],
    totals: list[BucketTotal],
    at: date | datetime,
    policy: Policy,
    zone: str = REFERENCE_ZONE,
    locale: str = "en",
) -> None:
    """The report for a terminal: headers and buckets in ``locale`` (the codes are in
    --format json and csv)."""
    instant = report_instant(at, zone)
    day = local_date(instant, zone)
    table = Table(
        title=text(locale, "aging_table_title", day=day.isoformat(),
                   at=as_of_text(instant, zone)),
        header_style="bold",
    )  # fmt: skip
    for key, justify in (
        ("customer", "left"), ("collector", "left"), ("invoice", "left"), ("issued_on", "left"),
        ("due_on", "left"), ("days_overdue", "right"), ("outstanding", "right"),
        ("cu_paused", "right"), ("penalty", "right"), ("bucket", "left"),
    ):  # fmt: skip
        table.add_column(text(locale, key), justify=justify, overflow="fold")  # type: ignore[arg-type]
    for r in rows:
        table.add_row(
            f"{r.customer_id} {r.customer_name}", r.collector or "", r.invoice_id,
            r.issued_on.isoformat(), r.due_on.isoformat(),
            str(r.days_overdue) if r.bucket != "settled" else "",
            f"{r.outstanding:,.2f} {r.currency}", f"{r.paused:,.2f}" if r.paused else "",
            f"{r.penalty:,.2f}", bucket_label(r.bucket, locale), style=r.colour,
        )  # fmt: skip
    console.print(table)
    summary = Table(title=text(locale, "by_bucket_currency"), header_style="bold")
    for key in SUMMARY_COLUMNS:
        left = key in ("wk_currency", "bucket")
        summary.add_column(text(locale, key), justify="left" if left else "right", overflow="fold")
    late = late_buckets(policy.aging)
    for t in totals:
        style = "green" if t.bucket == "settled" else ("red" if t.bucket in late else None)
        summary.add_row(
            t.currency, bucket_label(t.bucket, locale), str(t.items), f"{t.outstanding:,.2f}",
            f"{t.paused:,.2f}", f"{t.penalty:,.2f}", style=style,
        )  # fmt: skip
    console.print(summary)


# The workbook's columns, labelled from the message catalogue (notifier.words).
XLSX_COLUMNS = (
    ("cu_id", 10), ("customer", 24), ("collector", 12), ("invoice", 18), ("wk_currency", 8),
    ("issued_on", 12), ("due_on", 12), ("days_overdue", 10), ("amount", 16),
    ("outstanding", 16), ("cu_paused", 16), ("penalty", 14), ("bucket", 10),
    ("settled_amount", 12),
)  # fmt: skip
SUMMARY_COLUMNS = ("wk_currency", "bucket", "items", "outstanding", "cu_paused", "penalty")


def bucket_label(bucket: str, locale: str) -> str:
    if bucket in ("not_due", "settled"):
        return text(locale, f"bucket_{bucket}")
    return text(locale, "bucket_days", range=bucket)


def to_xlsx(
    rows: list[AgingRow],
    totals: list[BucketTotal],
    at: date | datetime,
    policy: Policy,
    zone: str = REFERENCE_ZONE,
    locale: str = "en",
) -> bytes:
    """The report as an Excel workbook: the items, then the totals per currency and
    bucket; headers in ``locale``, amounts as numbers shown with their currency, dates as
    dates. The sheet names the report's instant (and that each customer is aged on its
    own local date)."""
    instant = report_instant(at, zone)
    items = [
        (
            r.customer_id, r.customer_name, r.collector, r.invoice_id, r.currency, r.issued_on,
            r.due_on, r.days_overdue if r.bucket != "settled" else None,
            Money(r.amount, r.currency), Money(r.outstanding, r.currency),
            Money(r.paused, r.currency), Money(r.penalty, r.currency),
            bucket_label(r.bucket, locale), r.settled_on,
        )
        for r in rows
    ]  # fmt: skip
    summary = [
        (t.currency, bucket_label(t.bucket, locale), t.items, Money(t.outstanding, t.currency),
         Money(t.paused, t.currency), Money(t.penalty, t.currency))
        for t in totals
    ]  # fmt: skip
    reference = text(locale, "aging_reference", at=as_of_text(instant, zone))
    return write_xlsx([
        Sheet(text(locale, "aging_title"), [text(locale, k) for k, _ in XLSX_COLUMNS], items,
              [w for _, w in XLSX_COLUMNS]),
        Sheet(text(locale, "wk_currency") + " · " + text(locale, "bucket"),
              [text(locale, k) for k in SUMMARY_COLUMNS], summary),
        Sheet(text(locale, "as_of"), [text(locale, "as_of")], [(reference,)], [60]),
    ])  # fmt: skip


def totals(rows: list[AgingRow], policy: Policy) -> list[BucketTotal]:
    """Per currency, then bucket."""
    return bucket_totals(rows, policy.aging)
