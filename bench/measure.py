"""The measurements, each run in a fresh child process by ``bench.plan_bench``:

    python -m bench.measure plan|floor|naive|import '<json arguments>'

A child prints one JSON object as its last line of output. Memory is the child's own peak
resident set (``VmHWM``), so one measurement never inherits another one's heap.

- ``plan``: ``plan(engine, now, ctx, force=True)`` over the whole portfolio, then once more
  (the steady-state tick: everything due is drafted already);
- ``floor``: the same reminders rendered with the same Renderer, then inserted with
  executemany into a copy of the portfolio, in one transaction (the contexts are rebuilt
  from the store between chunks, off the clock);

Every figure is steady state, as in ``notifier worker``: before the clock starts the
process settles the way the worker does at start-up (``services.startup.settle_process``:
every template compiled, what start-up built frozen out of the garbage collector's walks),
and ``bench.true_floor`` compiles its own environment, so no measurement pays Jinja2's
one-time compilation inside its timed run and another outside it.

- ``naive``: one APScheduler job per reminder in a ``SQLAlchemyJobStore`` (SQLite), with a
  running ``BackgroundScheduler``, on a sample of the drafts; with ``"render": true`` each
  reminder is rendered first and its text goes into the job (a naive design that still
  writes the message at planning time);
- ``import``: the CSV import of customers, receivables and payments into a new database.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import col

from notifier.domain.calendar import WorkCalendar
from notifier.domain.items import local_date
from notifier.domain.policy import Channel, Policy
from notifier.domain.position import position
from notifier.drafting.compose import compose_call, message_context, payment_url
from notifier.render import MessageContext, Renderer
from notifier.services.startup import settle_process
from notifier.settings import load_policy
from notifier.store.db import make_engine, unit_of_work
from notifier.store.migrate import upgrade
from notifier.store.models import Customer, Reminder
from notifier.store.queries import items_for
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
FLOOR_CHUNK = 5_000


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
    """The planning sweep over the whole portfolio, timed from a warm start: the templates
    compiled and the pool opened before the clock starts (steady state, as the floors)."""
    from notifier.sweeps.plan import plan

    at = datetime.fromisoformat(args["at"])
    policy = load_policy(POLICY_PATH)
    ctx = _context(policy)
    settle_process(ctx.renderer)  # steady state, as the worker starts
    engine = make_engine(f"sqlite:///{args['db']}")
    with engine.connect():
        pass  # open the pool before the clock starts
    before = memory_mb("VmRSS")
    started, cpu = time.perf_counter(), time.process_time()
    report = plan(engine, at, ctx, batch=args.get("batch", 1000), force=True)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    peak = memory_mb("VmHWM")
    # The steady state: the next tick, with everything due already drafted.
    started = time.perf_counter()
    again = plan(engine, at, ctx, batch=args.get("batch", 1000), force=True)
    idle_seconds = time.perf_counter() - started
    engine.dispose()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "drafts": report.drafted,
        "rate": report.drafted / seconds if seconds else 0.0,
        "cpu_rate": report.drafted / cpu_seconds if cpu_seconds else 0.0,
        "rss_before_mb": before,
        "peak_rss_mb": peak,
        "steady_tick_seconds": idle_seconds,
        "steady_tick_drafts": again.drafted,
        "peak_rss_after_steady_mb": memory_mb("VmHWM"),
        "report": report.as_dict(),
    }


def _drafts(session: Any, at: datetime, limit: int | None = None, **equal: str) -> list[Reminder]:
    """The reminders the planning sweep created at ``at``, in id order; ``equal``: further
    column values they must have (locale="en", ...)."""
    query = select(Reminder).where(col(Reminder.created_at) == at)
    for name, value in equal.items():
        query = query.where(getattr(Reminder, name) == value)
    return list(session.scalars(query.order_by(col(Reminder.id)).limit(limit)))


# The columns the floor copies from the planning sweep's drafts (it renders the text).
COPIED = tuple(c for c in DRAFT_COLUMNS if c not in ("subject", "body", "html", "segments"))
Work = list[tuple[MessageContext, Channel, dict[str, Any]]]


def _work(plan_db: str, at: datetime, policy: Policy, limit: int | None = None) -> Iterator[Work]:
    """The drafts the planning sweep created at ``at``, in id order, a chunk at a time: each
    with the message context it was rendered from, rebuilt from the store (untimed)."""
    assert policy.cadence is not None
    templates = {s.name: s.template_name for s in policy.cadence.steps}
    calendar = WorkCalendar(policy.calendar)
    table = Reminder.__table__  # type: ignore[attr-defined]
    source = make_engine(f"sqlite:///{plan_db}")
    last, left = 0, limit
    while left is None or left > 0:
        size = FLOOR_CHUNK if left is None else min(FLOOR_CHUNK, left)
        with unit_of_work(source) as session:
            drafts = session.execute(
                select(table.c.id, *(table.c[name] for name in COPIED))
                .where(table.c.created_at == at, table.c.id > last)
                .order_by(table.c.id)
                .limit(size)
            ).all()
            if not drafts:
                break
            ids = sorted({d.customer_id for d in drafts})
            customers = {
                c.id: c for c in session.scalars(select(Customer).where(col(Customer.id).in_(ids)))
            }
            items = items_for(session, ids)
        work: Work = []
        for d in drafts:
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
            row = {name: getattr(d, name) for name in COPIED}
            channel = d.channel if d.channel in ("sms", "call") else "email"
            work.append((message, channel, row))
        yield work
        last = drafts[-1].id
        left = None if left is None else left - len(drafts)
    source.dispose()


@lru_cache(maxsize=1)
def _policy() -> Policy:
    return load_policy(POLICY_PATH)


def _rendered(renderer: Renderer, message: MessageContext, channel: Channel) -> dict[str, Any]:
    if channel == "call":  # a call task's talking points (issue 14): text only
        call = compose_call(message, renderer, _policy())
        return {"subject": None, "body": call.body, "html": None, "segments": None}
    if channel == "sms":
        sms = renderer.sms(message)
        return {"subject": None, "body": sms.body, "html": None, "segments": sms.segments}
    email = renderer.email(message)
    return {"subject": email.subject, "body": email.text, "html": email.html, "segments": None}


def measure_floor(args: dict[str, Any]) -> dict[str, Any]:
    """Render and insert, timed; rebuilding the contexts between chunks is not timed. One
    transaction, one executemany per chunk (memory stays bounded at any scale)."""
    at = datetime.fromisoformat(args["at"])
    policy = load_policy(POLICY_PATH)
    renderer = Renderer()
    settle_process(renderer)  # steady state, as the planning sweep's measurement
    target = make_engine(f"sqlite:///{args['db']}")
    table = Reminder.__table__  # type: ignore[attr-defined]
    render_s = insert_s = cpu_s = 0.0
    count = 0
    connection = target.connect()
    transaction = connection.begin()
    for work in _work(args["plan_db"], at, policy):
        started, cpu = time.perf_counter(), time.process_time()
        rows = [{**row, **_rendered(renderer, m, channel)} for m, channel, row in work]
        rendered = time.perf_counter()
        connection.execute(insert(table), rows)
        insert_s += time.perf_counter() - rendered
        render_s += rendered - started
        cpu_s += time.process_time() - cpu
        count += len(rows)
    started, cpu = time.perf_counter(), time.process_time()
    transaction.commit()
    insert_s += time.perf_counter() - started
    cpu_s += time.process_time() - cpu
    connection.close()
    target.dispose()
    seconds = render_s + insert_s
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_s,
        "render_seconds": render_s,
        "insert_seconds": insert_s,
        "drafts": count,
        "rate": count / seconds if seconds else 0.0,
        "cpu_rate": count / cpu_s if cpu_s else 0.0,
        "peak_rss_mb": memory_mb("VmHWM"),
    }


def deliver_reminder(reminder_id: int, message: dict[str, Any] | None = None) -> None:
    """What a naive job would run at its slot; never called by the benchmark."""


def _scheduler(db: str) -> Any:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{db}")}, timezone=UTC
    )
    scheduler.start()
    return scheduler


def measure_naive(args: dict[str, Any]) -> dict[str, Any]:
    """One add_job per reminder (``render``: each rendered first, its text in the job)."""
    at = datetime.fromisoformat(args["at"])
    policy = load_policy(POLICY_PATH)
    with_render = bool(args.get("render"))
    work = [w for chunk in _work(args["plan_db"], at, policy, args["sample"]) for w in chunk]
    source = make_engine(f"sqlite:///{args['plan_db']}")
    with unit_of_work(source) as session:
        jobs = [(d.id, d.slot_start) for d in _drafts(session, at, args["sample"])]
    source.dispose()
    renderer = Renderer()
    scheduler = _scheduler(args["db"])
    # Slots keep their spacing but lie in the future of the real clock: nothing runs.
    shift = datetime.now(UTC) + timedelta(days=1) - at
    started, cpu = time.perf_counter(), time.process_time()
    for (reminder_id, slot_start), (message, channel, _row) in zip(jobs, work, strict=True):
        text = _rendered(renderer, message, channel) if with_render else None
        scheduler.add_job(
            f"{__name__}:deliver_reminder",
            "date",
            run_date=slot_start + shift,
            args=[reminder_id, text],
            id=f"reminder-{reminder_id}",
            coalesce=True,
            max_instances=1,
        )
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    stored = len(scheduler.get_jobs())
    scheduler.shutdown(wait=False)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "jobs": len(jobs),
        "stored": stored,
        "render": with_render,
        "rate": len(jobs) / seconds if seconds else 0.0,
        "cpu_rate": len(jobs) / cpu_seconds if cpu_seconds else 0.0,
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


def measure_true_floor(args: dict[str, Any]) -> dict[str, Any]:
    """Planning and its true floor in one process: bench/true_floor.py (issue 12)."""
    from bench.true_floor import measure

    return measure(args)


MODES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "plan": measure_plan,
    "floor": measure_floor,
    "naive": measure_naive,
    "import": measure_import,
    "true_floor": measure_true_floor,
}


def main(argv: list[str]) -> None:
    mode, raw = argv
    result = MODES[mode](json.loads(raw))
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
