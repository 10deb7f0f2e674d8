"""Long-running processes and people: serve, worker; user add | password | role | disable |
enable; token create | list | revoke. Ending access (disable, a new password or role,
revoking) takes effect at once: the web sessions and tokens concerned stop working on the
next request. Nothing here prints a password or a token, except the new token once."""

from __future__ import annotations

import csv
import json
import logging
import signal
import sys
import threading
from datetime import UTC, datetime
from types import FrameType
from typing import Annotated, Literal

import typer
from sqlalchemy import Engine

from notifier.cli.app import app, token_app, user_app
from notifier.cli.shell import Shell, out, shell_of
from notifier.services import users
from notifier.services.startup import settle_process, startup_warnings
from notifier.services.users import ROLES, add_user, create_token
from notifier.store.db import unit_of_work
from notifier.store.models import ApiToken

log = logging.getLogger("notifier.worker")


def _logging() -> None:
    # The web app, the scheduler and the server are imported by the long-running commands
    # only: every other command starts in a fraction of the time without them.
    from notifier.web.logs import install_access_log_filter

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # The Twilio SDK logs every request (URL and headers, a dozen lines) at INFO; the SMS
    # channel logs one masked line per message itself.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    # APScheduler logs two lines for every run of every job (delivery: each minute) at
    # INFO; each job logs what it did itself (scheduler.py), and a failure in one line.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    install_access_log_filter()  # tracking tokens never whole in the access log


def _check_at_start(shell: Shell, engine: Engine) -> None:
    """Warn (log and terminal) about what the operator should put right before messages
    go out: a country of the customers without its creditor contact lines (issue 13)."""
    with unit_of_work(engine) as session:
        warnings = startup_warnings(session, shell.policy)
    for warning in warnings:
        log.warning("start-up check: %s", warning)


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    scheduler: Annotated[
        bool, typer.Option("--scheduler/--no-scheduler", help="Also run the sweeps' clock.")
    ] = True,
) -> None:
    """The web app, the JSON API and (unless --no-scheduler) the scheduler."""
    import uvicorn

    from notifier.scheduler import Wiring, build_scheduler
    from notifier.web import create_app

    shell = shell_of(ctx)
    _logging()
    engine = shell.ready_engine()
    _check_at_start(shell, engine)
    web = create_app(shell.settings, shell.policy, engine)
    if scheduler:
        settle_process(shell.sweep_context.renderer)
    wire = Wiring(shell.channels, shell.tracker)
    stop = threading.Event()
    every = shell.settings.deliver_every_seconds
    clock = (
        build_scheduler(
            engine, shell.sweep_context, wire, blocking=False, deliver_every_s=every, stop=stop
        )
        if scheduler
        else None
    )
    if clock is not None:
        clock.start()
    try:
        uvicorn.run(web, host=host, port=port, log_level="info")
    finally:
        if clock is not None:
            stop.set()  # a delivery run in progress ends after the message in hand
            clock.shutdown(wait=True)


