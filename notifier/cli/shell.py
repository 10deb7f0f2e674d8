"""What every command shares: settings, policy, engine, the clock and argument parsing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine

from notifier.channels import Channel
from notifier.domain.calendar import WorkCalendar
from notifier.domain.policy import Policy
from notifier.render import Renderer
from notifier.settings import Settings, load_policy, load_settings
from notifier.store.db import make_engine
from notifier.store.migrate import is_current
from notifier.sweeps.context import SweepContext
from notifier.tracking import Tracker
from notifier.wiring import channels_for, tracker_for

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class InvalidInput(Exception):
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
        return make_engine(self.settings.database_url)

    @cached_property
    def sweep_context(self) -> SweepContext:
        return SweepContext(policy=self.policy, calendar=self.calendar, renderer=Renderer())

    @cached_property
    def tracker(self) -> Tracker:
        return tracker_for(self.settings)

    def channels(self) -> dict[str, Channel]:
        return channels_for(self.settings)

    def ready_engine(self) -> Engine:
        """The engine of a database whose schema is up to date; else a clear error."""
        if not is_current(self.engine):
            raise InvalidInput(
                f"the database {self.engine.url} has no current schema: "  # password masked
                "run `notifier init` first"
            )
        return self.engine


def shell_of(ctx: typer.Context) -> Shell:
    shell = ctx.find_root().obj
    assert isinstance(shell, Shell)
    return shell


def parse_instant(value: str | None) -> datetime:
    """``--at``: ISO 8601 with an offset; the current instant when not given."""
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
    return instant


def parse_day(value: str | None) -> date:
    if value is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date YYYY-MM-DD") from exc


AtOption = Annotated[
    str | None,
    typer.Option("--at", help="Instant to evaluate at, ISO 8601 with offset (default: now)."),
]
