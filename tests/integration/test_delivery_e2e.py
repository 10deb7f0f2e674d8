"""End to end with real parts: CSV import -> plan -> approve -> deliver at the slot (nothing
before, nothing twice) through the twilio SDK to the local Twilio and through SMTP to
aiosmtpd -> signed status callbacks into the running web app -> pixel and click -> the SMS
fallback for the unread e-mail only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlmodel import col

from notifier.domain.policy import Policy
from notifier.importer import import_file
from notifier.services.review import approve_all_pending
from notifier.settings import Settings, TwilioSettings
from notifier.store.db import unit_of_work
from notifier.store.models import Event, Reminder
from notifier.sweeps.deliver import Deliver
from notifier.sweeps.fallback import fallback
from notifier.sweeps.plan import plan
from notifier.web import create_app
from notifier.wiring import channels_for, tracker_for
from tests.fakes.live_app import LiveApp
from tests.fakes.smtp_servers import SmtpServer, free_port, recording_smtp_server
from tests.fakes.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, TwilioFake
from tests.support import add_deciders, sweep_context

SH = ZoneInfo("Asia/Shanghai")


def at(day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 3, day, hh, mm, tzinfo=SH)


CUSTOMERS = """customer_id,name,kind,phone,email,timezone,locale,country
E1,上海星辰贸易有限公司,business,13912345678,finance@xingchen.example,Asia/Shanghai,zh-CN,CN
E2,Acme Trading Ltd,business,13912345679,ap@acme.example,Asia/Shanghai,en,CN
S1,王芳,individual,13912345670,,Asia/Shanghai,zh-CN,CN
"""
RECEIVABLES = """invoice_id,customer_id,amount,issued_on,due_on
INV-E1,E1,"86,000.00",2026-01-20,2026-02-20
INV-E2,E2,12000,2026-01-20,2026-02-20
INV-S1,S1,¥3000,2026-01-20,2026-02-25
"""


class Clock:
    def __init__(self) -> None:
        self.now = at(2, 8)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world(
    engine: Engine, policy: Policy, tmp_path: Path
) -> Iterator[tuple[Settings, TwilioFake, SmtpServer, LiveApp, Clock]]:
    port = free_port()
    with TwilioFake() as twilio, recording_smtp_server() as smtp:
        settings = Settings(
            public_url=f"http://127.0.0.1:{port}",
            secret_key=SecretStr("e2e-secret-" + "x" * 30),
            twilio=TwilioSettings(
                account_sid=ACCOUNT_SID,
                auth_token=SecretStr(AUTH_TOKEN),
                from_number="+15005550006",
                api_base=twilio.base_url,
                rate_per_second=0,
            ),  # fmt: skip
            smtp=smtp.settings(),
        )
        clock = Clock()
        with LiveApp(create_app(settings, policy, engine, clock=clock), port) as app:
            yield settings, twilio, smtp, app, clock


def imported(engine: Engine, tmp_path: Path) -> None:
    for kind, text in (("customers", CUSTOMERS), ("receivables", RECEIVABLES)):
        path = tmp_path / f"{kind}.csv"
        path.write_text(text, encoding="utf-8")
        with unit_of_work(engine) as s:
            import_file(s, kind, path, now=at(1, 12))


def reminders(engine: Engine) -> dict[str, Reminder]:
    with unit_of_work(engine) as s:
        return {r.customer_id + ":" + r.channel: r for r in s.scalars(select(Reminder))}


def test_import_plan_approve_deliver_track_and_fall_back(
    engine: Engine,
    policy: Policy,
    tmp_path: Path,
    world: tuple[Settings, TwilioFake, SmtpServer, LiveApp, Clock],
) -> None:
    settings, twilio, smtp, app, clock = world
    ctx = sweep_context(policy)
    tracker = tracker_for(settings)

    def run_deliver(now: datetime) -> None:
        clock.now = now
        Deliver(ctx, lambda: channels_for(settings), tracker).run(engine, now)

    imported(engine, tmp_path)
    # three messages to approve, and the two businesses' calls on the collector's list
    drafted = plan(engine, at(2, 8), ctx, force=True).by_channel
    assert drafted == {"email": 2, "sms": 1, "call": 2}
    add_deciders(engine, "wang")
    with unit_of_work(engine) as s:
        approved, skipped = approve_all_pending(s, "wang", at(2, 8, 10), policy, ctx.calendar)
    assert len(approved) == 3 and skipped == []

    run_deliver(at(2, 8, 30))  # before any slot: nothing goes out
    assert smtp.mails == [] and twilio.messages == []

    run_deliver(at(2, 9, 5))  # the businesses' 09:00 e-mail slot
    run_deliver(at(2, 9, 6))  # again: nothing twice
    assert sorted(m.rcpt_tos[0] for m in smtp.mails) == [
        "ap@acme.example",
        "finance@xingchen.example",
    ]
    assert twilio.messages == []  # the individual's slot is 19:00

    run_deliver(at(2, 19, 10))
    [sms] = twilio.messages
    assert sms.to == "+8613912345670" and "回复TD退订" in sms.body
    callback = (
        f"{settings.public_url}/webhooks/twilio/status?reminder={reminders(engine)['S1:sms'].id}"
    )
    assert sms.status_callback == callback
    assert twilio.wait_for(lambda: reminders(engine)["S1:sms"].status == "delivered", 10)

    # The English customer clicks the payment link; the Chinese one's pixel is prefetched.
    mails = {m.rcpt_tos[0]: m.message for m in smtp.mails}
    acme_text = mails["ap@acme.example"].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    [click] = re.findall(r"http://127\.0\.0\.1:\d+/t/c/\S+", acme_text)
    answer = httpx.get(click, follow_redirects=False)
    assert answer.status_code == 302 and answer.headers["location"].startswith("https://")
    xingchen_html = mails["finance@xingchen.example"].get_body(("html",)).get_content()  # type: ignore[union-attr]
    [pixel] = re.findall(r'src="(http://127\.0\.0\.1:\d+/t/o/[^"]+)"', xingchen_html)
    clock.now = at(2, 9, 5)  # seconds after sending: a machine open, not a read
    assert httpx.get(pixel).status_code == 200

    # 24 h later only the unread e-mail gets an SMS fallback, and only once.
    assert fallback(engine, at(3, 9, 30), ctx).drafted == 1
    assert fallback(engine, at(3, 10, 30), ctx).drafted == 0
    found = reminders(engine)
    follow = found["E1:sms"]
    assert follow.fallback_of == found["E1:email"].id and follow.status == "pending_approval"
    assert "E2:sms" not in found

    with unit_of_work(engine) as s:
        kinds = [e.kind for e in s.scalars(select(Event).order_by(col(Event.id)))]
    assert kinds.count("sent") == 3
    assert {"delivered", "clicked", "opened", "fallback_drafted"} <= set(kinds)
