"""Safe replays of the sweeps from the command line (plan, deliver, fallback, expire).

``--dry-run`` runs the sweep's one code path inside a transaction that is rolled back
(store.db.dry_run): its report is what it would have done, and nothing is written. A run
that writes, with ``--at`` earlier than the newest instant the sweep already ran at, is
refused: as at the past, the planner would find today's items not yet issued and cancel
today's queue. Every run that writes is recorded as a tick, so the next replay is checked
against it. The scheduler's own runs are not checked: they run at the clock's now.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy import Engine

from notifier.cli.shell import Shell, out, parse_instant
from notifier.store.db import dry_run
from notifier.sweeps.ticks import record_run, refuse_replay

R = TypeVar("R")

DryRunOption = Annotated[
    bool,
    typer.Option(
        "--dry-run", help="Print the sweep's report as if it ran; write nothing, send nothing."
    ),
]
DRY_RUN_NOTE = "dry run: nothing was written"


def run_sweep(
    shell: Shell,
    sweep: str,
    at: str | None,
    rehearse: bool,
    body: Callable[[Engine, datetime], R],
    report_of: Callable[[R], dict[str, Any]],
) -> tuple[R, datetime]:
    """``body(engine, now)``, rolled back when ``rehearse``; else checked against the
    newest recorded run (when ``--at`` was given) and recorded."""
    engine = shell.ready_engine()
    now = parse_instant(at)
    if rehearse:
        with dry_run(engine):
            return body(engine, now), now
    if at is not None:
        refuse_replay(engine, sweep, now)
    result = body(engine, now)
    record_run(engine, sweep, now, shell.sweep_context.worker, report_of(result))
    return result, now


def as_json(report: dict[str, Any], rehearse: bool) -> dict[str, Any]:
    return {**report, "dry_run": True} if rehearse else report


def note(rehearse: bool) -> None:
    if rehearse:
        out.print(DRY_RUN_NOTE)
