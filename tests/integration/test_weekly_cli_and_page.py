"""`notifier report weekly` in each format, and the weekly page with its downloads in
zh-CN and en, over the hand-computed portfolio (tests/integration/weekly_portfolio.py)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine

from notifier.domain.policy import Policy
from notifier.services.users import add_user
from notifier.settings import Settings
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Payment, Receivable
from notifier.web import create_app
from tests.integration.weekly_portfolio import seed
from tests.support import run, web_login

AT = "2026-03-09"
NOW = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
PASSWORD = "correct horse battery"
EVIL = '=HYPERLINK("http://evil.example","x")'


@pytest.fixture
def portfolio(engine: Engine) -> Engine:
    seed(engine)
    return engine


def csv_lines(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_cli_csv_has_a_line_per_collector_and_currency_and_the_totals(
    portfolio: Engine, db_url: str
) -> None:
    done = run("report", "weekly", "--at", AT, "--format", "csv", db=db_url)
    assert done.returncode == 0, done.stderr
    lines = csv_lines(done.stdout)
    keys = [(x["row"], x["collector"], x["currency"]) for x in lines]
    assert keys == [
        ("collector", "li", "CNY"), ("collector", "wang", "CNY"), ("collector", "wang", "USD"),
        ("collector", "zhang", "CNY"), ("total", "", "CNY"), ("total", "", "USD"),
    ]  # fmt: skip
    li = lines[0]
    assert (li["week_start"], li["week_end"]) == ("2026-03-02", "2026-03-08")
    assert [li[k] for k in ("collected", "recovered", "overdue_at_start", "recovery_rate",
                            "recovered_past_threshold", "incentive", "promises_broken")] == [
        "56000.50", "48000.50", "120000.00", "0.4000", "40000.00", "400.00", "2"
    ]  # fmt: skip
    assert lines[2]["promises_kept"] == ""  # promises counted once, on wang's first line
    assert lines[3]["recovery_rate"] == ""  # zhang: nothing was overdue at the start
    assert lines[4]["incentive"] == "412.35"


def test_cli_json_names_the_week_and_the_oldest_items(portfolio: Engine, db_url: str) -> None:
    done = run("report", "weekly", "--at", AT, "--format", "json", db=db_url)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["week"] == {"start": "2026-03-02", "end": "2026-03-08", "zone": "Asia/Shanghai"}
    assert data["incentive"] == {"rate": "0.01", "after_days": 90}
    assert data["total"]["incentive"] == {"CNY": "412.35", "USD": "20.00"}
    wang = next(c for c in data["collectors"] if c["collector"] == "wang")
    assert wang["recovery_rate"] == {"CNY": "0.2915", "USD": "0.4000"}
    assert wang["promises"] == {"kept": 1, "broken": 0, "pending": 1}
    assert [o["invoice_id"] for o in data["oldest_items"]] == [
        "A-OLD", "C-1", "D-1", "E-1", "A-MID"
    ]  # fmt: skip


def test_cli_xlsx_opens_with_numbers_and_percentages(
    portfolio: Engine, db_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "week.xlsx"
    done = run("report", "weekly", "--at", AT, "--format", "xlsx", "--locale", "zh-CN",
               "-o", str(target), db=db_url)  # fmt: skip
    assert done.returncode == 0, done.stderr
    book = load_workbook(target)
    assert book.sheetnames == ["催收专员", "最久逾期"]
    sheet = book["催收专员"]
    header = [c.value for c in sheet[3]]
    assert header[:8] == ["催收专员", "币种", "本周回款", "逾期回款", "周初逾期金额", "回收率",
                          "逾期超90天回款", "奖励（1%）"]  # fmt: skip
    rows = {(r[0].value, r[1].value): r for r in sheet.iter_rows(min_row=4) if r[1].value}
    li = rows[("li", "CNY")]
    assert Decimal(str(li[2].value)) == Decimal("56000.50") and li[2].number_format == "#,##0.00"
    assert li[5].value == pytest.approx(0.4) and li[5].number_format == "0.00%"
    assert Decimal(str(li[7].value)) == Decimal("400")
    assert Decimal(str(rows[("合计", "CNY")][7].value)) == Decimal("412.35")
    assert rows[("zhang", "CNY")][5].value is None
    oldest = [[c.value for c in r] for r in book["最久逾期"].iter_rows(min_row=2)]
    assert [r[2] for r in oldest] == ["A-OLD", "C-1", "D-1", "E-1", "A-MID"]
    assert oldest[0][5] == 108 and oldest[3][7] == 1000


def test_cli_table_in_chinese_and_the_refusals(portfolio: Engine, db_url: str) -> None:
    table = run("report", "weekly", "--at", AT, "--locale", "zh-CN", db=db_url)
    assert table.returncode == 0, table.stderr
    assert "每周催收报告" in table.stdout and "逾期超90天回款" in table.stdout
    assert "400.00" in table.stdout and "40.00%" in table.stdout and "最久逾期款项" in table.stdout
    no_file = run("report", "weekly", "--at", AT, "--format", "xlsx", db=db_url)
    assert no_file.returncode == 1 and "-o FILE.xlsx" in no_file.stderr
    too_far = run("report", "weekly", "--at", "9999-01-01", db=db_url)
    assert too_far.returncode == 1 and "outside" in too_far.stderr
    assert "Traceback" not in too_far.stderr + no_file.stderr


def test_a_collector_name_never_runs_as_a_formula(
    portfolio: Engine, db_url: str, tmp_path: Path
) -> None:
    t0 = datetime(2025, 9, 1, tzinfo=UTC)
    with unit_of_work(portfolio) as s:
        s.add(Customer(id="G", name="G", kind="business", collector=EVIL, created_at=t0,
                       updated_at=t0))  # fmt: skip
        s.flush()
        s.add(Receivable(id="G-1", customer_id="G", amount_cents=10_000, issued_on=date(2025, 9, 1),
                         due_on=date(2025, 10, 1), created_at=t0, updated_at=t0))  # fmt: skip
        s.flush()
        s.add(Payment(id="PG", invoice_id="G-1", amount_cents=10_000, paid_on=date(2026, 3, 3),
                      created_at=t0, updated_at=t0))  # fmt: skip
    done = run("report", "weekly", "--at", AT, "--format", "csv", db=db_url)
    assert "'" + EVIL in {x["collector"] for x in csv_lines(done.stdout)}
    target = tmp_path / "w.xlsx"
    assert run("report", "weekly", "--at", AT, "--format", "xlsx", "-o", str(target),
               db=db_url).returncode == 0  # fmt: skip
    cell = next(r[0] for r in load_workbook(target).active.iter_rows(min_row=4)
                if r[0].value == EVIL)  # fmt: skip
    assert cell.data_type == "s"


# -- the page -------------------------------------------------------------------------------
@pytest.fixture
def client(portfolio: Engine, policy: Policy) -> TestClient:
    with unit_of_work(portfolio) as s:
        add_user(s, "zhang", "manager", PASSWORD, NOW)  # zh-CN
        add_user(s, "qian", "manager", PASSWORD, NOW, locale="en")
        add_user(s, "li", "collector", PASSWORD, NOW, locale="en")
    return TestClient(create_app(Settings(), policy, portfolio, clock=lambda: NOW))


def cell(html: str, collector: str, currency: str, field: str) -> str:
    import re

    row = re.search(
        rf'<tr class="\w+" data-row="\w+" data-collector="{collector}" '
        rf'data-currency="{currency}">(.*?)</tr>', html, re.S,
    )  # fmt: skip
    assert row is not None, (collector, currency)
    found = re.search(rf'data-field="{field}">([^<]*)</td>', row.group(1))
    assert found is not None, field
    return found.group(1)


def test_the_weekly_page_in_chinese(client: TestClient) -> None:
    web_login(client, "zhang", PASSWORD, "/reports/weekly")
    html = client.get("/reports/weekly").text  # today is Monday Mar 9: last week
    assert "每周催收报告" in html and 'data-week="2026-03-02/2026-03-08"' in html
    assert "逾期超90天回款" in html and "奖励（1%）" in html and "最久逾期款项" in html
    assert cell(html, "li", "CNY", "recovery_rate") == "40.00%"
    assert cell(html, "li", "CNY", "incentive") == "¥400.00"
    assert cell(html, "", "CNY", "incentive") == "¥412.35"  # the total line
    assert cell(html, "zhang", "CNY", "recovery_rate") == "—"
    assert cell(html, "wang", "USD", "incentive") == "US$20.00"
    assert html.index('data-invoice="A-OLD"') < html.index('data-invoice="C-1"')
    assert "Weekly collection report" not in html


def test_the_weekly_page_in_english_for_another_week(client: TestClient) -> None:
    web_login(client, "qian", PASSWORD, "/reports/weekly")
    html = client.get("/reports/weekly?at=2026/3/1").text
    assert "Weekly collection report" in html and 'data-week="2026-02-23/2026-03-01"' in html
    assert "Recovered past 90 days" in html and "Incentive (1%)" in html
    assert cell(html, "li", "CNY", "recovery_rate") == "0.00%"
    assert cell(html, "li", "CNY", "overdue_at_start") == "CN¥120,000.00"
    assert "每周催收报告" not in html
    assert client.get("/reports/weekly?at=not-a-day").status_code == 422
    assert client.get("/reports/weekly?at=1900-01-01").status_code == 422


def test_the_downloads_and_who_may_read_them(client: TestClient) -> None:
    web_login(client, "qian", PASSWORD, "/reports/weekly")
    got = client.get("/reports/weekly.csv?at=2026-03-09")
    assert got.status_code == 200 and got.content.startswith("\ufeff".encode())
    assert 'filename="weekly-2026-03-02.csv"' in got.headers["content-disposition"]
    assert csv_lines(got.content.decode("utf-8-sig"))[0]["incentive"] == "400.00"
    book = client.get("/reports/weekly.xlsx?at=2026-03-09")
    assert book.status_code == 200
    assert load_workbook(io.BytesIO(book.content)).sheetnames == ["Collectors", "Oldest items"]
    other = TestClient(client.app)
    web_login(other, "li", PASSWORD, "/reports/aging")
    for path in ("/reports/weekly", "/reports/weekly.csv", "/reports/weekly.xlsx"):
        assert other.get(path).status_code == 403
    anonymous = TestClient(client.app).get("/reports/weekly", follow_redirects=False)
    assert anonymous.status_code == 303
