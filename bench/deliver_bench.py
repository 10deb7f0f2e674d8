"""The delivery sweep's rate beside the raw channel rate, and what an SMTP outage does to it,
measured side by side in one run.

    python -m bench.deliver_bench --messages 2000

- ``sms_per_s``: N individual customers, each with one approved SMS reminder (planned with
  ``plan(..., force=True)`` and approved with ``approve_all_pending``) whose 19:00 slot is
  open, delivered by repeated ``deliver(...)`` sweeps at one instant until none is left,
  through ``TwilioSms`` to the local Twilio (status callbacks off); beside it
  ``sms_raw_per_s``: ``TwilioSms.send`` on the same N messages with no database (the floor,
  measured before and after the sweep, the faster one kept);
- ``sms_callbacks_per_s``: the same sweep with the status callbacks on, posted into the
  running web app (its own process, same SQLite file), and how long until every reminder
  is ``delivered``;
- ``email_per_s`` / ``email_raw_per_s``: the same for business customers, ``SmtpEmail`` and
  the aiosmtpd recording server, 09:00 slot;
- ``webhooks_per_s``: signed Twilio status callbacks (``delivered``, one per SMS the sweep
  sent, named by reminder as the sweep asks Twilio to) accepted per second by the running
  app (uvicorn, real HTTP, 16 concurrent keep-alive connections from a thin asyncio
  client); beside it ``webhooks_ref_per_s``: the same app answering ``GET /healthz`` (one
  ``SELECT 1``) at the same concurrency, the two alternating in rounds; the app process's
  CPU time per request for both;
- outages: M approved e-mails, the SMTP server stopped, one sweep per simulated minute (as
  the scheduler runs it), the server back after the outage; transient failures, retries
  inside the slot, deferrals to the next slot, minutes to drain, and checks that nothing
  was sent twice (Message-IDs and recipients at the server) or lost (status of every one);
- a cProfile (CPU time) of the first sweeps of the SMS run: where the time goes, SQL
  statements and commits per message.

The local Twilio, the SMTP server and the web app run in a child process (the "world"), so
the measured process is only the delivery worker; its CPU time per message is reported
beside the wall-clock rates (on a busy machine the rates move, the CPU time much less).
The planned and approved portfolios are cached in ``bench/data/`` (git-ignored;
``--regenerate`` plans them anew); every measurement works on a fresh copy under
``bench/data/run/deliver/``. Results go to ``bench/deliver_results.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import multiprocessing
import os
import pstats
import random
import shutil
import ssl
import sys
import time as clock
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, event, func, insert, select, text
from sqlmodel import col
from twilio.request_validator import RequestValidator

from bench.generate import AT, CITIES, GIVEN, POLICY_PATH, SURNAMES, TRADES, WORDS
from bench.plan_bench import machine, schema_head
from notifier.channels import Channel, Outgoing, SmtpEmail, TwilioSms
from notifier.domain.calendar import WorkCalendar
from notifier.domain.policy import Policy
from notifier.render import Renderer
from notifier.services.review import approve_all_pending, count_by_status
from notifier.settings import Settings, SmtpSettings, TwilioSettings, load_policy
from notifier.store.db import make_engine, unit_of_work
from notifier.store.migrate import upgrade
from notifier.store.models import Customer, Event, Payment, Receivable, Reminder, User
from notifier.sweeps.context import SweepContext
from notifier.sweeps.deliver import DeliverReport, deliver, opened
from notifier.sweeps.plan import plan
from notifier.tracking import Tracker, track_email
from notifier.web import create_app
from notifier.wiring import STATUS_CALLBACK_PATH
from tests.fakes.live_app import LiveApp
from tests.fakes.smtp_servers import SmtpServer, free_port
from tests.fakes.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, TwilioFake

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
SH = ZoneInfo("Asia/Shanghai")
DAY = AT.date()  # 2026-03-02, a Monday and a working day in China
SMS_AT = datetime.combine(DAY, time(19, 5), SH)  # the individuals' 19:00-20:00 slot
EMAIL_AT = datetime.combine(DAY, time(9, 5), SH)  # the businesses' 09:00-10:00 slot
SLOT_END = datetime.combine(DAY, time(10, 0), SH)  # ... and its end
APPROVED_AT = AT + timedelta(minutes=5)
OVERDUE_DAYS = 10  # the "offer" step: e-mail first for businesses, SMS first for individuals
TRACKER = Tracker("bench-" + "k" * 34, "https://notifier.example")
SECRET = "bench-secret-" + "x" * 32
MAX_SIM_DAYS = 3  # an outage simulation stops after this many simulated days at the latest
PROFILE_SWEEPS = 3  # batches profiled
DATA_VERSION = 1  # bump when fill() or the scenario instants change: cached databases rebuild

console = Console(width=None if sys.stdout.isatty() else 150)


# -- the world: local Twilio, SMTP server and web app in a child process --------------------
def _world_main(conn: Connection) -> None:
    """Serve the bench process's commands until told to exit."""
    twilio: TwilioFake | None = None
    smtp: SmtpServer | None = None
    app: LiveApp | None = None
    app_engine: Engine | None = None
    while True:
        command, args = conn.recv()
        if command == "exit":
            break
        try:
            result: Any = None
            if command == "twilio.start":
                if twilio is not None:
                    twilio.stop()
                twilio = TwilioFake().start()
                twilio.callbacks_enabled = args["callbacks"]
                if args["nodelay"]:
                    _nodelay(twilio)
                result = twilio.base_url
            elif command == "twilio.messages":
                assert twilio is not None
                result = [(m.sid, m.to) for m in twilio.messages]
            elif command == "twilio.callbacks":
                assert twilio is not None
                result = [
                    (c.params["MessageSid"], c.params["MessageStatus"], c.answered)
                    for c in twilio.callbacks
                ]
            elif command == "smtp.new":
                if smtp is not None:
                    smtp.stop()
                smtp = SmtpServer(port=free_port())
                if args["running"]:
                    smtp.start()
                result = smtp.port
            elif command == "smtp.start":
                assert smtp is not None
                smtp.start()
            elif command == "smtp.mails":
                assert smtp is not None
                result = [(m.rcpt_tos, str(m.message["Message-ID"])) for m in smtp.mails]
            elif command == "app.start":
                app, app_engine = _start_app(args)
                result = app.url
            elif command == "cpu":  # this process's CPU seconds so far (all its threads)
                result = clock.process_time()
            elif command == "app.stop":
                if app is not None:
                    app.stop()
                if app_engine is not None:
                    app_engine.dispose()
                app = app_engine = None
            else:
                raise ValueError(f"unknown command {command!r}")
        except Exception as exc:  # raised again in the bench process
            conn.send(("error", f"{command}: {type(exc).__name__}: {exc}"))
            continue
        conn.send(("ok", result))
    for server in (app, smtp, twilio):
        if server is not None:
            server.stop()
    conn.send(("ok", None))


