"""/healthz proves the database takes a write: a write lock held elsewhere or a read-only
database is 503 with the reason, answered within the probe's short lock timeout."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from notifier.domain.policy import Policy
from notifier.settings import Settings
from notifier.store.db import make_engine
from notifier.web import create_app


def _file(engine: Engine) -> Path:
    assert engine.url.database is not None
    return Path(engine.url.database)


def test_healthz_is_503_locked_while_another_connection_holds_the_write_lock(
    engine: Engine, policy: Policy
) -> None:
    client = TestClient(create_app(Settings(), policy, engine))
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    with closing(sqlite3.connect(_file(engine), isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")
        answer = client.get("/healthz")
        assert answer.status_code == 503
        assert answer.json() == {"status": "down", "database": "locked"}
        other.execute("ROLLBACK")
    assert client.get("/healthz").status_code == 200  # and the app's own patience is back


def test_healthz_is_503_read_only_on_a_database_opened_read_only(
    engine: Engine, policy: Policy
) -> None:
    read_only = make_engine(f"sqlite:///file:{_file(engine)}?mode=ro&uri=true")
    try:
        answer = TestClient(create_app(Settings(), policy, read_only)).get("/healthz")
    finally:
        read_only.dispose()
    assert answer.status_code == 503
    assert answer.json() == {"status": "down", "database": "read-only"}


def test_healthz_on_postgresql_is_ok_then_503_locked_under_a_table_lock(
    pg_url: str, policy: Policy
) -> None:
    engine, other = make_engine(pg_url), make_engine(pg_url)
    try:
        client = TestClient(create_app(Settings(), policy, engine))
        assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
        with other.begin() as holder:
            holder.exec_driver_sql("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
            answer = client.get("/healthz")
        assert answer.status_code == 503
        assert answer.json() == {"status": "down", "database": "locked"}
        assert client.get("/healthz").status_code == 200
    finally:
        engine.dispose()
        other.dispose()
