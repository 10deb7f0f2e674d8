"""`notifier report weekly`: the manager's week (seed 003), as a table, CSV, JSON or an
Excel workbook."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from notifier.cli.app import report_app
from notifier.cli.shell import InvalidInput, out, parse_day, shell_of
from notifier.reports import weekly_export
from notifier.reports.weekly import build_weekly
from notifier.store.db import unit_of_work

WIDE = 240
BOM = "\ufeff"  # a CSV file Excel opens as UTF-8 (Chinese names stay readable)


@report_app.command("weekly")
def report_weekly(
    ctx: typer.Context,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="Report date YYYY-MM-DD: the Monday-to-Sunday week that ended by then "
            "(default: today in the policy's \\[weekly] zone).",
        ),
    ] = None,
    format_: Annotated[
        Literal["table", "csv", "json", "xlsx"], typer.Option("--format", help="Output format.")
    ] = "table",
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Write to this file (needed for xlsx)."),
    ] = None,
    locale: Annotated[
        Literal["zh-CN", "en"],
        typer.Option("--locale", help="Language of the table and the workbook's labels."),
    ] = "en",
) -> None:
    """The manager's week: per collector, recoveries, recovery rate, promises kept and
    broken, the incentive on items past 90 days, and the oldest open items."""
    shell = shell_of(ctx)
    policy = shell.policy
    day = (
        parse_day(at, policy.limits)
        if at is not None
        else datetime.now(ZoneInfo(policy.weekly.zone)).date()
    )
    if format_ == "xlsx" and output is None:
        raise InvalidInput("--format xlsx writes a workbook: name the file with -o FILE.xlsx")
    with unit_of_work(shell.ready_engine()) as session:
        report = build_weekly(session, day, policy)
    if format_ == "xlsx":
        assert output is not None
        _write(output, weekly_export.to_xlsx(report, locale))
        out.print(f"wrote {output}", markup=False, highlight=False)
        return
    if format_ == "csv":
        body = weekly_export.to_csv(report)
        if output is not None:
            _write(output, (BOM + body).encode("utf-8"))
        else:
            sys.stdout.write(body)
        return
    body = (
        weekly_export.to_json(report) + "\n"
        if format_ == "json"
        else weekly_export.to_text(report, locale)
    )
    if output is not None:
        _write(output, body.encode("utf-8"))
    elif format_ == "json":
        sys.stdout.write(body)
    else:  # piped: wide enough that no column is cut or wrapped
        console = out if out.is_terminal else Console(width=WIDE, soft_wrap=True)
        weekly_export.print_table(console, report, locale)


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror or exc}") from None
