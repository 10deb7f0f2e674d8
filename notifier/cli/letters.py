"""Formal letters from the command line (issue 15; CONTRACT.md):
``letter pdf ID -o FILE`` (a draft prints with a DRAFT watermark, the approved one is the
one to post), ``letter posted ID --tracking NO [--carrier C]`` (the letter was posted:
sent, with its tracking number as evidence) and ``letter received ID --on DATE`` (the
signed receipt's date: delivered); ``legal-route CUSTOMER [--decide ...]``, the legal
route a manager decides after the lawyer's letter (D19)."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from notifier.cli.app import app
from notifier.cli.shell import (
    AtOption,
    InvalidInput,
    TextLocaleOption,
    acting_name,
    parse_instant,
    record_id,
    say,
    shell_of,
)
from notifier.services import legal, letters
from notifier.store.db import unit_of_work

letter_app = typer.Typer(help="Formal letters (channel letter): print, posted, received.",
                         no_args_is_help=True)  # fmt: skip
app.add_typer(letter_app, name="letter")

LetterId = Annotated[
    int, record_id("The letter's id (as `notifier drafts` lists it).", "LETTER_ID")
]
AsUser = Annotated[
    str | None,
    typer.Option("--as", help="The notifier user recorded as having done it (default: the "
                 "user named like your login)."),
]  # fmt: skip
JsonOption = Annotated[bool, typer.Option("--json", help="Print the letter as JSON.")]
WHO = "who did it? pass --as NAME (a user added with `notifier user add`)"


def _who(name: str | None) -> str:
    """By name: the service checks the user (an active one; a manager for legal-route)."""
    return acting_name(name or None, WHO)  # an empty --as falls back to the login


def _write(target: Path, data: bytes) -> None:
    """Written beside the target, then renamed over it: never half a file."""
    folder = target.parent
    if target.is_dir():
        raise InvalidInput(f"cannot write {target}: it is a folder")
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise InvalidInput(f"cannot write {target}: the folder {folder} is missing or not "
                           "writable")  # fmt: skip
    fd, tmp = tempfile.mkstemp(prefix=".letter-", suffix=".pdf", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InvalidInput(f"cannot write {target}: {exc.strerror or exc}") from None


@letter_app.command("pdf")
def pdf(
    ctx: typer.Context,
    letter_id: LetterId,
    output: Annotated[Path, typer.Option("-o", "--output", help="The PDF file to write.")],
) -> None:
    """Print the letter as a PDF (A4): a draft carries a DRAFT watermark, for review; the
    approved letter is the one to post."""
    shell = shell_of(ctx)
    with unit_of_work(shell.ready_engine()) as session:
        printed = letters.pdf(session, letter_id, shell.policy)
    _write(output, printed.pdf)
    state = "DRAFT (not approved: for review only)" if printed.draft else printed.reminder.status
    say(f"wrote {output}: letter {letter_id} ({printed.reminder.step}), {state}")


@letter_app.command("posted")
def posted(
    ctx: typer.Context,
    letter_id: LetterId,
    tracking: Annotated[str, typer.Option("--tracking", help="The carrier's tracking number.")],
    carrier: Annotated[
        str | None,
        typer.Option("--carrier", help="The carrier (default: EMS, the first in the policy)."),
    ] = None,
    as_: AsUser = None,
    at: AtOption = None,
    json_: JsonOption = False,
) -> None:
    """The approved letter was posted: it becomes sent, its tracking number kept as evidence."""
    shell = shell_of(ctx)
    now = parse_instant(at)
    with unit_of_work(shell.ready_engine()) as session:
        post = letters.posted(session, letter_id, tracking, carrier, _who(as_), now,
                              shell.policy)  # fmt: skip
        r = letters.get_letter(session, letter_id)
        shown = letters.letter_json(r, post)
    if json_:
        print(json.dumps(shown, ensure_ascii=False))
        return
    say(f"letter {letter_id} posted: {shown['carrier']} {shown['tracking_no']} ({shown['status']})")


@letter_app.command("received")
def received(
    ctx: typer.Context,
    letter_id: LetterId,
    on: Annotated[str, typer.Option("--on", help="The day on the signed receipt, YYYY-MM-DD.")],
    as_: AsUser = None,
    at: AtOption = None,
    json_: JsonOption = False,
) -> None:
    """The signed receipt (签收回执) came back: the letter becomes delivered on that day."""
    shell = shell_of(ctx)
    now = parse_instant(at)
    try:
        day = date.fromisoformat(on)
    except ValueError:
        raise InvalidInput(f"--on {on!r} is not a date YYYY-MM-DD") from None
    with unit_of_work(shell.ready_engine()) as session:
        post = letters.received(session, letter_id, day, _who(as_), now)
        r = letters.get_letter(session, letter_id)
        shown = letters.letter_json(r, post)
    if json_:
        print(json.dumps(shown, ensure_ascii=False))
        return
    say(f"letter {letter_id} received on {shown['received_on']} ({shown['status']})")


@app.command("legal-route")
def legal_route(
    ctx: typer.Context,
    customer: Annotated[str, typer.Argument(help="The customer's id.")],
    decide: Annotated[
        str | None,
        typer.Option("--decide", help="Record a decision: lawsuit, payment_order or wait."),
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept as evidence).")] = None,
    as_: Annotated[
        str | None, typer.Option("--as", help="The manager (or admin) who decides.")
    ] = None,
    at: AtOption = None,
    json_: JsonOption = False,
    locale: TextLocaleOption = "en",
) -> None:
    """D19: the customer's legal route after the lawyer's letter (the "prepare lawsuit"
    task, whether the payment order is offered, the decisions so far); with --decide, a
    manager's decision with its reason."""
    shell = shell_of(ctx)
    now = parse_instant(at)
    if decide is not None and reason is None:
        raise InvalidInput("--decide needs --reason: a legal decision is kept with why")
    with unit_of_work(shell.ready_engine()) as session:
        if decide is None:
            route = legal.route(session, customer, now, shell.policy)
        else:
            route = legal.decide(session, customer, decide, reason or "", _who(as_), now,
                                 shell.policy)  # fmt: skip
    if json_:
        print(json.dumps(route.as_dict(), ensure_ascii=False))
        return
    for line in legal.route_lines(route, locale):
        say(line)