def _nodelay(twilio: TwilioFake) -> None:
    """TCP_NODELAY on the local Twilio's connections. Its handler writes the headers and the
    body of every answer in two sends; with Nagle on, the body waits for the client's
    delayed ACK (40 ms on Linux), which caps any client at ~23 requests/s. The real Twilio
    has no such limit, so the benchmark turns it off (the fake itself is left as it is)."""
    server = twilio._server
    assert server is not None
    handler = server.RequestHandlerClass
    server.RequestHandlerClass = type(
        handler.__name__, (handler,), {"disable_nagle_algorithm": True}
    )


def _start_app(args: dict[str, Any]) -> tuple[LiveApp, Engine]:
    port = free_port()
    settings = Settings(
        public_url=f"http://127.0.0.1:{port}",
        secret_key=SecretStr(SECRET),
        twilio=_twilio_settings(args["twilio"]),
    )
    engine = make_engine(args["db_url"])
    instant = datetime.fromisoformat(args["now"])
    app = create_app(settings, load_policy(POLICY_PATH), engine, clock=lambda: instant)
    return LiveApp(app, port).start(), engine


class World:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_world_main, args=(child,), name="bench-world")
        self._process.start()

    def call(self, command: str, **args: Any) -> Any:
        self._conn.send((command, args))
        status, result = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"the world process failed: {result}")
        return result

    def close(self) -> None:
        if self._process.is_alive():
            with suppress(EOFError, OSError, RuntimeError):
                self.call("exit")
        self._process.join(timeout=20)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)


@contextmanager
def world() -> Iterator[World]:
    w = World()
    try:
        yield w
    finally:
        w.close()


def _twilio_settings(base_url: str) -> TwilioSettings:
    return TwilioSettings(
        account_sid=ACCOUNT_SID,
        auth_token=SecretStr(AUTH_TOKEN),
        from_number="+15005550006",
        api_base=base_url,
        rate_per_second=0,  # no token bucket: the sweep's own rate is measured
    )


def sms_channel(base_url: str, callback_base: str = "https://notifier.example") -> TwilioSms:
    callback = callback_base.rstrip("/") + STATUS_CALLBACK_PATH
    return TwilioSms(_twilio_settings(base_url), status_callback=callback)


def smtp_settings(port: int) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, from_="billing@notifier.example")


# -- the portfolio --------------------------------------------------------------------------
def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def fill(engine: Engine, n: int, kind: str, seed: int) -> None:
    """``n`` customers of ``kind`` in China, each with two settled invoices (paid on time)
    and one open invoice ``OVERDUE_DAYS`` past due at ``AT``: one executemany per table."""
    rng = random.Random(seed)
    now = AT.astimezone(UTC)
    business = kind == "business"
    open_due = DAY - timedelta(days=OVERDUE_DAYS)
    dues = (open_due - timedelta(days=60), open_due - timedelta(days=30), open_due)
    customers: list[dict[str, Any]] = []
    receivables: list[dict[str, Any]] = []
    payments: list[dict[str, Any]] = []
    for number in range(1, n + 1):
        cid = f"{'B' if business else 'P'}{number:07d}"
        customers.append(
            {
                "id": cid,
                "name": _name(rng, business),
                "kind": kind,
                "phone": f"+86{'138' if business else '139'}{number:08d}",
                "email": f"ar{number}@b{number % 97}.example" if business else None,
                "timezone": "Asia/Shanghai",
                "locale": "zh-CN",
                "country": "CN",
                "tier": None,
                "tier_hand_set": False,
                "collector": None,
                "notes": None,
                "legal_authorised": False,
                "sms_opt_out": False,
                "email_opt_out": False,
                "phone_invalid": False,
                "escalated_at": None,
                "escalation_reason": None,
                "created_at": now - timedelta(days=400),
                "updated_at": now - timedelta(days=400),
            }
        )
        for seq, due in enumerate(dues, 1):
            rid = f"INV-{cid}-{seq}"
            cents = (rng.randint(20, 3000) * 100 if business else rng.randint(300, 20_000)) * 100
            receivables.append(
                {
                    "id": rid,
                    "customer_id": cid,
                    "amount_cents": cents,
                    "currency": "CNY",
                    "issued_on": due - timedelta(days=30),
                    "due_on": due,
                    "penalty_rate_daily": None,
                    "payment_url": None,
                    "plan_id": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if due < open_due:
                payments.append(
                    {
                        "id": f"PAY-{rid}",
                        "invoice_id": rid,
                        "amount_cents": cents,
                        "paid_on": due - timedelta(days=rng.randint(0, 5)),
                        "created_at": now,
                        "updated_at": now,
                    }
                )
    with engine.begin() as connection:
        for model, rows in ((Customer, customers), (Receivable, receivables), (Payment, payments)):
            connection.execute(insert(model.__table__), rows)  # type: ignore[attr-defined]


def _name(rng: random.Random, business: bool) -> str:
    """No digits: the linter would read them as an amount the message states."""
    if business:
        return f"{rng.choice(CITIES)}{rng.choice(WORDS)}{rng.choice(TRADES)}有限公司"
    return rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))


@dataclass
class Planned:
    path: Path
    customers: int
    drafted: int
    approved: int
    lint_skipped: int
    seconds: float  # to generate, plan and approve
    by_channel: dict[str, int]
    cached: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "customers": self.customers,
            "drafted": self.drafted,
            "approved": self.approved,
            "lint_skipped": self.lint_skipped,
            "by_channel": self.by_channel,
            "seconds": round(self.seconds, 2),
            "cached": self.cached,
        }


def cached_planned(
    data: Path,
    n: int,
    kind: str,
    ctx: SweepContext,
    seed: int,
    approve_at: datetime | None,
    regenerate: bool,
) -> Planned:
    """``planned_db`` once per (kind, size, seed, approval, data version, schema revision),
    kept under ``data`` (git-ignored); every measurement works on a copy."""
    approval = approve_at.strftime("%H%M") if approve_at else "none"
    name = f"deliver-{kind}-{n}-s{seed}-a{approval}-v{DATA_VERSION}-r{schema_head()}"
    path, meta = data / f"{name}.db", data / f"{name}.json"
    if path.exists() and meta.exists() and not regenerate:
        return Planned(path=path, **json.loads(meta.read_text()) | {"cached": True})
    partial = data / f"{name}.partial.db"
    planned = planned_db(partial, n, kind, ctx, seed, approve_at)
    _remove_db(path)
    partial.rename(path)
    _remove_db(partial)
    meta.write_text(json.dumps(planned.as_dict() | {"cached": False}))
    planned.path = path
    return planned


