"""The measurements, each run in a fresh child process by ``bench.plan_bench``:

    python -m bench.measure plan|floor|naive|import '<json arguments>'

A child prints one JSON object as its last line of output. Memory is the child's own peak
resident set (``VmHWM``), so one measurement never inherits another one's heap.

- ``plan``: ``plan(engine, now, ctx, force=True)`` over the whole portfolio;
- ``floor``: the same reminders rendered with the same Renderer, then inserted with one
  executemany into a copy of the portfolio (the contexts are built before the clock starts);
- ``naive``: one APScheduler job per reminder in a ``SQLAlchemyJobStore`` (SQLite), with a
  running ``BackgroundScheduler``, on a sample of the drafts;
- ``import``: the CSV import of customers, receivables and payments into a new database.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import col

from notifier.domain.calendar import WorkCalendar
from notifier.domain.items import local_date
from notifier.domain.policy import Channel, Policy
from notifier.domain.position import position
from notifier.render import MessageContext, Renderer
from notifier.settings import load_policy
from notifier.store.db import make_engine, unit_of_work
from notifier.store.migrate import upgrade
from notifier.store.models import Customer, Reminder
from notifier.store.queries import items_for
from notifier.sweeps.compose import message_context, payment_url
from notifier.sweeps.context import SweepContext

ROOT = Path(__file__).resolve().parent.parent
POLICY_PATH = ROOT / "config" / "notifier.toml"
# The columns the planning sweep writes; the floor writes the same ones.
DRAFT_COLUMNS = (
    "customer_id",
    "step",
    "cycle",
    "channel",
    "address",
    "status",
    "stage",
    "tier",
    "tone",
    "locale",
    "window",
    "slot_start",
    "slot_end",
    "subject",
    "body",
    "html",
    "segments",
    "facts",
    "lint",
    "created_at",
    "updated_at",
    "version",
)
SAMPLE_PER_LOCALE = ("zh-CN", "en")


def memory_mb(key: str = "VmHWM") -> float:
    """This process's peak (VmHWM) or current (VmRSS) resident set, in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _context(policy: Policy) -> SweepContext:
    return SweepContext(policy=policy, calendar=WorkCalendar(policy.calendar), renderer=Renderer())


def measure_plan(args: dict[str, Any]) -> dict[str, Any]:
    from notifier.sweeps.plan import plan

    at = datetime.fromisoformat(args["at"])
    policy = load_policy(POLICY_PATH)
    ctx = _context(policy)
    engine = make_engine(f"sqlite:///{args['db']}")
    with engine.connect():
        pass  # open the pool before the clock starts
    before = memory_mb("VmRSS")
    started = time.perf_counter()
    report = plan(engine, at, ctx, batch=args.get("batch", 1000), force=True)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {
        "seconds": seconds,
        "drafts": report.drafted,
        "rate": report.drafted / seconds if seconds else 0.0,
        "rss_before_mb": before,
        "peak_rss_mb": memory_mb("VmHWM"),
        "report": report.as_dict(),
    }


def _drafts(session: Any, at: datetime, limit: int | None = None, **equal: str) -> list[Reminder]:
    """The reminders the planning sweep created at ``at``, in id order; ``equal``: further
    column values they must have (locale="en", ...)."""
    query = select(Reminder).where(col(Reminder.created_at) == at)
    for name, value in equal.items():
        query = query.where(getattr(Reminder, name) == value)
    return list(session.scalars(query.order_by(col(Reminder.id)).limit(limit)))


def measure_floor(args: dict[str, Any]) -> dict[str, Any]:
    at = datetime.fromisoformat(args["at"])
    policy = load_policy(POLICY_PATH)
    assert policy.cadence is not None
    templates = {s.name: s.template_name for s in policy.cadence.steps}
    calendar = WorkCalendar(policy.calendar)
    work: list[tuple[MessageContext, Channel, dict[str, Any]]] = []
    source = make_engine(f"sqlite:///{args['plan_db']}")
    with unit_of_work(source) as session:
        drafts = _drafts(session, at)
        for start in range(0, len(drafts), 1000):
            chunk = drafts[start : start + 1000]
            ids = sorted({d.customer_id for d in chunk})
            customers = {
                c.id: c for c in session.scalars(select(Customer).where(col(Customer.id).in_(ids)))
            }
            items = items_for(session, ids)
            for d in chunk:
                customer = customers[d.customer_id]
                today = local_date(at, customer.timezone)
                collectable = [i for i in items[d.customer_id] if not i.disputed]
                pos = position(collectable, today, policy.penalty.default_daily_rate)
                message = message_context(
                    customer,
                    pos,
                    step=templates[d.step],
                    tone=d.tone,
                    today=today,
                    policy=policy,
                    calendar=calendar,
                    url=payment_url(customer, pos, policy),
                )
                row = {name: getattr(d, name) for name in DRAFT_COLUMNS}
                work.append((message, "sms" if d.channel == "sms" else "email", row))
    source.dispose()
    renderer = Renderer()
    target = make_engine(f"sqlite:///{args['db']}")
    with target.connect():
        pass
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for message, channel, row in work:
        if channel == "sms":
            sms = renderer.sms(message)
            rows.append(
                {**row, "subject": None, "body": sms.body, "html": None, "segments": sms.segments}
            )
        else:
            email = renderer.email(message)
            rows.append(
                {
                    **row,
                    "subject": email.subject,
                    "body": email.text,
                    "html": email.html,
                    "segments": None,
                }
            )
    rendered = time.perf_counter()
    with target.begin() as connection:
        connection.execute(insert(Reminder.__table__), rows)  # type: ignore[attr-defined]
    seconds = time.perf_counter() - started
    target.dispose()
    return {
        "seconds": seconds,
        "render_seconds": rendered - started,
        "insert_seconds": seconds - (rendered - started),
        "drafts": len(rows),
        "rate": len(rows) / seconds if seconds else 0.0,
        "peak_rss_mb": memory_mb("VmHWM"),
    }


