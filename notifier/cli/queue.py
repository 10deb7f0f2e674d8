"""The approval queue from the command line: plan, list, approve, reject, edit (D12-D14).

``--at`` on every command replays an instant, so a day can be re-run from outside and an
approval can be given "as of" the replayed time (a draft approved after its slot moves to
the next slot, D12).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlmodel import Session

from notifier.cli.app import app
from notifier.cli.replay import DryRunOption, as_json, note, run_sweep
from notifier.cli.shell import AtOption, InvalidInput, err, os_login, out, parse_instant, shell_of
from notifier.services import review
from notifier.services.users import decider_problem
from notifier.store.db import unit_of_work
from notifier.store.models import User
from notifier.sweeps.plan import PlanReport
from notifier.sweeps.runs import Plan

AsOption = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="The notifier user (reviewer, manager or admin) recorded on the decision "
        "(default: the user of the same name as your login, if there is one).",
    ),
]


def _reviewer(session: Session, name: str | None) -> str:
    """The notifier user who decides: ``--as``, else the one named like the OS login when
    that is an active decider. The name stands in the customer's evidence, so it is never
    a guess: an unknown, disabled or collector user is refused (review.check_decider)."""
    if name is None:
        login = os_login()
        if login and decider_problem(session.get(User, login), login) is None:
            return login
        raise InvalidInput(
            f"who decides? pass --as NAME (a reviewer, manager or admin added with "
            f"`notifier user add`); {login or 'your login'!r} is not one"
        )
    review.check_decider(session, name)
    return name


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


@app.command()
def drafts(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option("--status", help="Only this status, e.g. pending_approval, approved."),
    ] = None,
    customer: Annotated[str | None, typer.Option("--customer", help="Only this customer.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 10_000,
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """List drafts and reminders, by slot."""
    if status is not None and status not in review.STATUSES:
        raise typer.BadParameter(f"{status!r} is not one of {', '.join(review.STATUSES)}")
    shell = shell_of(ctx)
    query = review.DraftFilter(status=status, customer_id=customer, limit=limit)
    with unit_of_work(shell.ready_engine()) as session:
        rows = [review.draft_json(r) for r in review.list_drafts(session, query)]
    if json_:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(header_style="bold")
    for name in ("id", "customer", "status", "step", "stage", "tone", "channel", "slot (UTC)",
                 "lint"):  # fmt: skip
        table.add_column(name, overflow="fold")  # a narrow terminal wraps, never cuts
    for r in rows:
        table.add_row(
            str(r["id"]), r["customer_id"], r["status"], r["step"], r["stage"], r["tone"],
            r["channel"], r["slot_start"][:16].replace("T", " "),
            f"{len(r['lint'])} problem(s)" if r["lint"] else "",
        )  # fmt: skip
    out.print(table)
    out.print(f"{len(rows)} shown")


@app.command()
def approve(
    ctx: typer.Context,
    ids: Annotated[list[int] | None, typer.Argument(help="Draft ids.")] = None,
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
    reminder_id: Annotated[int, typer.Argument(metavar="ID", help="Draft id.")],
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
    reminder_id: Annotated[int, typer.Argument(metavar="ID", help="Draft id.")],
    body_file: Annotated[Path, typer.Option("--body-file", help="The new text (UTF-8).")],
    subject: Annotated[str | None, typer.Option("--subject", help="New e-mail subject.")] = None,
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    """Replace a pending draft's text; refused, with the reasons, when it breaks the rules."""
    if not body_file.is_file():
        raise InvalidInput(f"{body_file}: no such file")
    try:
        body = body_file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{body_file}: not UTF-8 text") from exc
    shell = shell_of(ctx)
    with unit_of_work(shell.ready_engine()) as session:
        r = review.edit(session, reminder_id, _reviewer(session, as_), body, subject,
                        parse_instant(at), shell.policy)  # fmt: skip
        segments = r.segments
    extra = f" ({segments} SMS segments)" if segments else ""
    out.print(f"edited {reminder_id}{extra}; it passed the content rules")
