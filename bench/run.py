"""``make bench``: every measurement of the issue beside its reference, in one run.

    python -m bench.run --scale 1000000      # receivables; customers = 0.3 x scale

1. ``import_per_s``: CSV rows (customers, receivables, payments) imported per second, on a
   portfolio of ``--import-scale`` receivables;
2. ``plan_per_s`` beside ``floor_per_s`` (render + executemany of the same drafts) and
   ``naive_per_s`` (one APScheduler ``add_job`` per reminder into its SQLAlchemy job store,
   on a sample; also ``naive_render_per_s``: each rendered first, its text in the job);
   each in its own child process, so ``peak_rss_mb`` is the planning sweep's own peak;
   then the steady-state tick (everything due drafted already);
3. ``queue_p95_ms``: the approval queue's filtered first page (50 rows) with ``scale``
   drafts, server time (in-process ASGI client);
4. ``sms_per_s``, ``email_per_s``, ``webhooks_per_s``: ``python -m bench.deliver_bench``
   (another module), merged from ``bench/deliver_results.json``. A failure there is
   reported in the table and the rest still runs.

Portfolios are cached under ``bench/data/`` (git-ignored) by scale, seed, generator version
and schema revision. Results go to ``bench/results.json``, sample drafts to
``bench/samples.md``. On a shared machine, read the ratios (each measured beside its
reference in the same run), not lone absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.generate import AT, DEFAULT_SCALE, DEFAULT_SEED, Spec
from bench.measure import samples
from bench.plan_bench import (
    DATA,
    ROOT,
    TARGET_VS_FLOOR,
    TARGET_VS_NAIVE,
    _remove_db,
    cached_csvs,
    cached_portfolio,
    fresh_copy,
    machine,
    ratio,
    run_child,
    samples_markdown,
)
from bench.ticks import tick_rows

TARGET_VS_TRUE_FLOOR = 0.6  # issue 12, CPU time
TARGET_PEAK_RSS_MB = 400.0  # at 1M receivables
TARGET_QUEUE_P95_MS = 50.0
TARGET_SMS_PER_S = 300.0
TARGET_EMAIL_PER_S = 300.0
TARGET_WEBHOOKS_PER_S = 500.0
DELIVER_RESULTS = ROOT / "bench" / "deliver_results.json"

# Piped into a file or a CI log, the table keeps its rows on one line each.
console = Console() if Console().is_terminal else Console(width=150)


@dataclass(frozen=True)
class Row:
    metric: str
    value: float | None
    unit: str
    reference: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None  # None: no target, or not measured


def child(module: str, args: list[str], timeout: float | None = None) -> dict[str, Any]:
    """``python -m module args`` whose last line of output is JSON."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        timeout=timeout,
    )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def step(name: str, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one measurement; its failure is recorded, and the run goes on."""
    started = time.perf_counter()
    console.print(f"{name} ...")
    try:
        result = action()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        console.print(f"[red]{name} failed:[/] {exc}")
        return {"error": f"{type(exc).__name__}: {exc}"}
    seconds = time.perf_counter() - started
    console.print(f"{name}: done in {seconds:.0f} s")
    return {**result, "step_seconds": round(seconds, 1)}


def run_deliver(messages: int, log: Path, since: float) -> dict[str, Any]:
    """``bench.deliver_bench`` in its own process; its JSON as written by it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("w") as out:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.deliver_bench", "--messages", str(messages)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-8:]
        return {"error": f"exit status {proc.returncode}", "log": str(log), "tail": tail}
    if not DELIVER_RESULTS.exists() or DELIVER_RESULTS.stat().st_mtime < since:
        return {"error": f"{DELIVER_RESULTS.name} was not written by this run", "log": str(log)}
    data: dict[str, Any] = json.loads(DELIVER_RESULTS.read_text())
    return data


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="make bench: every measurement, side by side")
    parser.add_argument("--scale", type=int, default=DEFAULT_SCALE, help="receivables")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--at", default=AT.isoformat(), help="the planning instant (ISO)")
    parser.add_argument("--batch", type=int, default=1000, help="customers per plan batch")
    parser.add_argument("--naive-sample", type=int, default=1000, help="APScheduler jobs added")
    parser.add_argument(
        "--import-scale", type=int, default=100_000, help="receivables imported (at most scale)"
    )
    parser.add_argument("--queue-drafts", type=int, help="drafts in the queue (default: scale)")
    parser.add_argument("--queue-runs", type=int, default=40)
    parser.add_argument("--deliver-messages", type=int, default=1000, help="0: skip")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--samples", type=Path, default=ROOT / "bench" / "samples.md")
    parser.add_argument("--regenerate", action="store_true", help="rebuild the cached data")
    parser.add_argument("--show", type=Path, help="print the table of a results.json; no run")
    args = parser.parse_args(argv)
    if args.show:
        saved: dict[str, Any] = json.loads(args.show.read_text())
        show(saved, table_rows(saved["measurements"], saved["scale"]))
        return saved

    at = datetime.fromisoformat(args.at)
    if at.tzinfo is None:
        parser.error("--at needs a UTC offset, e.g. 2026-03-02T08:00:00+08:00")
    began, began_epoch = time.perf_counter(), time.time()
    load_before = os.getloadavg()
    spec = Spec.for_scale(args.scale, args.seed, at)
    console.print(
        f"[bold]make bench[/]: scale {args.scale:,} receivables "
        f"({spec.customers:,} customers), planning at {args.at}"
    )
    started = time.perf_counter()
    portfolio, meta = cached_portfolio(spec, args.data, args.regenerate)
    console.print(f"portfolio ready in {time.perf_counter() - started:.0f} s: {meta['rows']}")
    # Per scale: a run of another size (or bench.plan_bench) never overwrites these files.
    run = args.data / "run" / f"scale-{args.scale}"
    run.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"scale": args.scale, "customers": spec.customers}

    def imported() -> dict[str, Any]:
        csv_spec = Spec.for_scale(min(args.import_scale, args.scale), args.seed, at)
        csv_dir = cached_csvs(csv_spec, args.data)
        _remove_db(run / "import.db")
        out = run_child(
            "import", {"db": str(run / "import.db"), "csv": str(csv_dir), "at": args.at}
        )
        return {**out, "customers": csv_spec.customers}

    plan_db = run / "plan.db"

    def planned() -> dict[str, Any]:
        fresh_copy(portfolio, plan_db)
        return run_child("plan", {"db": str(plan_db), "at": args.at, "batch": args.batch})

    def floor() -> dict[str, Any]:
        db = fresh_copy(portfolio, run / "floor.db")
        return run_child("floor", {"db": str(db), "plan_db": str(plan_db), "at": args.at})

    def true_floor() -> dict[str, Any]:  # issue 12: plan and its true floor, one process
        db = fresh_copy(portfolio, run / "true_floor_plan.db")
        floor_db = fresh_copy(portfolio, run / "true_floor.db")
        return run_child("true_floor", {"db": str(db), "floor_db": str(floor_db),
                                        "at": args.at, "batch": args.batch})  # fmt: skip

    def naive(render: bool) -> Callable[[], dict[str, Any]]:
        def action() -> dict[str, Any]:
            _remove_db(run / "naive.db")
            return run_child(
                "naive",
                {"db": str(run / "naive.db"), "plan_db": str(plan_db), "at": args.at,
                 "sample": args.naive_sample, "render": render},
            )  # fmt: skip

        return action

    def ticks() -> dict[str, Any]:  # issue 12: incremental ticks against a full scan
        db = fresh_copy(portfolio, run / "ticks.db")
        return child("bench.ticks", [json.dumps({"db": str(db), "at": args.at,
                                                 "batch": args.batch})])  # fmt: skip

    queue_drafts = args.queue_drafts or args.scale
    queue_args = ["--drafts", str(queue_drafts), "--runs", str(args.queue_runs), "--json"]
    queue_args += ["--folder", str(run / "queue")]

    results["import"] = step("import", imported)
    results["plan"] = step("plan (planning sweep, then the steady-state tick)", planned)
    plan_ok = "error" not in results["plan"]
    skipped = {"error": "not run: the planning sweep failed"}
    results["floor"] = step("floor (render + executemany)", floor) if plan_ok else skipped
    results["true_floor"] = step("true floor (plan, then Jinja2 from precomputed values "
                                 "+ raw executemany, one process)", true_floor)  # fmt: skip
    results["ticks"] = step("ticks (steady, full scan, first of the day)", ticks)
    results["workers"] = step("planning with 1, 2, 3 workers on PostgreSQL", lambda: child(
        "bench.ticks", ["--workers", json.dumps({"scale": args.scale, "at": args.at,
                                                  "seed": args.seed})]))  # fmt: skip
    results["naive"] = step("naive (APScheduler add_job)", naive(False)) if plan_ok else skipped
    results["naive_render"] = step("naive with rendering", naive(True)) if plan_ok else skipped
    results["queue"] = step(
        f"queue page with {queue_drafts:,} drafts", lambda: child("bench.queue_bench", queue_args)
    )
    if args.deliver_messages > 0:
        log = args.data / "run" / "deliver.log"
        results["deliver"] = step(
            f"deliver_bench --messages {args.deliver_messages}",
            lambda: run_deliver(args.deliver_messages, log, began_epoch),
        )
    else:
        results["deliver"] = {"error": "skipped (--deliver-messages 0)"}
    found = samples(plan_db, at) if plan_ok else []

    rows = table_rows(results, args.scale)
    summary = {r.metric: r.value for r in rows if r.value is not None}
    out: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": args.scale,
        "customers": spec.customers,
        **{k: round(v, 3) if isinstance(v, float) else v for k, v in summary.items()},
        "table": [r.__dict__ for r in rows],
        "parameters": {
            "seed": args.seed,
            "at": args.at,
            "batch": args.batch,
            "naive_sample": args.naive_sample,
            "import_scale": min(args.import_scale, args.scale),
            "queue_drafts": queue_drafts,
            "deliver_messages": args.deliver_messages,
        },
        "portfolio": meta,
        "measurements": results,
        "machine": {
            **machine(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "wall_seconds": round(time.perf_counter() - began, 1),
    }
    args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False, default=str) + "\n")
    if found:
        command = f"make bench SCALE={args.scale}"
        args.samples.write_text(samples_markdown(found, {**out, "command": command}))
    show(out, rows)
    console.print(f"wrote {args.out} ({out['wall_seconds']:.0f} s in all)")
    return out


