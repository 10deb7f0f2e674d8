"""Set-based writes that behave the same on SQLite and PostgreSQL.

Both functions send the driver plain statements of their own: on SQLite one
``executemany`` where nothing is read back, multi-row ``VALUES`` pages where RETURNING is;
on PostgreSQL one ``INSERT ... SELECT FROM unnest(arrays)`` with an array per column.
Each value still goes through its column's SQLAlchemy bind processing (UTC datetimes,
JSON ...), looked up once per column rather than once per row and parameter; a datetime
that repeats (a run's ``now``, a slot's start) is converted once per call. A column the
rows leave out gets its scalar default, as SQLAlchemy's own INSERT would send it;
anything else (a callable default, rows that name different columns, a driver of another
parameter style) goes through SQLAlchemy's own INSERT, with the same result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Column, Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import sqltypes
from sqlmodel import Session

Processor = Callable[[Any], Any] | None
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}
# Per dialect (an engine's own settings, e.g. a JSON serializer, may shape them) and table.
_BIND: WeakKeyDictionary[Dialect, dict[tuple[str, str], Processor]] = WeakKeyDictionary()
_RESULT: WeakKeyDictionary[Dialect, dict[tuple[str, str], Processor]] = WeakKeyDictionary()


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict_columns: Sequence[str] = (),
) -> None:
    """INSERT every row in one go (an ``executemany`` on SQLite, one statement of arrays on
    PostgreSQL), nothing read back (an append-only log, the events of a move). With
    ``conflict_columns``: ON CONFLICT (cols) DO NOTHING, a row whose key exists is left out
    (use :func:`insert_ignoring_conflicts` to learn which)."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    plan = _plan(table, rows, dialect)
    if plan is None:
        session.execute(_statement(table, dialect, conflict_columns), list(rows))
        return
    names, defaults = plan
    values = _values(table, rows, names, defaults, dialect)
    if _unnestable(table, names, dialect):
        connection.exec_driver_sql(
            _unnest(table, names, dialect, conflict_columns, ()), tuple(values)
        )
        return
    sql = _sql(table, tuple(names), 1, dialect, tuple(conflict_columns), ())
    connection.exec_driver_sql(sql, list(zip(*values, strict=True)))


