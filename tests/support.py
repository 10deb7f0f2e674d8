"""Helpers shared by the tests: the `notifier` command run as a user runs it."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from notifier.domain.calendar import WorkCalendar
from notifier.domain.policy import Policy
from notifier.render import Renderer
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Payment, Receivable, Reminder, User
from notifier.sweeps.context import SweepContext
from notifier.sweeps.plan import plan

ROOT = Path(__file__).resolve().parent.parent


RUN_SECRET_KEY = secrets.token_urlsafe(32)


def run(
    *args: str, db: str | None = None, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`notifier [--db DB] ARGS...` in a fresh process, from the repository root, with no
    NOTIFIER_* settings leaking in from the environment. A secret key is set, so that no
    run leaves a generated key file in the repository (tests/unit/test_settings.py covers
    the generated one); ``env`` may override it."""
    cmd = [sys.executable, "-m", "notifier"]
    if db:
        cmd += ["--db", db]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}
    return subprocess.run(
        [*cmd, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        env={**clean, "NOTIFIER_SECRET_KEY": RUN_SECRET_KEY, **(env or {})},
    )  # fmt: skip


def sweep_context(policy: Policy) -> SweepContext:
    """What every sweep needs, from the shipped policy, the real calendar and templates."""
    return SweepContext(policy=policy, calendar=WorkCalendar(policy.calendar), renderer=Renderer())


def web_login(client: TestClient, name: str, password: str, next_url: str = "/") -> str:
    """Log ``client`` in through the real login form; the CSRF token its pages then carry."""
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    form = {"csrf": token.group(1), "name": name, "password": password, "next": next_url}
    done = client.post("/login", data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == next_url
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)">', client.get(next_url).text)
    assert meta is not None
    return meta.group(1)


def add_deciders(engine: Engine, *names: str, role: str = "reviewer") -> None:
    """Users who may decide on drafts (every decision names one), without a password:
    enough for the service and the CLI's --as; web_login needs `users.add_user`."""
    with unit_of_work(engine) as s:
        for name in names:
            if s.get(User, name) is None:
                s.add(User(name=name, role=role, created_at=datetime(2026, 1, 1, tzinfo=UTC)))


PORTFOLIO_PLANNED = datetime(2026, 3, 2, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Monday


def two_customer_portfolio(engine: Engine, policy: Policy) -> dict[str, int]:
    """C1 (collector li) owes C1-1 and C1-2 (partly paid), C2 owes C2-1; both businesses
    get a pending draft planned at ``PORTFOLIO_PLANNED``. Their ids, by customer."""
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    stamps = {"created_at": t0, "updated_at": t0}
    with unit_of_work(engine) as s:
        s.add_all(
            Customer(id=cid, name=f"客户{cid}", kind="business", phone="+8613912345678",
                     email=f"{cid.lower()}@x.example", collector="li", **stamps)
            for cid in ("C1", "C2")
        )  # fmt: skip
        s.flush()
        s.add_all(
            Receivable(id=rid, customer_id=rid[:2], amount_cents=cents, issued_on=issued,
                       due_on=due, **stamps)
            for rid, cents, issued, due in (
                ("C1-1", 1_000_000, date(2026, 1, 1), date(2026, 1, 30)),
                ("C1-2", 500_000, date(2026, 1, 5), date(2026, 2, 5)),
                ("C2-1", 300_000, date(2026, 1, 1), date(2026, 1, 30)),
            )
        )  # fmt: skip
        s.flush()
        s.add(Payment(id="P1", invoice_id="C1-2", amount_cents=100_000,
                      paid_on=date(2026, 2, 10), **stamps))  # fmt: skip
    assert plan(engine, PORTFOLIO_PLANNED, sweep_context(policy), force=True).drafted == 2
    with unit_of_work(engine) as s:
        return {r.customer_id: r.id or 0 for r in s.scalars(select(Reminder))}


@dataclass(frozen=True)
class CustomerStub:
    """A customer's facts as the pure domain reads them (``domain/standing.CustomerFacts``),
    without a database: a business in Shanghai with a phone and an e-mail address."""

    id: str = "C1"
    name: str = "上海宏达贸易有限公司"
    kind: str = "business"
    timezone: str = "Asia/Shanghai"
    country: str = "CN"
    locale: str = "zh-CN"
    tier: str | None = None
    tier_hand_set: bool = False
    legal_authorised: bool = False
    phone: str | None = "+8613900000000"
    email: str | None = "ap@example.cn"
    sms_opt_out: bool = False
    email_opt_out: bool = False
    phone_invalid: bool = False
    escalated_at: datetime | None = None
    escalation_reason: str | None = None
    title: str | None = None