def _get(d: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def table_rows(m: dict[str, Any], scale: int) -> list[Row]:
    plan, floor, naive, naive_r = (m[k] for k in ("plan", "floor", "naive", "naive_render"))
    p, f, n, nr = (_get(x, "rate") for x in (plan, floor, naive, naive_r))
    rows = [
        Row("plan_per_s", p, "/s", f"floor_per_s {_num(f)}", _ratio(p, f),
            f">= {TARGET_VS_FLOOR} x floor", _at_least(p, f, TARGET_VS_FLOOR)),
        Row("plan_per_s", p, "/s", f"naive_per_s {_num(n)}", _ratio(p, n),
            f">= {TARGET_VS_NAIVE:g} x naive", _at_least(p, n, TARGET_VS_NAIVE)),
        Row("plan_per_s", p, "/s", f"naive_render_per_s {_num(nr)}", _ratio(p, nr),
            "(fairer naive: renders too)", None),
    ]  # fmt: skip
    pc, fc = _get(plan, "cpu_rate"), _get(floor, "cpu_rate")
    rows.append(
        Row(
            "plan_per_s (CPU time)",
            pc,
            "/s",
            f"floor (CPU time) {_num(fc)}",
            _ratio(pc, fc),
            "(load-independent check)",
            None,
        )  # fmt: skip
    )
    # Queuing alone (no rendering): the floor's executemany beside one add_job per reminder.
    inserted = _get(floor, "drafts")
    insert_s = _get(floor, "insert_seconds")
    q = inserted / insert_s if inserted and insert_s else None
    rows.append(
        Row(
            "floor_insert_per_s",
            q,
            "/s",
            f"naive_per_s {_num(n)}",
            _ratio(q, n),
            "(queuing only, no text)",
            None,
        )  # fmt: skip
    )
    rows += [
        Row("floor_per_s", f, "/s"),
        Row("naive_per_s", n, "/s", f"{_get(naive, 'jobs') or 0:,} jobs sampled"),
        Row("naive_render_per_s", nr, "/s", f"{_get(naive_r, 'jobs') or 0:,} jobs sampled"),
    ]
    rows += true_floor_rows(m.get("true_floor") or {})
    rows += [Row(**r) for r in tick_rows(m.get("ticks") or {}, m.get("workers") or {})]
    rss = _get(plan, "peak_rss_mb")
    rows.append(
        Row(
            "peak_rss_mb",
            rss,
            "MiB",
            f"{_get(plan, 'drafts') or 0:,} drafts, {scale:,} receivables",
            None,
            f"<= {TARGET_PEAK_RSS_MB:g} (at 1M)",
            None if rss is None else rss <= TARGET_PEAK_RSS_MB,
        )  # fmt: skip
    )
    steady = _get(plan, "steady_tick_seconds")
    # The figure from before issue 12: the same instant planned again with force (every
    # customer read, nothing new to draft). steady_tick_s is the incremental tick.
    rows.append(Row("plan_steady_tick_s", steady, "s", "forced re-plan, every customer read"))
    q = _get(m["queue"], "headline", "p95_ms")
    rows.append(
        Row("queue_p95_ms", q, "ms", f"{_get(m['queue'], 'headline', 'page')}, "
            f"{_get(m['queue'], 'drafts') or 0:,} drafts, p50 "
            f"{_num(_get(m['queue'], 'headline', 'p50_ms'))}", None,
            f"<= {TARGET_QUEUE_P95_MS:g}", None if q is None else q <= TARGET_QUEUE_P95_MS)
    )  # fmt: skip
    d = m["deliver"]
    for name, target in (
        ("sms", TARGET_SMS_PER_S),
        ("email", TARGET_EMAIL_PER_S),
        ("webhooks", TARGET_WEBHOOKS_PER_S),
    ):
        value = _get(d, f"{name}_per_s")
        key = next((k for k in (f"{name}_raw_per_s", f"{name}_ref_per_s") if k in d), "")
        raw = _get(d, key) if key else None
        reference = f"{key} {_num(raw)}" if raw is not None else ""
        if "error" in d:
            reference = f"deliver_bench: {d['error']}"
        rows.append(
            Row(
                f"{name}_per_s",
                value,
                "/s",
                reference,
                _ratio(value, raw),
                f">= {target:g}/s",
                None if value is None else value >= target,
            )  # fmt: skip
        )
    imp = m["import"]
    rows.append(
        Row("import_per_s", _get(imp, "rate"), "rows/s",
            f"{_get(imp, 'rows') or 0:,} CSV rows, {_get(imp, 'customers') or 0:,} customers")
    )  # fmt: skip
    return rows


def true_floor_rows(tf: dict[str, Any]) -> list[Row]:
    """Issue 12: the planning sweep beside Jinja2 from precomputed values + one raw
    executemany of the same rows, in the same process (CPU time: the machine is shared)."""
    t, tc, pc = _get(tf, "rate"), _get(tf, "cpu_rate"), _get(tf, "plan", "cpu_rate")
    r = _get(tf, "plan_vs_true_floor")
    return [
        Row("true_floor_per_s", t, "/s", f"CPU time {_num(tc)}/s, "
            f"{_get(tf, 'drafts') or 0:,} drafts, {_get(tf, 'same_text_as_plan') or 0:,} "
            "texts as planned"),
        Row("plan_vs_true_floor", r, "x", f"plan (CPU time) {_num(pc)}/s, same process",
            r, f">= {TARGET_VS_TRUE_FLOOR} x true floor",
            None if r is None else r >= TARGET_VS_TRUE_FLOOR),
    ]  # fmt: skip


def _num(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.1f}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else ratio(a, b)


def _at_least(a: float | None, b: float | None, factor: float) -> bool | None:
    r = _ratio(a, b)
    return None if r is None else r >= factor


def show(out: dict[str, Any], rows: list[Row]) -> None:
    m = out["machine"]
    table = Table(
        title=f"make bench SCALE={out['scale']:,} ({out['customers']:,} customers), "
        f"{out['wall_seconds']:.0f} s"
    )
    for name, justify in (
        ("metric", "left"),
        ("value", "right"),
        ("reference", "left"),
        ("ratio", "right"),
        ("target", "left"),
        ("met?", "center"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        met = "" if r.met is None else "[green]yes[/]" if r.met else "[red]no[/]"
        if r.value is None and r.target:
            met = "[red]not measured[/]"
        table.add_row(
            r.metric,
            "-" if r.value is None else f"{_num(r.value)} {r.unit}",
            r.reference,
            "" if r.ratio is None else f"{r.ratio:.2f}",
            r.target,
            met,
        )
    console.print(table)
    console.print(
        f"{m['cpu']}, {m['cpu_count']} CPUs, {m['memory_gb']} GB, Python {m['python']}, "
        f"SQLite {m['sqlite']}; load average before {m['load_average_before'][0]:.1f}, "
        f"after {m['load_average_after'][0]:.1f}"
    )
    plan = out["measurements"]["plan"]
    if "report" in plan:
        report = plan["report"]
        console.print(
            f"plan: {plan['drafts']:,} drafts in {plan['seconds']:.1f} s, by channel "
            f"{report['by_channel']}, cancelled {report['cancelled']}, escalated "
            f"{report['escalated']}, skipped {json.dumps(report['skipped'], ensure_ascii=False)}"
        )


if __name__ == "__main__":
    main()
