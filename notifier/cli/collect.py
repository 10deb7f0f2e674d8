"""The collector's actions from the command line, through the same services as the pages
and the API: promises to pay (D21), disputes (D22), instalment plans (D20) and the
legal-authorised flag (D19).

- ``notifier promise add CUSTOMER --on DATE [--amount A] [--note T] [--as USER]``
- ``notifier dispute add CUSTOMER --invoice ID [--amount A] --reason T [--as USER]``,
  ``notifier dispute resolve ID [--note T] [--as USER]``
- ``notifier instalments create CUSTOMER --count N [--first-percent P] [--day D]``,
  ``notifier instalments show CUSTOMER [--format plain|csv|json]``,
  ``notifier instalments cancel ID``
- ``notifier legal CUSTOMER --authorise|--revoke --as MANAGER``

Who acts (``--as``, else the notifier user named like the OS login) stands in the
customer's evidence: an unknown or disabled user is refused, never guessed. Each command
prints one line (a plan: one line per instalment); ``--at`` replays an instant.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date
from decimal import Decimal
from typing import Annotated, Literal

import typer

from notifier.cli.app import app
from notifier.cli.shell import (
    AtOption,
    InvalidInput,
    TextLocaleOption,
    acting_user,
    parse_instant,
    record_id,
    say,
    shell_of,
)
from notifier.domain.bounds import OutOfBounds, check_date
from notifier.domain.items import cents_to_money
from notifier.domain.policy import LimitsPolicy
from notifier.importer.parse import FieldError, parse_amount, parse_date
from notifier.reports.export import csv_for_excel
from notifier.services import customers as customer_service
from notifier.services import disputes, plans, promises
from notifier.store.db import unit_of_work
from notifier.words import words

promise_app = typer.Typer(help="Promises to pay (D21).", no_args_is_help=True)
dispute_app = typer.Typer(help="Disputed invoices (D22).", no_args_is_help=True)
instalments_app = typer.Typer(help="Instalment plans (D20).", no_args_is_help=True)
app.add_typer(promise_app, name="promise")
app.add_typer(dispute_app, name="dispute")
app.add_typer(instalments_app, name="instalments")

AsUser = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="The notifier user recorded on the action (default: the user of the same "
        "name as your login, if there is one).",
    ),
]
NoteOption = Annotated[str | None, typer.Option("--note", help="A note kept with it.")]
AmountOption = Annotated[
    str | None, typer.Option("--amount", help="Amount, e.g. 5000 or 5,000.00 (default: all).")
]
WHO = "who records this? pass --as NAME (a user added with `notifier user add`)"


def _amount(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return parse_amount(value)
    except FieldError as exc:
        raise InvalidInput(f"--amount: {exc}") from None


def _date(value: str, option: str, limits: LimitsPolicy) -> date:
    try:
        return check_date(parse_date(value), limits)
    except (FieldError, OutOfBounds) as exc:
        raise InvalidInput(f"{option}: {exc}") from None


@promise_app.command("add")
def promise_add(
    ctx: typer.Context,
    customer: Annotated[str, typer.Argument(help="The customer's id.")],
    on: Annotated[str, typer.Option("--on", help="The promised date (2026-03-20).")],
    amount: AmountOption = None,
    note: NoteOption = None,
    as_: AsUser = None,
    at: AtOption = None,
) -> None:
    """Record a promise to pay: reminders pause until that date (D21)."""
    shell = shell_of(ctx)
    now = parse_instant(at)
    day = _date(on, "--on", shell.policy.limits)
    money = _amount(amount)
    with unit_of_work(shell.ready_engine()) as session:
        by = acting_user(session, as_, WHO)
        p = promises.record_promise(
            session,
            customer,
            day,
            money,
            note,
            by.name,
            now,
            role=by.role,
            limits=shell.policy.limits,
        )
        what = "everything owed" if p.amount_cents is None else str(cents_to_money(p.amount_cents))
    say(f"promise #{p.id}: {p.customer_id} promised {what} by {day.isoformat()}")


@dispute_app.command("add")
def dispute_add(
    ctx: typer.Context,
    customer: Annotated[str, typer.Argument(help="The customer's id.")],
    invoice: Annotated[str, typer.Option("--invoice", help="The disputed invoice's id.")],
    reason: Annotated[str, typer.Option("--reason", help="What the customer disputes.")],
    amount: AmountOption = None,
    as_: AsUser = None,
    at: AtOption = None,
) -> None:
    """Open a dispute: the disputed part is set aside, the rest still collected (D22)."""
    shell = shell_of(ctx)
    now = parse_instant(at)
    money = _amount(amount)
    with unit_of_work(shell.ready_engine()) as session:
        by = acting_user(session, as_, WHO)
        d = disputes.open_dispute(
            session, invoice, money, reason, by.name, now, customer_id=customer
        )
        part = "all of it" if d.amount_cents is None else str(cents_to_money(d.amount_cents))
    say(f"dispute #{d.id}: {customer} disputes invoice {invoice} ({part})")


@dispute_app.command("resolve")
def dispute_resolve(
    ctx: typer.Context,
    dispute_id: Annotated[int, record_id("The dispute's id.", "DISPUTE_ID")],
    note: NoteOption = None,
    as_: AsUser = None,
    at: AtOption = None,
) -> None:
    """After-sales settled it: the invoice is collected again."""
    shell = shell_of(ctx)
    now = parse_instant(at)
    with unit_of_work(shell.ready_engine()) as session:
        by = acting_user(session, as_, WHO)
        d = disputes.resolve_dispute(session, dispute_id, note, by.name, now)
    say(f"dispute #{d.id} on invoice {d.invoice_id} resolved")


@instalments_app.command("create")
def instalments_create(
    ctx: typer.Context,
    customer: Annotated[str, typer.Argument(help="The customer's id.")],
    count: Annotated[int, typer.Option("--count", help="How many monthly instalments.")],
    first_percent: Annotated[
        str | None,
        typer.Option("--first-percent", help="The first instalment's share in %, e.g. 30."),
    ] = None,
    day: Annotated[
        int, typer.Option("--day", help="Each instalment is due on this day of the month.")
    ] = plans.DEFAULT_DUE_DAY,
    note: NoteOption = None,
    as_: AsUser = None,
    at: AtOption = None,
) -> None:
    """Reschedule what the customer owes into monthly instalments (D20): equal parts, or
    the first --first-percent % and the rest equal; amounts add up to what is owed."""
    shell = shell_of(ctx)
    now = parse_instant(at)
    share = None
    if first_percent is not None:
        try:
            share = Decimal(first_percent.strip().removesuffix("%"))
        except ArithmeticError:
            raise InvalidInput(f"--first-percent: {first_percent!r} is not a number") from None
    with unit_of_work(shell.ready_engine()) as session:
        by = acting_user(session, as_, WHO)
        plan = plans.plan_for_customer(
            session, customer, count, by.name, now, first_percent=share, due_day=day, note=note
        )
        assert plan.id is not None
        [view] = [v for v in plans.plans_of(session, customer, now) if v.id == plan.id]
    say(
        f"instalment plan #{view.id} for {customer}: {view.total} {view.currency} in "
        f"{len(view.instalments)} instalments"
    )
    for i in view.instalments:
        say(f"  {i.seq}. {i.amount} due {i.due_on.isoformat()}")


@instalments_app.command("show")
def instalments_show(
    ctx: typer.Context,
    customer: Annotated[str, typer.Argument(help="The customer's id.")],
    format_: Annotated[
        Literal["plain", "table", "csv", "json"],
        typer.Option(
            "--format", help="plain lines (or table: the same), csv (UTF-8 with BOM) or json."
        ),
    ] = "plain",
    json_: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    at: AtOption = None,
    locale: TextLocaleOption = "en",
) -> None:
    """The customer's plans, newest first: each instalment's amount, due date and what is
    paid of it (in words of --locale; the codes are in csv and json)."""
    shell = shell_of(ctx)
    now = parse_instant(at)
    with unit_of_work(shell.ready_engine()) as session:
        views = plans.plans_of(session, customer, now)
    if json_ or format_ == "json":
        print(json.dumps([v.as_json() for v in views], ensure_ascii=False, indent=2))
        return
    if format_ == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(
            [
                "plan_id",
                "plan_status",
                "currency",
                "seq",
                "amount",
                "due_on",
                "paid",
                "outstanding",
                "status",
            ]
        )
        for v in views:
            for i in v.instalments:
                writer.writerow(
                    [
                        v.id,
                        v.status,
                        v.currency,
                        i.seq,
                        i.amount,
                        i.due_on.isoformat(),
                        "" if i.paid is None else i.paid,
                        "" if i.outstanding is None else i.outstanding,
                        i.status,
                    ]
                )
        typer.echo(csv_for_excel(buffer.getvalue()).decode("utf-8"), nl=False)
        return
    w = words(locale)
    if not views:
        say(w("ip_none", id=customer))
    for v in views:
        made = f"{v.created_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        say(w("ip_plan", id=v.id, status=w("cu_plan_" + v.status), total=v.total,
              currency=v.currency, invoices=w("ex_list_sep").join(v.invoices) or "—",
              when=made, by=v.created_by or "—"))  # fmt: skip
        for i in v.instalments:
            paid = "" if i.paid is None else w("ip_paid", paid=i.paid, open=i.outstanding)
            say(w("ip_line", seq=i.seq, amount=i.amount, day=i.due_on.isoformat(),
                  status=w("cu_inst_" + i.status), paid=paid))  # fmt: skip


@instalments_app.command("cancel")
def instalments_cancel(
    ctx: typer.Context,
    plan_id: Annotated[int, record_id("The plan's id.", "PLAN_ID")],
    note: NoteOption = None,
    as_: AsUser = None,
    at: AtOption = None,
) -> None:
    """End a plan: its invoices fall due again as they were, less what was paid."""
    shell = shell_of(ctx)
    now = parse_instant(at)
    with unit_of_work(shell.ready_engine()) as session:
        by = acting_user(session, as_, WHO)
        plan = plans.cancel_plan(session, plan_id, by.name, now, note=note)
    say(f"instalment plan #{plan.id} of {plan.customer_id} cancelled")


@app.command()
def legal(
    ctx: typer.Context,
    customer: Annotated[str, typer.Argument(help="The customer's id.")],
    authorise: Annotated[
        bool, typer.Option("--authorise", help="A manager decides legal steps may be taken.")
    ] = False,
    revoke: Annotated[bool, typer.Option("--revoke", help="Take that decision back.")] = False,
    as_: Annotated[
        str | None, typer.Option("--as", help="The manager (or admin) who decides.")
    ] = None,
    at: AtOption = None,
) -> None:
    """Set or clear the legal-authorised flag (D19): a manager's or an admin's decision."""
    if authorise == revoke:
        raise typer.BadParameter("give exactly one of --authorise and --revoke")
    shell = shell_of(ctx)
    now = parse_instant(at)
    with unit_of_work(shell.ready_engine()) as session:
        by = acting_user(session, as_, WHO)
        c = customer_service.set_legal_authorised(
            session, customer, authorise, by, now, policy=shell.policy
        )
    state = "authorised" if c.legal_authorised else "not authorised"
    say(f"{c.id}: legal steps {state} (by {by.name})")
