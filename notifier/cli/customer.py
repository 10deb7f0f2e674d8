"""A customer's owner from the command line: escalate to a manager, hand back (D4)."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlmodel import Session

from notifier.cli.app import app
from notifier.cli.shell import AtOption, acting_user, parse_instant, say, shell_of
from notifier.services import escalation
from notifier.store.db import unit_of_work
from notifier.store.models import User

AsManager = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="The notifier user (a manager or admin) recorded on the escalation "
        "(default: the user of the same name as your login, if there is one).",
    ),
]
WHO = "who escalates? pass --as NAME (a manager or admin)"


def _escalator_problem(user: User | None, name: str) -> str | None:
    """An active manager or admin escalates; the name stands in the customer's evidence."""
    problem = escalation.escalator_problem(user, name)
    return None if problem is None else f"{problem} (pass --as NAME)"


def _escalator(session: Session, name: str | None) -> User:
    """``--as``, else the user named like the OS login: an active manager or admin."""
    return acting_user(session, name, WHO, _escalator_problem, login_problem=None)


@app.command()
def escalate(
    ctx: typer.Context,
    customer: Annotated[str, typer.Argument(help="The customer's id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it goes to a manager.")],
    as_: AsManager = None,
    at: AtOption = None,
) -> None:
    """Escalate a customer: it moves from its collector to the manager the policy names."""
    shell = shell_of(ctx)
    now = parse_instant(at)
    with unit_of_work(shell.ready_engine()) as session:
        by = _escalator(session, as_)
        c = escalation.escalate(session, customer, reason, by, now, shell.policy.escalation)
        handover = escalation.escalation_of(session, c)
    assert handover is not None
    note = f" ({handover.note})" if handover.note else ""
    say(f"escalated {c.id}: from {handover.from_collector or '-'} to {handover.to or '-'}{note}")


@app.command()
def deescalate(
    ctx: typer.Context,
    customer: Annotated[str, typer.Argument(help="The customer's id.")],
    note: Annotated[str | None, typer.Option("--note", help="Why it goes back.")] = None,
    as_: AsManager = None,
    at: AtOption = None,
) -> None:
    """Hand an escalated customer back to the collector it had before."""
    shell = shell_of(ctx)
    now = parse_instant(at)
    with unit_of_work(shell.ready_engine()) as session:
        by = _escalator(session, as_)
        c = escalation.deescalate(session, customer, note, by, now)
    say(f"{c.id} is back with {c.collector or 'no collector'}")


import notifier.cli.collect  # noqa: E402, F401  (promise, dispute, instalments, legal)
