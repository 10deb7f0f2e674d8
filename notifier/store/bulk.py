"""Set-based writes that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session


def insert_ignoring_conflicts(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict_columns: Sequence[str],
    returning: Sequence[str] = ("id",),
) -> list[dict[str, Any]]:
    """INSERT ... ON CONFLICT (cols) DO NOTHING RETURNING ...: the rows actually inserted.

    A concurrent or repeated run that meets an existing key inserts nothing and reports
    nothing, so callers can record events for exactly what they created.
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement = (
        module.insert(table)
        .on_conflict_do_nothing(index_elements=list(conflict_columns))
        .returning(*(table.c[name] for name in returning))
    )
    result = session.execute(statement, list(rows))
    return [dict(row._mapping) for row in result]