def planned_db(
    path: Path, n: int, kind: str, ctx: SweepContext, seed: int, approve_at: datetime | None
) -> Planned:
    """A new database with ``n`` customers, planned at ``AT`` and (when ``approve_at`` is
    given) every clean draft approved then."""
    _remove_db(path)
    started = clock.perf_counter()
    engine = make_engine(_url(path))
    upgrade(engine)
    fill(engine, n, kind, seed)
    report = plan(engine, AT, ctx, force=True)
    approved = skipped = 0
    if approve_at is not None:
        approved, skipped = approve(engine, ctx, approve_at)
    with engine.begin() as connection:
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    seconds = clock.perf_counter() - started
    return Planned(path, n, report.drafted, approved, skipped, seconds, dict(report.by_channel))


def approve(engine: Engine, ctx: SweepContext, at: datetime) -> tuple[int, int]:
    with unit_of_work(engine) as session:
        if session.get(User, "bench") is None:  # every decision names a real decider
            session.add(User(name="bench", role="reviewer", created_at=at))
            session.flush()
        ok, skipped = approve_all_pending(session, "bench", at, ctx.policy, ctx.calendar)
    return len(ok), len(skipped)


def copy_db(source: Path, target: Path) -> Path:
    _remove_db(target)
    shutil.copyfile(source, target)
    return target


def open_engine(path: Path) -> Engine:
    engine = make_engine(_url(path))
    with engine.connect():
        pass  # the pool is open before any clock starts
    return engine


# -- measuring ------------------------------------------------------------------------------
class SqlCounter:
    """SQL statements and commits on an engine (the sweep's own work only)."""

    def __init__(self, engine: Engine) -> None:
        self.statements = 0
        self.commits = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, *_: Any) -> None:
        self.statements += 1

    def _commit(self, *_: Any) -> None:
        self.commits += 1


@dataclass
class SweepRun:
    sent: int
    seconds: float
    cpu_seconds: float  # this process only: the worker's own cost, whatever the load
    sweeps: int
    statements: int
    commits: int
    statuses: dict[str, int]
    report: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        per = max(self.sent, 1)
        return {
            "sent": self.sent,
            "seconds": round(self.seconds, 3),
            "rate": round(self.rate, 1),
            "cpu_ms_per_message": round(1000 * self.cpu_seconds / per, 3),
            "sweeps": self.sweeps,
            "statements_per_message": round(self.statements / per, 2),
            "commits_per_message": round(self.commits / per, 2),
            "statuses": self.statuses,
            "report": self.report,
        }


def sweep_until_done(
    engine: Engine,
    now: datetime,
    ctx: SweepContext,
    channels: Callable[[], Mapping[str, Channel]],
    seed: int,
    *,
    profile: cProfile.Profile | None = None,
    max_sweeps: int = 10_000,
) -> SweepRun:
    """``deliver`` at ``now`` again and again until a sweep claims nothing (fresh channels
    per sweep, as the scheduler builds them), or ``max_sweeps`` ran."""
    counter = SqlCounter(engine)
    rng = random.Random(seed)
    total = Counter[str]()
    sweeps = 0
    if profile is not None:
        profile.enable()
    started, cpu = clock.perf_counter(), clock.process_time()
    while True:
        with opened(channels) as fresh:  # the caller opens and closes them (as Deliver)
            report = deliver(engine, now, ctx, fresh, TRACKER, rng=rng)
        sweeps += 1
        total.update(_counts(report))
        if report.claimed == 0 or sweeps >= max_sweeps:
            break
    seconds, cpu = clock.perf_counter() - started, clock.process_time() - cpu
    if profile is not None:
        profile.disable()
    with unit_of_work(engine) as session:
        statuses = count_by_status(session)
    return SweepRun(
        total["sent"],
        seconds,
        cpu,
        sweeps,
        counter.statements,
        counter.commits,
        statuses,
        dict(total),
    )


def _counts(report: DeliverReport) -> dict[str, int]:
    names = ("claimed", "sent", "retrying", "deferred", "cancelled", "failed", "unknown")
    return {name: getattr(report, name) for name in names}


def messages_of(path: Path) -> list[Outgoing]:
    """The approved reminders as the channel receives them from the sweep (e-mails with
    the tracked links, the pixel and the List-Unsubscribe headers), built beforehand."""
    engine = make_engine(_url(path))
    with unit_of_work(engine) as session:
        rows = list(
            session.scalars(
                select(Reminder)
                .where(col(Reminder.status) == "approved")
                .order_by(col(Reminder.id))
            )
        )
    engine.dispose()
    result: list[Outgoing] = []
    for r in rows:
        assert r.id is not None
        if r.channel == "sms":
            result.append(Outgoing(reminder_id=r.id, channel="sms", to=r.address, body=r.body))
            continue
        tracked = track_email(TRACKER, r.id, r.body, r.html)
        result.append(
            Outgoing(
                reminder_id=r.id,
                channel="email",
                to=r.address,
                body=tracked.text,
                subject=r.subject,
                html=tracked.html,
                headers=tracked.headers,
            )
        )
    return result