def insert_ignoring_conflicts(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict_columns: Sequence[str],
    returning: Sequence[str] = ("id",),
) -> list[dict[str, Any]]:
    """INSERT ... ON CONFLICT (cols) DO NOTHING RETURNING ...: the rows actually inserted.

    A concurrent or repeated run that meets an existing key inserts nothing and reports
    nothing, so callers can record events for exactly what they created. The rows come
    back in the order the database inserted them (which is the order given on SQLite and
    PostgreSQL, not a promise of either): ask for the key to match them to their rows.
    """
    if not rows:
        return []
    connection = session.connection()
    dialect = connection.dialect
    plan = _plan(table, rows, dialect)
    if plan is None:
        statement = _statement(table, dialect, conflict_columns).returning(
            *(table.c[name] for name in returning)
        )
        return [dict(row._mapping) for row in session.execute(statement, list(rows))]
    names, defaults = plan
    columns = _values(table, rows, names, defaults, dialect)
    readers = [_result_processor(table.c[name], dialect) for name in returning]

    def read(found: Sequence[Any]) -> list[dict[str, Any]]:
        return [
            {
                name: value if reader is None else reader(value)
                for name, reader, value in zip(returning, readers, row, strict=True)
            }
            for row in found
        ]

    if _unnestable(table, names, dialect):
        sql = _unnest(table, names, dialect, conflict_columns, returning)
        return read(_fetch(connection, sql, tuple(columns)))
    width = len(names)
    per_page = max(1, min(dialect.insertmanyvalues_page_size,
                          dialect.insertmanyvalues_max_parameters // width))  # fmt: skip
    key, conflict = tuple(names), tuple(conflict_columns)
    inserted: list[dict[str, Any]] = []
    for start in range(0, len(rows), per_page):
        page = [column[start : start + per_page] for column in columns]
        count = len(page[0])
        flat = tuple(value for row in zip(*page, strict=True) for value in row)
        sql = _sql(table, key, count, dialect, conflict, tuple(returning))
        inserted.extend(read(_fetch(connection, sql, flat)))
    return inserted


def _statement(table: Table, dialect: Dialect, conflict_columns: Sequence[str]) -> Any:
    module: Any = postgresql if dialect.name == "postgresql" else sqlite
    statement = module.insert(table)
    if conflict_columns:
        statement = statement.on_conflict_do_nothing(index_elements=list(conflict_columns))
    return statement


def _plan(
    table: Table, rows: Sequence[dict[str, Any]], dialect: Dialect
) -> tuple[list[str], dict[str, Any]] | None:
    """The columns to send (the rows' own, then the scalar defaults of the others) and those
    defaults; None where the plain statement cannot say the same as SQLAlchemy's INSERT."""
    if dialect.paramstyle not in _PLACEHOLDERS or dialect.name not in ("sqlite", "postgresql"):
        return None
    names = list(rows[0])
    given = set(names)
    if any(len(row) != len(given) or not given.issuperset(row) for row in rows):
        return None  # rows that name different columns: SQLAlchemy says what that means
    defaults: dict[str, Any] = {}
    for column in table.c:
        if column.name in given:
            continue
        default = column.default
        if default is None:
            continue
        if not getattr(default, "is_scalar", False):
            return None  # a callable or a sequence: SQLAlchemy computes it per row
        defaults[column.name] = default.arg  # type: ignore[attr-defined]
    return [*names, *defaults], defaults


def _values(
    table: Table,
    rows: Sequence[dict[str, Any]],
    names: list[str],
    defaults: dict[str, Any],
    dialect: Dialect,
) -> list[list[Any]]:
    """Each column's values as the driver takes them, column by column."""
    columns: list[list[Any]] = []
    for name in names:
        process = _bind_processor(table.c[name], dialect)
        if name in defaults:
            value = defaults[name] if process is None else process(defaults[name])
            columns.append([value] * len(rows))
        elif process is None:
            columns.append([row[name] for row in rows])
        else:
            columns.append(_processed([row[name] for row in rows], process))
    return columns


def _processed(values: list[Any], process: Callable[[Any], Any]) -> list[Any]:
    """``process`` of each value; a datetime met again (same instant, zone and fold) is
    converted once."""
    memo: dict[tuple[datetime, Any, int], Any] = {}
    out: list[Any] = []
    append = out.append
    for value in values:
        if type(value) is datetime:
            key = (value, value.tzinfo, value.fold)
            done = memo.get(key, memo)
            if done is memo:
                done = memo[key] = process(value)
            append(done)
        else:
            append(process(value))
    return out


def _bind_processor(column: Column[Any], dialect: Dialect) -> Processor:
    cache = _BIND.setdefault(dialect, {})
    key = (column.table.fullname, column.name)
    if key not in cache:
        cache[key] = column.type.dialect_impl(dialect).bind_processor(dialect)
    return cache[key]


def _result_processor(column: Column[Any], dialect: Dialect) -> Processor:
    cache = _RESULT.setdefault(dialect, {})
    key = (column.table.fullname, column.name)
    if key not in cache:
        cache[key] = column.type.dialect_impl(dialect).result_processor(dialect, None)
    return cache[key]


def _sql(
    table: Table,
    names: tuple[str, ...],
    count: int,
    dialect: Dialect,
    conflict_columns: tuple[str, ...],
    returning: tuple[str, ...],
) -> str:
    """INSERT INTO table (names) VALUES (...) x count [ON CONFLICT ... DO NOTHING]
    [RETURNING ...], in the driver's own parameter style."""
    mark = _PLACEHOLDERS[dialect.paramstyle]
    group = "(" + ", ".join([mark] * len(names)) + ")"
    values = f"VALUES {', '.join([group] * count)}"
    return _insert(table, names, dialect, values, conflict_columns, returning)


def _unnestable(table: Table, names: Sequence[str], dialect: Dialect) -> bool:
    """PostgreSQL, and no column an array itself (unnest would flatten it)."""
    return dialect.name == "postgresql" and not any(
        isinstance(table.c[n].type, sqltypes.ARRAY) for n in names
    )


def _unnest(
    table: Table,
    names: Sequence[str],
    dialect: Dialect,
    conflict_columns: Sequence[str],
    returning: Sequence[str],
) -> str:
    """PostgreSQL: INSERT INTO table (names) SELECT * FROM unnest(one array per column)
    [ON CONFLICT ... DO NOTHING] [RETURNING ...]: a short statement whatever the number of
    rows (the driver parses a multi-row VALUES of thousands of parameters on every page),
    its arrays sent in binary (``%b``: the driver's text form escapes every element in
    Python), the rows inserted in the arrays' order."""
    arrays = ", ".join(f"%b::{table.c[n].type.compile(dialect=dialect)}[]" for n in names)
    source = f"SELECT * FROM unnest({arrays})"
    return _insert(table, names, dialect, source, conflict_columns, returning)


def _insert(
    table: Table,
    names: Sequence[str],
    dialect: Dialect,
    source: str,
    conflict_columns: Sequence[str],
    returning: Sequence[str],
) -> str:
    """INSERT INTO table (names) ``source`` [ON CONFLICT (cols) DO NOTHING] [RETURNING ...]."""
    quote = dialect.identifier_preparer.quote
    into = dialect.identifier_preparer.format_table(table)
    sql = f"INSERT INTO {into} ({', '.join(quote(n) for n in names)}) {source}"
    if conflict_columns:
        sql += f" ON CONFLICT ({', '.join(quote(n) for n in conflict_columns)}) DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(quote(n) for n in returning)}"
    return sql


def _fetch(connection: Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    return list(connection.exec_driver_sql(sql, params).all())
