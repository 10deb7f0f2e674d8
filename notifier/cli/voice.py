"""Click-to-call from the terminal (services/voice.py): ``notifier dial ID [--as USER]``
rings the user's own phone, then the call task's customer; ``notifier user phone NAME
NUMBER`` sets the phone that rings first."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from notifier.cli.app import app, user_app
from notifier.cli.shell import AtOption, acting_user, parse_instant, record_id, say, shell_of
from notifier.services import voice
from notifier.store.db import unit_of_work
from notifier.store.models import User

WHO = "who calls? pass --as NAME"


def _known(user: User | None, name: str) -> str | None:
    return f"no user {name!r} (pass --as NAME)" if user is None else None


@app.command()
def dial(
    ctx: typer.Context,
    task_id: Annotated[int, record_id("The call task's id (see `notifier calls`).", "TASK_ID")],
    as_: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Who calls: the task's collector, or a manager or admin "
            "(default: the user of the same name as your login).",
        ),
    ] = None,  # fmt: skip
    at: AtOption = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the call as JSON.")] = False,
) -> None:
    """Ring your own phone, then connect the call task's customer (Twilio Voice)."""
    shell = shell_of(ctx)
    now = parse_instant(at)
    with unit_of_work(shell.ready_engine()) as session:
        # an empty --as falls back to the login; start_call checks the role and the task
        user = acting_user(session, as_ or None, WHO, _known, login_problem=None)
        name = user.name
        placed = voice.start_call(session, task_id, user, now, settings=shell.settings,
                                  policy=shell.policy)  # fmt: skip
    if json_:
        print(json.dumps({"task_id": placed.task_id, "call_sid": placed.call_sid,
                          "status": placed.status, "record": placed.record}))  # fmt: skip
        return
    recorded = "recorded" if placed.record else "not recorded"
    say(
        f"calling {name}'s phone for task {placed.task_id} ({placed.call_sid}, {recorded}): "
        "answer it to be connected"
    )


@user_app.command("phone")
def user_phone(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Login name.")],
    phone: Annotated[str, typer.Argument(help="The user's own phone, e.g. +8613912345678.")],
) -> None:
    """Set the phone click-to-call rings first (E.164; a bare Chinese mobile gets +86)."""
    shell = shell_of(ctx)
    with unit_of_work(shell.ready_engine()) as session:
        user = voice.set_user_phone(session, name, phone, datetime.now(UTC))
        number = user.phone
    say(f"phone of {name} is {number}")
