"""The delivery sweep's failure paths against the local Twilio and real SMTP servers:
retries inside the slot, deferral to the next slot, permanent refusals recorded on the
customer, interrupted sends left to a person, and the re-checks at the moment of sending."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlmodel import col

from notifier.channels import Channel, SmtpEmail, TwilioSms
from notifier.domain.policy import AllowedHours, Policy, QuietHoursPolicy
from notifier.services.review import approve_all_pending
from notifier.settings import TwilioSettings
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Event, OptOut, Payment, Receivable, Reminder
from notifier.sweeps.context import SweepContext
from notifier.sweeps.deliver import DeliverReport, deliver
from notifier.sweeps.plan import plan
from notifier.tracking import Tracker
from tests.fakes.smtp_servers import (
    SmtpServer,
    deferring_smtp_server,
    free_port,
    recording_smtp_server,
    rejecting_smtp_server,
)
from tests.fakes.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, TwilioFake
from tests.support import add_deciders, sweep_context

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 1, 1, tzinfo=SH)
TRACKER = Tracker("t" * 40, "https://notifier.example")


def at(day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 3, day, hh, mm, tzinfo=SH)


@pytest.fixture
def ctx(policy: Policy) -> SweepContext:
    return sweep_context(policy)


@pytest.fixture
def twilio() -> Iterator[TwilioFake]:
    with TwilioFake() as fake:
        yield fake


def sms_channel(twilio: TwilioFake) -> TwilioSms:
    settings = TwilioSettings(account_sid=ACCOUNT_SID, auth_token=SecretStr(AUTH_TOKEN),
                              from_number="+15005550006", api_base=twilio.base_url,
                              rate_per_second=0)  # fmt: skip
    return TwilioSms(settings, status_callback="https://notifier.example/webhooks/twilio/status")


def approved(
    engine: Engine, ctx: SweepContext, *, phone: str | None = "+8613912345670",
    email: str | None = None, kind: str = "individual",
) -> Reminder:  # fmt: skip
    """One customer 5 days overdue, its reminder planned on 03-02 and approved."""
    with unit_of_work(engine) as s:
        s.add(Customer(id="C1", name="王芳", kind=kind, phone=phone, email=email,
                       created_at=T0, updated_at=T0))  # fmt: skip
        s.flush()
        s.add(Receivable(id="R1", customer_id="C1", amount_cents=300_000,
                         issued_on=date(2026, 1, 25), due_on=date(2026, 2, 25),
                         created_at=T0, updated_at=T0))  # fmt: skip
    assert plan(engine, at(2, 8), ctx, force=True).drafted == 1
    add_deciders(engine, "wang")
    with unit_of_work(engine) as s:
        [r], _ = approve_all_pending(s, "wang", at(2, 8, 5), ctx.policy, ctx.calendar)
        return r


def run(
    engine: Engine, now: datetime, ctx: SweepContext, channels: dict[str, Channel]
) -> DeliverReport:
    return deliver(engine, now, ctx, channels, TRACKER, rng=random.Random(1))


def reload(engine: Engine, reminder_id: int | None) -> Reminder:
    with unit_of_work(engine) as s:
        r = s.get(Reminder, reminder_id)
        assert r is not None
        return r


def test_rate_limited_send_retries_inside_the_slot_then_goes_out_once(
    engine: Engine, ctx: SweepContext, twilio: TwilioFake
) -> None:
    r = approved(engine, ctx)
    twilio.fail_next(1, status=429)
    report = run(engine, at(2, 19, 1), ctx, {"sms": sms_channel(twilio)})
    assert report.retrying == 1 and twilio.messages == []
    after = reload(engine, r.id)
    assert after.status == "approved" and after.next_attempt_at is not None
    assert after.next_attempt_at >= at(2, 19, 1) + timedelta(seconds=7)  # Retry-After honoured
    run(
        engine,
        at(
            2,
            19,
            1,
        ),
        ctx,
        {"sms": sms_channel(twilio)},
    )  # too early: not claimed
    assert twilio.messages == []
    report = run(engine, after.next_attempt_at, ctx, {"sms": sms_channel(twilio)})
    assert report.sent == 1 and len(twilio.messages) == 1
    assert reload(engine, r.id).status == "sent" and reload(engine, r.id).attempts == 2


def test_a_provider_error_that_may_have_sent_goes_to_a_person_not_resent(
    engine: Engine, ctx: SweepContext, twilio: TwilioFake
) -> None:
    r = approved(engine, ctx)
    twilio.fail_next(1, status=500)
    assert run(engine, at(2, 19, 1), ctx, {"sms": sms_channel(twilio)}).unknown == 1
    assert reload(engine, r.id).status == "unknown"
    run(engine, at(2, 19, 30), ctx, {"sms": sms_channel(twilio)})
    assert twilio.attempts == 1  # never tried again by itself


@pytest.mark.parametrize(
    ("phone", "flag"), [("+15005550004", "opted_out"), ("+15005550001", "invalid_address")]
)
def test_permanent_refusals_fail_the_reminder_and_mark_the_address(
    engine: Engine, ctx: SweepContext, twilio: TwilioFake, phone: str, flag: str
) -> None:
    r = approved(engine, ctx, phone=phone)
    assert run(engine, at(2, 19, 1), ctx, {"sms": sms_channel(twilio)}).failed == 1
    after = reload(engine, r.id)
    assert after.status == "failed" and after.reason and after.reason.startswith(flag)
    with unit_of_work(engine) as s:
        customer = s.get(Customer, "C1")
        assert customer is not None
        if flag == "opted_out":
            assert customer.sms_opt_out
            assert s.scalar(select(OptOut).where(col(OptOut.address) == phone)) is not None
        else:
            assert customer.phone_invalid


def test_transient_errors_until_the_slot_ends_defer_to_the_next_slot(
    engine: Engine, ctx: SweepContext, twilio: TwilioFake
) -> None:
    r = approved(engine, ctx)
    twilio.fail_next(1, status=503)
    report = run(engine, at(2, 19, 59) + timedelta(seconds=50), ctx, {"sms": sms_channel(twilio)})
    assert report.deferred == 1
    after = reload(engine, r.id)
    assert after.status == "approved" and after.slot_start.astimezone(SH) == at(3, 19)


def test_approved_reminder_whose_slot_passed_waits_for_the_next_one(
    engine: Engine, ctx: SweepContext, twilio: TwilioFake
) -> None:
    r = approved(engine, ctx)
    assert run(engine, at(2, 21), ctx, {"sms": sms_channel(twilio)}).deferred == 1
    assert twilio.messages == []
    assert reload(engine, r.id).slot_start.astimezone(SH) == at(3, 19)


def test_a_send_interrupted_by_a_crash_becomes_unknown_after_its_lease(
    engine: Engine, ctx: SweepContext, twilio: TwilioFake
) -> None:
    r = approved(engine, ctx)
    with unit_of_work(engine) as s:  # what a worker killed after marking `sending` leaves
        row = s.get(Reminder, r.id)
        assert row is not None
        row.status, row.claimed_by, row.claimed_until = "sending", "dead:1", at(2, 19, 5)
    report = run(engine, at(2, 19, 10), ctx, {"sms": sms_channel(twilio)})
    assert report.unknown == 1 and twilio.messages == []
    assert reload(engine, r.id).status == "unknown"


def test_payment_before_the_slot_cancels_at_the_moment_of_sending(
    engine: Engine, ctx: SweepContext, twilio: TwilioFake
) -> None:
    r = approved(engine, ctx)
    with unit_of_work(engine) as s:
        s.add(Payment(id="P1", invoice_id="R1", amount_cents=300_000, paid_on=date(2026, 3, 2),
                      created_at=T0, updated_at=T0))  # fmt: skip
    assert run(engine, at(2, 19, 1), ctx, {"sms": sms_channel(twilio)}).cancelled == 1
    after = reload(engine, r.id)
    assert after.status == "cancelled" and "paid" in (after.reason or "")
    assert twilio.messages == []


def test_partial_payment_cancels_because_the_stated_amount_is_no_longer_true(
    engine: Engine, ctx: SweepContext, twilio: TwilioFake
) -> None:
    r = approved(engine, ctx)
    with unit_of_work(engine) as s:
        s.add(Payment(id="P1", invoice_id="R1", amount_cents=100_000, paid_on=date(2026, 3, 2),
                      created_at=T0, updated_at=T0))  # fmt: skip
    run(engine, at(2, 19, 1), ctx, {"sms": sms_channel(twilio)})
    assert "amount owed changed" in (reload(engine, r.id).reason or "")


def test_opt_out_after_approval_is_honoured_at_once(
    engine: Engine, ctx: SweepContext, twilio: TwilioFake
) -> None:
    r = approved(engine, ctx)
    with unit_of_work(engine) as s:
        s.add(OptOut(channel="sms", address="+8613912345670", source="inbound-stop",
                     at=at(2, 12)))  # fmt: skip
    assert run(engine, at(2, 19, 1), ctx, {"sms": sms_channel(twilio)}).cancelled == 1
    assert "opted out" in (reload(engine, r.id).reason or "") and twilio.messages == []


def test_quiet_hours_are_checked_again_when_sending(
    engine: Engine, ctx: SweepContext, twilio: TwilioFake
) -> None:
    r = approved(engine, ctx)
    strict = QuietHoursPolicy(default=AllowedHours(start=time(8), end=time(19)))
    tighter = SweepContext(policy=ctx.policy.model_copy(update={"quiet_hours": strict}),
                           calendar=ctx.calendar, renderer=ctx.renderer)  # fmt: skip
    report = run(engine, at(2, 19, 1), tighter, {"sms": sms_channel(twilio)})
    assert report.sent == 0 and twilio.messages == []
    assert reload(engine, r.id).status in ("approved", "failed")
    with unit_of_work(engine) as s:
        [event] = s.scalars(select(Event).where(col(Event.kind).in_(("deferred", "failed"))))
    assert "quiet hours" in str(event.data)


def email_reminder(engine: Engine, ctx: SweepContext) -> Reminder:
    return approved(engine, ctx, phone=None, email="wang@x.example", kind="business")


@pytest.mark.parametrize(
    ("server", "status"),
    [(lambda: deferring_smtp_server(), "approved"), (lambda: rejecting_smtp_server(), "failed")],
)
def test_smtp_4xx_retries_and_5xx_fails(
    engine: Engine, ctx: SweepContext, server: object, status: str
) -> None:
    r = email_reminder(engine, ctx)
    with server() as smtp:  # type: ignore[operator]
        run(engine, at(2, 9, 1), ctx, {"email": SmtpEmail(smtp.settings())})
    assert reload(engine, r.id).status == status


def test_smtp_server_down_then_back_sends_once(engine: Engine, ctx: SweepContext) -> None:
    r = email_reminder(engine, ctx)
    server = SmtpServer(port=free_port())  # nothing listens there yet: the server is down
    channel = {"email": SmtpEmail(server.settings())}
    report = run(engine, at(2, 9, 1), ctx, channel)
    assert report.retrying == 1 and reload(engine, r.id).status == "approved"
    retry_at = reload(engine, r.id).next_attempt_at
    assert retry_at is not None
    with server:
        assert run(engine, retry_at, ctx, channel).sent == 1
        run(engine, retry_at + timedelta(minutes=1), ctx, channel)
        assert len(server.mails) == 1


def test_email_goes_out_with_tracking_and_unsubscribe_headers(
    engine: Engine, ctx: SweepContext
) -> None:
    r = email_reminder(engine, ctx)
    with recording_smtp_server() as smtp:
        assert run(engine, at(2, 9, 1), ctx, {"email": SmtpEmail(smtp.settings())}).sent == 1
        [mail] = smtp.mails
    message = mail.message
    assert str(message["List-Unsubscribe"]).strip().startswith("<https://notifier.example/u/")
    assert message["Message-ID"] == reload(engine, r.id).provider_id
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "https://notifier.example/t/o/" in html and "https://notifier.example/t/c/" in html
    with unit_of_work(engine) as s:
        [sent] = s.scalars(select(Event).where(col(Event.kind) == "sent"))
    assert sent.data["address"] == "wang@x.example" and "t/c/" in sent.data["body"]


def test_status_callback_url_names_the_reminder(
    engine: Engine, ctx: SweepContext, twilio: TwilioFake
) -> None:
    r = approved(engine, ctx)
    run(engine, at(2, 19, 1), ctx, {"sms": sms_channel(twilio)})
    [message] = twilio.messages
    assert message.status_callback == (
        f"https://notifier.example/webhooks/twilio/status?reminder={r.id}"
    )


def test_an_sms_goes_out_with_its_payment_link_tracked_by_a_short_signed_token(
    engine: Engine, ctx: SweepContext, twilio: TwilioFake
) -> None:
    r = approved(engine, ctx)
    drafted_link = re.search(r"https://\S+", r.body)
    assert drafted_link is not None and "/t/c/" not in r.body  # as the reviewer read it
    run(engine, at(2, 19, 1), ctx, {"sms": sms_channel(twilio)})
    [message] = twilio.messages
    sent_link = re.search(r"https://notifier\.example/t/c/(\S+)", message.body)
    assert sent_link is not None and len(sent_link.group(1)) <= 22, message.body
    found = TRACKER.verify("click", sent_link.group(1))
    assert found is not None and found.reminder_id == r.id
    assert message.body == r.body.replace(drafted_link.group(0), sent_link.group(0))


def test_an_email_body_goes_out_with_its_visible_unsubscribe_link(
    engine: Engine, ctx: SweepContext
) -> None:
    r = email_reminder(engine, ctx)
    assert "[unsubscribe-link]" in r.body  # the draft keeps the mark
    with recording_smtp_server() as smtp:
        assert run(engine, at(2, 9, 1), ctx, {"email": SmtpEmail(smtp.settings())}).sent == 1
        [mail] = smtp.mails
    link = TRACKER.unsubscribe_url(r.id or 0)
    text = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = mail.message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert f"退订：{link}" in text and f'href="{link}"' in html
    assert "[unsubscribe-link]" not in text + html
