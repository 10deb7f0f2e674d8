"""D1: the risk tier from the customer's own history; a hand-set tier wins.

A = pays on time, B = occasionally late but pays, C = frequently late, very late once,
or a large share of our receivables long overdue (seed 000, 003).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache

from notifier.domain.items import Item
from notifier.domain.policy import TierName, TierPolicy
from notifier.domain.reasons import Why


@lru_cache(maxsize=4096)
def months_before(day: date, months: int) -> date:
    """The same day of the month ``months`` earlier (the month's last day when it has no
    such day). Kept: every customer seen on the same day asks the same question."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class TierFacts:
    late_payments: int  # items settled late within the look-back
    longest_delay_days: int  # over items due within the look-back or still open
    relationship_days: int  # since the first invoice
    # of the whole portfolio's outstanding, 0..1; None when the share rule cannot decide
    # (nothing overdue beyond high_risk_days_overdue, or C by the other rules already):
    # the total is then never asked for
    share_of_receivables: Decimal | None
    days_overdue_now: int  # of the oldest open item, 0 if none


@dataclass(frozen=True)
class TierDecision:
    tier: TierName
    hand_set: bool
    computed: TierName
    reasons: tuple[Why, ...]  # worded by notifier.words (Words.why)


def tier_facts(
    items: Iterable[Item],
    today: date,
    policy: TierPolicy,
    portfolio_outstanding: Decimal | Callable[[], Decimal],
) -> TierFacts:
    """The facts the tier is decided on, from the items issued by ``today``.
    ``portfolio_outstanding`` (what all customers owe) may be a function: it is called only
    for a customer whose tier the share rule can decide (overdue long enough, and not C by
    late payments or delay already), as the total is a query over the whole portfolio.
    With a look-back delay rule no longer than the share rule's days (the shipped policy:
    60 against 90), that is nobody."""
    since = months_before(today, policy.lookback_months)
    late_after = policy.late_after_days
    late = 0
    longest = 0
    outstanding = Decimal(0)
    overdue_now = 0
    first = today
    for item in items:
        issued = item.issued_on
        if issued > today:
            continue
        if issued < first:
            first = issued
        due = item.due_on
        settled = item.settled_on()
        if settled is not None and settled <= today:
            delay = (settled - due).days  # how late it was paid (negative: early)
            if since <= settled and delay > late_after:
                late += 1
            if since <= due and delay > longest:
                longest = delay
        else:
            outstanding += item.outstanding_on(today)
            overdue = (today - due).days  # also its delay so far
            if overdue > overdue_now:
                overdue_now = overdue
            if overdue > longest:
                longest = overdue
    share: Decimal | None = None
    if (
        overdue_now > policy.high_risk_days_overdue
        and late < policy.c_min_late_payments
        and longest < policy.c_min_delay_days
    ):  # only then can the share decide the tier (else C already, or too recent)
        total = (
            portfolio_outstanding() if callable(portfolio_outstanding) else portfolio_outstanding
        )
        share = outstanding / total if total > 0 else Decimal(0)
    return TierFacts(late, longest, (today - first).days, share, overdue_now)


def decide_tier(
    facts: TierFacts, policy: TierPolicy, hand_set: TierName | None = None
) -> TierDecision:
    computed, reasons = _compute(facts, policy)
    if hand_set is not None:
        return TierDecision(hand_set, True, computed, (Why.of("hand_set", computed=computed),))
    return TierDecision(computed, False, computed, reasons)


def _compute(f: TierFacts, p: TierPolicy) -> tuple[TierName, tuple[Why, ...]]:
    months = p.lookback_months
    c_reasons = []
    if f.late_payments >= p.c_min_late_payments:
        c_reasons.append(Why.of("c_late", late=f.late_payments, months=months,
                                   least=p.c_min_late_payments))  # fmt: skip
    if f.longest_delay_days >= p.c_min_delay_days:
        c_reasons.append(Why.of("c_delay", days=f.longest_delay_days, least=p.c_min_delay_days))
    share = f.share_of_receivables
    if (
        share is not None
        and share >= p.high_share
        and f.days_overdue_now > p.high_risk_days_overdue
    ):
        c_reasons.append(Why.of("c_share", share=share, days=f.days_overdue_now,
                                   high=p.high_share, risk=p.high_risk_days_overdue))  # fmt: skip
    if c_reasons:
        return "C", tuple(c_reasons)
    on_time = f.late_payments <= p.a_max_late_payments
    if (
        on_time
        and f.days_overdue_now <= p.a_grace_days
        and f.longest_delay_days <= p.a_grace_days
        and f.relationship_days >= p.a_min_relationship_days
    ):
        return "A", (
            Why.of("a_on_time", days=f.relationship_days, late=f.late_payments, months=months),
        )
    reasons = []
    if not on_time:
        reasons.append(Why.of("b_late", late=f.late_payments, months=months))
    if f.days_overdue_now > p.a_grace_days or f.longest_delay_days > p.a_grace_days:
        reasons.append(Why.of("b_delay", days=max(f.days_overdue_now, f.longest_delay_days)))
    if f.relationship_days < p.a_min_relationship_days:
        reasons.append(Why.of("b_new", days=f.relationship_days, least=p.a_min_relationship_days))
    return "B", tuple(reasons)
