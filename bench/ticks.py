"""Issue 12's tick figures: what a planning tick costs when it reads only the customers
due (``planner_due``) against one that reads every customer, and planning one tick with
1, 2 and 3 workers on PostgreSQL.

    python -m bench.ticks '{"db": "plan.db", "at": "2026-03-02T08:00:00+08:00"}'
    python -m bench.ticks --workers '{"scale": 20000, "at": "..."}'

On a copy of the portfolio (SQLite): the first planning tick (every state new: every
customer read), then ``steady_tick_s`` (the next tick, incremental), ``full_scan_tick_s``
(the same tick reading every customer: today's full scan, nothing to draft either),
``first_tick_of_day_s`` (the first tick of the next day in Shanghai, incremental: the
customers whose day brought something), and the daily reconciliation (``reconcile_s``;
its ``repaired`` must be 0). Wall and CPU seconds each; the last line printed is JSON.

``--workers``: the same portfolio generated into a throwaway PostgreSQL
(tests/fakes/postgres.py), cloned per run; N processes, each its own engine, plan the
same tick together (partitions claimed from ``sweep_ticks``). Drafts per second over the
wall time of the slowest, and the split."""

from __future__ import annotations

import json
import multiprocessing
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from notifier.domain.calendar import WorkCalendar
from notifier.render import Renderer
from notifier.settings import load_policy
from notifier.store.db import make_engine
from notifier.sweeps.context import SweepContext
from notifier.sweeps.plan import PARTS, plan
from notifier.sweeps.reconcile import reconcile

ROOT = Path(__file__).resolve().parent.parent
POLICY_PATH = ROOT / "config" / "notifier.toml"


def _ctx(worker: str | None = None) -> SweepContext:
    policy = load_policy(POLICY_PATH)
    ctx = SweepContext(policy=policy, calendar=WorkCalendar(policy.calendar), renderer=Renderer())
    return ctx if worker is None else SweepContext(ctx.policy, ctx.calendar, ctx.renderer, worker)


def _timed(action: Any) -> tuple[Any, float, float]:
    started, cpu = time.perf_counter(), time.process_time()
    result = action()
    return result, time.perf_counter() - started, time.process_time() - cpu


def measure_ticks(args: dict[str, Any]) -> dict[str, Any]:
    at = datetime.fromisoformat(args["at"])
    batch = int(args.get("batch", 1000))
    ctx = _ctx()
    engine = make_engine(f"sqlite:///{args['db']}")
    out: dict[str, Any] = {}

    def tick(name: str, now: datetime, **kw: Any) -> None:
        report, wall, cpu = _timed(lambda: plan(engine, now, ctx, batch=batch, **kw))
        out[name] = {"seconds": wall, "cpu_seconds": cpu, "customers": report.customers,
                     "drafted": report.drafted, "cancelled": report.cancelled,
                     "calls": dict(report.calls), "mode": report.mode}  # fmt: skip

    tick("first_tick", at)  # every state new: the planning sweep as it always ran
    tick("steady_tick", at + timedelta(minutes=15))
    tick("full_scan_tick", at + timedelta(minutes=30), force=True, full=True)
    tick("steady_tick_after_full", at + timedelta(minutes=45))
    local = at.astimezone(at.tzinfo)
    next_day = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    tick("first_tick_of_day", next_day)
    report, wall, cpu = _timed(lambda: reconcile(engine, next_day + timedelta(minutes=5), ctx))
    out["reconcile"] = {"seconds": wall, "cpu_seconds": cpu, "checked": report.checked,
                        "repaired": report.repaired, "early": report.early,
                        "late": report.late[:20]}  # fmt: skip
    engine.dispose()
    return out


def _worker(url: str, at: str, name: str, start: Any, queue: Any) -> None:
    engine = make_engine(url)
    with engine.connect():
        pass
    ctx = _ctx(name)
    start.wait()
    report, wall, cpu = _timed(lambda: plan(engine, datetime.fromisoformat(at), ctx))
    queue.put({"worker": name, "drafted": report.drafted, "customers": report.customers,
               "partitions": report.partitions, "seconds": wall, "cpu_seconds": cpu})  # fmt: skip
    engine.dispose()


