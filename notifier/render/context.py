"""What a message may say: the facts of one customer's position, as the templates see them.

``compose.message_context`` builds a :class:`MessageContext`; the derived amounts below are
computed exactly as ``compose.lint_facts`` computes the amounts a message may state, so a
template that prints them passes the content linter (D14). The linter compares amounts
after rounding to the cent, as the ``money`` filter rounds them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Any

from notifier.domain.due_dates import DueOnDate, due_on_dates
from notifier.domain.lint import UNSUBSCRIBE_MARK
from notifier.domain.once import once

# Seed 003: three instalments, the first one 30 % of the total, the other two equal.
INSTALMENT_FIRST_SHARE = Decimal("0.30")
TONES = ("friendly", "neutral", "firm", "formal")
# An e-mail's unsubscribe link (UNSUBSCRIBE_MARK) names the reminder, which exists only
# once the draft is stored, so the text keeps the mark and delivery puts the link in
# (notifier.tracking.track_email). Not a URL: nothing tracks or rewrites it before.
# A plan's instalments are items "PLAN{plan}/{seq}" (store.queries, domain.instalments).
_INSTALMENT_ID = re.compile(r"^(?P<plan>PLAN\d+)/(?P<seq>\d+)$")
# Dates read as the customer's country writes them: en-GB for GB (4 December 2026).
_COUNTRY_LOCALES = {("en", "GB"): "en-GB"}


@dataclass(frozen=True)
class ItemLine:
    """One open invoice as a message lists it."""

    invoice_id: str
    issued_on: date
    due_on: date
    days_overdue: int  # negative before the due date, 0 on it
    outstanding: Decimal  # the undisputed part still owed: what the message asks for
    penalty: Decimal  # on that part
    currency: str
    paused: Decimal = Decimal("0.00")  # set aside by an open dispute (D22), not asked for

    @property
    def is_overdue(self) -> bool:
        return self.days_overdue > 0

    @property
    def total_due(self) -> Decimal:
        """Outstanding principal plus the penalty so far on this item."""
        return self.outstanding + self.penalty


@dataclass(frozen=True)
class MessageContext:
    """Everything a template may use; the keyword names are those compose.py passes."""

    locale: str  # "zh-CN" | "en"
    tone: str  # friendly | neutral | firm | formal
    step: str  # the template name: pre_due, friendly, offer, ..., fallback, thank_you
    customer_name: str
    customer_kind: str  # business | individual
    creditor_name: str
    creditor_contact: str
    items: tuple[ItemLine, ...]  # oldest due first
    currency: str
    total_outstanding: Decimal
    overdue_count: int
    total_overdue: Decimal
    max_days_overdue: int
    total_penalty: Decimal
    penalty_rate_daily: Decimal
    payment_url: str
    pay_options: tuple[date, date]
    legal_authorised: bool
    offer_waiver_percent: int
    offer_pay_by: date
    final_days: int
    pre_due_days: int = 3  # the pre-due window (D5): the policy's stages.pre_due_days
    # In a fallback SMS (D17): the template of the e-mail's step, whose offer and pay-by
    # rule the SMS repeats; "" when unknown (the SMS then asks for the dates offered).
    follows: str = ""
    as_of: date | None = None  # the customer's day the facts are computed for
    country: str = ""  # ISO 3166 alpha-2; with the locale it decides how dates read
    # 先生 / 女士 (Mr / Ms) when known: a person is addressed by name and title, else
    # with a plain greeting (您好 / Hello), never by the bare name.
    customer_title: str = ""
    unsubscribe_url: str = UNSUBSCRIBE_MARK
    creditor_signature: str = ""  # the short name an SMS is signed with; "" = the name

    @property
    def format_locale(self) -> str:
        """The locale amounts and dates are formatted in: the language, refined by the
        customer's country where it writes them otherwise (en + GB: en-GB)."""
        return _COUNTRY_LOCALES.get((self.locale, self.country.upper()), self.locale)

    @once
    def instalments(self) -> dict[str, tuple[int, int]]:
        """A plan's instalment items by id: (its number, how many the plan has). Payments
        settle a plan's instalments oldest first, so its last one is open as long as any
        is, and the highest open number is the plan's count."""
        found: dict[str, tuple[str, int]] = {}
        for item in self.items:
            match = _INSTALMENT_ID.match(item.invoice_id)
            if match is not None:
                found[item.invoice_id] = (match["plan"], int(match["seq"]))
        counts: dict[str, int] = {}
        for plan, seq in found.values():
            counts[plan] = max(counts.get(plan, 0), seq)
        return {key: (seq, counts[plan]) for key, (plan, seq) in found.items()}

    @property
    def is_business(self) -> bool:
        return self.customer_kind == "business"

    @property
    def open_count(self) -> int:
        return len(self.items)

    @property
    def overdue_items(self) -> tuple[ItemLine, ...]:
        return tuple(i for i in self.items if i.is_overdue)

    @property
    def next_due(self) -> ItemLine | None:
        """The first item not yet past its due date (the one a pre-due reminder is about)."""
        upcoming = [i for i in self.items if not i.is_overdue]
        return min(upcoming, key=lambda i: (i.due_on, i.invoice_id)) if upcoming else None

    @once
    def due_dates(self) -> tuple[DueOnDate, ...]:
        """What falls due on each coming date of the pre-due window, nearest first (the
        nearest date alone when none is in the window): a text about coming dates names
        these totals, not one invoice's amount."""
        return due_on_dates(self.items, self.pre_due_days)

    @property
    def due_soon_total(self) -> Decimal | None:
        """The total of ``due_dates``; None when they are in several currencies."""
        if len({d.currency for d in self.due_dates}) != 1:
            return None
        return sum((d.amount for d in self.due_dates), Decimal("0.00"))

    @property
    def waived_penalty(self) -> Decimal:
        """D23: the part of the penalty the offer waives."""
        return self.total_penalty * self.offer_waiver_percent / 100

    @property
    def penalty_after_waiver(self) -> Decimal:
        return self.total_penalty - self.waived_penalty

    @property
    def total_with_penalty(self) -> Decimal:
        return self.total_outstanding + self.total_penalty

    @property
    def overdue_with_penalty(self) -> Decimal:
        return self.total_overdue + self.total_penalty

    @property
    def instalment_first(self) -> Decimal:
        return self.total_outstanding * INSTALMENT_FIRST_SHARE

    @property
    def instalment_rest(self) -> Decimal:
        """Each of the two instalments after the first."""
        return (self.total_outstanding - self.instalment_first) / 2

    def template_vars(self) -> dict[str, Any]:
        """The fields and the derived values, as template variables."""
        return {name: getattr(self, name) for name in _VARIABLES}


DERIVED = (
    "is_business", "open_count", "overdue_items", "next_due", "due_dates", "due_soon_total",
    "waived_penalty", "penalty_after_waiver", "total_with_penalty", "overdue_with_penalty",
    "instalment_first", "instalment_rest", "instalments", "format_locale",
)  # fmt: skip
# The template variables in the order template_vars gives them: the fields, then DERIVED
# (the field names looked up once, not per message).
_VARIABLES = (*(f.name for f in fields(MessageContext)), *DERIVED)
