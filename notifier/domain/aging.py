"""D26: the aging report: per item issue date, due date, days overdue and penalty so far,
in buckets 0-30 / 31-60 / 61-90 / 90+ (bounds from the policy); red beyond 30 days,
green once settled."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from notifier.domain.items import Item
from notifier.domain.penalty import penalty_so_far
from notifier.domain.policy import AgingPolicy

NOT_DUE = "not_due"
SETTLED = "settled"


def bucket_labels(policy: AgingPolicy) -> tuple[str, ...]:
    bounds = policy.bucket_bounds
    labels = [f"0-{bounds[0]}"]
    labels += [f"{lo + 1}-{hi}" for lo, hi in zip(bounds, bounds[1:], strict=False)]
    labels.append(f"{bounds[-1]}+")
    return tuple(labels)


def bucket_for(days_overdue: int, policy: AgingPolicy) -> str:
    """Bucket of an open item: not_due before the due date, then by days overdue."""
    if days_overdue < 0:
        return NOT_DUE
    labels = bucket_labels(policy)
    for label, bound in zip(labels, policy.bucket_bounds, strict=False):
        if days_overdue <= bound:
            return label
    return labels[-1]


@dataclass(frozen=True)
class AgingRow:
    customer_id: str
    customer_name: str
    collector: str | None
    invoice_id: str
    currency: str
    issued_on: date
    due_on: date
    amount: Decimal
    outstanding: Decimal
    days_overdue: int  # 0 for settled items
    penalty: Decimal
    bucket: str
    settled_on: date | None
    colour: str | None  # what the seed asks: green for settled, red beyond 30 days overdue


def colour_for(bucket: str, days_overdue: int, policy: AgingPolicy) -> str | None:
    if bucket == SETTLED:
        return "green"
    return "red" if days_overdue > policy.red_after_days else None


def late_buckets(policy: AgingPolicy) -> set[str]:
    """Buckets whose every item is past ``red_after_days``: shown red in summaries."""
    labels = bucket_labels(policy)
    lower = [0, *(b + 1 for b in policy.bucket_bounds)]
    return {label for label, lo in zip(labels, lower, strict=True) if lo > policy.red_after_days}


def aging_rows(
    customer_id: str,
    customer_name: str,
    collector: str | None,
    items: Iterable[Item],
    today: date,
    policy: AgingPolicy,
    default_rate: Decimal,
    settled_since: date | None = None,
) -> list[AgingRow]:
    """Rows for one customer's items as of ``today``: every open item, plus items settled
    on or after ``settled_since`` (None: no settled items)."""
    rows = []
    for item in items:
        if item.issued_on > today:
            continue
        settled = item.settled_on()
        if settled is not None and settled <= today:
            if settled_since is None or settled < settled_since:
                continue
            outstanding, days, bucket = Decimal("0.00"), 0, SETTLED
            penalty = penalty_so_far(item, settled, default_rate)
        else:
            outstanding = item.outstanding_on(today)
            days = item.days_overdue(today)
            bucket = bucket_for(days, policy)
            penalty = penalty_so_far(item, today, default_rate)
        rows.append(
            AgingRow(
                customer_id,
                customer_name,
                collector,
                item.id,
                item.currency,
                item.issued_on,
                item.due_on,
                item.amount,
                outstanding,
                days,
                penalty,
                bucket,
                settled,
                colour_for(bucket, days, policy),
            )
        )
    return rows


@dataclass(frozen=True)
class BucketTotal:
    bucket: str
    items: int
    outstanding: Decimal
    penalty: Decimal


def bucket_totals(rows: Iterable[AgingRow], policy: AgingPolicy) -> list[BucketTotal]:
    order = (NOT_DUE, *bucket_labels(policy), SETTLED)
    totals = {b: BucketTotal(b, 0, Decimal("0.00"), Decimal("0.00")) for b in order}
    for row in rows:
        t = totals[row.bucket]
        totals[row.bucket] = BucketTotal(
            t.bucket, t.items + 1, t.outstanding + row.outstanding, t.penalty + row.penalty
        )
    return list(totals.values())
