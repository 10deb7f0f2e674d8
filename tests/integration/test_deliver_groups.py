"""The delivery sweep sends a claimed batch in small groups: each group is re-checked with
set-based reads and marked ``sending`` in one transaction, sent, and its results recorded
in one more. These tests pin down what that may and may not change: the re-check still
sees what happened after the claim, at most one group is ever in flight, a crash leaves
``unknown`` and never a resend, and a stop or an error gives back what was never sent."""

from __future__ import annotations

import multiprocessing
import os
import random
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from sqlmodel import col
from twilio.request_validator import RequestValidator

from notifier.channels import Channel, Outgoing, Receipt, TwilioSms
from notifier.domain.policy import Policy
from notifier.services.review import approve_all_pending
from notifier.settings import Settings, TwilioSettings
from notifier.store.db import make_engine, unit_of_work
from notifier.store.models import Customer, Event, Payment, PaymentPromise, Receivable, Reminder
from notifier.sweeps.context import SweepContext
from notifier.sweeps.deliver import DeliverReport, deliver
from notifier.sweeps.plan import plan
from notifier.tracking import Tracker
from notifier.web import create_app
from tests.fakes.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, TwilioFake
from tests.support import add_deciders, sweep_context

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 1, 1, tzinfo=SH)
TRACKER = Tracker("t" * 40, "https://notifier.example")
SEND_AT = datetime(2026, 3, 2, 19, 1, tzinfo=SH)  # inside the individuals' 19:00 slot


@pytest.fixture
def ctx(policy: Policy) -> SweepContext:
    return sweep_context(policy)


@pytest.fixture
def twilio() -> Iterator[TwilioFake]:
    with TwilioFake() as fake:
        fake.callbacks_enabled = False
        yield fake


def sms(twilio: TwilioFake | str) -> TwilioSms:
    base = twilio if isinstance(twilio, str) else twilio.base_url
    settings = TwilioSettings(account_sid=ACCOUNT_SID, auth_token=SecretStr(AUTH_TOKEN),
                              from_number="+15005550006", api_base=base,
                              rate_per_second=0)  # fmt: skip
    return TwilioSms(settings, status_callback="https://notifier.example/webhooks/twilio/status")


class Hooked:
    """A real channel with a step run before or after each send (what happens elsewhere
    in the world while the sweep is sending)."""

    def __init__(
        self,
        inner: Channel,
        before: Callable[[Outgoing], None] | None = None,
        after: Callable[[Outgoing], None] | None = None,
    ) -> None:
        self.inner, self.before, self.after = inner, before, after
        self.name, self.limits = inner.name, inner.limits

    def send(self, message: Outgoing) -> Receipt:
        if self.before:
            self.before(message)
        receipt = self.inner.send(message)
        if self.after:
            self.after(message)
        return receipt

    def close(self) -> None:
        self.inner.close()


def portfolio(engine: Engine, ctx: SweepContext, n: int) -> list[int]:
    """``n`` individuals, each 5 days overdue on one invoice, each with one approved SMS
    for the 19:00 slot of 03-02: the reminder ids in the order a claim takes them."""
    with unit_of_work(engine) as s:
        s.add_all(Customer(id=f"C{i}", name="王芳", kind="individual", phone=f"+86139123456{i:02d}",
                           created_at=T0, updated_at=T0) for i in range(n))  # fmt: skip
        s.flush()
        s.add_all(Receivable(id=f"R{i}", customer_id=f"C{i}", amount_cents=300_000,
                             issued_on=date(2026, 1, 25), due_on=date(2026, 2, 25),
                             created_at=T0, updated_at=T0) for i in range(n))  # fmt: skip
    assert plan(engine, datetime(2026, 3, 2, 8, tzinfo=SH), ctx, force=True).drafted == n
    add_deciders(engine, "wang")
    with unit_of_work(engine) as s:
        approved, _ = approve_all_pending(
            s, "wang", datetime(2026, 3, 2, 8, 5, tzinfo=SH), ctx.policy, ctx.calendar
        )
        return sorted(r.id for r in approved if r.id is not None)


def run(
    engine: Engine, ctx: SweepContext, channel: Channel, *, group: int = 3,
    stop: Callable[[], bool] | None = None, now: datetime = SEND_AT,
) -> DeliverReport:  # fmt: skip
    return deliver(engine, now, ctx, {"sms": channel}, TRACKER, rng=random.Random(1),
                   stop=stop, group=group)  # fmt: skip


def statuses(engine: Engine) -> dict[str, str]:
    with unit_of_work(engine) as s:
        return {r.customer_id: r.status for r in s.scalars(select(Reminder))}


def count(engine: Engine, status: str) -> int:
    with unit_of_work(engine) as s:
        found = s.scalar(
            select(func.count()).select_from(Reminder).where(col(Reminder.status) == status)
        )
        return int(found or 0)


