"""Data commands: schema, CSV import, explain and the aging report."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from notifier.cli.app import app, report_app
from notifier.cli.shell import (
    AtOption,
    ExportLocaleOption,
    InvalidInput,
    OutputOption,
    TextLocaleOption,
    check_output,
    err,
    out,
    parse_day,
    parse_instant,
    shell_of,
)
from notifier.importer import import_file
from notifier.reports import aging as aging_report
from notifier.reports import explain as explain_report
from notifier.reports import explain_text
from notifier.reports.export import csv_for_excel
from notifier.services import payments as payments_service
from notifier.store.db import unit_of_work


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the database schema, or upgrade it to the newest version."""
    shell = shell_of(ctx)
    shell.policy  # noqa: B018  (a bad policy file should fail here, at set-up)
    from notifier.store.migrate import upgrade  # Alembic: loaded by the commands that use it

    before, after = upgrade(shell.engine)
    if before == after:
        out.print(f"database is up to date (schema {after})")
    else:
        out.print(f"database schema {before or 'empty'} -> {after}")


@app.command("import")
def import_(
    ctx: typer.Context,
    kind: Annotated[
        Literal["customers", "receivables", "payments"],
        typer.Argument(help="What the file holds."),
    ],
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV file (UTF-8, UTF-8 with BOM or GBK), .xlsx workbook, or for "
            "payments a bank statement export (CSV or .xlsx)."
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate only; write nothing.")
    ] = False,
    sheet: Annotated[
        str | None, typer.Option("--sheet", help="The workbook's sheet (default: the first).")
    ] = None,
) -> None:
    """Import customers, receivables or payments from CSV or xlsx: all rows or none. Pending
    messages whose amounts the import made wrong are cancelled at once."""
    shell = shell_of(ctx)
    if not file.is_file():
        raise InvalidInput(f"{file}: no such file")
    engine = shell.ready_engine()
    with Progress(
        TextColumn(f"[bold]{kind}[/bold]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, transient=True, disable=not err.is_terminal,
    ) as bar:  # fmt: skip
        task = bar.add_task(kind, total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        # A rejected file raises ImportRejected: cli/__init__.py lists its problems.
        with unit_of_work(engine) as session:
            now = datetime.now(UTC)
            report = import_file(
                session, kind, file, now=now, dry_run=dry_run,
                progress=progress, limits=shell.policy.limits, sheet=sheet,
            )  # fmt: skip
            cancelled = payments_service.settle_import(session, report, now, shell.policy)
    if report.dry_run:
        out.print(
            f"dry run: {report.rows} {kind} rows are valid ({report.encoding}); nothing written"
        )
    else:
        out.print(
            f"{kind}: {report.rows} rows ({report.encoding}): {report.inserted} inserted, "
            f"{report.updated} updated, {report.unchanged} unchanged"
        )
    if cancelled:
        out.print(f"{len(cancelled)} pending message(s) cancelled: the amounts they name "
                  "changed", markup=False, highlight=False)  # fmt: skip


@app.command()
def explain(
    ctx: typer.Context,
    customer: Annotated[str, typer.Argument(help="Customer id.")],
    at: AtOption = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    locale: TextLocaleOption = "en",
) -> None:
    """Stage, open items, penalty, tier, tone, next contact slot, caps and flags, with why
    (in words of --locale; the codes are in --json)."""
    shell = shell_of(ctx)
    instant = parse_instant(at, shell.policy.limits)
    with unit_of_work(shell.ready_engine()) as session:
        explanation = explain_report.explain(
            session, customer, instant, shell.policy, shell.calendar
        )
    if json_:
        print(explain_report.to_json(explanation))
    else:
        explain_text.print_explanation(out, explanation, locale)


@report_app.command("aging")
def report_aging(
    ctx: typer.Context,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="Report date YYYY-MM-DD (its end in --zone) or instant ISO 8601 with offset "
            "(default: now). Each customer is aged on its own local date then.",
        ),
    ] = None,
    zone: Annotated[
        str,
        typer.Option("--zone", help="Reference zone the report's instant is stated in."),
    ] = aging_report.REFERENCE_ZONE,
    format_: Annotated[
        Literal["table", "plain", "csv", "json", "xlsx"],
        typer.Option(
            "--format",
            help="Output format (table and plain are the same; csv: UTF-8 with BOM, for Excel).",
        ),
    ] = "table",
    output: OutputOption = None,
    locale: ExportLocaleOption = "en",
    settled_days: Annotated[
        int,
        typer.Option(
            "--settled-days", min=0, max=3660, help="Show items settled this many days back."
        ),
    ] = 30,
) -> None:
    """Aging report (D26): open items by days overdue, penalty so far, red > 30 days."""
    shell = shell_of(ctx)
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise typer.BadParameter(f"{zone!r} is not a time zone, e.g. Asia/Shanghai") from exc
    instant = (
        parse_instant(at, shell.policy.limits)
        if at is None or "T" in at
        else aging_report.end_of_day(parse_day(at, shell.policy.limits), zone)
    )
    check_output(format_, output)
    with unit_of_work(shell.ready_engine()) as session:
        rows = aging_report.build_aging(session, instant, shell.policy, settled_days, zone)
    totals = aging_report.totals(rows, shell.policy)
    if format_ in ("table", "plain"):
        aging_report.print_table(out, rows, totals, instant, shell.policy, zone, locale)
        return
    if format_ == "xlsx":
        data = aging_report.to_xlsx(rows, totals, instant, shell.policy, zone, locale)
    elif format_ == "csv":
        data = csv_for_excel(aging_report.to_csv(rows))
    else:
        data = (aging_report.to_json(rows, totals, instant, shell.policy, zone) + "\n").encode()
    write_out(output, data)


def write_out(output: Path | None, data: bytes) -> None:
    """The bytes to ``output`` (named on stderr once written), else to stdout as they are
    (whatever the terminal's encoding: a CSV keeps its UTF-8 and BOM when redirected)."""
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    output.write_bytes(data)  # an OSError names the file (cli/failures.py), exit 1
    err.print(f"wrote {output}", markup=False, highlight=False)