def raw_rate(channel: Channel, messages: list[Outgoing]) -> dict[str, Any]:
    """The channel alone: ``send`` on every message, one after the other."""
    started, cpu = clock.perf_counter(), clock.process_time()
    for message in messages:
        channel.send(message)
    channel.close()
    seconds, cpu = clock.perf_counter() - started, clock.process_time() - cpu
    return {
        "sent": len(messages),
        "seconds": round(seconds, 3),
        "rate": round(len(messages) / seconds, 1),
        "cpu_ms_per_message": round(1000 * cpu / max(len(messages), 1), 3),
    }


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest of the raw runs (one before, one after the sweep), naming all rates."""
    return {**max(runs, key=lambda r: r["rate"]), "rates": [r["rate"] for r in runs]}


def provider_check(to: list[str], ids: list[str], sent_ids: set[str] | None) -> dict[str, Any]:
    """What the provider received against what the database says was sent."""
    check: dict[str, Any] = {
        "received": len(ids),
        "duplicate_ids": len(ids) - len(set(ids)),
        "duplicate_recipients": len(to) - len(set(to)),
    }
    if sent_ids is not None:
        check["ids_match_database"] = set(ids) == sent_ids
    return check


def sent_provider_ids(engine: Engine) -> set[str]:
    with unit_of_work(engine) as session:
        ids = session.scalars(
            select(col(Reminder.provider_id)).where(col(Reminder.status).in_(("sent", "delivered")))
        )
        return {i for i in ids if i}


def twilio_check(w: World, sent_ids: set[str] | None) -> dict[str, Any]:
    received = w.call("twilio.messages")
    return provider_check([to for _, to in received], [sid for sid, _ in received], sent_ids)


def smtp_check(w: World, sent_ids: set[str] | None) -> dict[str, Any]:
    mails = w.call("smtp.mails")
    return provider_check([",".join(to) for to, _ in mails], [m for _, m in mails], sent_ids)


# -- 1. SMS ---------------------------------------------------------------------------------
def measure_sms(
    w: World, planned: Planned, ctx: SweepContext, run: Path, seed: int
) -> dict[str, Any]:
    messages = messages_of(planned.path)

    def raw() -> dict[str, Any]:  # the floor: TwilioSms.send on the same messages, alone
        base = w.call("twilio.start", callbacks=False, nodelay=True)
        return raw_rate(sms_channel(base), messages) | {"provider": twilio_check(w, None)}

    before = raw()
    # The local Twilio as shipped (Nagle on), on a few messages: why the bench turns it off.
    shipped = w.call("twilio.start", callbacks=False, nodelay=False)
    as_shipped = raw_rate(sms_channel(shipped), messages[:40])
    engine = open_engine(copy_db(planned.path, run / "sms.db"))
    base = w.call("twilio.start", callbacks=False, nodelay=True)
    swept = sweep_until_done(engine, SMS_AT, ctx, lambda: {"sms": sms_channel(base)}, seed)
    sweep = swept.as_dict() | {"provider": twilio_check(w, sent_provider_ids(engine))}
    engine.dispose()
    return {"raw": best([before, raw()]), "sweep": sweep, "raw_fake_as_shipped": as_shipped}


def measure_sms_callbacks(
    w: World, planned: Planned, ctx: SweepContext, run: Path, seed: int, wait_s: float
) -> dict[str, Any]:
    """The SMS sweep while Twilio posts signed status callbacks (sent, delivered) into the
    running web app, a separate process writing to the same SQLite file."""
    db = copy_db(planned.path, run / "sms_callbacks.db")
    base = w.call("twilio.start", callbacks=True, nodelay=True)
    app_url = w.call("app.start", db_url=_url(db), twilio=base, now=SMS_AT.isoformat())
    engine = open_engine(db)
    try:
        swept = sweep_until_done(
            engine, SMS_AT, ctx, lambda: {"sms": sms_channel(base, app_url)}, seed
        )
        started = clock.perf_counter()
        expected = 2 * swept.sent  # "sent", then "delivered"
        while clock.perf_counter() < started + wait_s:
            if len(w.call("twilio.callbacks")) >= expected:
                break
            clock.sleep(0.2)
        drained = clock.perf_counter() - started
        with unit_of_work(engine) as session:
            statuses = count_by_status(session)
            stuck = set(
                session.scalars(
                    select(col(Reminder.provider_id)).where(col(Reminder.status) == "sent")
                )
            )
    finally:
        w.call("app.stop")
        engine.dispose()
    callbacks = w.call("twilio.callbacks")
    answered = Counter(f"{status}:{code}" for _, status, code in callbacks)
    # Still `sent` although the app answered its `delivered` callback: the callback came
    # before the sweep had recorded the message SID, so the app found no reminder for it.
    unapplied = {sid for sid, status, code in callbacks if status == "delivered" and code == 204}
    return swept.as_dict() | {
        "callbacks_expected": expected,
        "callbacks_answered": dict(answered),
        "callbacks_drain_seconds": round(drained, 2),
        "statuses_after_callbacks": statuses,
        "delivered_callback_answered_but_still_sent": len(stuck & unapplied),
        "end_to_end_delivered_per_s": round(
            statuses.get("delivered", 0) / (swept.seconds + drained), 1
        ),
    }


# -- 2. e-mail ------------------------------------------------------------------------------
def measure_email(
    w: World, planned: Planned, ctx: SweepContext, run: Path, seed: int
) -> dict[str, Any]:
    messages = messages_of(planned.path)

    def raw() -> dict[str, Any]:  # the floor: SmtpEmail.send on the same messages, alone
        port = w.call("smtp.new", running=True)
        return raw_rate(SmtpEmail(smtp_settings(port)), messages) | {
            "provider": smtp_check(w, None)
        }

    before = raw()
    engine = open_engine(copy_db(planned.path, run / "email.db"))
    port = w.call("smtp.new", running=True)
    swept = sweep_until_done(
        engine, EMAIL_AT, ctx, lambda: {"email": SmtpEmail(smtp_settings(port))}, seed
    )
    sweep = swept.as_dict() | {"provider": smtp_check(w, sent_provider_ids(engine))}
    engine.dispose()
    return {"raw": best([before, raw()]), "sweep": sweep}


# -- 3. status callbacks into the app -------------------------------------------------------
def _request(host: str, method: str, path: str, body: bytes = b"", **headers: str) -> bytes:
    """One HTTP/1.1 request, keep-alive, as bytes (built before any clock starts)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _blast(
    host: str, port: int, requests: list[bytes], clients: int
) -> tuple[float, Counter[int]]:
    """Send ``requests`` over ``clients`` keep-alive connections at once, each connection
    one request after the other; the seconds it took and the answers' status codes. A
    client this thin (no HTTP library) leaves the machine's CPU to the app."""
    pending = iter(requests)
    codes = Counter[int]()

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        for request in pending:  # one shared iterator: each request is sent once
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            code = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
                elif name.strip().lower() == b"transfer-encoding":
                    raise RuntimeError("chunked answers are not expected here")
            if length:
                await reader.readexactly(length)
            codes[code] += 1
        writer.close()
        await writer.wait_closed()

    started = clock.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return clock.perf_counter() - started, codes


@dataclass
class _Tally:
    """Requests answered, wall seconds, and the app process's CPU seconds, over rounds."""

    ok: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    answers: Counter[int] = field(default_factory=Counter)
    rates: list[float] = field(default_factory=list)

    def add(self, seconds: float, answers: Counter[int], cpu: float, ok: int) -> None:
        self.ok += answers[ok]
        self.seconds += seconds
        self.cpu += cpu
        self.answers.update(answers)
        self.rates.append(round(answers[ok] / seconds, 1))

    def as_dict(self) -> dict[str, Any]:
        n = sum(self.answers.values())
        return {"requests": n, "seconds": round(self.seconds, 3),
                "rate": round(self.ok / self.seconds, 1), "rates_by_round": self.rates,
                "app_cpu_ms_per_request": round(1000 * self.cpu / max(n, 1), 3),
                "answers": {str(k): v for k, v in sorted(self.answers.items())}}  # fmt: skip


