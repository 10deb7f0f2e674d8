"""Long-running processes and people: serve, worker, user add, token create."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

import typer
import uvicorn

from notifier.cli.app import app, token_app, user_app
from notifier.cli.shell import InvalidInput, out, shell_of
from notifier.scheduler import Wiring, build_scheduler
from notifier.store.db import unit_of_work
from notifier.users import ROLES, UserError, add_user, create_token
from notifier.web import create_app


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")


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
    clock = (
        build_scheduler(engine, shell.sweep_context, wire, blocking=False) if scheduler else None
    )
    if clock is not None:
        clock.start()
    try:
        uvicorn.run(web, host=host, port=port, log_level="info")
    finally:
        if clock is not None:
            clock.shutdown(wait=False)


@app.command()
def worker(ctx: typer.Context) -> None:
    """The scheduler and its sweeps only, no web (run several, on several machines)."""
    shell = shell_of(ctx)
    _logging()
    wire = Wiring(shell.channels, shell.tracker)
    scheduler = build_scheduler(shell.ready_engine(), shell.sweep_context, wire, blocking=True)
    out.print(f"worker {shell.sweep_context.worker} running; Ctrl-C stops it")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)


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
