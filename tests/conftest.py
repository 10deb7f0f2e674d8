"""Shared fixtures: a real, migrated database per test, and the shipped policy.

Two stores (DESIGN.md): SQLite, the embedded default, and PostgreSQL, the scale-out store.

- ``db_url``: the URL of a fresh database for one test. On SQLite a new file (empty:
  ``engine`` or ``notifier init`` creates the schema); on PostgreSQL a new database
  cloned from a template migrated once per session, so it already holds the schema
  (``notifier init`` and ``upgrade`` on it change nothing).
- ``engine``: an engine on ``db_url``, migrated (a new SQLite file starts as a copy of a
  template migrated once per session).
- ``blank_db_url``: like ``db_url`` but with no schema at all, on either store.
- ``pg_url``: a fresh, migrated, empty PostgreSQL database, whatever the module.

The tests of the store, sweeps and delivery run on both stores: every test of a module
listed in ``BOTH_STORES`` that uses ``db_url``, ``engine`` or ``blank_db_url`` (directly or
through another fixture) runs twice, with ids ``[sqlite]`` and ``[postgresql]``; a test
can read the ``store`` fixture to tell which. Everything else (unit tests, the browser
tests) runs on SQLite only.

PostgreSQL is a throwaway cluster started on 127.0.0.1 for the session from Debian's
packages (tests/fakes/postgres.py), or the server named by NOTIFIER_TEST_POSTGRES_URL.
Where it cannot start, the PostgreSQL tests are skipped with the reason.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from notifier.domain.policy import Policy
from notifier.settings import load_policy
from notifier.store.db import make_engine
from notifier.store.migrate import upgrade
from tests.fakes.postgres import PostgresUnavailable, Server, start_server

ROOT = Path(__file__).resolve().parent.parent
STORES = ("sqlite", "postgresql")
BOTH_STORES = frozenset(
    ROOT / "tests" / "integration" / f"{name}.py"
    for name in (
        "test_store",
        "test_letters",  # issue 15: letters and the legal route
        "test_legal_route",
        "test_deliver",
        "test_deliver_groups",
        "test_plan_replay",
        "test_fallback",
        "test_delivery_e2e",
        "test_webhooks",
        "test_inbound",
        "test_import",
        "test_customers_service",
        "test_instalment_plans",
        "test_cli_queue",
        "test_review_races",
        "test_reminder_store",
        "test_safe_replays",
        "test_escalation",
        "test_evidence",
        "test_incremental_planning",
        "test_calls_flow",
    )
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if Path(metafunc.definition.path).resolve() in BOTH_STORES and "store" in metafunc.fixturenames:
        metafunc.parametrize("store", STORES, indirect=True, scope="module")


@pytest.fixture
def policy() -> Policy:
    return load_policy(ROOT / "config" / "notifier.toml")


@pytest.fixture(scope="module")
def store(request: pytest.FixtureRequest) -> str:
    """Which store this test runs on: "sqlite", or "postgresql" in BOTH_STORES modules."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def db_url(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if store == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path / 'notifier.db'}"


@pytest.fixture
def blank_db_url(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    if store != "postgresql":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    server: Server = request.getfixturevalue("postgres_server")
    with server.database() as url:
        yield url


@pytest.fixture
def engine(db_url: str, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine on ``db_url``, migrated: a SQLite file that does not exist yet starts as
    a copy of the session's migrated template (the same schema ``upgrade`` writes, in a
    fraction of the time); any other database is upgraded in place."""
    path = _sqlite_path(db_url)
    fresh = path is not None and not path.exists()
    if fresh:
        assert path is not None
        _copy_sqlite(request.getfixturevalue("sqlite_template"), path)
    engine = make_engine(db_url)
    if not fresh:
        upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to the newest schema once per session (per xdist
    worker), copied by ``engine`` for each test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return path


def _sqlite_path(url: str) -> Path | None:
    """The file of a plain ``sqlite:///PATH`` URL (no query, no in-memory database)."""
    parsed = make_url(url)
    name = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or parsed.query or name in ("", ":memory:"):
        return None
    if name.startswith("file:"):
        return None
    return Path(name)


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of the database ``source`` (with its WAL, if any) at ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(source)) as old, closing(sqlite3.connect(target)) as new:
        old.backup(new)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Server]:
    """The session's PostgreSQL server; skips (once, with the reason) if there is none."""
    try:
        server = start_server()
    except PostgresUnavailable as unavailable:
        pytest.skip(f"PostgreSQL unavailable: {unavailable}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres_server: Server) -> Iterator[str]:
    """The name of a database migrated to the newest schema once per session, to clone."""
    name = postgres_server.create_database()
    engine = make_engine(postgres_server.url(name))
    try:
        upgrade(engine)
    finally:
        engine.dispose()  # a template must have no connections while it is cloned
    yield name
    postgres_server.drop_database(name)


@pytest.fixture
def pg_url(postgres_server: Server, postgres_template: str) -> Iterator[str]:
    """A fresh, migrated, empty PostgreSQL database (``postgresql+psycopg://`` URL)."""
    with postgres_server.database(postgres_template) as url:
        yield url


@pytest.fixture(scope="session", autouse=True)
def no_key_file_left_in_the_repository() -> Iterator[None]:
    """Every test that starts `notifier` sets a secret key or runs in its own folder: a
    development key file generated in the repository would be a test writing outside its
    tmp_path (and a stale key for the next run)."""
    stray = ROOT / "notifier.secret"
    before = stray.exists()
    yield
    assert before or not stray.exists(), f"a test left {stray} behind"
