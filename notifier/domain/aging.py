"""D26: the aging report: per item issue date, due date, days overdue and penalty so far,
in buckets 0-30 / 31-60 / 61-90 / 90+ (bounds from the policy); red beyond 30 days,
green once settled.

Each customer is aged on its own local date (D11), from its standing: an item's
``outstanding`` is all it still owes, ``paused`` the part of that an open dispute sets
aside (D22), and the penalty is the standing's, on the undisputed part. Totals are per
currency: amounts in different currencies are never added."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from notifier.domain.items import Item
from notifier.domain.penalty import penalty_so_far
from notifier.domain.policy import AgingPolicy
from notifier.domain.position import ZERO, open_item
from notifier.domain.standing import Standing

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
    paused: Decimal = ZERO  # of ``outstanding``, what an open dispute sets aside (D22)
    as_of: date | None = None  # the customer's own local date the row is aged on


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
    """Rows for one customer's items as of its ``today``: every open item, plus items
    settled on or after ``settled_since`` (None: no settled items)."""
    rows = []
    for item in items:
        if item.issued_on > today:
            continue
        settled = item.settled_on()
        paused = ZERO
        if settled is not None and settled <= today:
            if settled_since is None or settled < settled_since:
                continue
            outstanding, days, bucket = Decimal("0.00"), 0, SETTLED
            penalty = penalty_so_far(item, settled, default_rate)
        else:
            owed = open_item(item, today, default_rate)  # as the standing counts it
            if owed is None:
                continue
            outstanding, paused = owed.outstanding + owed.paused, owed.paused
            days, penalty = owed.days_overdue, owed.penalty
            bucket = bucket_for(days, policy)
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
                paused,
                today,
            )
        )
    return rows


def aging_of(
    st: Standing,
    customer_name: str,
    collector: str | None,
    policy: AgingPolicy,
    settled_since: date | None = None,
) -> list[AgingRow]:
    """The aging rows of one customer's standing, on the customer's own day."""
    return aging_rows(st.customer.id, customer_name, collector, st.items, st.today, policy,
                      st.policy.penalty.default_daily_rate, settled_since)  # fmt: skip


@dataclass(frozen=True)
class BucketTotal:
    bucket: str
    items: int
    outstanding: Decimal
    penalty: Decimal
    currency: str = ""
    paused: Decimal = ZERO


def bucket_order(policy: AgingPolicy) -> tuple[str, ...]:
    return (NOT_DUE, *bucket_labels(policy), SETTLED)


def bucket_totals(
    rows: Iterable[AgingRow], policy: AgingPolicy, currencies: Iterable[str] = ()
) -> list[BucketTotal]:
    """Every bucket of every currency present (and of ``currencies``), by currency then
    bucket: amounts are summed within a currency only."""
    rows = list(rows)
    totals: dict[tuple[str, str], BucketTotal] = {
        (cur, b): BucketTotal(b, 0, ZERO, ZERO, cur)
        for cur in sorted({r.currency for r in rows} | set(currencies))
        for b in bucket_order(policy)
    }
    for row in rows:
        t = totals[(row.currency, row.bucket)]
        totals[(row.currency, row.bucket)] = BucketTotal(
            t.bucket, t.items + 1, t.outstanding + row.outstanding, t.penalty + row.penalty,
            t.currency, t.paused + row.paused,
        )  # fmt: skip
    return list(totals.values())