@app.command()
def worker(ctx: typer.Context) -> None:
    """The scheduler and its sweeps only, no web (run several, on several machines).

    SIGTERM or Ctrl-C stops it cleanly: the message being sent is finished, the reminders
    it claimed but has not started are released for the other workers, then it exits."""
    from notifier.scheduler import Wiring, build_scheduler

    shell = shell_of(ctx)
    _logging()
    wire = Wiring(shell.channels, shell.tracker)
    stop = threading.Event()
    name = shell.sweep_context.worker
    engine = shell.ready_engine()
    _check_at_start(shell, engine)
    settle_process(shell.sweep_context.renderer)
    scheduler = build_scheduler(
        engine, shell.sweep_context, wire, blocking=True,
        deliver_every_s=shell.settings.deliver_every_seconds, stop=stop,
    )  # fmt: skip
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    out.print(f"worker {name} running; Ctrl-C or SIGTERM stops it")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("worker %s stopping: finishing the message in hand", name)
    finally:
        stop.set()
        if scheduler.running:
            scheduler.shutdown(wait=True)
    log.info("worker %s stopped", name)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """The first SIGTERM stops the worker cleanly; a second one kills it at once (then a
    message being sent is left to the lease and becomes `unknown`)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise SystemExit(0)


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option("--role", help=" | ".join(ROLES))],
    password: Annotated[
        str | None, typer.Option("--password", help="Asked for when not given.")
    ] = None,
    locale: Annotated[str, typer.Option("--locale", help="zh-CN or en.")] = "zh-CN",
) -> None:
    """Create a login."""
    if role not in ROLES:
        raise typer.BadParameter(f"{role!r} is not one of {', '.join(ROLES)}", param_hint="--role")
    password = _ask_password(password)
    shell = shell_of(ctx)
    with unit_of_work(shell.ready_engine()) as session:
        add_user(session, name, role, password, datetime.now(UTC), locale)
    out.print(f"user {name} added as {role}")


@token_app.command("create")
def token_create(
    ctx: typer.Context, user: Annotated[str, typer.Argument(help="Login name.")]
) -> None:
    """Print a new API bearer token for USER (shown once; only its hash is kept)."""
    shell = shell_of(ctx)
    with unit_of_work(shell.ready_engine()) as session:
        token = create_token(session, user, datetime.now(UTC))
    print(token)


def _ask_password(password: str | None) -> str:
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    return password


@user_app.command("password")
def user_password(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Login name.")],
    password: Annotated[
        str | None, typer.Option("--password", help="Asked for when not given.")
    ] = None,
) -> None:
    """Set a new password; every web session of the user ends at once."""
    password = _ask_password(password)
    shell = shell_of(ctx)
    with unit_of_work(shell.ready_engine()) as session:
        ended = users.set_password(session, name, password, datetime.now(UTC))
    out.print(f"password of {name} changed; {ended} session(s) ended")


@user_app.command("role")
def user_role(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Argument(help=" | ".join(ROLES))],
) -> None:
    """Give the user another role; every web session of the user ends at once."""
    if role not in ROLES:
        raise typer.BadParameter(f"{role!r} is not one of {', '.join(ROLES)}", param_hint="ROLE")
    shell = shell_of(ctx)
    with unit_of_work(shell.ready_engine()) as session:
        ended = users.set_role(session, name, role, datetime.now(UTC))
    out.print(f"{name} is now {role}; {ended} session(s) ended")


@user_app.command("disable")
def user_disable(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="Login name.")]
) -> None:
    """End the user's access at once: no login, every session ended, every token revoked."""
    shell = shell_of(ctx)
    with unit_of_work(shell.ready_engine()) as session:
        ended, revoked = users.disable_user(session, name, datetime.now(UTC))
    out.print(f"{name} disabled; {ended} session(s) ended, {revoked} token(s) revoked")


@user_app.command("enable")
def user_enable(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="Login name.")]
) -> None:
    """Let a disabled user log in again (revoked tokens stay revoked: create new ones)."""
    shell = shell_of(ctx)
    with unit_of_work(shell.ready_engine()) as session:
        users.enable_user(session, name, datetime.now(UTC))
    out.print(f"{name} enabled")


def _token_row(token: ApiToken) -> dict[str, object]:
    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": token.id,
        "user": token.user_name,
        "created_at": when(token.created_at),
        "last_used_at": when(token.last_used_at),
        "revoked_at": when(token.revoked_at),
    }


@token_app.command("list")
def token_list(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option("--user", help="Only this user's tokens.")] = None,
    format_: Annotated[
        Literal["plain", "table", "csv", "json"],
        typer.Option("--format", help="Output format (plain and table are the same)."),
    ] = "plain",
) -> None:
    """The API tokens: id, user, created, last used, revoked (never the token itself)."""
    shell = shell_of(ctx)
    with unit_of_work(shell.ready_engine()) as session:
        rows = [_token_row(t) for t in users.list_tokens(session, user)]
    if format_ == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    names = ["id", "user", "created_at", "last_used_at", "revoked_at"]
    if format_ == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([("" if r[n] is None else r[n]) for n in names] for r in rows)
        return
    cells = [names] + [["-" if r[n] is None else str(r[n]) for n in names] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(names))]
    for row in cells:  # plain text, never a cut column
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    token_id: Annotated[int | None, typer.Argument(metavar="ID", help="Token id.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Every token of this user.")] = None,
) -> None:
    """Revoke one token (ID, see `notifier token list`) or every token of --user; at once."""
    if (token_id is None) == (user is None):
        raise typer.BadParameter("give a token ID or --user NAME, not both and not neither")
    shell = shell_of(ctx)
    now = datetime.now(UTC)
    with unit_of_work(shell.ready_engine()) as session:
        if token_id is not None:
            users.revoke_token(session, token_id, now)
            done = f"token {token_id} revoked"
        else:
            assert user is not None
            done = f"{users.revoke_tokens(session, user, now)} token(s) of {user} revoked"
    out.print(done)
