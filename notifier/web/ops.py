"""Health and metrics for operators: ``GET /healthz`` and ``GET /metrics`` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from notifier.review import STATUSES, count_by_status
from notifier.store.db import unit_of_work
from notifier.web.state import State

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz(state: State) -> JSONResponse:
    try:
        with state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return JSONResponse({"status": "down", "database": type(exc).__name__}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


@router.get("/metrics")
def metrics(state: State) -> Response:
    registry = CollectorRegistry()
    reminders = Gauge("notifier_reminders", "Reminders by status.", ["status"],
                      registry=registry)  # fmt: skip
    with unit_of_work(state.engine) as session:
        counts = count_by_status(session)
    for name in STATUSES:
        reminders.labels(status=name).set(counts.get(name, 0))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
