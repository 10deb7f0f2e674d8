"""/healthz proves the database takes a write: a write lock held elsewhere or a read-only
database is 503 with the reason, answered within the probe's short lock timeout."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from notifier.domain.policy import Policy
from notifier.settings import Settings
from notifier.store.db import make_engine
from notifier.web import create_app, ops


@pytest.fixture(autouse=True)
def fresh_probe(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every /healthz probes again (the reuse of a recent answer is tested on its own)."""
    monkeypatch.setattr(ops, "PROBE_REUSE_SECONDS", 0.0)
    monkeypatch.setattr(ops, "_probe", ops._Probe())
    yield


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
    assert client.get("/healthz").status_code == 200


def test_the_probe_gives_the_connection_back_with_the_engines_own_busy_timeout(
    engine: Engine, policy: Policy
) -> None:
    assert engine.url.database is not None
    patient = make_engine(engine.url, busy_timeout_ms=1234)
    try:
        client = TestClient(create_app(Settings(), policy, patient))
        assert client.get("/healthz").status_code == 200
        with patient.connect() as connection:  # the pooled connection the probe used
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 1234
    finally:
        patient.dispose()


def test_a_flood_of_health_checks_takes_the_write_lock_once(
    engine: Engine, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ops, "PROBE_REUSE_SECONDS", 3600.0)
    writes: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("UPDATE alembic_version"):
            writes.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    client = TestClient(create_app(Settings(), policy, engine))
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: client.get("/healthz").status_code, range(40)))
    assert answers == [200] * 40
    assert len(writes) == 1


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
