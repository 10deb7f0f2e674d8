"""The planning rate beside its references, measured side by side in one run.

    python -m bench.plan_bench --customers 100000

(``make bench`` runs :mod:`bench.run`, which uses these helpers and adds the queue page and
the delivery rates; this module alone is the planning part, sized by customers.)

- ``plan_per_s``: reminders planned, rendered, linted and queued per second by the planning
  sweep (``plan(engine, now, ctx, force=True)`` over the whole portfolio);
- ``floor_per_s``: the same number of reminders rendered with the same Renderer and inserted
  with one executemany: the physical floor on this machine;
- ``naive_per_s``: one APScheduler job per reminder in its SQLAlchemy job store, measured on
  a sample (the approach DESIGN.md avoids);
- ``import_per_s``: CSV rows (customers, receivables, payments) imported per second;
- ``peak_rss_mb``: the planning sweep's peak resident memory (its own child process).

Targets (issue "make bench"): plan_per_s >= 0.5 x floor_per_s and >= 40 x naive_per_s.
Each measurement runs in a fresh child process on a fresh copy of a cached portfolio
(``bench/data/``, git-ignored). Results go to ``bench/results.json`` and
``bench/samples.md`` (one SMS and one e-mail per locale, as drafted).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from bench.generate import AT, DEFAULT_SEED, Counts, Spec, generate_db, write_csvs
from bench.measure import samples
from notifier.store.db import make_engine
from notifier.store.migrate import MIGRATIONS

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
TARGET_VS_FLOOR = 0.5
TARGET_VS_NAIVE = 40.0

console = Console()


def schema_head() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def cached_portfolio(spec: Spec, data: Path, regenerate: bool) -> tuple[Path, dict[str, Any]]:
    """The portfolio database for ``spec`` (generated once per spec, generator version and
    schema revision), and what it holds."""
    data.mkdir(parents=True, exist_ok=True)
    path = data / spec.cache_name(schema_head())
    meta_path = path.with_suffix(".json")
    if regenerate:
        _remove_db(path)
    if path.exists() and meta_path.exists():
        return path, json.loads(meta_path.read_text())
    partial = path.with_suffix(".partial.db")
    _remove_db(partial)
    with console.status(f"generating {spec.customers:,} customers into {partial.name}"):
        started = time.perf_counter()
        engine = make_engine(f"sqlite:///{partial}")
        counts: Counts = generate_db(engine, spec)
        engine.dispose()
        seconds = time.perf_counter() - started
    meta = {"rows": counts.rows, "by_state": counts.by_state, "generate_seconds": seconds}
    partial.rename(path)
    meta_path.write_text(json.dumps(meta, indent=2))
    console.print(f"generated {path.name} in {seconds:.1f} s: {counts.rows}")
    return path, meta


def cached_csvs(spec: Spec, data: Path) -> Path:
    directory = data / spec.cache_name(schema_head()).replace(".db", "-csv")
    if not (directory / "payments.csv").exists():
        with console.status(f"writing CSV files for {spec.customers:,} customers"):
            write_csvs(directory, spec)
    return directory


def fresh_copy(source: Path, target: Path) -> Path:
    _remove_db(target)
    shutil.copyfile(source, target)
    return target


def run_child(mode: str, args: dict[str, Any]) -> dict[str, Any]:
    """``python -m bench.measure mode args`` in a fresh process; its last line is JSON."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with console.status(f"measuring {mode}"):
        proc = subprocess.run(
            [sys.executable, "-m", "bench.measure", mode, json.dumps(args)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kb = next(
        (
            int(line.split()[1])
            for line in _read("/proc/meminfo").splitlines()
            if line.startswith("MemTotal:")
        ),
        0,
    )
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "packages": {
            name: version(name)
            for name in ("SQLAlchemy", "Jinja2", "Babel", "APScheduler", "sqlmodel")
        },
        "git": _git(),
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _git() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            text=True,
            capture_output=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "notifier"],
            cwd=ROOT,
            text=True,
            capture_output=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {"commit": commit, "notifier_dirty": bool(dirty)}


def ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="planning rate beside its references")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--at", default=AT.isoformat(), help="the planning instant (ISO)")
    parser.add_argument("--batch", type=int, default=1000, help="customers per plan batch")
    parser.add_argument("--naive-sample", type=int, default=2000, help="APScheduler jobs added")
    parser.add_argument(
        "--import-customers",
        type=int,
        default=20_000,
        help="customers in the CSV import measurement (0: skip it)",
    )
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--samples", type=Path, default=ROOT / "bench" / "samples.md")
    parser.add_argument("--regenerate", action="store_true", help="rebuild the cached data")
    args = parser.parse_args(argv)

    at = datetime.fromisoformat(args.at)
    if at.tzinfo is None:
        parser.error("--at needs a UTC offset, e.g. 2026-03-02T08:00:00+08:00")
    spec = Spec(customers=args.customers, seed=args.seed, at=at)
    began = time.perf_counter()
    load_before = os.getloadavg()
    portfolio, meta = cached_portfolio(spec, args.data, args.regenerate)
    run = args.data / "run" / "plan"
    run.mkdir(parents=True, exist_ok=True)

    plan_db = fresh_copy(portfolio, run / "plan.db")
    plan = run_child("plan", {"db": str(plan_db), "at": args.at, "batch": args.batch})
    children_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    floor_db = fresh_copy(portfolio, run / "floor.db")
    floor = run_child("floor", {"db": str(floor_db), "plan_db": str(plan_db), "at": args.at})
    _remove_db(run / "naive.db")
    naive = run_child(
        "naive",
        {
            "db": str(run / "naive.db"),
            "plan_db": str(plan_db),
            "at": args.at,
            "sample": args.naive_sample,
        },
    )
    imported: dict[str, Any] | None = None
    if args.import_customers > 0:
        csv_spec = Spec(customers=min(args.import_customers, args.customers), seed=args.seed, at=at)
        csv_dir = cached_csvs(csv_spec, args.data)
        _remove_db(run / "import.db")
        imported = run_child(
            "import", {"db": str(run / "import.db"), "csv": str(csv_dir), "at": args.at}
        )
        imported["customers"] = csv_spec.customers
    found = samples(plan_db, at)

    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "customers": args.customers,
        "drafts": plan["drafts"],
        "plan_per_s": round(plan["rate"], 1),
        "floor_per_s": round(floor["rate"], 1),
        "naive_per_s": round(naive["rate"], 1),
        "import_per_s": round(imported["rate"], 1) if imported else None,
        "plan_vs_floor": round(ratio(plan["rate"], floor["rate"]), 3),
        "plan_vs_naive": round(ratio(plan["rate"], naive["rate"]), 2),
        "peak_rss_mb": round(plan["peak_rss_mb"], 1),
        "targets": {
            "plan_vs_floor": TARGET_VS_FLOOR,
            "plan_vs_naive": TARGET_VS_NAIVE,
            "met_vs_floor": ratio(plan["rate"], floor["rate"]) >= TARGET_VS_FLOOR,
            "met_vs_naive": ratio(plan["rate"], naive["rate"]) >= TARGET_VS_NAIVE,
        },
        "parameters": {
            "seed": args.seed,
            "at": args.at,
            "batch": args.batch,
            "naive_sample": args.naive_sample,
            "import_customers": imported["customers"] if imported else 0,
        },
        "derived": derived(floor, naive),
        "portfolio": meta,
        "plan": {**plan, "children_maxrss_mb": children_peak},
        "floor": floor,
        "naive": naive,
        "import": imported,
        "machine": {
            **machine(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "wall_seconds": round(time.perf_counter() - began, 1),
    }
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    args.samples.write_text(samples_markdown(found, results))
    show(results, found)
    console.print(
        f"wrote {_shown(args.out)} and {_shown(args.samples)} ({results['wall_seconds']} s in all)"
    )
    return results


def _shown(path: Path) -> str:
    return (
        str(path.resolve().relative_to(ROOT)) if path.resolve().is_relative_to(ROOT) else str(path)
    )


def derived(floor: dict[str, Any], naive: dict[str, Any]) -> dict[str, Any]:
    """Breakdowns computed from the measurements above (not measured on their own)."""
    insert_rate = ratio(floor["drafts"], floor["insert_seconds"])
    render_rate = ratio(floor["drafts"], floor["render_seconds"])
    with_render = 1 / (1 / render_rate + 1 / naive["rate"]) if render_rate and naive["rate"] else 0
    return {
        "floor_insert_per_s": round(insert_rate, 1),
        "floor_render_per_s": round(render_rate, 1),
        "floor_insert_vs_naive": round(ratio(insert_rate, naive["rate"]), 2),
        "floor_vs_naive": round(ratio(floor["rate"], naive["rate"]), 3),
        "naive_with_render_per_s": round(with_render, 1),
        "note": "naive_with_render_per_s: render each reminder, then one add_job for it "
        "(the floor's render time plus the measured add_job time, per reminder)",
    }


def show(results: dict[str, Any], found: list[dict[str, Any]]) -> None:
    plan, floor, naive, imported = (results[k] for k in ("plan", "floor", "naive", "import"))
    table = Table(
        title=f"planning {results['customers']:,} customers at {results['parameters']['at']}"
    )
    for name, justify in (
        ("measure", "left"),
        ("what", "left"),
        ("count", "right"),
        ("s", "right"),
        ("per s", "right"),
        ("peak RSS MiB", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_row(
        "plan_per_s",
        "plan(..., force=True)",
        f"{plan['drafts']:,}",
        f"{plan['seconds']:.1f}",
        f"{plan['rate']:,.0f}",
        f"{plan['peak_rss_mb']:,.0f}",
    )
    table.add_row(
        "floor_per_s",
        "render + 1 executemany",
        f"{floor['drafts']:,}",
        f"{floor['seconds']:.1f}",
        f"{floor['rate']:,.0f}",
        f"{floor['peak_rss_mb']:,.0f}",
    )
    table.add_row(
        "naive_per_s",
        "APScheduler add_job",
        f"{naive['jobs']:,}",
        f"{naive['seconds']:.1f}",
        f"{naive['rate']:,.0f}",
        f"{naive['peak_rss_mb']:,.0f}",
    )
    if imported:
        table.add_row(
            "import_per_s",
            f"CSV rows ({imported['customers']:,} cust.)",
            f"{imported['rows']:,}",
            f"{imported['seconds']:.1f}",
            f"{imported['rate']:,.0f}",
            f"{imported['peak_rss_mb']:,.0f}",
        )
    table.caption = (
        f"floor: render {floor['render_seconds']:.1f} s + insert {floor['insert_seconds']:.1f} s"
        f" ({results['derived']['floor_insert_per_s']:,.0f} rows/s); naive: SQLAlchemyJobStore"
        f" on SQLite, running BackgroundScheduler, {naive['jobs']:,} jobs"
    )
    console.print(table)
    targets = results["targets"]
    ratios = Table(title="targets")
    for name in ("ratio", "measured", "target", "met"):
        ratios.add_column(name)
    ratios.add_row(
        "plan / floor",
        f"{results['plan_vs_floor']:.2f}",
        f">= {targets['plan_vs_floor']}",
        _yes(targets["met_vs_floor"]),
    )
    ratios.add_row(
        "plan / naive",
        f"{results['plan_vs_naive']:.2f}",
        f">= {targets['plan_vs_naive']:g}",
        _yes(targets["met_vs_naive"]),
    )
    console.print(ratios)
    m = results["machine"]
    console.print(
        f"{m['cpu']}, {m['cpu_count']} CPUs, {m['memory_gb']} GB, Python "
        f"{m['python']}, SQLite {m['sqlite']}; load average before "
        f"{m['load_average_before'][0]:.1f}, after {m['load_average_after'][0]:.1f}"
    )
    console.print(
        f"plan report: {json.dumps(plan['report']['skipped'], ensure_ascii=False)}, "
        f"by channel {plan['report']['by_channel']}, cancelled "
        f"{plan['report']['cancelled']}, escalated {plan['report']['escalated']}"
    )
    for sample in found:
        console.print(Panel(_sample_text(sample), title=_sample_title(sample), expand=False))


def _yes(met: bool) -> str:
    return "[green]yes[/]" if met else "[red]no[/]"


def _sample_title(s: dict[str, Any]) -> str:
    extra = f", {s['segments']} segments" if s["channel"] == "sms" else ""
    return (
        f"{s['locale']} {s['channel']}: step {s['step']}, tone {s['tone']}, tier "
        f"{s['tier']}, {s['window']} slot {s['slot_start']}, {s['customer_id']}{extra}"
    )


def _sample_text(s: dict[str, Any]) -> str:
    body = str(s["body"])
    return f"Subject: {s['subject']}\n\n{body}" if s["channel"] == "email" else body


def samples_markdown(found: list[dict[str, Any]], results: dict[str, Any]) -> str:
    command = results.get(
        "command", f"python -m bench.plan_bench --customers {results['customers']}"
    )
    lines = [
        "# Drafts from the planning benchmark",
        "",
        f"Written by `{command}` on "
        f"{results['date']}: planning at {results['parameters']['at']}, synthetic portfolio "
        "(`bench/generate.py`, seeded; names, phones and addresses are invented). One SMS "
        "and one e-mail (subject and plain text; the HTML says the same words) per locale, "
        "exactly as drafted, waiting for approval.",
        "",
    ]
    for s in found:
        lint = ", ".join(s["lint"]) if s["lint"] else "clean"
        lines += [
            f"## {_sample_title(s)}",
            "",
            f"Lint: {lint}",
            "",
            "```text",
            _sample_text(s),
            "```",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