def test_a_payment_after_the_claim_cancels_the_reminder_of_a_later_group(
    engine: Engine, ctx: SweepContext, twilio: TwilioFake
) -> None:
    portfolio(engine, ctx, 4)

    def pay_c3(message: Outgoing) -> None:  # C3 pays while C0's message is going out
        with unit_of_work(engine) as s:
            if s.get(Payment, "P3") is None:
                s.add(Payment(id="P3", invoice_id="R3", amount_cents=300_000,
                              paid_on=date(2026, 3, 2), created_at=T0, updated_at=T0))  # fmt: skip

    report = run(engine, ctx, Hooked(sms(twilio), before=pay_c3), group=3)
    assert (report.claimed, report.sent, report.cancelled) == (4, 3, 1)
    assert statuses(engine)["C3"] == "cancelled"
    assert "+8613912345603" not in {m.to for m in twilio.messages}


def test_a_promise_and_an_opt_out_are_seen_by_the_set_based_recheck(
    engine: Engine, ctx: SweepContext, twilio: TwilioFake
) -> None:
    portfolio(engine, ctx, 3)
    with unit_of_work(engine) as s:
        s.add(PaymentPromise(customer_id="C1", promised_on=date(2026, 3, 9),
                             recorded_at=T0))  # fmt: skip
        customer = s.get(Customer, "C2")
        assert customer is not None
        customer.sms_opt_out = True
    report = run(engine, ctx, sms(twilio), group=3)
    assert (report.sent, report.cancelled) == (1, 2)
    assert statuses(engine) == {"C0": "sent", "C1": "cancelled", "C2": "cancelled"}


def test_two_messages_to_one_customer_in_one_group_keep_the_daily_cap(
    engine: Engine, ctx: SweepContext, twilio: TwilioFake
) -> None:
    [first] = portfolio(engine, ctx, 1)
    with unit_of_work(engine) as s:  # a second approved SMS for the same customer and slot
        r = s.get(Reminder, first)
        assert r is not None
        data = r.model_dump(exclude={"id"})
        s.add(Reminder(**(data | {"step": "second", "facts": dict(r.facts)})))
    report = run(engine, ctx, sms(twilio), group=5)
    assert (report.claimed, report.sent, report.deferred) == (2, 1, 1)  # sms_per_day = 1
    assert len(twilio.messages) == 1


def test_at_most_one_group_is_sending_while_the_provider_is_called(
    engine: Engine, ctx: SweepContext, twilio: TwilioFake
) -> None:
    portfolio(engine, ctx, 7)
    seen: list[tuple[str, int]] = []

    def look(message: Outgoing) -> None:
        with unit_of_work(engine) as s:
            r = s.get(Reminder, message.reminder_id)
            assert r is not None
            seen.append((r.status, count(engine, "sending")))

    report = run(engine, ctx, Hooked(sms(twilio), before=look), group=3)
    assert report.sent == 7 and count(engine, "sent") == 7
    assert all(status == "sending" for status, _ in seen)  # marked before the provider call
    assert max(n for _, n in seen) == 3  # never more than one group in flight


def test_a_callback_that_overtakes_the_recording_of_the_group_is_kept(
    engine: Engine, ctx: SweepContext, twilio: TwilioFake
) -> None:
    [rid] = portfolio(engine, ctx, 1)

    def delivered_at_once(message: Outgoing) -> None:  # the status webhook, committed first
        with unit_of_work(engine) as s:
            r = s.get(Reminder, message.reminder_id)
            assert r is not None
            r.status = "delivered"

    run(engine, ctx, Hooked(sms(twilio), after=delivered_at_once))
    with unit_of_work(engine) as s:
        r = s.get(Reminder, rid)
        assert r is not None
        assert (r.status, r.provider_id) == ("delivered", twilio.messages[0].sid)
        assert r.sent_at is not None and r.claimed_by is None
        [sent] = s.scalars(select(Event).where(col(Event.kind) == "sent"))
    assert sent.data["provider_id"] == r.provider_id and sent.data["attempt"] == 1


def test_a_stop_inside_a_group_gives_back_the_messages_never_handed_over(
    engine: Engine, ctx: SweepContext, twilio: TwilioFake
) -> None:
    portfolio(engine, ctx, 5)
    report = run(engine, ctx, sms(twilio), group=3, stop=lambda: len(twilio.messages) >= 1)
    assert (report.sent, report.released) == (1, 4)
    assert count(engine, "sent") == 1 and count(engine, "approved") == 4
    with unit_of_work(engine) as s:
        back = s.scalars(select(Reminder).where(col(Reminder.status) == "approved")).all()
    assert all(r.claimed_by is None and r.attempts == 0 for r in back)
    assert run(engine, ctx, sms(twilio)).sent == 4  # the next sweep sends them, once
    assert len({m.to for m in twilio.messages}) == len(twilio.messages) == 5


class Broken(Exception):
    pass


