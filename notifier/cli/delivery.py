"""Sending and following up from the command line: deliver, fallback (replayable --at)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from notifier.cli.app import app
from notifier.cli.shell import AtOption, out, parse_instant, shell_of
from notifier.sweeps.deliver import deliver as deliver_sweep
from notifier.sweeps.fallback import fallback as fallback_sweep

JsonOption = Annotated[bool, typer.Option("--json", help="Print the sweep report as JSON.")]


@app.command()
def deliver(ctx: typer.Context, at: AtOption = None, json_: JsonOption = False) -> None:
    """Send the approved reminders whose slot is open at --at (re-checked first)."""
    shell = shell_of(ctx)
    report = deliver_sweep(shell.ready_engine(), parse_instant(at), shell.sweep_context,
                           shell.channels(), shell.tracker)  # fmt: skip
    if json_:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    sent = ", ".join(f"{n} {c}" for c, n in sorted(report.by_channel.items())) or "none"
    out.print(
        f"delivered at {report.at.isoformat()}: {report.sent} sent ({sent}), "
        f"{report.retrying} retrying, {report.deferred} deferred to a later slot, "
        f"{report.cancelled} cancelled, {report.failed} failed, {report.unknown} unknown"
    )


@app.command()
def fallback(ctx: typer.Context, at: AtOption = None, json_: JsonOption = False) -> None:
    """Draft an SMS for every e-mail still unread after the policy's hours (D17)."""
    shell = shell_of(ctx)
    report = fallback_sweep(shell.ready_engine(), parse_instant(at), shell.sweep_context)
    if json_:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    out.print(f"fallback at {report.at.isoformat()}: {report.drafted} SMS drafted")
    for reason, n in sorted(report.skipped.items()):
        out.print(f"  skipped {n}: {reason}")
