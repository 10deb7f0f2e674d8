"""Exports a spreadsheet user opens with a double click, and tables a pipe does not cut
(issue 13, exports): `report aging --format csv` is UTF-8 with a BOM (Excel on a Chinese
Windows), `--format xlsx -o FILE` is a workbook with amounts as numbers shown with their
currency, and explain, aging and drafts print whole cells when stdout is not a terminal.
A real process, a real SQLite file."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from notifier.words import words
from tests.support import run

LONG_INVOICE = "INV-2026-01-000123-SHANGHAI-BRANCH"
CUSTOMERS = (
    "customer_id,name,kind,phone,collector,country,timezone\n"
    "C001,上海星辰国际贸易有限公司华东分公司,business,13912345678,张伟,CN,Asia/Shanghai\n"
    'C002,"=HYPERLINK(""http://evil.example"",""Pay"")",business,13912345679,li,CN,'
    "Asia/Shanghai\n"
    "C003,Harbour Lane Trading Ltd,business,+12125550100,li,US,America/New_York\n"
)
RECEIVABLES = (
    "invoice_id,customer_id,amount,currency,issued_on,due_on\n"
    f"{LONG_INVOICE},C001,86000.00,CNY,2026-01-01,2026-02-01\n"
    "INV-2,C002,200.00,CNY,2026-01-01,2026-02-20\n"
    "INV-US-1,C003,12500.50,USD,2026-01-05,2026-02-10\n"
)
AT = "2026-03-02"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("exports")
    url = f"sqlite:///{folder / 'exports.db'}"
    assert run("init", db=url).returncode == 0
    for kind, data in (("customers", CUSTOMERS), ("receivables", RECEIVABLES)):
        path = folder / f"{kind}.csv"
        path.write_text(data, encoding="utf-8")
        done = run("import", kind, str(path), db=url)
        assert done.returncode == 0, done.stderr
    assert run("plan", "--at", f"{AT}T08:00:00+08:00", db=url).returncode == 0
    return url


def _json_items(db: str) -> dict[str, dict[str, str]]:
    report = json.loads(run("report", "aging", "--at", AT, "--format", "json", db=db).stdout)
    return {item["invoice_id"]: item for item in report["items"]}


def test_aging_csv_starts_with_a_utf8_bom_on_stdout_and_in_a_file(db: str, tmp_path: Path) -> None:
    piped = run("report", "aging", "--at", AT, "--format", "csv", db=db)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.startswith("\ufeffcustomer_id,")
    target = tmp_path / "aging.csv"
    written = run("report", "aging", "--at", AT, "--format", "csv", "-o", str(target), db=db)
    assert written.returncode == 0, written.stderr
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfcustomer_id,")  # Excel reads UTF-8, not GBK
    rows = {r["invoice_id"]: r for r in csv.DictReader(io.StringIO(data.decode("utf-8-sig")))}
    assert rows[LONG_INVOICE]["customer_name"] == "上海星辰国际贸易有限公司华东分公司"
    assert rows["INV-2"]["customer_name"].startswith("'=HYPERLINK")  # still neutralised


def test_aging_xlsx_has_numbers_with_their_currency_dates_and_chinese_headers(
    db: str, tmp_path: Path
) -> None:
    target = tmp_path / "aging.xlsx"
    done = run("report", "aging", "--at", AT, "--format", "xlsx", "-o", str(target),
               "--locale", "zh-CN", db=db)  # fmt: skip
    assert done.returncode == 0, done.stderr
    book = load_workbook(target)
    items, summary = book.worksheets[0], book.worksheets[1]
    headers = [c.value for c in items[1]]
    assert headers[:4] == ["编号", "客户", "催收专员", "发票"] and "未收金额" in headers
    rows = {row[3].value: row for row in items.iter_rows(min_row=2)}
    expected = _json_items(db)
    assert set(rows) == set(expected)
    col = {name: headers.index(name) for name in ("未收金额", "累计滞纳金", "到期日", "逾期天数")}
    for invoice, row in rows.items():
        outstanding = row[col["未收金额"]]
        assert isinstance(outstanding.value, int | float)  # a number, not text
        assert Decimal(str(outstanding.value)) == Decimal(expected[invoice]["outstanding"])
        assert f'"{expected[invoice]["currency"]}"' in outstanding.number_format
        penalty = row[col["累计滞纳金"]]
        assert Decimal(str(penalty.value)).quantize(Decimal("0.01")) == Decimal(
            expected[invoice]["penalty"]
        )
        assert isinstance(row[col["到期日"]].value, datetime)  # a date, not text
        assert row[col["逾期天数"]].value == expected[invoice]["days_overdue"]
    assert rows["INV-US-1"][col["未收金额"]].number_format == '#,##0.00 "USD"'
    evil = rows["INV-2"][1]
    assert evil.data_type == "s" and str(evil.value).startswith("=HYPERLINK")  # text, no formula
    totals = {(r[0].value, r[1].value): r for r in summary.iter_rows(min_row=2)}
    usd = [r for (currency, _), r in totals.items() if currency == "USD"]
    assert usd and all('"USD"' in r[3].number_format for r in usd)  # per currency, never summed
    english = tmp_path / "aging-en.xlsx"
    run("report", "aging", "--at", AT, "--format", "xlsx", "-o", str(english), db=db)
    assert load_workbook(english).worksheets[0]["K1"].value == "Paused (disputed)"


def test_aging_xlsx_without_a_file_is_refused_in_one_line(db: str) -> None:
    done = run("report", "aging", "--at", AT, "--format", "xlsx", db=db)
    assert done.returncode == 1 and done.stdout == ""
    assert "-o FILE.xlsx" in done.stderr and "Traceback" not in done.stderr


def test_piped_tables_print_every_cell_whole(db: str) -> None:
    """stdout is a pipe here: Rich would take 80 columns and cut cells with an ellipsis."""
    explained = run("explain", "C001", "--at", f"{AT}T10:00:00+08:00", db=db)
    aging = run("report", "aging", "--at", AT, db=db)
    drafts = run("drafts", db=db)
    for result in (explained, aging, drafts):
        assert result.returncode == 0, result.stderr
        assert "…" not in result.stdout
    assert explained.stdout.count(LONG_INVOICE) >= 1
    assert LONG_INVOICE in aging.stdout and "上海星辰国际贸易有限公司华东分公司" in aging.stdout
    assert "Customer" in aging.stdout and "Penalty so far" in aging.stdout
    assert "Slot (UTC)" in drafts.stdout  # the last column, whole
    assert re.search(r"C001 .* \d{4}-\d\d-\d\d \d\d:\d\d", drafts.stdout)


def test_the_queue_as_xlsx_has_chinese_headers_labels_and_whole_texts(
    db: str, tmp_path: Path
) -> None:
    listed = json.loads(run("drafts", "--json", db=db).stdout)
    assert listed, "the plan drafted nothing"
    target = tmp_path / "queue.xlsx"
    done = run("drafts", "--format", "xlsx", "-o", str(target), "--locale", "zh-CN", db=db)
    assert done.returncode == 0, done.stderr
    sheet = load_workbook(target).worksheets[0]
    headers = [c.value for c in sheet[1]]
    assert headers[:5] == ["草稿编号", "客户编号", "客户名称", "状态", "催收步骤"]
    assert "正文" in headers and "内容检查" in headers
    rows = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert set(rows) == {d["id"] for d in listed}  # ids as numbers, every draft
    body, status = headers.index("正文"), headers.index("状态")
    for draft in listed:
        row = rows[draft["id"]]
        assert row[body].value == draft["body"]  # whole, never cut
        assert row[status].value == words("zh-CN").status(draft["status"])  # no code
    names = {row[2].value for row in rows.values()}
    assert "上海星辰国际贸易有限公司华东分公司" in names
    evil = [row[2] for row in rows.values() if str(row[2].value).startswith("=HYPERLINK")]
    assert all(c.data_type == "s" for c in evil)  # text, never a formula
    refused = run("drafts", "--format", "xlsx", db=db)
    assert refused.returncode == 1 and "-o FILE.xlsx" in refused.stderr


def test_the_queue_as_csv_starts_with_a_bom_and_has_english_or_chinese_headers(
    db: str, tmp_path: Path
) -> None:
    piped = run("drafts", "--format", "csv", db=db)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.startswith("\ufeffDraft,Customer ID,Customer,Status,Step,")
    target = tmp_path / "queue.csv"
    done = run("drafts", "--format", "csv", "-o", str(target), "--locale", "zh-CN", db=db)
    assert done.returncode == 0, done.stderr
    data = target.read_bytes()
    assert data.startswith("\ufeff草稿编号,客户编号,".encode())
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows) == len(json.loads(run("drafts", "--json", db=db).stdout))
    assert {r["渠道"] for r in rows} <= {"短信", "邮件"} and {r["状态"] for r in rows} == {"待审批"}
    assert any(r["客户名称"].startswith("'=HYPERLINK") for r in rows)  # neutralised


def test_the_terminal_tables_read_in_words_of_the_locale_asked_for(db: str) -> None:
    """A Chinese reviewer reads the queue and the aging report in Chinese, not codes; the
    codes stay in --json."""
    queue = run("drafts", "--locale", "zh-CN", db=db)
    aging = run("report", "aging", "--at", AT, "--locale", "zh-CN", db=db)
    assert queue.returncode == 0 and aging.returncode == 0, queue.stderr + aging.stderr
    zh = words("zh-CN")
    listed = json.loads(run("drafts", "--json", db=db).stdout)
    first = listed[0]
    for label in (zh("dq_status"), zh.status(first["status"]), zh.step(first["step"]),
                  zh.stage(first["stage"]), zh.channel(first["channel"])):  # fmt: skip
        assert label in queue.stdout, label
    assert "pending_approval" not in queue.stdout and first["step"] not in queue.stdout
    assert f"共 {len(listed)} 条" in queue.stdout
    assert "账龄报告，截至 2026-03-02" in aging.stdout and "累计滞纳金" in aging.stdout
    assert "未到期" in aging.stdout  # the summary names every bucket
    assert "not_due" not in aging.stdout and "settled" not in aging.stdout


@pytest.mark.parametrize(
    "command",
    [("drafts",), ("report", "aging", "--at", AT), ("report", "weekly", "--at", AT),
     ("calls", "--at", f"{AT}T08:00:00+08:00"), ("token", "list"), ("instalments", "show", "C001")],
)  # fmt: skip
def test_every_listing_command_takes_format_plain_and_table_alike(
    db: str, command: tuple[str, ...]
) -> None:
    plain = run(*command, "--format", "plain", db=db)
    table = run(*command, "--format", "table", db=db)
    assert plain.returncode == 0 and table.returncode == 0, plain.stderr + table.stderr
    assert plain.stdout == table.stdout and plain.stdout.strip()
