"""Shared fixtures: a real, migrated SQLite database per test, and the shipped policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from notifier.domain.policy import Policy
from notifier.settings import load_policy
from notifier.store.db import make_engine
from notifier.store.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def policy() -> Policy:
    return load_policy(ROOT / "config" / "notifier.toml")


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'notifier.db'}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()
