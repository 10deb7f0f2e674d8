"""Sending and following up from the command line: deliver, fallback, expire (replayable
--at, --dry-run: see replay.py)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from notifier.channels.dry_run import dry_run_channels
from notifier.cli.app import app
from notifier.cli.replay import DryRunOption, as_json, note, run_sweep
from notifier.cli.shell import AtOption, out, shell_of
from notifier.sweeps.deliver import DeliverReport
from notifier.sweeps.expire import ExpireReport
from notifier.sweeps.fallback import FallbackReport
from notifier.sweeps.runs import Deliver, Expire, Fallback

JsonOption = Annotated[bool, typer.Option("--json", help="Print the sweep report as JSON.")]


def _print_json(report: dict[str, Any], rehearse: bool) -> None:
    print(json.dumps(as_json(report, rehearse), ensure_ascii=False, indent=2))


@app.command()
def deliver(
    ctx: typer.Context,
    at: AtOption = None,
    json_: JsonOption = False,
    dry_run: DryRunOption = False,
) -> None:
    """Send the approved reminders whose slot is open at --at (re-checked first). With
    --dry-run no channel is called: the report counts as sent what would be handed over."""
    shell = shell_of(ctx)
    kept = dry_run_channels()
    # The sweep opens the channels it is given a way to open, and closes them.
    sweep = Deliver(shell.sweep_context, (lambda: kept) if dry_run else shell.channels,
                    shell.tracker)  # fmt: skip
    report, _ = run_sweep(shell, sweep.name, at, dry_run, sweep.run, DeliverReport.as_dict)
    handed = sorted((m for c in kept.values() for m in c.kept), key=lambda m: m.reminder_id)
    would_send = [{"reminder_id": m.reminder_id, "channel": m.channel} for m in handed]
    if json_:
        _print_json(report.as_dict() | ({"would_send": would_send} if dry_run else {}), dry_run)
        return
    sent = ", ".join(f"{n} {c}" for c, n in sorted(report.by_channel.items())) or "none"
    out.print(
        f"delivered at {report.at.isoformat()}: {report.sent} sent ({sent}), "
        f"{report.retrying} retrying, {report.deferred} deferred to a later slot, "
        f"{report.cancelled} cancelled, {report.failed} failed, {report.unknown} unknown"
    )
    if would_send:
        out.print("would send: " + ", ".join(f"#{m['reminder_id']} {m['channel']}"
                                             for m in would_send))  # fmt: skip
    note(dry_run)


@app.command()
def fallback(
    ctx: typer.Context,
    at: AtOption = None,
    json_: JsonOption = False,
    dry_run: DryRunOption = False,
) -> None:
    """Draft an SMS for every e-mail still unread after the policy's hours (D17)."""
    shell = shell_of(ctx)
    sweep = Fallback(shell.sweep_context)
    report, _ = run_sweep(shell, sweep.name, at, dry_run, sweep.run, FallbackReport.as_dict)
    if json_:
        _print_json(report.as_dict(), dry_run)
        return
    out.print(f"fallback at {report.at.isoformat()}: {report.drafted} SMS drafted")
    for reason, n in sorted(report.skipped.items()):
        out.print(f"  skipped {n}: {reason}")
    note(dry_run)


@app.command()
def expire(
    ctx: typer.Context,
    at: AtOption = None,
    json_: JsonOption = False,
    dry_run: DryRunOption = False,
) -> None:
    """Expire the drafts nobody approved within the policy's hours after their slot."""
    shell = shell_of(ctx)
    sweep = Expire(shell.policy)
    report, now = run_sweep(shell, sweep.name, at, dry_run, sweep.run, ExpireReport.as_dict)
    if json_:
        _print_json(report.as_dict(), dry_run)
        return
    out.print(f"expired at {now.isoformat()}: {report.expired} drafts expired")
    note(dry_run)