def measure_workers(args: dict[str, Any]) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from bench.generate import Spec, generate_db
    from tests.fakes.postgres import start_server

    at = datetime.fromisoformat(args["at"])
    spec = Spec.for_scale(int(args["scale"]), int(args.get("seed", 7)), at)
    server = start_server()
    results: dict[str, Any] = {"partitions": PARTS, "customers": spec.customers}
    try:
        template = server.create_database()
        engine = make_engine(server.url(template))
        _, generated, _ = _timed(lambda: generate_db(engine, spec))
        results["generate_seconds"] = generated
        engine.dispose()
        for n in (1, 2, 3):
            name = server.create_database(template)
            url = server.url(name)
            ctx = multiprocessing.get_context("spawn")
            start, queue = ctx.Event(), ctx.Queue()
            procs = [
                ctx.Process(target=_worker, args=(url, args["at"], f"bench-{n}-{k}", start, queue))
                for k in range(n)
            ]
            for p in procs:
                p.start()
            time.sleep(3)  # every worker connected and waiting
            began = time.perf_counter()
            start.set()
            runs = [queue.get(timeout=3600) for _ in procs]
            wall = time.perf_counter() - began
            for p in procs:
                p.join()
            total = sum(r["drafted"] for r in runs)
            split = [r["drafted"] for r in runs]
            rate = total / wall if wall else 0.0
            results[f"workers_{n}"] = {"seconds": wall, "drafted": total, "split": split,
                                       "rate": rate, "runs": runs}  # fmt: skip
            server.drop_database(name)
        server.drop_database(template)
    finally:
        server.stop()
    return results


def main(argv: list[str]) -> None:
    if argv and argv[0] == "--workers":
        print(json.dumps(measure_workers(json.loads(argv[1])), default=str))
    else:
        print(json.dumps(measure_ticks(json.loads(argv[0])), default=str))


if __name__ == "__main__":
    main(sys.argv[1:])


TARGET_STEADY_SHARE = 0.02  # steady tick <= 2% of a full scan (at SCALE=200000)


def tick_rows(ticks: dict[str, Any], workers: dict[str, Any]) -> list[dict[str, Any]]:
    """The table's rows (``bench.run.Row`` fields) for the figures above."""

    def get(d: dict[str, Any], *keys: str) -> Any:
        for key in keys:
            if not isinstance(d, dict) or key not in d:
                return None
            d = d[key]
        return d

    steady, full = get(ticks, "steady_tick", "seconds"), get(ticks, "full_scan_tick", "seconds")
    share = steady / full if steady is not None and full else None
    rows: list[dict[str, Any]] = [
        {"metric": "steady_tick_s", "value": steady, "unit": "s",
         "reference": f"full_scan_tick_s {full if full is None else round(full, 3)}; "
                      f"{get(ticks, 'steady_tick', 'customers')} customers read",
         "ratio": share, "target": f"<= {TARGET_STEADY_SHARE:.0%} of a full scan",
         "met": None if share is None else share <= TARGET_STEADY_SHARE},
        {"metric": "full_scan_tick_s", "value": full, "unit": "s",
         "reference": f"{get(ticks, 'full_scan_tick', 'customers')} customers read, "
                      f"{get(ticks, 'full_scan_tick', 'drafted')} drafted"},
        {"metric": "first_tick_of_day_s", "value": get(ticks, "first_tick_of_day", "seconds"),
         "unit": "s", "reference": f"{get(ticks, 'first_tick_of_day', 'customers')} customers "
                                   f"due, {get(ticks, 'first_tick_of_day', 'drafted')} drafted, "
                                   f"{get(ticks, 'first_tick_of_day', 'cancelled')} cancelled, "
                                   f"call tasks {get(ticks, 'first_tick_of_day', 'calls')}"},
        {"metric": "reconcile_s", "value": get(ticks, "reconcile", "seconds"), "unit": "s",
         "reference": f"{get(ticks, 'reconcile', 'checked')} checked, "
                      f"{get(ticks, 'reconcile', 'repaired')} repaired",
         "target": "0 repaired", "met": None if get(ticks, "reconcile") is None
         else get(ticks, "reconcile", "repaired") == 0},
    ]  # fmt: skip
    one = get(workers, "workers_1", "rate")
    for n in (1, 2, 3):
        rate = get(workers, f"workers_{n}", "rate")
        rows.append({"metric": f"plan_workers_{n}_per_s", "value": rate, "unit": "/s",
                     "reference": f"PostgreSQL, split {get(workers, f'workers_{n}', 'split')}",
                     "ratio": rate / one if rate is not None and one else None})  # fmt: skip
    return rows
