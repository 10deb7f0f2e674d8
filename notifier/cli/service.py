"""Long-running processes and people: serve, worker, user add, token create."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from types import FrameType
from typing import Annotated

import typer
import uvicorn

from notifier.cli.app import app, token_app, user_app
from notifier.cli.shell import InvalidInput, out, shell_of
from notifier.scheduler import Wiring, build_scheduler
from notifier.store.db import unit_of_work
from notifier.users import ROLES, UserError, add_user, create_token
from notifier.web import create_app

log = logging.getLogger("notifier.worker")


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # The Twilio SDK logs every request (URL and headers, a dozen lines) at INFO; the SMS
    # channel logs one masked line per message itself.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


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
    shell = shell_of(ctx)
    _logging()
    engine = shell.ready_engine()
    web = create_app(shell.settings, shell.policy, engine)
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
    shell = shell_of(ctx)
    _logging()
    wire = Wiring(shell.channels, shell.tracker)
    stop = threading.Event()
    name = shell.sweep_context.worker
    scheduler = build_scheduler(
        shell.ready_engine(), shell.sweep_context, wire, blocking=True,
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
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    shell = shell_of(ctx)
    try:
        with unit_of_work(shell.ready_engine()) as session:
            add_user(session, name, role, password, datetime.now(UTC), locale)
    except UserError as exc:
        raise InvalidInput(str(exc)) from exc
    out.print(f"user {name} added as {role}")


@token_app.command("create")
def token_create(
    ctx: typer.Context, user: Annotated[str, typer.Argument(help="Login name.")]
) -> None:
    """Print a new API bearer token for USER (shown once; only its hash is kept)."""
    shell = shell_of(ctx)
    try:
        with unit_of_work(shell.ready_engine()) as session:
            token = create_token(session, user, datetime.now(UTC))
    except UserError as exc:
        raise InvalidInput(str(exc)) from exc
    print(token)
