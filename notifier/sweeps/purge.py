"""The retention purge (C5): personal data of customers settled longer ago than the
policy's period for their country is anonymised; the figures stay.

A customer is settled when every one of its invoices is paid in full and none is in
dispute; it settled on the day of its last payment. Past ``[retention] years`` for its
country (3 US, 5 CN as shipped), the purge, per customer:

- blanks its name (a fixed mark), title, phone, e-mail, postal address, notes and
  escalation reason;
- blanks its messages' address, subject and text (the queue row stays: channel, step,
  stage, tier, tone, status, times, the stated figures), its edits' texts, the notes of
  its promises and plans and the reasons of its disputes;
- replaces the payload of each of its sealed events by a tombstone that keeps only
  references and figures (``evidence/chain.py``): the chain still verifies, and reports
  that count events by kind, channel and status still count them;
- records what it did as a ``retention_purged`` event in the customer's chain.

Invoices, payments, amounts, dates and stages are kept for the reports. Opt-outs are kept:
the address that asked not to be contacted must stay honoured (C3). The events' trigger
lets a payload become a tombstone only while the customer holds a row in
``retention_grants``, which the purge inserts and deletes in the same transaction: no
other code path gets past the append-only rule. Re-running finds nothing more to do,
unless the customer's data came back (a re-import) or new events arrived.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, bindparam, case, delete, func, insert, or_, select, union, update
from sqlmodel import Session

from notifier.domain.policy import RetentionPolicy
from notifier.evidence.chain import PURGE_KIND, TOMBSTONE, tombstone
from notifier.evidence.seal import seal
from notifier.store.db import unit_of_work
from notifier.store.evidence import EventSeal, RetentionGrant
from notifier.store.models import (
    Customer,
    Dispute,
    Event,
    InstalmentPlan,
    Payment,
    PaymentPromise,
    Receivable,
    Reminder,
    ReminderEdit,
)

PURGED_NAME = "已清除 · purged"  # what a purged customer is called from then on
ACTOR = "retention"
CHUNK = 200  # customers per transaction

C = Customer.__table__  # type: ignore[attr-defined]
R = Receivable.__table__  # type: ignore[attr-defined]
P = Payment.__table__  # type: ignore[attr-defined]
D = Dispute.__table__  # type: ignore[attr-defined]
M = Reminder.__table__  # type: ignore[attr-defined]
ED = ReminderEdit.__table__  # type: ignore[attr-defined]
PP = PaymentPromise.__table__  # type: ignore[attr-defined]
IP = InstalmentPlan.__table__  # type: ignore[attr-defined]
E = Event.__table__  # type: ignore[attr-defined]
S = EventSeal.__table__  # type: ignore[attr-defined]
G = RetentionGrant.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Purged:
    customer_id: str
    country: str
    settled_on: date
    years: int
    events: int = 0


@dataclass
class PurgeReport:
    at: datetime
    settled_past_period: int = 0  # settled customers whose period has run out
    purged: list[Purged] = field(default_factory=list)  # those that still held personal data

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "settled_past_period": self.settled_past_period,
            "purged": len(self.purged),
            "events_tombstoned": sum(p.events for p in self.purged),
            "customers": [
                {"customer_id": p.customer_id, "country": p.country,
                 "settled_on": p.settled_on.isoformat(), "years": p.years, "events": p.events}
                for p in self.purged
            ],
        }  # fmt: skip


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def purge(engine: Engine, now: datetime, policy: RetentionPolicy) -> PurgeReport:
    """Anonymise every customer settled past its period at ``now``. Inside a dry run
    (store.db.dry_run) the same path runs and everything is rolled back."""
    report = PurgeReport(at=now)
    seal(engine, now)  # every payload's digest is kept before any becomes a tombstone
    with unit_of_work(engine) as session:
        due = past_period(session, now.astimezone(UTC).date(), policy)
    report.settled_past_period = len(due)
    for i in range(0, len(due), CHUNK):
        with unit_of_work(engine) as session:
            report.purged += _purge_chunk(session, due[i : i + CHUNK], now)
    seal(engine, now)  # the purge's own records
    return report


def past_period(session: Session, today: date, policy: RetentionPolicy) -> list[Purged]:
    """Settled customers whose retention period has run out by ``today``, by id."""
    paid = (
        select(P.c.invoice_id, func.sum(P.c.amount_cents).label("paid"),
               func.max(P.c.paid_on).label("last"))
        .group_by(P.c.invoice_id)
        .subquery()
    )  # fmt: skip
    # An open dispute on any of the customer's invoices: NOT EXISTS (an anti-join), not
    # NOT IN (see store.planning.recompute_all).
    other = R.alias("disputed_receivable")
    disputed = (
        select(other.c.id)
        .join(D, D.c.invoice_id == other.c.id)
        .where(other.c.customer_id == R.c.customer_id, D.c.resolved_at.is_(None))
        .exists()
    )
    unpaid = func.sum(case((func.coalesce(paid.c.paid, 0) < R.c.amount_cents, 1), else_=0))
    rows = session.execute(
        select(R.c.customer_id, C.c.country, func.max(paid.c.last).label("settled_on"))
        .join(C, C.c.id == R.c.customer_id)
        .outerjoin(paid, paid.c.invoice_id == R.c.id)
        .where(~disputed)
        .group_by(R.c.customer_id, C.c.country)
        .having(unpaid == 0)
        .order_by(R.c.customer_id)
    ).all()
    due = []
    for cid, country, settled_on in rows:
        if settled_on is None:  # nothing was ever paid: nothing settled
            continue
        years = policy.years_for(country)
        if add_years(settled_on, years) < today:
            due.append(Purged(cid, country, settled_on, years))
    return due


def _holding(session: Session, ids: Sequence[str]) -> set[str]:
    """Which of these customers still hold personal data somewhere."""
    untombstoned = E.c.data[TOMBSTONE].as_string().is_(None)
    query = union(
        select(C.c.id).where(C.c.id.in_(ids), or_(
            C.c.name != PURGED_NAME, C.c.phone.is_not(None), C.c.email.is_not(None),
            C.c.notes.is_not(None), C.c.escalation_reason.is_not(None),
            C.c.address.is_not(None), C.c.title.is_not(None))),
        select(M.c.customer_id).where(M.c.customer_id.in_(ids), or_(
            M.c.body != "", M.c.address != "", M.c.subject.is_not(None), M.c.html.is_not(None),
            M.c.reason.is_not(None))),
        select(M.c.customer_id).join(ED, ED.c.reminder_id == M.c.id).where(
            M.c.customer_id.in_(ids), or_(ED.c.body_before != "", ED.c.body_after != "")),
        select(PP.c.customer_id).where(PP.c.customer_id.in_(ids), PP.c.note.is_not(None)),
        select(IP.c.customer_id).where(IP.c.customer_id.in_(ids), IP.c.note.is_not(None)),
        select(R.c.customer_id).join(D, D.c.invoice_id == R.c.id).where(
            R.c.customer_id.in_(ids), D.c.reason != ""),
        select(E.c.customer_id).join(S, S.c.event_id == E.c.id).where(
            E.c.customer_id.in_(ids), E.c.kind != PURGE_KIND, untombstoned),
    )  # fmt: skip
    return {str(cid) for (cid,) in session.execute(query)}


def _purge_chunk(session: Session, due: Sequence[Purged], now: datetime) -> list[Purged]:
    holding = _holding(session, [p.customer_id for p in due])
    due = [p for p in due if p.customer_id in holding]
    if not due:
        return []
    ids = [p.customer_id for p in due]
    session.execute(insert(G), [{"customer_id": cid, "granted_at": now} for cid in ids])
    session.execute(update(C).where(C.c.id.in_(ids)).values(
        name=PURGED_NAME, phone=None, email=None, notes=None, escalation_reason=None,
        address=None, title=None, updated_at=now))  # fmt: skip
    session.execute(update(M).where(M.c.customer_id.in_(ids)).values(
        address="", subject=None, body="", html=None, reason=None))  # fmt: skip
    their_messages = select(M.c.id).where(M.c.customer_id.in_(ids))
    session.execute(update(ED).where(ED.c.reminder_id.in_(their_messages)).values(
        subject_before=None, subject_after=None, body_before="", body_after=""))  # fmt: skip
    session.execute(update(PP).where(PP.c.customer_id.in_(ids)).values(note=None))
    session.execute(update(IP).where(IP.c.customer_id.in_(ids)).values(note=None))
    their_invoices = select(R.c.id).where(R.c.customer_id.in_(ids))
    session.execute(update(D).where(D.c.invoice_id.in_(their_invoices)).values(reason=""))
    tombstoned = _tombstone_events(session, ids, now)
    done = [Purged(p.customer_id, p.country, p.settled_on, p.years,
                   tombstoned.get(p.customer_id, 0)) for p in due]  # fmt: skip
    session.execute(insert(E), [
        {"at": now, "kind": PURGE_KIND, "customer_id": p.customer_id, "actor": ACTOR,
         "data": {"rule": "C5", "country": p.country, "settled_on": p.settled_on.isoformat(),
                  "years": p.years, "events_tombstoned": p.events,
                  "kept": "invoices, payments, amounts, dates, stages, statuses"}}
        for p in done
    ])  # fmt: skip
    session.execute(delete(G).where(G.c.customer_id.in_(ids)))
    return done


def _tombstone_events(session: Session, ids: Sequence[str], now: datetime) -> dict[str, int]:
    """Every sealed event of these customers becomes a tombstone (the seal keeps the
    digest of what it was). An event not sealed yet waits for the next purge."""
    rows = session.execute(
        select(E.c.id, E.c.customer_id, E.c.data)
        .join(S, S.c.event_id == E.c.id)
        .where(E.c.customer_id.in_(ids), E.c.kind != PURGE_KIND,
               E.c.data[TOMBSTONE].as_string().is_(None))
        .order_by(E.c.id)
    ).all()  # fmt: skip
    if not rows:
        return {}
    statement = update(E).where(E.c.id == bindparam("eid")).values(data=bindparam("new"))
    session.execute(statement, [{"eid": r.id, "new": tombstone(r.data, now)} for r in rows])
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.customer_id] = counts.get(r.customer_id, 0) + 1
    return counts
