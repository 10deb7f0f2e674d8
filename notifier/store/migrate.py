"""`notifier init`: create or upgrade the schema with the packaged Alembic migrations.

Every other command only asks whether the schema is current (:func:`is_current`): that
reads Alembic's version table with one SELECT and compares it with :data:`HEAD`, without
loading Alembic and its migration scripts (a quarter of a second at every command's
start). ``tests/integration/test_store.py`` checks that HEAD is Alembic's own head."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
HEAD = "0015"  # the newest revision in migrations/versions: a new migration moves it
VERSION_TABLE = "alembic_version"  # where Alembic keeps the schema's revision


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; returns (before, after)."""
    from alembic import command
    from alembic.script import ScriptDirectory

    config = alembic_config(engine)
    before = current_revision(engine)
    command.upgrade(config, "head")
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return before, head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_current(engine: Engine) -> bool:
    """Whether the schema is at :data:`HEAD` (an empty or older database is not)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return False
        found = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    return [row[0] for row in found] == [HEAD]
