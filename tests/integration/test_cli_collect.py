"""The collector's actions from the `notifier` command as a user runs it (a real process, a
real SQLite file): promises, disputes, instalment plans, the legal flag, and imports from
an xlsx workbook and a bank statement."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook

from tests.support import run

AT = "2026-03-02T10:00:00+08:00"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('collect') / 'cli.db'}"
    assert run("init", db=url).returncode == 0
    for kind in ("customers", "receivables"):
        result = run("import", kind, f"samples/{kind}.csv", db=url)
        assert result.returncode == 0, result.stderr
    for name, role in (("li", "collector"), ("zhao", "manager")):
        done = run(
            "user", "add", name, "--role", role, "--password", "correct horse battery", db=url
        )
        assert done.returncode == 0, done.stderr
    return url


def test_promise_and_dispute_are_recorded_with_who_did_it(db: str) -> None:
    promise = run(
        "promise",
        "add",
        "C001",
        "--on",
        "2026-03-20",
        "--amount",
        "¥5,000",
        "--note",
        "财务说20号前付",
        "--as",
        "li",
        "--at",
        AT,
        db=db,
    )
    assert promise.returncode == 0, promise.stderr
    assert "C001 promised 5000.00 by 2026-03-20" in promise.stdout
    past = run("promise", "add", "C001", "--on", "2026/3/1", "--as", "li", "--at", AT, db=db)
    assert past.returncode == 1 and "is in the past" in past.stderr
    nobody = run("promise", "add", "C001", "--on", "2026-03-20", "--as", "ghost", "--at", AT, db=db)
    assert nobody.returncode == 1 and "no user 'ghost'" in nobody.stderr
    opened = run(
        "dispute",
        "add",
        "C001",
        "--invoice",
        "INV-2026-0101",
        "--amount",
        "1000",
        "--reason",
        "货物破损",
        "--as",
        "li",
        "--at",
        AT,
        db=db,
    )
    assert opened.returncode == 0, opened.stderr
    dispute_id = opened.stdout.split("#")[1].split(":")[0]
    resolved = run("dispute", "resolve", dispute_id, "--as", "li", "--at", AT, db=db)
    assert resolved.returncode == 0 and "resolved" in resolved.stdout
    again = run("dispute", "resolve", dispute_id, "--as", "li", "--at", AT, db=db)
    assert again.returncode == 1 and "already resolved" in again.stderr


def test_an_instalment_plan_is_created_shown_and_cancelled(db: str) -> None:
    made = run(
        "instalments",
        "create",
        "C002",
        "--count",
        "3",
        "--first-percent",
        "30",
        "--as",
        "li",
        "--at",
        AT,
        db=db,
    )
    assert made.returncode == 0, made.stderr
    shown = run("instalments", "show", "C002", "--json", "--at", AT, db=db)
    [plan] = json.loads(shown.stdout)
    amounts = [i["amount"] for i in plan["instalments"]]
    assert sum(map(float, amounts)) == float(plan["total"])
    assert [i["due_on"] for i in plan["instalments"]] == ["2026-03-10", "2026-04-10", "2026-05-10"]
    csv = run("instalments", "show", "C002", "--format", "csv", "--at", AT, db=db)
    assert csv.stdout.startswith("\ufeffplan_id,plan_status,currency,seq,amount,due_on")
    assert len(csv.stdout.strip().splitlines()) == 4
    cancelled = run("instalments", "cancel", str(plan["id"]), "--as", "li", "--at", AT, db=db)
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
    plain = run("instalments", "show", "C002", "--at", AT, db=db)
    assert f"plan #{plan['id']} (cancelled)" in plain.stdout
    assert "1. " in plain.stdout and "due 2026-03-10: cancelled" in plain.stdout
    in_chinese = run("instalments", "show", "C002", "--locale", "zh-CN", "--at", AT, db=db).stdout
    assert f"分期付款计划 #{plan['id']}（已取消）" in in_chinese
    assert "第 1 期：" in in_chinese and "2026-03-10 到期：已取消" in in_chinese
    assert not re.search(r"cancelled|due|plan|invoices", in_chinese)


def test_only_a_manager_authorises_legal_steps(db: str) -> None:
    refused = run("legal", "C001", "--authorise", "--as", "li", "--at", AT, db=db)
    assert refused.returncode == 1 and "a collector may not" in refused.stderr
    done = run("legal", "C001", "--authorise", "--as", "zhao", "--at", AT, db=db)
    assert done.returncode == 0 and "legal steps authorised" in done.stdout
    both = run("legal", "C001", "--authorise", "--revoke", "--as", "zhao", db=db)
    assert both.returncode == 2


def test_import_reads_a_chosen_sheet_and_a_bank_statement(db: str, tmp_path: Path) -> None:
    book = Workbook()
    notes = book.active
    assert notes is not None
    notes.title = "说明"
    sheet = book.create_sheet("银行流水")
    for row in (
        ["交易日期", "贷方金额", "借方金额", "对方户名", "摘要", "流水号"],
        [date(2026, 3, 1), 20000, None, "杭州云帆科技", "货款INV-2026-0120", "B001"],
        [date(2026, 3, 1), None, 500, "电费", "电费", "B002"],
    ):
        sheet.append(row)
    path = tmp_path / "bank.xlsx"
    book.save(path)
    missing = run("import", "payments", str(path), "--sheet", "Sheet9", db=db)
    assert missing.returncode == 1
    assert "no sheet named 'Sheet9'; its sheets are: '说明', '银行流水'" in missing.stderr
    done = run("import", "payments", str(path), "--sheet", "银行流水", db=db)
    assert done.returncode == 0, done.stderr
    assert "payments: 1 rows (xlsx, sheet 银行流水): 1 inserted" in done.stdout