def measure_webhooks(
    w: World, sent_db: Path, run: Path, clients: int, limit: int, rounds: int = 4
) -> dict[str, Any]:
    """Signed Twilio status callbacks (``delivered``, one per sent SMS, named by reminder
    as the sweep asks Twilio to) posted into the running app (uvicorn, its own process,
    the same SQLite file) by ``clients`` concurrent keep-alive connections; beside it the
    same app answering ``GET /healthz`` (one ``SELECT 1``) at the same concurrency. The two
    alternate in ``rounds`` rounds (a share of the callbacks each), so that a change in
    the machine's load hits both alike; the app process's CPU time is reported too."""
    db = copy_db(sent_db, run / "webhooks.db")
    engine = open_engine(db)
    with unit_of_work(engine) as session:
        sent = session.execute(
            select(col(Reminder.id), col(Reminder.provider_id))
            .where(col(Reminder.status) == "sent", col(Reminder.channel) == "sms")
            .order_by(col(Reminder.id))
            .limit(limit)
        ).all()
    url = w.call("app.start", db_url=_url(db), twilio="http://127.0.0.1:9", now=SMS_AT.isoformat())
    host, port = url.removeprefix("http://").rsplit(":", 1)
    validator = RequestValidator(AUTH_TOKEN)
    callbacks = []
    for reminder_id, sid in sent:
        path = f"{STATUS_CALLBACK_PATH}?reminder={reminder_id}"
        params = {"AccountSid": ACCOUNT_SID, "MessageSid": str(sid), "SmsSid": str(sid),
                  "MessageStatus": "delivered", "SmsStatus": "delivered", "To": "+8613900000000",
                  "From": "+15005550006", "ApiVersion": "2010-04-01"}  # fmt: skip
        signature = validator.compute_signature(url + path, params)
        callbacks.append(_request(f"{host}:{port}", "POST", path, urlencode(params).encode(),
                                  Content_Type="application/x-www-form-urlencoded",
                                  X_Twilio_Signature=signature))  # fmt: skip
    health = _request(f"{host}:{port}", "GET", "/healthz")
    hooks, ref = _Tally(), _Tally()
    size = -(-len(callbacks) // rounds)
    try:
        for start in range(0, len(callbacks), size):
            some = callbacks[start : start + size]
            for tally, requests, ok in ((ref, [health] * len(some), 200), (hooks, some, 204)):
                cpu = w.call("cpu")
                seconds, answers = asyncio.run(_blast(host, int(port), requests, clients))
                tally.add(seconds, answers, w.call("cpu") - cpu, ok)
    finally:
        w.call("app.stop")
    with unit_of_work(engine) as session:
        statuses = count_by_status(session)
        events = session.scalar(
            select(func.count()).select_from(Event).where(col(Event.kind) == "delivered")
        )
    engine.dispose()
    return {
        "clients": clients,
        "callbacks": hooks.as_dict()
        | {"statuses_after": statuses, "delivered_events": int(events or 0)},
        "healthz": ref.as_dict(),
    }


# -- 4. SMTP outages ------------------------------------------------------------------------
@dataclass(frozen=True)
class Outage:
    name: str
    approved_at: time  # local time on DAY
    down_at: time  # the server stops; sweeps run every minute from here
    down_minutes: int
    story: str


OUTAGES = {
    o.name: o
    for o in (
        Outage("in_slot", time(8, 5), time(9, 0), 10,
               "approved 08:05; SMTP down 09:00-09:10, inside the 09:00-10:00 slot"),
        Outage("past_slot_end", time(9, 54, 30), time(9, 55), 10,
               "approved late, 09:54; SMTP down 09:55-10:05, across the end of the slot"),
        Outage("whole_slot", time(8, 5), time(9, 0), 70,
               "approved 08:05; SMTP down 09:00-10:10, the whole slot and after"),
    )
}  # fmt: skip


def measure_outage(
    w: World, planned: Planned, outage: Outage, ctx: SweepContext, run: Path, seed: int
) -> dict[str, Any]:
    engine = open_engine(copy_db(planned.path, run / f"outage_{outage.name}.db"))
    approved, _ = approve(engine, ctx, datetime.combine(DAY, outage.approved_at, SH))
    port = w.call("smtp.new", running=False)  # nothing listens there: the server is down
    now = datetime.combine(DAY, outage.down_at, SH)
    back = now + timedelta(minutes=outage.down_minutes)
    stop_at = now + timedelta(days=MAX_SIM_DAYS)
    rng = random.Random(seed)
    # SmtpEmail builds ssl.create_default_context() (~16 ms: it loads the system CA store) on
    # every connection attempt, TLS or not; thousands of refused attempts would spend
    # minutes on it. One context built here keeps the simulation short; nothing else changes.
    tls = ssl.create_default_context()
    total = Counter[str]()
    at_slot_end: dict[str, int] | None = None
    sweeps = 0
    down = True
    started = clock.perf_counter()
    while now < stop_at:
        if down and now >= back:
            w.call("smtp.start")
            down = False
        with opened(lambda: {"email": SmtpEmail(smtp_settings(port), ssl_context=tls)}) as chs:
            report = deliver(engine, now, ctx, chs, TRACKER, rng=rng)
        sweeps += 1
        total.update(_counts(report))
        if at_slot_end is None and now >= SLOT_END:
            at_slot_end = _slot_snapshot(engine)
        if not down and _waiting(engine) == 0:
            break
        now += timedelta(minutes=1)
    seconds = clock.perf_counter() - started
    result = _outage_outcome(engine, w, outage, back, approved)
    result.update(
        sweeps=sweeps,
        wall_seconds=round(seconds, 2),
        totals=dict(total),
        at_slot_end=at_slot_end,
        simulated_until=now.astimezone(SH).isoformat(),
    )
    engine.dispose()
    return result


def _waiting(engine: Engine) -> int:
    with unit_of_work(engine) as session:
        waiting = session.scalar(
            select(func.count())
            .select_from(Reminder)
            .where(col(Reminder.status).in_(("approved", "sending")))
        )
    return int(waiting or 0)


def _slot_snapshot(engine: Engine) -> dict[str, int]:
    """Right after the first sweep at or past the end of the original slot."""
    with unit_of_work(engine) as session:
        statuses = count_by_status(session)
        later = session.scalar(
            select(func.count())
            .select_from(Reminder)
            .where(col(Reminder.status) == "approved", col(Reminder.slot_start) >= SLOT_END)
        )
    return {**statuses, "approved_in_a_later_slot": int(later or 0)}


def _outage_outcome(
    engine: Engine, w: World, outage: Outage, back: datetime, approved: int
) -> dict[str, Any]:
    kinds = ("send_error", "deferred", "unknown", "failed")
    with unit_of_work(engine) as session:
        reminders = list(session.scalars(select(Reminder)))
        events = list(session.scalars(select(Event).where(col(Event.kind).in_(kinds))))
        statuses = count_by_status(session)
    errors = Counter(e.data["reminder_id"] for e in events if e.kind == "send_error")
    deferred = {e.data["reminder_id"] for e in events if e.kind == "deferred"}
    reasons = Counter(
        str(e.data.get("reason", "")).split(":")[0] for e in events if e.kind == "deferred"
    )
    sent = [r for r in reminders if r.status == "sent"]
    in_slot = [r for r in sent if r.id not in deferred]
    last = max((r.sent_at for r in sent if r.sent_at), default=None)
    # Waiting for a later slot, with the reason recorded: deferred, not lost.
    waiting = [r for r in reminders if r.status == "approved" and r.reason and r.slot_end > back]
    minutes = (last - back).total_seconds() / 60 if last and len(sent) == approved else None
    return {
        "story": outage.story,
        "approved": approved,
        "server_back_at": back.isoformat(),
        "transient_failures": sum(errors.values()),
        "reminders_with_transient_failures": len(errors),
        "sent_in_original_slot": len(in_slot),
        "retried_and_sent_in_slot": sum(1 for r in in_slot if r.id in errors),
        "deferred_to_later_slot": len(deferred),
        "deferral_reasons": dict(reasons),
        "sent_after_deferral": sum(1 for r in sent if r.id in deferred),
        "minutes_after_server_back_until_all_sent": round(minutes, 1) if minutes else None,
        "last_sent_at": last.astimezone(SH).isoformat() if last else None,
        "attempts_of_sent": {
            str(k): v for k, v in sorted(Counter(r.attempts for r in sent).items())
        },
        "statuses": statuses,
        "not_sent_and_not_waiting": len(reminders) - len(sent) - len(waiting),
        "provider": smtp_check(w, {r.provider_id for r in sent if r.provider_id}),
    }


# -- 5. profile -----------------------------------------------------------------------------
SPOTS = (
    ("deliver(): the sweeps", "notifier/sweeps/deliver.py", "deliver"),
    ("_deliver_group: per group of reminders", "notifier/sweeps/deliver.py", "_deliver_group"),
    ("TwilioSms.send: SDK + HTTP", "notifier/channels/twilio_sms.py", "send"),
    ("  requests: merge_environment_settings", "requests/sessions.py",
     "merge_environment_settings"),
    ("_prepare: lock, re-read, re-check, mark", "notifier/sweeps/deliver.py", "_prepare"),
    ("  recheck_all", "notifier/sweeps/recheck.py", "recheck_all"),
    ("    gather: set-based reads", "notifier/sweeps/recheck.py", "gather"),
    ("      items_for (3 SELECTs)", "notifier/store/queries.py", "items_for"),
    ("      active_opt_outs", "notifier/services/consent.py", "active_opt_outs"),
    ("    judge: the checks", "notifier/sweeps/recheck.py", "judge"),
    ("_record: the group's results", "notifier/sweeps/deliver.py", "_record"),
    ("Session.commit (flush + COMMIT)", "sqlalchemy/orm/session.py", "commit"),
    ("Session.get (re-read by id)", "sqlalchemy/orm/session.py", "get"),
    ("building statements (coercions.expect)", "sqlalchemy/sql/coercions.py", "expect"),
    ("cache keys (_generate_cache_key)", "sqlalchemy/sql/cache_key.py", "_generate_cache_key"),
    ("claim", "notifier/sweeps/deliver.py", "claim"),
)  # fmt: skip


def measure_profile(
    w: World, planned: Planned, ctx: SweepContext, run: Path, seed: int
) -> dict[str, Any]:
    """cProfile of the first ``PROFILE_SWEEPS`` sweeps, timed in CPU seconds of this process:
    on a busy machine wall time would charge other processes' turns to whatever was running
    (the waits for the provider show in the raw vs sweep rates instead)."""
    engine = open_engine(copy_db(planned.path, run / "sms_profile.db"))
    base = w.call("twilio.start", callbacks=False, nodelay=True)
    profile = cProfile.Profile(timer=clock.process_time)
    swept = sweep_until_done(
        engine,
        SMS_AT,
        ctx,
        lambda: {"sms": sms_channel(base)},
        seed,
        profile=profile,
        max_sweeps=PROFILE_SWEEPS,
    )
    engine.dispose()
    dump = run / "deliver_sms.prof"
    profile.dump_stats(dump)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]]
    raw = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    per = max(swept.sent, 1)
    whole = max((v[3] for k, v in raw.items() if _is(k, SPOTS[0][1], SPOTS[0][2])), default=0.0)
    spots = []
    for label, path, name in SPOTS:
        found = [v for k, v in raw.items() if _is(k, path, name)]
        if not found:
            continue
        if name == "expect":  # re-entrant: its own time, summed, is the honest figure
            calls, seconds = sum(v[0] for v in found), sum(v[2] for v in found)
        else:  # the outermost of same-named functions, primitive calls
            calls, seconds = max(((v[0], v[3]) for v in found), key=lambda cs: cs[1])
        spots.append(
            {
                "spot": label,
                "calls": calls,
                "seconds": round(seconds, 3),
                "share": round(seconds / whole, 3) if whole else 0.0,
                "ms_per_message": round(1000 * seconds / per, 3),
            }
        )
    packages = Counter[str]()
    for key, v in raw.items():
        packages[_package(key)] += v[2]
    own_total = sum(packages.values())
    by_package = [
        {"package": name, "share": round(seconds / own_total, 3),
         "ms_per_message": round(1000 * seconds / per, 3)}
        for name, seconds in packages.most_common(10)
    ]  # fmt: skip
    own = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:15]
    top_own = [
        {
            "function": _where(k),
            "calls": v[0],
            "own_seconds": round(v[2], 3),
            "cumulative_seconds": round(v[3], 3),
        }
        for k, v in own
    ]
    return {
        "timer": "process CPU time, with cProfile's overhead",
        "sweep": swept.as_dict(),
        "profiled_cpu_ms_per_message": round(1000 * whole / per, 3),
        "spots": spots,
        "own_cpu_by_package": by_package,
        "top_own_time": top_own,
        "file": str(dump.resolve().relative_to(ROOT)) if dump.is_relative_to(ROOT) else str(dump),
    }


