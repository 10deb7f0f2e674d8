"""Engines and the unit of work.

SQLite is the embedded default: WAL so readers never block the writer, a busy timeout so
concurrent processes wait instead of failing, and foreign keys on (SQLite leaves them off).
PostgreSQL uses the same models and statements, through psycopg 3 (the ``postgresql``
extra): a plain ``postgresql://`` URL, as pasted from a server's docs, means psycopg.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlmodel import Session

# How long a SQLite connection waits for another process's write lock before it fails
# with "database is locked" (the NOTIFIER_SQLITE_BUSY_TIMEOUT_SECONDS setting).
BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str | URL, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS, **kwargs: Any) -> Engine:
    """An engine on ``url``. Its errors never carry the statement's parameters (phone
    numbers, e-mails, message bodies): they end up in logs and on terminals."""
    parsed = database_url(url)
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        _ensure_sqlite_dir(parsed)
        engine = create_engine(
            parsed,
            connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
            **kwargs,
        )
        event.listen(engine, "connect", partial(_sqlite_pragmas, busy_timeout_ms=busy_timeout_ms))
        return engine
    return create_engine(parsed, pool_pre_ping=True, **kwargs)


def database_url(url: str | URL) -> URL:
    """``url`` parsed; ``postgresql://`` and ``postgres://`` mean the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, busy_timeout_ms: int) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _ensure_sqlite_dir(url: URL) -> None:
    path = url.database or ""
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)


# The connection of the dry run in progress in this context, if any (see dry_run).
_dry_run: ContextVar[Connection | None] = ContextVar("notifier_dry_run", default=None)


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back on any exception.

    Helpers below never commit; the caller that opened the unit of work decides. Inside
    :func:`dry_run` it is a savepoint of the dry run's transaction instead.
    """
    rehearsing = _dry_run.get()
    if rehearsing is None:
        session = Session(engine, expire_on_commit=False)
    elif rehearsing.engine is engine:
        session = Session(bind=rehearsing, expire_on_commit=False,
                          join_transaction_mode="create_savepoint")  # fmt: skip
    else:  # it would write for real in the middle of a dry run
        raise RuntimeError("a unit of work on another engine inside a dry run")
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def dry_run(engine: Engine) -> Iterator[None]:
    """Run code that writes, and write nothing: every :func:`unit_of_work` on ``engine``
    opened inside the block (in this thread) becomes a savepoint of one transaction that is
    rolled back when the block ends. Each unit reads what the earlier ones wrote, so a
    sweep runs its one code path and reports what it would have done (``--dry-run``).

    Its writes hold their locks until the end: on SQLite other writers wait (up to the
    busy timeout), on PostgreSQL the rows it touched. Sequences (PostgreSQL ids) advance.
    """
    if _dry_run.get() is not None:
        raise RuntimeError("dry runs do not nest")
    connection = engine.connect()
    try:
        outer = connection.begin()
        if engine.dialect.name == "sqlite":
            # pysqlite begins a transaction only before DML, and SQLite commits a SAVEPOINT
            # released outside one: take the transaction over (SQLAlchemy's pysqlite
            # recipe), on this connection only; it is discarded afterwards.
            connection.connection.driver_connection.isolation_level = None  # type: ignore[union-attr]
            connection.exec_driver_sql("BEGIN")
        token = _dry_run.set(connection)
        try:
            yield
        finally:
            _dry_run.reset(token)
            outer.rollback()
    finally:
        if engine.dialect.name == "sqlite":
            connection.invalidate()  # not back to the pool with the driver's mode changed
        connection.close()
