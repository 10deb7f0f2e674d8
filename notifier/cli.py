"""The `notifier` command: a thin shell over the store, the importer and the reports.

Exit codes (CONTRACT.md): 0 success, 1 invalid input (the message names the row, field or
setting), 2 usage errors. This is the only layer that reads the clock: everything below
takes ``now`` as an argument, and ``--at`` replays any instant.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine

from notifier.domain.calendar import WorkCalendar
from notifier.domain.policy import Policy
from notifier.importer import ImportRejected, import_file
from notifier.reports import aging as aging_report
from notifier.reports import explain as explain_report
from notifier.settings import ConfigError, Settings, load_policy, load_settings
from notifier.store.db import make_engine, unit_of_work
from notifier.store.migrate import is_current, upgrade

app = typer.Typer(
    name="notifier",
    help="Schedules, reviews and sends debt-collection reminders.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
report_app = typer.Typer(help="Reports over the portfolio.", no_args_is_help=True)
app.add_typer(report_app, name="report")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class InvalidInput(Exception):
    """Bad input from the user: printed as is, exit code 1."""


@dataclass
class Shell:
    db: str | None = None
    config: Path | None = None
    _engine: Engine | None = field(default=None, repr=False)

    @cached_property
    def settings(self) -> Settings:
        overrides: dict[str, object] = {}
        if self.db:
            overrides["database_url"] = self.db
        if self.config:
            overrides["config_path"] = self.config
        return load_settings(**overrides)

    @cached_property
    def policy(self) -> Policy:
        return load_policy(self.settings.config_path)

    @cached_property
    def calendar(self) -> WorkCalendar:
        return WorkCalendar(self.policy.calendar)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    def ready_engine(self) -> Engine:
        """The engine of a database whose schema is up to date; else a clear error."""
        if not is_current(self.engine):
            raise InvalidInput(
                f"the database {self.settings.database_url} has no current schema: "
                "run `notifier init` first"
            )
        return self.engine


def _shell(ctx: typer.Context) -> Shell:
    shell = ctx.obj
    assert isinstance(shell, Shell)
    return shell


def parse_instant(value: str | None) -> datetime:
    """``--at``: ISO 8601 with an offset; the current instant when not given."""
    if value is None:
        return datetime.now(UTC)
    try:
        instant = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 instant, e.g. 2026-03-02T09:00:00+08:00"
        ) from exc
    if instant.tzinfo is None:
        raise typer.BadParameter(
            f"{value!r} has no UTC offset: write e.g. {value}+08:00 or {value}Z"
        )
    return instant


def parse_day(value: str | None) -> date:
    if value is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date YYYY-MM-DD") from exc


AtOption = Annotated[
    str | None,
    typer.Option("--at", help="Instant to evaluate at, ISO 8601 with offset (default: now)."),
]


@app.callback()
def _root(
    ctx: typer.Context,
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL (default: NOTIFIER_DATABASE_URL).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Policy file (default: config/notifier.toml).")
    ] = None,
) -> None:
    ctx.obj = Shell(db=db, config=config)


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the database schema, or upgrade it to the newest version."""
    shell = _shell(ctx)
    shell.policy  # noqa: B018  (a bad policy file should fail here, at set-up)
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
    file: Annotated[Path, typer.Argument(help="CSV file (UTF-8, UTF-8 with BOM or GBK).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate only; write nothing.")
    ] = False,
) -> None:
    """Import customers, receivables or payments from CSV: all rows or none."""
    shell = _shell(ctx)
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

        try:
            with unit_of_work(engine) as session:
                report = import_file(
                    session, kind, file, now=datetime.now(UTC), dry_run=dry_run, progress=progress
                )
        except ImportRejected as exc:
            bar.stop()
            for problem in exc.problems:
                err.print(str(problem), markup=False, highlight=False)
            raise InvalidInput(
                f"{file}: {len(exc.problems)} problem(s); nothing was imported"
            ) from exc
    if report.dry_run:
        out.print(
            f"dry run: {report.rows} {kind} rows are valid ({report.encoding}); nothing written"
        )
    else:
        out.print(
            f"{kind}: {report.rows} rows ({report.encoding}): {report.inserted} inserted, "
            f"{report.updated} updated, {report.unchanged} unchanged"
        )


@app.command()
def explain(
    ctx: typer.Context,
    customer: Annotated[str, typer.Argument(help="Customer id.")],
    at: AtOption = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Stage, open items, penalty, tier, tone, next contact slot, caps and flags, with why."""
    shell = _shell(ctx)
    instant = parse_instant(at)
    with unit_of_work(shell.ready_engine()) as session:
        try:
            explanation = explain_report.explain(
                session, customer, instant, shell.policy, shell.calendar
            )
        except explain_report.UnknownCustomer as exc:
            raise InvalidInput(str(exc)) from exc
    if json_:
        print(explain_report.to_json(explanation))
    else:
        explain_report.print_explanation(out, explanation)


@report_app.command("aging")
def report_aging(
    ctx: typer.Context,
    at: Annotated[
        str | None, typer.Option("--at", help="Report date YYYY-MM-DD (default: today).")
    ] = None,
    format_: Annotated[
        Literal["table", "csv", "json"], typer.Option("--format", help="Output format.")
    ] = "table",
    settled_days: Annotated[
        int, typer.Option("--settled-days", min=0, help="Show items settled this many days back.")
    ] = 30,
) -> None:
    """Aging report (D26): open items by days overdue, penalty so far, red > 30 days."""
    shell = _shell(ctx)
    day = parse_day(at)
    with unit_of_work(shell.ready_engine()) as session:
        rows = aging_report.build_aging(session, day, shell.policy, settled_days)
    totals = aging_report.totals(rows, shell.policy)
    if format_ == "csv":
        sys.stdout.write(aging_report.to_csv(rows))
    elif format_ == "json":
        print(aging_report.to_json(rows, totals, day))
    else:
        aging_report.print_table(out, rows, totals, day, shell.policy)


def main() -> None:
    try:
        app(standalone_mode=True)
    except (InvalidInput, ConfigError) as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(1)
