"""A portfolio whose manager's week is known by hand (the week of Monday 2026-03-02 to
Sunday 2026-03-08, Asia/Shanghai), shared by the weekly report's tests.

li (collector), CNY:
  A  A-OLD 100,000.00 due 2025-11-20, paid 10,000.00 on 02-01 (before the week) and
     40,000.00 on 03-04 (104 days overdue: past 90);
     A-MID 20,000.00 due 2026-01-20, paid 5,000.50 on 03-05 (44 days: recovered) and
     1,000.00 on 03-09 (after the week);
     A-NEW 8,000.00 due 2026-03-10, paid in full on 03-06 (not due: collected only).
     A promise for 03-04 still open: A-MID was unpaid then -> broken (judged as the
     planner would).
  D  D-1 10,000.00 due 2025-12-15; paid 3,000.00 on 03-03 (78 days) while li had it;
     escalated to the manager zhang on 03-05 (event: from li); paid 2,000.00 on 03-06
     (81 days) -> zhang's. A promise for 03-02 recorded broken -> li's.
wang (collector):
  B  B-1 1,234.56 CNY due 2025-10-01, paid 1,500.00 on 03-03 (153 days): 1,234.56 applied
     (no more was owed). A promise for 03-03 recorded kept.
  C  (America/New_York) C-1 5,000.00 USD due 2025-12-01, paid 2,000.00 on 03-07 (96
     days). A promise for 03-08 still open: at the week's end in Shanghai it is still
     03-08 in New York, so it is pending. A withdrawn promise and one for 03-10 are not
     the week's.
  E  E-1 4,000.00 CNY due 2026-01-01 with an open dispute over 1,000.00: overdue at the
     start of the week 3,000.00.
F  no collector, nothing owed: not in the report.

By hand:
  li    CNY collected 56,000.50 = 40,000 + 5,000.50 + 8,000 + 3,000
            recovered 48,000.50, overdue at start 120,000.00 (90,000 + 20,000 + 10,000)
            rate 0.4000 (48,000.50 / 120,000), past 90: 40,000.00, incentive 400.00
            promises: kept 0, broken 2, pending 0; overdue payments 3
  wang  CNY collected 1,234.56, recovered 1,234.56, overdue at start 4,234.56 (1,234.56 +
            3,000), rate 0.2915, past 90 1,234.56, incentive 12.35 (12.3456 half-up)
        USD collected 2,000.00, recovered 2,000.00, at start 5,000.00, rate 0.4000,
            past 90 2,000.00, incentive 20.00
            promises: kept 1, broken 0, pending 1; overdue payments 2
  zhang CNY collected 2,000.00, recovered 2,000.00, nothing overdue at start (rate none),
            past 90 0.00, incentive 0.00; overdue payments 1
  total CNY collected 59,235.06, recovered 51,235.06, at start 124,234.56, rate 0.4124,
            past 90 41,234.56, incentive 412.35; USD as wang's
  oldest at the end of 03-08: A-OLD 108 days (50,000.00), C-1 97 (3,000.00 USD),
            D-1 83 (5,000.00), E-1 66 (3,000.00 + 1,000.00 paused), A-MID 47 (14,999.50)
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine

from notifier.store.db import unit_of_work
from notifier.store.models import (
    Customer,
    Dispute,
    Event,
    Payment,
    PaymentPromise,
    Receivable,
)

REPORT_DAY = date(2026, 3, 9)  # the Monday after the week
WEEK = (date(2026, 3, 2), date(2026, 3, 8))
T0 = datetime(2025, 9, 1, tzinfo=UTC)
ESCALATED_AT = datetime(2026, 3, 5, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


def seed(engine: Engine) -> None:
    stamps = {"created_at": T0, "updated_at": T0}
    with unit_of_work(engine) as s:
        for cid, collector, zone, country in (
            ("A", "li", "Asia/Shanghai", "CN"), ("B", "wang", "Asia/Shanghai", "CN"),
            ("C", "wang", "America/New_York", "US"), ("D", "zhang", "Asia/Shanghai", "CN"),
            ("E", "wang", "Asia/Shanghai", "CN"), ("F", None, "Asia/Shanghai", "CN"),
        ):  # fmt: skip
            s.add(Customer(id=cid, name=f"客户{cid}", kind="business", collector=collector,
                           timezone=zone, country=country, **stamps))  # fmt: skip
        s.flush()
        d = s.get(Customer, "D")
        assert d is not None
        d.escalated_at, d.escalation_reason = ESCALATED_AT, "two broken promises"
        for rid, cid, cents, due, currency in (
            ("A-OLD", "A", 10_000_000, date(2025, 11, 20), "CNY"),
            ("A-MID", "A", 2_000_000, date(2026, 1, 20), "CNY"),
            ("A-NEW", "A", 800_000, date(2026, 3, 10), "CNY"),
            ("B-1", "B", 123_456, date(2025, 10, 1), "CNY"),
            ("C-1", "C", 500_000, date(2025, 12, 1), "USD"),
            ("D-1", "D", 1_000_000, date(2025, 12, 15), "CNY"),
            ("E-1", "E", 400_000, date(2026, 1, 1), "CNY"),
        ):
            s.add(Receivable(id=rid, customer_id=cid, amount_cents=cents, currency=currency,
                             issued_on=date(2025, 9, 1), due_on=due, **stamps))  # fmt: skip
        s.flush()
        for pid, rid, cents, paid_on in (
            ("P0", "A-OLD", 1_000_000, date(2026, 2, 1)),
            ("P1", "A-OLD", 4_000_000, date(2026, 3, 4)),
            ("P2", "A-MID", 500_050, date(2026, 3, 5)),
            ("P9", "A-MID", 100_000, date(2026, 3, 9)),
            ("P3", "A-NEW", 800_000, date(2026, 3, 6)),
            ("P4", "B-1", 150_000, date(2026, 3, 3)),
            ("P5", "C-1", 200_000, date(2026, 3, 7)),
            ("P6", "D-1", 300_000, date(2026, 3, 3)),
            ("P7", "D-1", 200_000, date(2026, 3, 6)),
        ):
            s.add(Payment(id=pid, invoice_id=rid, amount_cents=cents, paid_on=paid_on,
                          **stamps))  # fmt: skip
        s.add(Dispute(invoice_id="E-1", amount_cents=100_000, reason="quality",
                      opened_by="wang", opened_at=T0))  # fmt: skip
        for cid, on, status in (
            ("A", date(2026, 3, 4), "open"), ("D", date(2026, 3, 2), "broken"),
            ("B", date(2026, 3, 3), "kept"), ("C", date(2026, 3, 8), "open"),
            ("C", date(2026, 3, 5), "withdrawn"), ("C", date(2026, 3, 10), "open"),
        ):  # fmt: skip
            s.add(PaymentPromise(customer_id=cid, promised_on=on, status=status,
                                 recorded_at=datetime(2026, 2, 20, tzinfo=UTC)))  # fmt: skip
        handed = {"reason": "two broken promises", "from": "li", "to": "zhang"}
        s.add(Event(at=ESCALATED_AT, kind="escalated", customer_id="D", actor="zhang",
                    data=handed))  # fmt: skip