def _package(key: tuple[str, int, str]) -> str:
    """Where a profiled function lives: a site package, a notifier package, the standard
    library, or C code (builtins named by their type: sqlite3, _socket ...)."""
    path, _, name = key
    path = path.replace("\\", "/")
    if path == "~":  # "<method 'execute' of 'sqlite3.Cursor' objects>", "<built-in ...>"
        owner = name.split(" of '", 1)[1].split("'")[0] if " of '" in name else ""
        return f"C: {owner.split('.')[0]}" if "." in owner else "C: builtins, dict, str, ..."
    if "/site-packages/" in path:
        return path.split("/site-packages/", 1)[1].split("/")[0]
    if "/notifier/" in path:
        return "notifier/" + path.split("/notifier/", 1)[1].split("/")[0]
    if path.startswith("<frozen"):
        return "stdlib: " + path.strip("<>").removeprefix("frozen ")
    return "stdlib: " + path.rsplit("/", 1)[-1].removesuffix(".py")


def _is(key: tuple[str, int, str], path: str, name: str) -> bool:
    return key[2] == name and key[0].replace("\\", "/").endswith(path)


def _where(key: tuple[str, int, str]) -> str:
    path, line, name = key
    if not line:
        return name
    return f"{'/'.join(path.replace(chr(92), '/').split('/')[-2:])}:{line}({name})"


