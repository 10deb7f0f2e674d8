"""Health and metrics for operators: ``GET /healthz`` and ``GET /metrics`` (Prometheus).

``/healthz`` is public (load balancers) and proves the database can take a write, not just
a read: a locked or read-only database makes the app useless to reviewers and webhooks
while a ``SELECT 1`` still succeeds. ``/metrics`` needs the metrics token or the API token
of a manager or an admin (``Authorization: Bearer ...``).
"""

from __future__ import annotations

import hmac
import threading
import time
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Response, status
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from notifier.services.review import STATUSES, count_by_status
from notifier.services.users import user_for_token
from notifier.store.db import unit_of_work
from notifier.web.state import AppState, State

router = APIRouter(tags=["operations"])
PROBE_TIMEOUT_MS = 500  # how long the probe waits for a write lock held elsewhere
# /healthz is public: a flood of probes must not queue for the write lock in front of the
# sweeps. One probe at a time per process, and its answer is reused for this long.
PROBE_REUSE_SECONDS = 2.0
METRICS_ROLES = frozenset({"manager", "admin"})
# A real write that changes nothing, rolled back: the one row every migrated store has.
_PROBE = text("UPDATE alembic_version SET version_num = version_num")


def _probe_write(connection: Connection) -> None:
    """The probe write under a short lock timeout, then rolled back."""
    sqlite = connection.dialect.name == "sqlite"
    usual = 0
    try:
        if sqlite:
            usual = int(connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one())
            connection.exec_driver_sql(f"PRAGMA busy_timeout={PROBE_TIMEOUT_MS}")
        else:
            connection.execute(text(f"SET LOCAL lock_timeout = '{PROBE_TIMEOUT_MS}ms'"))
        connection.execute(_PROBE)
    finally:
        connection.rollback()
        if sqlite:  # the pooled connection goes back with the app's usual patience
            connection.exec_driver_sql(f"PRAGMA busy_timeout={usual}")


def database_problem(engine: Engine) -> str | None:
    """None when the database takes a write; else one word for the operator."""
    try:
        with engine.connect() as connection:
            _probe_write(connection)
    except SQLAlchemyError as exc:
        return _describe(exc)
    return None


def _describe(exc: SQLAlchemyError) -> str:
    """Never the error's own text: it may carry SQL and its parameters."""
    found = str(getattr(exc, "orig", exc)).lower()
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    if "locked" in found or "lock timeout" in found or code in ("55P03", "57014"):
        return "locked"
    if "readonly" in found or "read-only" in found or code == "25006":
        return "read-only"
    if "no such table" in found or code == "42P01":
        return "not initialised (run `notifier init`)"
    return "unavailable"


class _Probe:
    """The last probe's answer per engine, reused for PROBE_REUSE_SECONDS (monotonic)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[int, tuple[float, str | None]] = {}

    def problem(self, engine: Engine) -> str | None:
        with self._lock:  # one probe at a time: the others wait and take its answer
            seen = self._last.get(id(engine))
            if seen is not None and time.monotonic() - seen[0] < PROBE_REUSE_SECONDS:
                return seen[1]
            found = database_problem(engine)
            self._last[id(engine)] = (time.monotonic(), found)
            return found


_probe = _Probe()


@router.get("/healthz")
def healthz(state: State) -> JSONResponse:
    problem = _probe.problem(state.engine)
    if problem is not None:
        return JSONResponse({"status": "down", "database": problem}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


def _metrics_reader(state: AppState, authorization: str | None) -> None:
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "the metrics token or a manager's API token is needed",
            headers={"WWW-Authenticate": "Bearer"},
        )  # fmt: skip
    expected = state.settings.metrics_token.get_secret_value()
    if expected and hmac.compare_digest(expected.encode(), token.encode()):
        return
    with unit_of_work(state.engine) as session:
        user = user_for_token(session, token)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked token",
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    if user.role not in METRICS_ROLES:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"a {user.role} may not read metrics")


@router.get("/metrics")
def metrics(state: State, authorization: Annotated[str | None, Header()] = None) -> Response:
    _metrics_reader(state, authorization)
    registry = CollectorRegistry()
    reminders = Gauge("notifier_reminders", "Reminders by status.", ["status"],
                      registry=registry)  # fmt: skip
    with unit_of_work(state.engine) as session:
        counts = count_by_status(session)
    for name in STATUSES:
        reminders.labels(status=name).set(counts.get(name, 0))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
