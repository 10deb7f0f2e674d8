"""Payments flowing in (issue 14, item 6): from an ERP or a payment provider through
``POST /api/payments``, and from files (``notifier import payments``, CSV, xlsx or a bank
statement). Whichever way a payment comes, what the customer's pending messages say is
checked at once (:func:`settle`): a draft or an approved reminder that names an amount no
longer owed, or items now paid, is cancelled with the reason, as the send-time re-check
would do later, so the next message is drafted from the new amounts; a customer that
settled has nothing pending any more. The planner is told by the payments' own triggers
(migration 0009: "recompute now").

An API payment is idempotent by its ``Idempotency-Key`` (:func:`once`): a repeat with the
same key and the same body gets the first answer and changes nothing; the same key with
another body is refused (409).

No HTTP here. Callers own the transaction (nothing commits) and pass ``now``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from notifier.domain.errors import Conflict, Refused
from notifier.domain.items import cents_to_money, local_date, money_to_cents
from notifier.domain.lifecycle import LIVE
from notifier.domain.policy import Policy
from notifier.domain.standing import standing_of
from notifier.importer import ImportReport
from notifier.importer.parse import FieldError, parse_amount, parse_id, parse_paid_on
from notifier.services.common import UnknownRecord
from notifier.store import reminders
from notifier.store.models import Customer, Event, IdempotencyKey, Payment, Receivable, Reminder
from notifier.store.queries import items_for

MAX_KEY = 200
CHUNK = 1000  # customers per IN list: far below either store's limit
FIELDS = ("payment_id", "invoice_id", "amount", "paid_on")


class PaymentRefused(Refused):
    """A payment's field that cannot be read; :meth:`detail` names the field."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{name}: {why}" for name, why in self.problems))

    def detail(self) -> Any:
        return [
            {"loc": ["body", name], "msg": why, "type": "value_error"}
            for name, why in self.problems
        ]


class PaymentConflict(Conflict):
    """The payment id is recorded already with other facts."""


class KeyReused(Conflict):
    """The Idempotency-Key came with another request before (or is being used now)."""


class KeyMissing(Refused):
    """No usable Idempotency-Key header."""


@dataclass(frozen=True)
class PaymentIn:
    payment_id: str
    invoice_id: str
    amount: Decimal
    paid_on: date


def read_payment(body: Mapping[str, Any], policy: Policy, now: datetime) -> PaymentIn:
    """The payment in ``body`` checked by the import's own rules (an id fit for a link, a
    positive amount with at most two decimals, a date inside the policy's window and not
    after today); every bad field named."""
    problems: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    today = now.date()
    parsers: dict[str, Callable[[str], Any]] = {
        "payment_id": parse_id,
        "invoice_id": parse_id,
        "amount": parse_amount,
        "paid_on": lambda t: parse_paid_on(t, policy.limits, today),
    }
    for name in FIELDS:
        raw = body.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            problems.append((name, "is required"))
            continue
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            problems.append((name, f"must be a string, not {type(raw).__name__}"))
            continue
        try:
            # A JSON number reads as its shortest decimal form: 5000.5, not 5000.4999...
            values[name] = parsers[name](repr(raw) if isinstance(raw, float) else str(raw))
        except FieldError as exc:
            problems.append((name, str(exc)))
    extra = sorted(set(body) - set(FIELDS))
    problems += [(name, "unknown field") for name in extra]
    if problems:
        raise PaymentRefused(problems)
    return PaymentIn(**values)


