"""The evidence file and the retention purge from the command line (D18, C5):
``evidence export CUSTOMER -o FILE.zip``, ``evidence verify [CUSTOMER]`` (exit 1 when a
chain is broken, naming the customer and the event) and ``purge [--dry-run] [--at TS]``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from notifier.cli.app import app
from notifier.cli.replay import DryRunOption, as_json, note, run_sweep
from notifier.cli.shell import AtOption, err, out, parse_instant, shell_of
from notifier.evidence.seal import verify as verify_chains
from notifier.sweeps.purge import PurgeReport
from notifier.sweeps.purge import purge as purge_sweep

evidence_app = typer.Typer(help="The tamper-evident evidence log: export and verify.",
                           no_args_is_help=True)  # fmt: skip
app.add_typer(evidence_app, name="evidence")

Customer = Annotated[str, typer.Argument(help="The customer's id.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _plain(text: str) -> None:
    out.print(text, markup=False, highlight=False)


@evidence_app.command("export")
def export(
    ctx: typer.Context,
    customer: Customer,
    output: Annotated[Path, typer.Option("-o", "--output", help="The ZIP file to write.")],
    at: AtOption = None,
) -> None:
    """Write the customer's evidence file: every record as JSON and CSV, a PDF summary
    and a manifest with the chain's head and the files' SHA-256."""
    shell = shell_of(ctx)
    from notifier.evidence.export import export as export_file  # ReportLab: slow import

    done = export_file(shell.ready_engine(), parse_instant(at), customer, output)
    rows = ", ".join(f"{n} {name}" for name, n in done.counts.items() if name != "customer")
    _plain(f"wrote {output}: {rows}")
    state = "intact" if done.verdict.ok else f"BROKEN at {len(done.verdict.breaks)} places"
    _plain(f"chain {state}: head #{done.head[0]} {done.head[1]}")


@evidence_app.command("verify")
def verify(
    ctx: typer.Context,
    customer: Annotated[
        str | None, typer.Argument(help="Only this customer's chain (default: all).")
    ] = None,
    at: AtOption = None,
    json_: JsonOption = False,
) -> None:
    """Seal what is not sealed yet, then check every chain from its first event. Exit 1
    when one is broken, with the customer and event of each break."""
    shell = shell_of(ctx)
    verdict = verify_chains(shell.ready_engine(), parse_instant(at), customer)
    if json_:
        print(
            json.dumps(
                {
                    "ok": verdict.ok,
                    "chains": len(verdict.chains),
                    "events": verdict.events,
                    "tombstones": verdict.tombstones,
                    "sealed_now": verdict.sealed_now,
                    "breaks": [str(b) for b in verdict.breaks],
                },
                ensure_ascii=False,
            )
        )
    else:
        for b in verdict.breaks:
            _plain(f"broken: {b}")
        _plain(f"{len(verdict.chains)} chains, {verdict.events} events "
               f"({verdict.tombstones} tombstones of the retention purge), "
               f"{verdict.sealed_now} sealed now")  # fmt: skip
    if not verdict.ok:
        err.print(f"error: the evidence log was altered: {len(verdict.breaks)} breaks",
                  markup=False, highlight=False)  # fmt: skip
        raise typer.Exit(1)
    if not json_:
        _plain("evidence log intact")


@app.command()
def purge(
    ctx: typer.Context,
    at: AtOption = None,
    dry_run: DryRunOption = False,
    json_: JsonOption = False,
) -> None:
    """C5: anonymise the personal data of customers settled longer ago than the policy's
    [retention] years for their country; figures stay, the evidence chain still verifies."""
    shell = shell_of(ctx)
    report, _ = run_sweep(
        shell, "purge", at, dry_run,
        lambda engine, now: purge_sweep(engine, now, shell.policy.retention),
        PurgeReport.as_dict,
    )  # fmt: skip
    if json_:
        print(json.dumps(as_json(report.as_dict(), dry_run), ensure_ascii=False, indent=2))
        return
    verb = "would purge" if dry_run else "purged"
    data = report.as_dict()
    _plain(f"purge at {data['at']}: {report.settled_past_period} customers settled past "
           f"their retention period, {verb} {data['purged']} "
           f"({data['events_tombstoned']} events tombstoned)")  # fmt: skip
    for c in data["customers"]:
        _plain(f"  {c['customer_id']} ({c['country']}, settled {c['settled_on']}, "
               f"{c['years']} years): {c['events']} events")  # fmt: skip
    note(dry_run)