def test_an_unexpected_error_leaves_only_the_message_in_hand_sending(
    engine: Engine, ctx: SweepContext, twilio: TwilioFake
) -> None:
    ids = portfolio(engine, ctx, 3)

    def break_second(message: Outgoing) -> None:
        if message.reminder_id == ids[1]:
            raise Broken("the channel fell over after handing the message on")

    with pytest.raises(Broken):
        run(engine, ctx, Hooked(sms(twilio), after=break_second), group=3)
    assert statuses(engine) == {"C0": "sent", "C1": "sending", "C2": "approved"}
    later = SEND_AT + timedelta(seconds=ctx.policy.delivery.lease_seconds + 1)
    report = run(engine, ctx, sms(twilio), now=later)
    assert (report.unknown, report.sent) == (1, 1)
    assert [m.to for m in twilio.messages].count("+8613912345601") == 1  # never resent


def _crash_after(db_url: str, policy: Policy, base_url: str, n: int) -> None:
    """A worker that dies (os._exit: no cleanup, no finally) once ``n`` SMS went out."""
    engine = make_engine(db_url)
    sent: list[str] = []

    def die(message: Outgoing) -> None:
        sent.append(message.to)
        if len(sent) == n:
            os._exit(9)

    channel = Hooked(sms(base_url), after=die)
    deliver(engine, SEND_AT, sweep_context(policy), {"sms": channel}, TRACKER, group=4)


def test_a_crash_between_sending_and_recording_leaves_the_group_unknown_never_resent(
    engine: Engine, ctx: SweepContext, twilio: TwilioFake, db_url: str, policy: Policy
) -> None:
    portfolio(engine, ctx, 6)
    worker = multiprocessing.get_context("fork").Process(
        target=_crash_after, args=(db_url, policy, twilio.base_url, 2)
    )
    worker.start()
    worker.join(timeout=60)
    assert worker.exitcode == 9
    # Two SMS went out; the whole first group of four is `sending`, the rest untouched.
    assert len(twilio.messages) == 2
    assert (count(engine, "sending"), count(engine, "approved")) == (4, 2)
    later = SEND_AT + timedelta(seconds=ctx.policy.delivery.lease_seconds + 1)
    report = run(engine, ctx, sms(twilio), now=later)
    assert (report.unknown, report.sent) == (4, 2)
    assert count(engine, "unknown") == 4
    assert len(twilio.messages) == 4  # the two sent before the crash were not sent again
    assert len({m.to for m in twilio.messages}) == 4


def test_a_status_callback_resolves_a_reminder_left_unknown_by_a_crash(
    engine: Engine, ctx: SweepContext, policy: Policy
) -> None:
    [rid] = portfolio(engine, ctx, 1)
    with unit_of_work(engine) as s:  # what the lease turns a crashed group's reminder into
        r = s.get(Reminder, rid)
        assert r is not None
        r.status, r.provider_id = "unknown", None
    public, token = "https://notifier.example", "twilio-auth-token-for-tests"
    settings = Settings(public_url=public, secret_key=SecretStr("s" * 40),
                        twilio=TwilioSettings(auth_token=SecretStr(token)))  # fmt: skip
    client = TestClient(create_app(settings, policy, engine, clock=lambda: SEND_AT))
    path = f"/webhooks/twilio/status?reminder={rid}"
    params = {"MessageSid": "SM" + "d" * 32, "MessageStatus": "delivered", "AccountSid": "AC1"}
    signature = RequestValidator(token).compute_signature(public + path, params)
    answer = client.post(path, data=params, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 204
    with unit_of_work(engine) as s:
        r = s.get(Reminder, rid)
        assert r is not None and (r.status, r.provider_id) == ("delivered", "SM" + "d" * 32)


def test_a_group_whose_turn_comes_after_the_slot_ended_waits_for_the_next_slot(
    engine: Engine, ctx: SweepContext, twilio: TwilioFake
) -> None:
    ids = portfolio(engine, ctx, 6)
    start = datetime(2026, 3, 2, 19, 59, 50, tzinfo=SH)
    # The first group goes out at 19:59:50; the provider is slow, so the second group's
    # turn comes at 20:00:10, after the individuals' slot ended (20:00).
    times = iter([start, start + timedelta(seconds=20)])
    report = deliver(engine, start, ctx, {"sms": sms(twilio)}, TRACKER, rng=random.Random(1),
                     group=3, clock=lambda: next(times))  # fmt: skip

    assert (report.sent, report.deferred) == (3, 3)
    assert len(twilio.messages) == 3
    with unit_of_work(engine) as s:
        late = [s.get(Reminder, rid) for rid in ids[3:]]
    for r in late:
        assert r is not None and r.status == "approved" and r.sent_at is None
        assert r.reason is not None and "slot ended before its turn" in r.reason
        assert r.slot_start.astimezone(SH) >= datetime(2026, 3, 3, 19, tzinfo=SH)