def record_payment(
    session: Session, payment: PaymentIn, by: str, now: datetime, policy: Policy
) -> dict[str, Any]:
    """Record ``payment`` (once: the same payment again changes nothing) and settle its
    customer's pending messages. The answer names what is owed now and what was
    cancelled."""
    invoice = session.get(Receivable, payment.invoice_id)
    if invoice is None:
        raise UnknownRecord(
            f"no invoice with id {payment.invoice_id!r}: import it (`notifier import "
            "receivables`) before its payments"
        )
    cents = money_to_cents(payment.amount)
    stored = session.get(Payment, payment.payment_id, with_for_update=True)
    recorded = stored is None
    if stored is not None:
        same = (stored.invoice_id, stored.amount_cents, stored.paid_on) == (
            payment.invoice_id,
            cents,
            payment.paid_on,
        )
        if not same:
            raise PaymentConflict(
                f"payment {payment.payment_id!r} is recorded already, for invoice "
                f"{stored.invoice_id!r}, {cents_to_money(stored.amount_cents)} paid on "
                f"{stored.paid_on.isoformat()}: a payment id names one payment"
            )
        cancelled: list[int] = []
    else:
        session.add(
            Payment(
                id=payment.payment_id,
                invoice_id=payment.invoice_id,
                amount_cents=cents,
                paid_on=payment.paid_on,
                created_at=now,
                updated_at=now,
            )
        )
        session.add(
            Event(
                at=now,
                kind="payment_recorded",
                customer_id=invoice.customer_id,
                actor=by,
                data={
                    "payment_id": payment.payment_id,
                    "invoice_id": payment.invoice_id,
                    "amount": str(payment.amount),
                    "paid_on": payment.paid_on.isoformat(),
                },
            )
        )
        session.flush()
        cancelled = settle(
            session, [invoice.customer_id], now, policy, by, f"payment {payment.payment_id}"
        )
    owed = _owed(session, invoice.customer_id, now)
    return {
        "payment_id": payment.payment_id,
        "invoice_id": payment.invoice_id,
        "customer_id": invoice.customer_id,
        "amount": str(payment.amount),
        "paid_on": payment.paid_on.isoformat(),
        "status": "recorded" if recorded else "unchanged",
        "outstanding": {cur: str(v) for cur, v in sorted(owed.items())},
        "cancelled": cancelled,
    }


def _owed(session: Session, customer_id: str, now: datetime) -> dict[str, Decimal]:
    customer = session.get(Customer, customer_id)
    assert customer is not None  # an invoice's customer: a foreign key
    today = local_date(now, customer.timezone)
    owed: dict[str, Decimal] = {}
    for item in items_for(session, [customer_id])[customer_id]:
        owed[item.currency] = owed.get(item.currency, Decimal(0)) + item.outstanding_on(today)
    return owed


def settle(
    session: Session,
    customer_ids: Iterable[str],
    now: datetime,
    policy: Policy,
    by: str,
    what: str = "a payment",
) -> list[int]:
    """Cancel the live messages of these customers that no longer say what is owed: the
    customer settled, the items a message was about were paid, or the total it names
    changed (the send-time re-check's rules, applied now). The ids cancelled."""
    ids = sorted(set(customer_ids))
    cancelled: list[int] = []
    for start in range(0, len(ids), CHUNK):
        cancelled += _settle_chunk(session, ids[start : start + CHUNK], now, policy, by, what)
    return sorted(cancelled)


def _settle_chunk(
    session: Session, ids: Sequence[str], now: datetime, policy: Policy, by: str, what: str
) -> list[int]:
    """One SELECT of the live messages; the customers and items only of those that have
    one; each customer's standing once."""
    # Which are live is tested here, not in SQL: with the status there, SQLite (no
    # statistics) reads the status index, every live reminder of the portfolio, instead of
    # these customers' own rows (services/calls.call_times_of).
    live_ids = [rid for rid, status in session.execute(
        select(col(Reminder.id), col(Reminder.status)).where(col(Reminder.customer_id).in_(ids))
    ) if status in LIVE]  # fmt: skip
    if not live_ids:
        return []
    live = [r for r in session.scalars(
        select(Reminder).where(col(Reminder.id).in_(live_ids)).order_by(col(Reminder.id))
    ) if r.status in LIVE]  # fmt: skip
    with_live = sorted({r.customer_id for r in live})
    customers = {
        c.id: c for c in session.scalars(select(Customer).where(col(Customer.id).in_(with_live)))
    }
    items = items_for(session, with_live)
    standings = {
        cid: standing_of(customers[cid], items.get(cid, []), now, policy) for cid in with_live
    }
    reasons: dict[int, str] = {}
    for r in live:
        st = standings[r.customer_id]
        total = st.position.total_outstanding
        stated = r.facts.get("total")
        if st.stage.reminder_stage is None or st.cycle is None:
            reasons[r.id or 0] = f"nothing is owed any more ({what})"
        elif st.cycle != r.cycle:
            reasons[r.id or 0] = f"the items it was about were paid ({what})"
        elif stated is not None and str(stated) != str(total):
            reasons[r.id or 0] = f"the amount owed changed ({what}): {stated} -> {total}"
    reminders.cancel_many(session, reasons, now, by)
    return list(reasons)


