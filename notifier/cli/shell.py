"""What every command shares: settings, policy, engine, the clock and argument parsing."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import click
import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlmodel import Session

from notifier.domain.bounds import OutOfBounds, check_date
from notifier.domain.calendar import WorkCalendar
from notifier.domain.errors import Refused
from notifier.domain.ids import MAX_RECORD_ID
from notifier.domain.policy import LimitsPolicy, Policy
from notifier.render import Renderer
from notifier.settings import Settings, load_policy, load_settings
from notifier.store.db import database_url, make_engine
from notifier.store.models import User
from notifier.sweeps.context import SweepContext

if TYPE_CHECKING:  # the channels (Twilio, SMTP) and Alembic load only for the commands
    from notifier.channels import Channel  # that use them: every command starts sooner
    from notifier.tracking import Tracker

# Piped or redirected, there is no terminal to fit: Rich would take 80 columns and cut a
# table's cells ("INV-2026-01…"). As wide as the table needs then; on a terminal a cell
# wraps (the tables fold their cells), nothing is cut either.
PIPED_WIDTH = 10_000


def _console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    piped = not (hasattr(stream, "isatty") and stream.isatty())
    return Console(stderr=stderr, soft_wrap=True, width=PIPED_WIDTH if piped else None)


out = _console()
err = _console(stderr=True)


class InvalidInput(Refused):
    """Bad input from the user: printed as is, exit code 1."""


@dataclass
class Shell:
    db: str | None = None
    config: Path | None = None

    @cached_property
    def settings(self) -> Settings:
        overrides: dict[str, object] = {}
        if self.db:
            overrides["database_url"] = self.db
        if self.config:
            overrides["config_path"] = self.config
        return load_settings(**overrides)

    @cached_property
    def policy(self) -> Policy:
        return load_policy(self.settings.config_path)

    @cached_property
    def calendar(self) -> WorkCalendar:
        return WorkCalendar(self.policy.calendar)

    @cached_property
    def engine(self) -> Engine:
        timeout_ms = round(self.settings.sqlite_busy_timeout_seconds * 1000)
        return make_engine(self.settings.database_url, busy_timeout_ms=timeout_ms)

    def database_shown(self) -> str:
        """The database URL for a message, password masked; never fails (it is used while
        reporting another failure)."""
        url = self.db
        if "settings" in self.__dict__:  # cached_property: loaded already, and it worked
            url = self.settings.database_url
        if url is None:
            return "the database"
        if url.startswith("sqlite"):  # no password to mask; shown as the user wrote it
            return url
        try:
            return database_url(url).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001  (an unparsable URL: never print it, it may hold a password)
            return "the database (its URL cannot be read)"

    @cached_property
    def sweep_context(self) -> SweepContext:
        # Development picks up a template edited on disk; production compiles each once.
        renderer = Renderer(
            self.settings.templates_dir, auto_reload=self.settings.environment == "development"
        )
        return SweepContext(policy=self.policy, calendar=self.calendar, renderer=renderer)

    @cached_property
    def tracker(self) -> Tracker:
        from notifier.wiring import tracker_for

        return tracker_for(self.settings)

    def channels(self) -> dict[str, Channel]:
        from notifier.wiring import channels_for

        return channels_for(self.settings)

    def ready_engine(self) -> Engine:
        """The engine of a database whose schema is up to date; else a clear error."""
        from notifier.store.migrate import is_current  # Alembic: only once a command runs

        if not is_current(self.engine):
            raise InvalidInput(
                f"the database {self.engine.url} has no current schema: "  # password masked
                "run `notifier init` first"
            )
        return self.engine


def os_login() -> str:
    """The operating system's login name, or "" when there is none (some containers):
    ``--as`` defaults to the notifier user of that name."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""


# Why the user named so may not act, or None; ``user`` is None when no user has the name.
# Every problem refuses an unknown user (services: decider_problem, escalator_problem).
Problem = Callable[[User | None, str], str | None]


def user_problem(user: User | None, name: str) -> str | None:
    """An unknown or a disabled user may not act."""
    if user is None:
        return f"no user {name!r}: add one with `notifier user add {name} --role ...`"
    if not user.active:
        return f"user {name!r} is disabled"
    return None


def unknown_user(user: User | None, name: str) -> str | None:
    """Only that no user has the name (what else is wrong with the user is told apart)."""
    return f"no user {name!r}" if user is None else None


def acting_name(name: str | None, question: str) -> str:
    """Who acts, by name only, for a service that checks the user itself: ``--as``, else
    the OS login; refused with ``question`` ("who did it? pass --as NAME") without one."""
    if name is not None:
        return name
    login = os_login()
    if not login:
        raise InvalidInput(question)
    return login