# -- the run --------------------------------------------------------------------------------
def context(policy: Policy) -> SweepContext:
    calendar = WorkCalendar(policy.calendar)
    return SweepContext(policy=policy, calendar=calendar, renderer=Renderer(), worker="bench:1")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="the delivery sweep beside the raw channels")
    parser.add_argument("--messages", type=int, default=2000, help="SMS and e-mails swept")
    parser.add_argument("--outage-messages", type=int, default=500, help="e-mails per outage")
    parser.add_argument(
        "--outages",
        default="in_slot,past_slot_end",
        help=f"outage scenarios, comma-separated, of: {', '.join(OUTAGES)} (none: skip)",
    )
    parser.add_argument(
        "--callback-messages",
        type=int,
        default=1000,
        help="SMS swept with status callbacks on (at most --messages; 0: skip)",
    )
    parser.add_argument("--callback-wait", type=float, default=60.0, help="seconds, at most")
    parser.add_argument(
        "--webhooks",
        type=int,
        default=2000,
        help="signed status callbacks posted into the app (at most --messages; 0: skip)",
    )
    parser.add_argument("--webhook-clients", type=int, default=16, help="concurrent connections")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--regenerate", action="store_true", help="plan the portfolios anew")
    parser.add_argument("--seed", type=int, default=20260302)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "deliver_results.json")
    args = parser.parse_args(argv)
    outages = [name for name in args.outages.split(",") if name and name != "none"]
    if unknown := [name for name in outages if name not in OUTAGES]:
        parser.error(f"unknown outage scenario(s): {', '.join(unknown)}")
    n, seed = args.messages, args.seed
    callback_n = min(args.callback_messages, n)
    began = clock.perf_counter()
    load_before = os.getloadavg()
    run = args.data / "run" / "deliver"
    run.mkdir(parents=True, exist_ok=True)
    policy = load_policy(POLICY_PATH)
    ctx = context(policy)

    with console.status("planning and approving the portfolios (cached in --data)"):

        def planned(n: int, kind: str, approve_at: datetime | None) -> Planned:
            return cached_planned(args.data, n, kind, ctx, seed, approve_at, args.regenerate)

        sms_db = planned(n, "individual", APPROVED_AT)
        email_db = planned(n, "business", APPROVED_AT)
        callback_db = planned(callback_n, "individual", APPROVED_AT) if callback_n else sms_db
        outage_db = planned(args.outage_messages, "business", None)
    for p in (sms_db, email_db, callback_db):
        # The call tasks planned beside the messages go on a collector's list, never out
        # through the delivery sweep: one approved message per customer is what is sent.
        messages = p.drafted - p.by_channel.get("call", 0)
        if not messages == p.approved == p.customers:
            raise SystemExit(f"{p.path.name}: {p.as_dict()}: not one approved message each")

    with world() as w:
        with console.status(f"SMS: raw floor, sweep, raw floor again ({n:,} messages)"):
            sms = measure_sms(w, sms_db, ctx, run, seed)
        webhooks = None
        if min(args.webhooks, n):
            with console.status(f"status callbacks into the app ({min(args.webhooks, n):,})"):
                webhooks = measure_webhooks(
                    w, run / "sms.db", run, args.webhook_clients, min(args.webhooks, n)
                )
        callbacks = None
        if callback_n:
            with console.status(f"SMS sweep with status callbacks into the app ({callback_n:,})"):
                callbacks = measure_sms_callbacks(
                    w, callback_db, ctx, run, seed, args.callback_wait
                )
        with console.status(f"e-mail: raw floor, sweep, raw floor again ({n:,} messages)"):
            email = measure_email(w, email_db, ctx, run, seed)
        outcomes = {}
        for name in outages:
            with console.status(f"SMTP outage: {name}"):
                outcomes[name] = measure_outage(w, outage_db, OUTAGES[name], ctx, run, seed)
        profile = None
        if not args.no_profile:
            with console.status("profiling the SMS sweep"):
                profile = measure_profile(w, sms_db, ctx, run, seed)

    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "messages": n,
        "sms_per_s": sms["sweep"]["rate"],
        "sms_raw_per_s": sms["raw"]["rate"],
        "sms_vs_raw": round(sms["sweep"]["rate"] / sms["raw"]["rate"], 3),
        "sms_callbacks_per_s": callbacks["rate"] if callbacks else None,
        "email_per_s": email["sweep"]["rate"],
        "email_raw_per_s": email["raw"]["rate"],
        "email_vs_raw": round(email["sweep"]["rate"] / email["raw"]["rate"], 3),
        "webhooks_per_s": webhooks["callbacks"]["rate"] if webhooks else None,
        "webhooks_ref_per_s": webhooks["healthz"]["rate"] if webhooks else None,
        "parameters": {
            "seed": seed,
            "batch": policy.delivery.batch,
            "group": policy.delivery.group,
            "planned_at": AT.isoformat(),
            "approved_at": APPROVED_AT.isoformat(),
            "sms_at": SMS_AT.isoformat(),
            "email_at": EMAIL_AT.isoformat(),
            "callback_messages": callback_n,
            "outage_messages": args.outage_messages,
            "twilio_rate_per_second": 0,
            "notes": [
                "the local Twilio runs with TCP_NODELAY (see sms.raw_fake_as_shipped)",
                "Twilio, the SMTP server and the web app run in a child process",
                "raw floors: the faster of a run before and a run after the sweep",
                "outages: one deliver() per simulated minute, as the scheduler runs it",
                "webhooks: signed `delivered` callbacks for the SMS sweep's sent reminders; "
                "reference: GET /healthz of the same app at the same concurrency",
            ],
        },
        "setup": {
            "sms": sms_db.as_dict(),
            "email": email_db.as_dict(),
            "callbacks": callback_db.as_dict(),
            "outage": outage_db.as_dict(),
        },
        "sms": sms,
        "sms_callbacks": callbacks,
        "webhooks": webhooks,
        "email": email,
        "outages": outcomes,
        "profile": profile,
        "machine": machine()
        | {"load_average_before": load_before, "load_average_after": os.getloadavg()},
        "wall_seconds": round(clock.perf_counter() - began, 1),
    }
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    show(results)
    console.print(f"wrote {args.out} ({results['wall_seconds']} s in all)")
    return results


