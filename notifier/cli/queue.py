"""The approval queue from the command line: plan, list, approve, reject, edit (D12-D14);
the list also as a spreadsheet (``drafts --format csv|xlsx -o FILE``, like ``report aging``).

``--at`` on every command replays an instant, so a day can be re-run from outside and an
approval can be given "as of" the replayed time (a draft approved after its slot moves to
the next slot, D12).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.table import Table
from sqlalchemy import select
from sqlmodel import Session, col

from notifier.cli.app import app
from notifier.cli.data import write_out
from notifier.cli.replay import DryRunOption, as_json, note, run_sweep
from notifier.cli.shell import (
    AtOption,
    ExportLocaleOption,
    OutputOption,
    acting_user,
    check_output,
    err,
    out,
    parse_instant,
    read_text_file,
    record_id,
    shell_of,
)
from notifier.reports.export import Cell, Sheet, csv_for_excel, write_csv, write_xlsx
from notifier.services import review
from notifier.services.users import decider_problem
from notifier.store.db import unit_of_work
from notifier.store.models import Customer
from notifier.sweeps.plan import PlanReport
from notifier.sweeps.runs import Plan
from notifier.words import text, words

AsOption = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="The notifier user (reviewer, manager or admin) recorded on the decision "
        "(default: the user of the same name as your login, if there is one).",
    ),
]
WHO = "who decides? pass --as NAME (a reviewer, manager or admin added with `notifier user add`)"


def _reviewer(session: Session, name: str | None) -> str:
    """The notifier user who decides: ``--as``, else the one named like the OS login when
    that is an active decider; an unknown, disabled or collector user is refused."""
    return acting_user(session, name, WHO, decider_problem, login_problem=decider_problem).name


@app.command()
def plan(
    ctx: typer.Context,
    at: AtOption = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the sweep report as JSON.")] = False,
    dry_run: DryRunOption = False,
) -> None:
    """Run the planning sweep as at --at: draft the due step of every customer for its
    earliest contact slot within the planning horizon. An --at earlier than the newest
    planning run is refused unless --dry-run."""
    shell = shell_of(ctx)
    sweep = Plan(shell.sweep_context, force=True)  # the command line claims no tick
    report, now = run_sweep(shell, sweep.name, at, dry_run, sweep.run, PlanReport.as_dict)
    if json_:
        print(json.dumps(as_json(report.as_dict(), dry_run), ensure_ascii=False, indent=2))
        return
    channels = ", ".join(f"{n} {c}" for c, n in sorted(report.by_channel.items())) or "none"
    out.print(
        f"planned at {now.isoformat()}: {report.customers} customers, "
        f"{report.drafted} drafts ({channels}), {report.cancelled} cancelled, "
        f"{report.escalated} escalated"
    )
    for reason, n in sorted(report.skipped.items()):
        out.print(f"  skipped {n}: {reason}")
    for problem in report.problems:
        err.print(f"warning: {problem}", markup=False, highlight=False)
    note(dry_run)


# The queue as a file for a spreadsheet: (catalogue key of the header, column width).
EXPORT_COLUMNS = (
    ("dq_id", 8), ("dq_customer", 12), ("dq_customer_name", 24), ("dq_status", 12),
    ("dq_step", 16), ("dq_stage", 14), ("dq_tier", 6), ("dq_tone", 8), ("dq_channel", 8),
    ("dq_slot", 18), ("dq_subject", 30), ("dq_body", 60), ("dq_segments", 8),
    ("dq_lint", 40),
)  # fmt: skip
TABLE_COLUMNS = ("dq_id", "dq_customer", "dq_status", "dq_step", "dq_stage", "dq_tone",
                 "dq_channel", "dq_slot", "dq_lint")  # fmt: skip


@app.command()
def drafts(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option("--status", help="Only this status, e.g. pending_approval, approved."),
    ] = None,
    customer: Annotated[str | None, typer.Option("--customer", help="Only this customer.")] = None,
    channel: Annotated[
        str | None,
        typer.Option(
            "--channel",
            help="Only this channel: sms, email, letter, or call (call "
            "tasks are listed only when asked for; see `notifier calls`).",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 10_000,
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
    format_: Annotated[
        Literal["table", "plain", "csv", "json", "xlsx"],
        typer.Option(
            "--format",
            help="Output format (table and plain are the same; csv: UTF-8 with BOM, for "
            "Excel; xlsx needs -o FILE). --json is --format json.",
        ),
    ] = "table",
    output: OutputOption = None,
    locale: ExportLocaleOption = "en",
) -> None:
    """List drafts and reminders, by slot; as a spreadsheet with --format csv or xlsx
    (headers and labels in --locale, slots in UTC)."""
    if status is not None and status not in review.STATUSES:
        raise typer.BadParameter(f"{status!r} is not one of {', '.join(review.STATUSES)}")
    if json_:
        format_ = "json"
    check_output(format_, output)
    shell = shell_of(ctx)
    query = review.DraftFilter(status=status, customer_id=customer, channel=channel,
                               limit=limit)  # fmt: skip
    with unit_of_work(shell.ready_engine()) as session:
        found = review.list_drafts(session, query)
        rows = [review.draft_json(r) for r in found]
        ids = {r["customer_id"] for r in rows}
        names = dict(session.execute(
            select(col(Customer.id), col(Customer.name)).where(col(Customer.id).in_(ids))
        ).all()) if ids else {}  # fmt: skip
    if format_ == "json":
        if output is None:
            print(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        write_out(output, (json.dumps(rows, ensure_ascii=False, indent=2) + "\n").encode())
        return
    if format_ in ("csv", "xlsx"):
        cells = [_export_row(r, names.get(r["customer_id"], ""), locale) for r in rows]
        headers = [text(locale, key) for key, _ in EXPORT_COLUMNS]
        if format_ == "xlsx":
            sheet = Sheet(text(locale, "dq_sheet"), headers, cells, [w for _, w in EXPORT_COLUMNS])
            write_out(output, write_xlsx([sheet]))
        else:
            dicts = [dict(zip(headers, row, strict=True)) for row in cells]
            write_out(output, csv_for_excel(write_csv(headers, dicts)))
        return
    # For a person: labels in --locale (the codes are in --json and what --status takes).
    w = words(locale)
    table = Table(header_style="bold")
    for key in TABLE_COLUMNS:
        table.add_column(text(locale, key), overflow="fold")  # a narrow terminal wraps, never cuts
    for r in rows:
        table.add_row(
            str(r["id"]), r["customer_id"], w.status(r["status"]), w.step(r["step"]),
            w.stage(r["stage"]), w.tone(r["tone"]), w.channel(r["channel"]),
            r["slot_start"][:16].replace("T", " "),
            f"{len(r['lint'])} {text(locale, 'problems')}" if r["lint"] else "",
        )  # fmt: skip
    out.print(table)
    out.print(text(locale, "dq_shown", count=len(rows)))


def _export_row(r: dict[str, Any], name: str, locale: str) -> list[Cell]:
    """One draft as a spreadsheet row: labels a person reads in ``locale`` (the codes are
    in --json), the slot in UTC, the content-check reasons as sentences."""
    w = words(locale)
    slot = str(r["slot_start"])[:16].replace("T", " ")
    return [
        int(r["id"]), str(r["customer_id"]), name, w.status(r["status"]), w.step(r["step"]),
        w.stage(r["stage"]), str(r["tier"] or ""), w.tone(r["tone"]), w.channel(r["channel"]),
        slot, str(r["subject"] or ""), str(r["body"] or ""),
        int(r["segments"]) if r["segments"] is not None else None,
        "; ".join(w.lint(p) for p in r["lint"] or ()),
    ]  # fmt: skip


@app.command()
def approve(
    ctx: typer.Context,
    ids: Annotated[list[int] | None, record_id("Draft ids.", "IDS")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every pending draft that passes lint.")] = (
        False
    ),
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    """Approve drafts (all or none of the ids given); --all approves every clean pending one."""
    if bool(ids) == all_:
        raise typer.BadParameter("give draft ids or --all, not both and not neither")
    shell = shell_of(ctx)
    now = parse_instant(at)
    policy, calendar = shell.policy, shell.calendar
    with unit_of_work(shell.ready_engine()) as session:
        reviewer = _reviewer(session, as_)
        if all_:
            done, skipped = review.approve_all_pending(session, reviewer, now, policy, calendar)
        else:
            done, skipped = review.approve(session, ids or [], reviewer, now, policy, calendar), []
        summary = [(r.id, r.slot_start.isoformat()) for r in done]
    for reminder_id, slot in summary:
        out.print(f"approved {reminder_id} for the slot at {slot}")
    for reminder_id, why in skipped:
        err.print(f"left pending {reminder_id}: {why}", markup=False, highlight=False)
    out.print(f"{len(summary)} approved by {reviewer}")


@app.command()
def reject(
    ctx: typer.Context,
    reminder_id: Annotated[int, record_id("Draft id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the record.")],
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    """Reject a draft with a reason."""
    shell = shell_of(ctx)
    with unit_of_work(shell.ready_engine()) as session:
        review.reject(session, reminder_id, _reviewer(session, as_), reason, parse_instant(at))
    out.print(f"rejected {reminder_id}")


@app.command()
def edit(
    ctx: typer.Context,
    reminder_id: Annotated[int, record_id("Draft id.")],
    body_file: Annotated[Path, typer.Option("--body-file", help="The new text (UTF-8).")],
    subject: Annotated[str | None, typer.Option("--subject", help="New e-mail subject.")] = None,
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    """Replace a pending draft's text; refused, with the reasons, when it breaks the rules."""
    body = read_text_file(body_file, review.BODY_MAX)
    shell = shell_of(ctx)
    with unit_of_work(shell.ready_engine()) as session:
        r = review.edit(session, reminder_id, _reviewer(session, as_), body, subject,
                        parse_instant(at), shell.policy)  # fmt: skip
        segments = r.segments
    extra = f" ({segments} SMS segments)" if segments else ""
    out.print(f"edited {reminder_id}{extra}; it passed the content rules")