def deliver_reminder(reminder_id: int) -> None:
    """What a naive job would run at its slot; never called by the benchmark."""


def measure_naive(args: dict[str, Any]) -> dict[str, Any]:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    at = datetime.fromisoformat(args["at"])
    source = make_engine(f"sqlite:///{args['plan_db']}")
    with unit_of_work(source) as session:
        jobs = [(d.id, d.slot_start) for d in _drafts(session, at, args["sample"])]
    source.dispose()
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{args['db']}")}, timezone=UTC
    )
    scheduler.start()
    # Slots keep their spacing but lie in the future of the real clock: nothing runs.
    shift = datetime.now(UTC) + timedelta(days=1) - at
    started = time.perf_counter()
    for reminder_id, slot_start in jobs:
        scheduler.add_job(
            f"{__name__}:deliver_reminder",
            "date",
            run_date=slot_start + shift,
            args=[reminder_id],
            id=f"reminder-{reminder_id}",
            coalesce=True,
            max_instances=1,
        )
    seconds = time.perf_counter() - started
    stored = len(scheduler.get_jobs())
    scheduler.shutdown(wait=False)
    return {
        "seconds": seconds,
        "jobs": len(jobs),
        "stored": stored,
        "rate": len(jobs) / seconds if seconds else 0.0,
        "peak_rss_mb": memory_mb("VmHWM"),
    }


def measure_import(args: dict[str, Any]) -> dict[str, Any]:
    from notifier.importer import import_file

    at = datetime.fromisoformat(args["at"])
    engine = make_engine(f"sqlite:///{args['db']}")
    upgrade(engine)
    by_kind: dict[str, dict[str, float]] = {}
    total_rows = 0
    started = time.perf_counter()
    for kind in ("customers", "receivables", "payments"):
        began = time.perf_counter()
        with unit_of_work(engine) as session:
            report = import_file(session, kind, Path(args["csv"]) / f"{kind}.csv", now=at)
        seconds = time.perf_counter() - began
        by_kind[kind] = {"rows": report.inserted, "seconds": seconds}
        total_rows += report.rows
    seconds = time.perf_counter() - started
    engine.dispose()
    return {
        "seconds": seconds,
        "rows": total_rows,
        "rate": total_rows / seconds if seconds else 0.0,
        "by_kind": by_kind,
        "peak_rss_mb": memory_mb("VmHWM"),
    }


def samples(plan_db: Path, at: datetime) -> list[dict[str, Any]]:
    """One SMS and one e-mail per locale from the drafts the run created: the first (by id)
    of the ``offer`` step, which states items, penalty and a pay-by date, else the first."""
    engine = make_engine(f"sqlite:///{plan_db}")
    found: list[dict[str, Any]] = []
    with unit_of_work(engine) as session:
        for locale in SAMPLE_PER_LOCALE:
            for channel in ("sms", "email"):
                picks = _drafts(session, at, 1, locale=locale, channel=channel, step="offer")
                picks = picks or _drafts(session, at, 1, locale=locale, channel=channel)
                found.extend(
                    {
                        "id": pick.id,
                        "customer_id": pick.customer_id,
                        "locale": locale,
                        "channel": channel,
                        "step": pick.step,
                        "tone": pick.tone,
                        "tier": pick.tier,
                        "window": pick.window,
                        "slot_start": pick.slot_start.isoformat(),
                        "subject": pick.subject,
                        "body": pick.body,
                        "segments": pick.segments,
                        "lint": pick.lint,
                    }
                    for pick in picks
                )
    engine.dispose()
    return found


MODES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "plan": measure_plan,
    "floor": measure_floor,
    "naive": measure_naive,
    "import": measure_import,
}


def main(argv: list[str]) -> None:
    mode, raw = argv
    result = MODES[mode](json.loads(raw))
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
