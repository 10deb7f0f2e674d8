"""The collector's call list and call outcomes from the command line (issue 14), through
the same service as the pages and the API (``services/calls.py``):

- ``notifier calls [--collector C] [--at TS] [--json | --format plain|csv|json]``
- ``notifier call ID --outcome reached|no_answer|wrong_number|promised|disputed|
  plan_requested|in_process|refused [--promised-on DATE] [--amount A] [--invoice ID]
  [--note T] [--as USER] [--at TS]``

Who records an outcome (``--as``, else the notifier user named like the OS login) stands
in the customer's evidence: an unknown or disabled user is refused, never guessed.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from typing import Annotated, Literal

import typer

from notifier.cli.app import app
from notifier.cli.shell import (
    AtOption,
    ExportLocaleOption,
    InvalidInput,
    acting_user,
    parse_instant,
    record_id,
    say,
    shell_of,
)
from notifier.domain.bounds import OutOfBounds, check_date
from notifier.domain.calls import OUTCOMES
from notifier.importer.parse import FieldError, parse_amount, parse_date
from notifier.reports.export import csv_for_excel, write_csv
from notifier.services import calls
from notifier.store.db import unit_of_work
from notifier.words import text, words

COLUMNS = ("id", "customer_id", "customer_name", "collector", "phone", "step", "status",
           "slot_start", "slot_end", "windows_offered", "talking_points")  # fmt: skip
WHO = "who made the call? pass --as NAME (a user added with `notifier user add`)"


@app.command("calls")
def calls_list(
    ctx: typer.Context,
    collector: Annotated[
        str | None, typer.Option("--collector", help="Only this collector's (or manager's) list.")
    ] = None,
    at: AtOption = None,
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
    format_: Annotated[
        Literal["plain", "table", "csv", "json"],
        typer.Option(
            "--format", help="plain (or table: the same), csv (UTF-8 with BOM, for Excel) or json."
        ),
    ] = "plain",
    locale: ExportLocaleOption = "en",
) -> None:
    """The call list as at --at: each call still to make whose window starts within the
    planning horizon, with its talking points, window (UTC) and customer; the step and
    the counts in --locale (the talking points are in the customer's language)."""
    shell = shell_of(ctx)
    now = parse_instant(at)
    with unit_of_work(shell.ready_engine()) as session:
        found = calls.list_calls(session, calls.CallFilter(collector=collector, at=now),
                                 shell.policy)  # fmt: skip
        rows = [calls.call_json(r, c) for r, c in found]
    if json_ or format_ == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if format_ == "csv":
        sys.stdout.buffer.write(csv_for_excel(write_csv(COLUMNS, rows)))
        sys.stdout.flush()
        return
    w = words(locale)
    for row in rows:  # plain: never cut, the talking points in full under each task
        window = text(locale, "calls_windows_offered", n=row["windows_offered"])
        say(
            f"#{row['id']} {row['slot_start']}..{row['slot_end']} {row['customer_id']} "
            f"{row['customer_name']} {row['phone'] or '-'} [{row['collector'] or '-'}] "
            f"{w.step(row['step'])} ({window})"
        )
        for line in row["talking_points"].splitlines():
            say(f"    {line}")
    say(text(locale, "calls_count", count=len(rows)))


@app.command("call")
def call_outcome(
    ctx: typer.Context,
    task: Annotated[int, record_id("The call task's id.")],
    outcome: Annotated[
        str, typer.Option("--outcome", help="What came of the call: " + ", ".join(OUTCOMES))
    ],
    promised_on: Annotated[
        str | None, typer.Option("--promised-on", help="promised: the date (2026-03-20).")
    ] = None,
    amount: Annotated[
        str | None, typer.Option("--amount", help="promised or disputed: the amount.")
    ] = None,
    invoice: Annotated[
        str | None,
        typer.Option("--invoice", help="disputed: the invoice (default: the oldest open)."),
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="What was said.")] = None,
    as_: Annotated[
        str | None, typer.Option("--as", help="Who made the call (a notifier user).")
    ] = None,
    at: AtOption = None,
) -> None:
    """Record a call's outcome; it feeds the rules (a promise pauses, a dispute sets the
    part aside, two vague answers escalate, a wrong number stops the phone)."""
    if outcome not in OUTCOMES:
        raise InvalidInput(f"--outcome: {outcome!r} is not one of {', '.join(OUTCOMES)}")
    if outcome == "promised" and promised_on is None:
        raise InvalidInput("--outcome promised needs --promised-on DATE (e.g. 2026-03-20)")
    shell = shell_of(ctx)
    now = parse_instant(at)
    day = None
    if promised_on is not None:
        try:
            day = check_date(parse_date(promised_on), shell.policy.limits)
        except (FieldError, OutOfBounds) as exc:
            raise InvalidInput(f"--promised-on: {exc}") from None
    money: Decimal | None = None
    if amount is not None:
        try:
            money = parse_amount(amount)
        except FieldError as exc:
            raise InvalidInput(f"--amount: {exc}") from None
    inp = calls.OutcomeInput(outcome, day, money, note, invoice)
    with unit_of_work(shell.ready_engine()) as session:
        user = acting_user(session, as_, WHO)
        done = calls.record_outcome(session, task, inp, user, now, shell.policy, shell.calendar)
        status, customer = done.task.status, done.task.customer_id
        effects = done.effects
    say(f"call {task} ({customer}): {outcome}, now {status}")
    for effect in effects:
        say(f"  {effect}")