# -- showing --------------------------------------------------------------------------------
def show(results: dict[str, Any]) -> None:
    sms, email, cb = results["sms"], results["email"], results["sms_callbacks"]
    table = Table(
        title=f"delivery: {results['messages']:,} approved reminders per channel, "
        f"batch {results['parameters']['batch']}, group {results['parameters'].get('group')}"
    )
    for name in (
        "measure",
        "what",
        "sent",
        "s",
        "per s",
        "vs raw",
        "CPU ms/msg",
        "SQL/msg",
        "commits/msg",
        "at the provider",
    ):
        table.add_column(name, justify="left" if name in ("measure", "what") else "right")

    def row(measure: str, what: str, m: dict[str, Any], raw: dict[str, Any] | None) -> None:
        table.add_row(
            measure,
            what,
            f"{m['sent']:,}",
            f"{m['seconds']:.2f}",
            f"{m['rate']:,.0f}"
            + (f" ({'/'.join(f'{r:,.0f}' for r in m['rates'])})" if "rates" in m else ""),
            f"{m['rate'] / raw['rate']:.2f}" if raw else "1",
            f"{m['cpu_ms_per_message']:.2f}",
            str(m.get("statements_per_message", "-")),
            str(m.get("commits_per_message", "-")),
            _provider(m.get("provider")),
        )

    row("sms_raw_per_s", "TwilioSms.send, no database", sms["raw"], None)
    row("sms_per_s", "deliver() sweeps -> TwilioSms", sms["sweep"], sms["raw"])
    if cb:
        row("sms_callbacks_per_s", "the same, callbacks on", cb, sms["raw"])
    row("email_raw_per_s", "SmtpEmail.send, no database", email["raw"], None)
    row("email_per_s", "deliver() sweeps -> SmtpEmail", email["sweep"], email["raw"])
    asis = sms["raw_fake_as_shipped"]
    table.caption = (
        f"raw: the faster of before/after the sweep (both in brackets). The local Twilio as "
        f"shipped (Nagle on) does {asis['rate']:,.0f}/s, so the bench sets TCP_NODELAY on it. "
        "Production sends at most NOTIFIER_TWILIO__RATE_PER_SECOND (default 10) SMS/s per "
        "sender; 0 (no limit) here."
    )
    console.print(table)
    if cb:
        console.print(
            f"callbacks on: {cb['sent']:,} SMS, {cb['callbacks_expected']:,} callbacks expected, "
            f"answered {cb['callbacks_answered']}, the last {cb['callbacks_drain_seconds']} s "
            f"after the sweep; then {cb['statuses_after_callbacks']}: "
            f"[bold]{cb['delivered_callback_answered_but_still_sent']}[/] still `sent` although "
            "the app answered their `delivered` callback (it came before the SID was recorded)"
        )
    hooks = results.get("webhooks")
    if hooks:
        cbs, ref = hooks["callbacks"], hooks["healthz"]
        console.print(
            f"webhooks_per_s: [bold]{cbs['rate']:,.0f}[/] signed status callbacks accepted per "
            f"second ({cbs['requests']:,} posted by {hooks['clients']} connections, answers "
            f"{cbs['answers']}, then {cbs['statuses_after']}, {cbs['delivered_events']:,} "
            f"events; app CPU {cbs['app_cpu_ms_per_request']:.2f} ms each); "
            f"webhooks_ref_per_s: GET /healthz {ref['rate']:,.0f}/s (app CPU "
            f"{ref['app_cpu_ms_per_request']:.2f} ms each): {cbs['rate'] / ref['rate']:.2f}"
        )
    if results["outages"]:
        show_outages(results["outages"])
    if results["profile"]:
        show_profile(results["profile"])
    m = results["machine"]
    console.print(
        f"{m['cpu']}, {m['cpu_count']} CPUs, Python {m['python']}, SQLite {m['sqlite']}; "
        f"load average {m['load_average_before'][0]:.1f} before, "
        f"{m['load_average_after'][0]:.1f} after"
    )


def _provider(check: dict[str, Any] | None) -> str:
    if not check:
        return ""
    dup = check["duplicate_ids"] + check["duplicate_recipients"]
    match = check.get("ids_match_database")
    ids = "" if match is None else f", ids {'match' if match else 'DIFFER'}"
    return f"{check['received']:,} got, {dup} dup{ids}"


def show_outages(outages: dict[str, Any]) -> None:
    table = Table(title="SMTP outages: one deliver() per simulated minute")
    table.add_column("", justify="left")
    for name in outages:
        table.add_column(name, justify="right")
    rows: tuple[tuple[str, Callable[[dict[str, Any]], Any]], ...] = (
        ("story", lambda o: o["story"]),
        ("approved e-mails", lambda o: o["approved"]),
        ("failed attempts (transient)", lambda o: o["transient_failures"]),
        ("reminders failed at least once", lambda o: o["reminders_with_transient_failures"]),
        ("sent in the original slot", lambda o: o["sent_in_original_slot"]),
        ("  of which after retries", lambda o: o["retried_and_sent_in_slot"]),
        ("deferred to a later slot", lambda o: o["deferred_to_later_slot"]),
        ("  why", lambda o: "; ".join(f"{k} ({v})" for k, v in o["deferral_reasons"].items())),
        ("after the 10:00 slot end", lambda o: _statuses(o["at_slot_end"])),
        ("server back at", lambda o: o["server_back_at"][11:16]),
        ("last sent at", lambda o: (o["last_sent_at"] or "-")[5:16]),
        ("minutes from server back to all sent",
         lambda o: o["minutes_after_server_back_until_all_sent"]),
        ("attempts of the sent (n: count)", lambda o: _statuses(o["attempts_of_sent"])),
        ("final statuses", lambda o: _statuses(o["statuses"])),
        ("not sent and not waiting (lost)", lambda o: o["not_sent_and_not_waiting"]),
        ("at the server", lambda o: _provider(o["provider"])),
        ("sweeps / wall s", lambda o: f"{o['sweeps']} / {o['wall_seconds']}"),
    )  # fmt: skip
    for label, get in rows:
        table.add_row(label, *(str(get(o)) for o in outages.values()))
    console.print(table)


def _statuses(counts: dict[str, int] | None) -> str:
    return ", ".join(f"{k}: {v}" for k, v in (counts or {}).items()) or "-"


def show_profile(profile: dict[str, Any]) -> None:
    sweep = profile["sweep"]
    table = Table(
        title=f"cProfile (CPU time) of the SMS sweep, {sweep['sent']:,} messages: "
        f"{profile['profiled_cpu_ms_per_message']:.2f} CPU ms/message under the profiler "
        f"({sweep['statements_per_message']} SQL statements, {sweep['commits_per_message']} "
        "commits per message)"
    )
    for name in ("spot", "calls", "CPU s", "share", "ms/message"):
        table.add_column(name, justify="left" if name == "spot" else "right")
    for s in profile["spots"]:
        table.add_row(
            s["spot"],
            f"{s['calls']:,}",
            f"{s['seconds']:.2f}",
            f"{100 * s['share']:.0f} %",
            f"{s['ms_per_message']:.2f}",
        )
    console.print(table)
    packages = Table(title="own CPU time by package")
    for name in ("package", "share", "ms/message"):
        packages.add_column(name, justify="left" if name == "package" else "right")
    for p in profile["own_cpu_by_package"]:
        packages.add_row(p["package"], f"{100 * p['share']:.0f} %", f"{p['ms_per_message']:.2f}")
    console.print(packages)
    own = Table(title=f"top own CPU time ({profile['file']})")
    for name in ("function", "calls", "own CPU s", "cumulative"):
        own.add_column(name, justify="left" if name == "function" else "right")
    for f in profile["top_own_time"][:12]:
        own.add_row(
            f["function"],
            f"{f['calls']:,}",
            f"{f['own_seconds']:.2f}",
            f"{f['cumulative_seconds']:.2f}",
        )
    console.print(own)


if __name__ == "__main__":
    main()
