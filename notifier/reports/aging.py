"""D26: the aging report over the whole portfolio, as a table, CSV or JSON."""

from __future__ import annotations

import json
from datetime import date, timedelta

from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from notifier.domain.aging import AgingRow, BucketTotal, aging_rows, bucket_totals, late_buckets
from notifier.domain.policy import Policy
from notifier.reports.export import Cell, write_csv
from notifier.store.queries import items_for, iter_customers

COLUMNS = (
    "customer_id", "customer_name", "collector", "invoice_id", "currency", "issued_on",
    "due_on", "days_overdue", "amount", "outstanding", "penalty", "bucket", "settled_on",
)  # fmt: skip


def build_aging(
    session: Session, day: date, policy: Policy, settled_days: int = 30
) -> list[AgingRow]:
    """Every open item on ``day`` and the items settled in the ``settled_days`` before it,
    oldest due first within each customer."""
    rows: list[AgingRow] = []
    since = day - timedelta(days=settled_days)
    for customers in iter_customers(session):
        items = items_for(session, [c.id for c in customers])
        for c in customers:
            rows.extend(
                aging_rows(
                    c.id,
                    c.name,
                    c.collector,
                    items[c.id],
                    day,
                    policy.aging,
                    policy.penalty.default_daily_rate,
                    since,
                )  # fmt: skip
            )
    rows.sort(key=lambda r: (r.customer_id, r.due_on, r.invoice_id))
    return rows


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
    }


def to_csv(rows: list[AgingRow]) -> str:
    """Text cells (names, ids, collectors) are neutralised for spreadsheets; the amounts
    and days overdue are written from numbers (export.py says why)."""
    return write_csv(COLUMNS, (_cells(r) for r in rows))


def _cells(row: AgingRow) -> dict[str, Cell]:
    cells: dict[str, Cell] = dict(_values(row))
    cells.update(amount=row.amount, outstanding=row.outstanding, penalty=row.penalty)
    return cells


def to_json(rows: list[AgingRow], totals: list[BucketTotal], day: date) -> str:
    return json.dumps(
        {
            "as_of": day.isoformat(),
            "items": [_values(r) for r in rows],
            "buckets": [
                {
                    "bucket": t.bucket,
                    "items": t.items,
                    "outstanding": str(t.outstanding),
                    "penalty": str(t.penalty),
                }
                for t in totals
            ],
        },
        ensure_ascii=False,
        indent=2,
    )


def print_table(
    console: Console, rows: list[AgingRow], totals: list[BucketTotal], day: date, policy: Policy
) -> None:
    table = Table(title=f"Aging report as of {day.isoformat()}", header_style="bold")
    for name, justify in (
        ("Customer", "left"), ("Collector", "left"), ("Invoice", "left"), ("Issued", "left"),
        ("Due", "left"), ("Days overdue", "right"), ("Outstanding", "right"),
        ("Penalty so far", "right"), ("Bucket", "left"),
    ):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(
            f"{r.customer_id} {r.customer_name}", r.collector or "", r.invoice_id,
            r.issued_on.isoformat(), r.due_on.isoformat(),
            str(r.days_overdue) if r.bucket != "settled" else "",
            f"{r.outstanding:,.2f} {r.currency}", f"{r.penalty:,.2f}", r.bucket,
            style=r.colour,
        )  # fmt: skip
    console.print(table)
    summary = Table(title="By bucket", header_style="bold")
    for name in ("Bucket", "Items", "Outstanding", "Penalty so far"):
        summary.add_column(name, justify="left" if name == "Bucket" else "right")
    late = late_buckets(policy.aging)
    for t in totals:
        style = "green" if t.bucket == "settled" else ("red" if t.bucket in late else None)
        summary.add_row(
            t.bucket, str(t.items), f"{t.outstanding:,.2f}", f"{t.penalty:,.2f}", style=style
        )
    console.print(summary)


def totals(rows: list[AgingRow], policy: Policy) -> list[BucketTotal]:
    return bucket_totals(rows, policy.aging)