def acting_user(
    session: Session,
    name: str | None,
    question: str,
    problem: Problem = user_problem,
    *,
    login_problem: Problem | None = unknown_user,
) -> User:
    """Who acts: the user ``--as`` names, else the one named like the OS login. The name
    stands in the customer's evidence, so it is never a guess: a user ``problem`` finds
    something wrong with is refused (exit 1) with that problem.

    ``question`` asks for ``--as`` ("who calls? pass --as NAME"). With ``login_problem``,
    the login stands in only when that finds nothing wrong with it; else, and without a
    login, the refusal is the question naming the login ("...; 'wang' is not one").
    Without it, the login counts as if given with ``--as``: only its absence is asked."""
    if name is None:
        if login_problem is None:
            name = acting_name(None, question)
        else:
            login = os_login()
            if not login or login_problem(session.get(User, login), login) is not None:
                raise InvalidInput(f"{question}; {login or 'your login'!r} is not one")
            name = login
    user = session.get(User, name)
    why = problem(user, name)
    if why is not None:
        raise InvalidInput(why)
    assert user is not None  # every problem refuses an unknown user
    return user


def say(text: str) -> None:
    """A line as it is written: no Rich markup or highlighting (a name may hold "[b]")."""
    out.print(text, markup=False, highlight=False)


def shell_of(ctx: typer.Context) -> Shell:
    shell = ctx.find_root().obj
    assert isinstance(shell, Shell)
    return shell


def _limits(limits: LimitsPolicy | None) -> LimitsPolicy:
    """The window ``--at`` must fall in: the given one, else the running command's policy
    (so that every command's ``--at`` is checked without passing it), else the defaults."""
    if limits is not None:
        return limits
    ctx = click.get_current_context(silent=True)
    shell = ctx.find_root().obj if ctx is not None else None
    return shell.policy.limits if isinstance(shell, Shell) else LimitsPolicy()


def _within(value: str, day: date, limits: LimitsPolicy | None) -> None:
    """A date outside the policy's window is bad input (exit 1, one line), not a usage
    error: ``--at 9999-12-31`` would otherwise overflow deep in a report."""
    try:
        check_date(day, _limits(limits))
    except OutOfBounds as exc:
        raise InvalidInput(f"--at {value}: {exc}") from None


def parse_instant(value: str | None, limits: LimitsPolicy | None = None) -> datetime:
    """``--at``: ISO 8601 with an offset, inside the policy's date window; the current
    instant when not given."""
    if value is None:
        return datetime.now(UTC)
    try:
        instant = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 instant, e.g. 2026-03-02T09:00:00+08:00"
        ) from exc
    if instant.tzinfo is None:
        raise typer.BadParameter(
            f"{value!r} has no UTC offset: write e.g. {value}+08:00 or {value}Z"
        )
    _within(value, instant.date(), limits)
    return instant


def parse_day(value: str | None, limits: LimitsPolicy | None = None) -> date:
    """``--at`` of a report: YYYY-MM-DD inside the policy's date window; today (UTC) when
    not given."""
    if value is None:
        return datetime.now(UTC).date()
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date YYYY-MM-DD") from exc
    _within(value, day, limits)
    return day


def record_id(help: str, metavar: str = "ID") -> Any:
    """A record's number as a command takes it: from 1 to the widest id the stores keep,
    so a longer number is refused by name instead of failing inside the database."""
    return typer.Argument(metavar=metavar, help=help, min=1, max=MAX_RECORD_ID)


def read_text_file(path: Path, max_chars: int) -> str:
    """A UTF-8 text file of at most ``max_chars`` characters, read only when its size
    allows that many (4 bytes a character at most): a wrong file is refused by name before
    it is read whole."""
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    if path.stat().st_size > 4 * max_chars:
        raise InvalidInput(f"{path}: longer than {max_chars} characters")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}: not UTF-8 text") from exc


AtOption = Annotated[
    str | None,
    typer.Option("--at", help="Instant to evaluate at, ISO 8601 with offset (default: now)."),
]

OutputOption = Annotated[
    Path | None, typer.Option("-o", "--output", help="Write to this file (needed for xlsx).")
]
TextLocaleOption = Annotated[
    Literal["zh-CN", "en"],
    typer.Option("--locale", help="Language of the text (the codes are in --json)."),
]
ExportLocaleOption = Annotated[
    Literal["zh-CN", "en"],
    typer.Option("--locale", help="Language of the headers and labels (table, xlsx)."),
]


def check_output(format_: str, output: Path | None) -> None:
    """Before any work: a workbook is written to a file, never to the terminal."""
    if format_ == "xlsx" and output is None:
        raise InvalidInput("--format xlsx writes a workbook: name the file with -o FILE.xlsx")
