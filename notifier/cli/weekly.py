"""`notifier report weekly`: the manager's week (seed 003), as a table, CSV, JSON or an
Excel workbook."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from notifier.cli.app import report_app
from notifier.cli.data import write_out
from notifier.cli.shell import (
    ExportLocaleOption,
    OutputOption,
    check_output,
    out,
    parse_day,
    shell_of,
)
from notifier.reports import weekly_export
from notifier.reports.export import csv_for_excel
from notifier.reports.weekly import build_weekly
from notifier.store.db import unit_of_work

WIDE = 240


@report_app.command("weekly")
def report_weekly(
    ctx: typer.Context,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="Report date YYYY-MM-DD: the Monday-to-Sunday week that ended by then "
            "(default: today in the policy's [weekly] zone).",
        ),
    ] = None,
    format_: Annotated[
        Literal["table", "plain", "csv", "json", "xlsx"],
        typer.Option("--format", help="Output format (table and plain are the same)."),
    ] = "table",
    output: OutputOption = None,
    locale: ExportLocaleOption = "en",
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
    check_output(format_, output)
    with unit_of_work(shell.ready_engine()) as session:
        report = build_weekly(session, day, policy)
    if format_ == "xlsx":
        write_out(output, weekly_export.to_xlsx(report, locale))
    elif format_ == "csv":
        body = weekly_export.to_csv(report)  # a file for Excel gets the BOM; a pipe not
        write_out(output, csv_for_excel(body) if output is not None else body.encode())
    elif format_ == "json":
        write_out(output, (weekly_export.to_json(report) + "\n").encode())
    elif output is not None:
        write_out(output, weekly_export.to_text(report, locale).encode())
    else:  # piped: wide enough that no column is cut or wrapped
        console = out if out.is_terminal else Console(width=WIDE, soft_wrap=True)
        weekly_export.print_table(console, report, locale)
