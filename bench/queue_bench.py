"""The approval queue's first page with many drafts in the database (issue: web app):
server time of ``GET /`` (the reviewer's queue page, 50 rows, filtered and not) and of
``GET /api/drafts``, measured in-process with the ASGI test client, so network and
browser time are not counted.

    python -m bench.queue_bench --drafts 1000000 [--json]

The drafts are synthetic and inserted set-based (``INSERT ... SELECT`` over a recursive
counter, in SQL): a million rows without a million Python dicts. Customers number 0.3 a
draft, as in the planning portfolio; each has one receivable.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from notifier.services.users import add_user, create_token
from notifier.settings import Settings, load_policy
from notifier.store.db import make_engine, unit_of_work
from notifier.store.migrate import upgrade
from notifier.web import create_app

T0 = datetime(2026, 3, 2, tzinfo=UTC)
COLLECTORS = ("张伟", "李娜", "王磊", "赵敏")
STAGES = ("pre_due", "m1", "m2", "m3", "legal")
CUSTOMERS_PER_DRAFT = 0.3
# The pages measured: the headline (queue_p95_ms) is the filtered one.
PAGES = {
    "queue_page_sms_m1": "/?channel=sms&stage=m1",
    "queue_page_collector": "/?collector=%E6%9D%8E%E5%A8%9C",
    "queue_page": "/",
}
HEADLINE = "queue_page_sms_m1"

_COUNTER = "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :last) "
_CUSTOMERS = (
    _COUNTER
    + """
INSERT INTO customers (id, name, kind, phone, email, timezone, locale, country, tier_hand_set,
    collector, legal_authorised, sms_opt_out, email_opt_out, phone_invalid, created_at,
    updated_at)
SELECT printf('C%07d', i), '客户' || i, CASE i % 2 WHEN 1 THEN 'business' ELSE 'individual' END,
    printf('+86139%08d', i), 'c' || i || '@x.example', 'Asia/Shanghai', 'zh-CN', 'CN', 0,
    CASE i % 4 WHEN 0 THEN '张伟' WHEN 1 THEN '李娜' WHEN 2 THEN '王磊' ELSE '赵敏' END,
    0, 0, 0, 0, :t0, :t0
FROM n"""
)
_RECEIVABLES = (
    _COUNTER
    + """
INSERT INTO receivables (id, customer_id, amount_cents, currency, issued_on, due_on,
    created_at, updated_at)
SELECT printf('R%07d', i), printf('C%07d', i), 100000 + i, 'CNY', '2026-01-01', '2026-02-01',
    :t0, :t0
FROM n"""
)
# Draft i belongs to customer i % customers; its cycle names it, so every key is new.
_REMINDERS = (
    _COUNTER
    + """
INSERT INTO reminders (customer_id, step, cycle, channel, address, status, stage, tier, tone,
    locale, window, slot_start, slot_end, subject, body, facts, lint, created_at, updated_at,
    version, attempts)
SELECT printf('C%07d', i % :customers), 'offer', printf('R%07d@2026-02-01', i),
    CASE WHEN i % 3 THEN 'sms' ELSE 'email' END, 'x', 'pending_approval',
    CASE i % 5 WHEN 0 THEN 'pre_due' WHEN 1 THEN 'm1' WHEN 2 THEN 'm2' WHEN 3 THEN 'm3'
        ELSE 'legal' END,
    substr('ABC', i % 3 + 1, 1), 'neutral', 'zh-CN', 'evening',
    strftime('%Y-%m-%d %H:%M:%S.000000', :t0, '+' || (i % 5000) || ' minutes'),
    strftime('%Y-%m-%d %H:%M:%S.000000', :t0, '+' || (60 + i % 5000) || ' minutes'),
    NULL, '您好，您有1笔账单未结清。回复TD退订', '{"total": "1000.00"}', '[]', :t0, :t0, 1, 0
FROM n"""
)


def fill(url: str, drafts: int) -> dict[str, float]:
    """A migrated database with ``drafts`` pending drafts; seconds per table."""
    engine = make_engine(url)
    upgrade(engine)
    customers = max(1, round(drafts * CUSTOMERS_PER_DRAFT))
    t0 = T0.strftime("%Y-%m-%d %H:%M:%S.%f")
    seconds: dict[str, float] = {}
    with engine.begin() as connection:
        for name, sql, last in (
            ("customers", _CUSTOMERS, customers - 1),
            ("receivables", _RECEIVABLES, customers - 1),
            ("reminders", _REMINDERS, drafts - 1),
        ):
            started = time.perf_counter()
            connection.execute(text(sql), {"last": last, "t0": t0, "customers": customers})
            seconds[name] = round(time.perf_counter() - started, 1)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    with unit_of_work(engine) as s:
        add_user(s, "rev", "reviewer", "reviewer-password", T0)
    engine.dispose()
    return seconds


def timed(client: TestClient, path: str, headers: dict[str, str], runs: int) -> dict[str, float]:
    client.get(path, headers=headers)  # warm
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        answer = client.get(path, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1)}  # fmt: skip


def measure(drafts: int, runs: int, folder: Path | None = None) -> dict[str, Any]:
    own = folder is None
    folder = folder or Path(tempfile.mkdtemp(prefix="queue-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "queue.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    started = time.perf_counter()
    fill_seconds = fill(url, drafts)
    fill_total = time.perf_counter() - started
    engine = make_engine(url)
    app = create_app(Settings(), load_policy(), engine, clock=lambda: T0)
    client = TestClient(app)
    login = client.get("/login").text
    csrf = login.split('name="csrf" value="')[1].split('"')[0]
    client.post("/login", data={"csrf": csrf, "name": "rev", "password": "reviewer-password"})
    with unit_of_work(engine) as s:
        token = {"Authorization": f"Bearer {create_token(s, 'rev', T0)}"}
    results: dict[str, Any] = {
        "drafts": drafts,
        "runs": runs,
        "fill_seconds": round(fill_total, 1),
        "fill": fill_seconds,
    }
    for name, page in PAGES.items():
        results[name] = timed(client, page, {}, runs)
    results["api_drafts"] = timed(client, "/api/drafts?status=pending_approval", token, runs)
    results["headline"] = {"page": PAGES[HEADLINE], **results[HEADLINE]}
    client.close()
    engine.dispose()
    if own:
        shutil.rmtree(folder, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--drafts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--folder", type=Path, help="where the database goes (else a temp dir)")
    parser.add_argument("--json", action="store_true", help="one line of JSON, last")
    args = parser.parse_args()
    results = measure(args.drafts, args.runs, args.folder)
    print(json.dumps(results, ensure_ascii=False) if args.json else
          json.dumps(results, ensure_ascii=False, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