def settle_import(
    session: Session, report: ImportReport, now: datetime, policy: Policy, by: str = "import"
) -> list[int]:
    """After an import of payments or receivables: :func:`settle` the customers whose rows
    it wrote (a dry run wrote none)."""
    if report.dry_run or not report.written:
        return []
    written = sorted(report.written)
    customers: set[str] = set()
    for start in range(0, len(written), CHUNK):
        chunk = written[start : start + CHUNK]
        if report.kind == "payments":
            customers.update(
                session.scalars(
                    select(col(Receivable.customer_id))
                    .join(Payment, col(Payment.invoice_id) == col(Receivable.id))
                    .where(col(Payment.id).in_(chunk))
                )
            )
        elif report.kind == "receivables":
            customers.update(
                session.scalars(
                    select(col(Receivable.customer_id)).where(col(Receivable.id).in_(chunk))
                )
            )
    return settle(session, customers, now, policy, by, f"import of {report.file}")


# -- idempotency ------------------------------------------------------------------------


def request_digest(body: Any) -> str:
    """The SHA-256 of the request's JSON, keys sorted: the same body in any key order or
    spacing is the same request."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str | None) -> str:
    text = (key or "").strip()
    if not text:
        raise KeyMissing(
            "the Idempotency-Key header is required (a unique string per "
            "payment, e.g. a UUID): a retried request then changes nothing"
        )
    if len(text) > MAX_KEY or not text.isascii() or not text.isprintable():
        raise KeyMissing(f"the Idempotency-Key must be 1 to {MAX_KEY} printable ASCII characters")
    return text


def once(
    session: Session,
    key: str,
    scope: str,
    user: str,
    body: Any,
    now: datetime,
    work: Callable[[], tuple[int, dict[str, Any]]],
) -> tuple[int, dict[str, Any], bool]:
    """(status, answer, replayed): the stored answer of ``key`` when it came with this
    same body before, else ``work()``'s, stored with the key. The key is taken first (a
    row of its own, before the work), so two requests racing with one key do not both
    do the work: the second waits for the first (PostgreSQL) and is told to retry (409).
    A refusal rolls the key back with everything else: the same key may be used again."""
    digest = request_digest(body)
    stored = session.get(IdempotencyKey, key, with_for_update=True, populate_existing=True)
    if stored is not None:
        if stored.scope != scope or stored.user_name != user or stored.request_sha256 != digest:
            raise KeyReused(
                f"the Idempotency-Key {key!r} was used before with another request: use a new "
                "key for a new payment"
            )
        return stored.status_code, dict(stored.response), True
    row = IdempotencyKey(
        key=key,
        scope=scope,
        user_name=user,
        request_sha256=digest,
        status_code=0,
        response={},
        created_at=now,
    )
    try:
        session.add(row)
        session.flush()
    except IntegrityError:
        # Another request took the key meanwhile (PostgreSQL waited for it to commit). This
        # transaction cannot go on; the caller's unit of work rolls it back.
        raise KeyReused(
            f"a request with the Idempotency-Key {key!r} was being handled at the same time: "
            "retry it to get its answer"
        ) from None
    status, answer = work()
    row.status_code, row.response = status, answer
    session.flush()
    return status, answer, False
