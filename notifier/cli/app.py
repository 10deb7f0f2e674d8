"""The Typer application and its sub-command groups; commands register themselves in the
modules of this package (data, queue, service)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from notifier.cli.shell import Shell

app = typer.Typer(
    name="notifier",
    help="Schedules, reviews and sends debt-collection reminders.",
    no_args_is_help=True,
    # Plain help and usage errors: one line per error (a script's grep finds it), not
    # a box that wraps it at 80 columns; the command list joins each summary's lines.
    rich_markup_mode=None,
    context_settings={"max_content_width": 120},  # a wide terminal shows whole summaries
    pretty_exceptions_enable=False,
    add_completion=False,
)
report_app = typer.Typer(help="Reports over the portfolio.", no_args_is_help=True)
user_app = typer.Typer(help="Logins for reviewers, collectors, managers and admins.",
                       no_args_is_help=True)  # fmt: skip
token_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)
app.add_typer(report_app, name="report")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")


@app.callback()
def _root(
    ctx: typer.Context,
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL (default: NOTIFIER_DATABASE_URL).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Policy file (default: config/notifier.toml).")
    ] = None,
) -> None:
    # main() passes the Shell in, to name the database if the command fails.
    shell = ctx.ensure_object(Shell)
    shell.db, shell.config = db, config
