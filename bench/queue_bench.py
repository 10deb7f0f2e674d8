"""The approval queue's first page with many drafts in the database (issue: web app):
server time of ``GET /`` (the reviewer's queue page, 50 rows, filtered and not) and of
``GET /api/drafts``, measured in-process with the ASGI test client, so network and
browser time are not counted.

    python -m bench.queue_bench --drafts 100000
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert

from notifier.settings import Settings, load_policy
from notifier.store.db import make_engine, unit_of_work
from notifier.store.migrate import upgrade
from notifier.store.models import Customer, Receivable, Reminder
from notifier.users import add_user, create_token
from notifier.web import create_app

T0 = datetime(2026, 3, 2, tzinfo=UTC)
COLLECTORS = ("张伟", "李娜", "王磊", "赵敏")
STAGES = ("pre_due", "m1", "m2", "m3", "legal")


def fill(url: str, n: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    customers = [
        {"id": f"C{i:07d}", "name": f"客户{i}", "kind": "business" if i % 2 else "individual",
         "phone": f"+86139{i:08d}", "email": f"c{i}@x.example", "timezone": "Asia/Shanghai",
         "locale": "zh-CN", "country": "CN", "tier_hand_set": False,
         "collector": COLLECTORS[i % 4], "legal_authorised": False, "sms_opt_out": False,
         "email_opt_out": False, "phone_invalid": False, "created_at": T0, "updated_at": T0}
        for i in range(n)
    ]  # fmt: skip
    receivables = [
        {"id": f"R{i:07d}", "customer_id": f"C{i:07d}", "amount_cents": 100_000 + i,
         "currency": "CNY", "issued_on": date(2026, 1, 1), "due_on": date(2026, 2, 1),
         "created_at": T0, "updated_at": T0}
        for i in range(n)
    ]  # fmt: skip
    reminders = [
        {"customer_id": f"C{i:07d}", "step": "offer", "cycle": f"R{i:07d}@2026-02-01",
         "channel": "sms" if i % 3 else "email", "address": "x", "status": "pending_approval",
         "stage": STAGES[i % 5], "tier": "ABC"[i % 3], "tone": "neutral", "locale": "zh-CN",
         "window": "evening", "slot_start": T0 + timedelta(minutes=i % 5000),
         "slot_end": T0 + timedelta(minutes=60 + i % 5000), "subject": None,
         "body": "您好，您有1笔账单未结清。回复TD退订", "facts": {"total": "1000.00"},
         "lint": [], "created_at": T0, "updated_at": T0, "version": 1, "attempts": 0}
        for i in range(n)
    ]  # fmt: skip
    with unit_of_work(engine) as s:
        for table, rows in ((Customer, customers), (Receivable, receivables),
                            (Reminder, reminders)):  # fmt: skip
            for start in range(0, len(rows), 10_000):
                s.execute(insert(table), rows[start : start + 10_000])
        add_user(s, "rev", "reviewer", "reviewer-password", T0)
    engine.dispose()


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
            "p95_ms": round(times[int(len(times) * 0.95) - 1], 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--drafts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="queue-bench-"))
    url = f"sqlite:///{folder / 'queue.db'}"
    fill(url, args.drafts)
    engine = make_engine(url)
    app = create_app(Settings(), load_policy(), engine, clock=lambda: T0)
    client = TestClient(app)
    login = client.get("/login").text
    csrf = login.split('name="csrf" value="')[1].split('"')[0]
    client.post("/login", data={"csrf": csrf, "name": "rev", "password": "reviewer-password"})
    with unit_of_work(engine) as s:
        token = {"Authorization": f"Bearer {create_token(s, 'rev', T0)}"}
    results = {
        "drafts": args.drafts,
        "queue_page": timed(client, "/", {}, args.runs),
        "queue_page_sms_m1": timed(client, "/?channel=sms&stage=m1", {}, args.runs),
        "queue_page_collector": timed(client, "/?collector=%E6%9D%8E%E5%A8%9C", {}, args.runs),
        "api_drafts": timed(client, "/api/drafts?status=pending_approval", token, args.runs),
    }
    print(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
