"""Imports from .xlsx workbooks (issue 14, item 7) and from bank statement exports (item
6), written here by openpyxl with real date, numeric and text cells: the same headers,
validation and all-or-nothing rule as CSV; a payment import cancels the pending messages
whose amounts it made wrong."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, func, select
from sqlmodel import col

from notifier.domain.policy import Policy
from notifier.importer import ImportRejected, ImportReport, NoSuchSheet, import_file
from notifier.importer.xlsx import cell_text
from notifier.services.payments import settle_import
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Payment, Receivable, Reminder
from tests.integration.collect_support import planned_portfolio

NOW = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai, after the 08:00 planning


def workbook(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    book = Workbook()
    first = True
    for name, rows in sheets.items():
        ws = book.active if first else book.create_sheet()
        assert ws is not None
        ws.title = name
        first = False
        for row in rows:
            ws.append(row)
    book.save(path)
    return path


def run(engine: Engine, kind: str, path: Path, sheet: str | None = None) -> ImportReport:
    with unit_of_work(engine) as session:
        return import_file(session, kind, path, now=NOW, sheet=sheet)


def problems(engine: Engine, kind: str, path: Path, sheet: str | None = None) -> list[str]:
    with pytest.raises(ImportRejected) as info:
        run(engine, kind, path, sheet)
    return [str(p) for p in info.value.problems]


def count(engine: Engine, model: type) -> int:
    with unit_of_work(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


CUSTOMER_ROWS: list[list[Any]] = [
    ["客户编号", "客户名称", "类型", "手机", "邮箱", "信用等级"],
    ["C001", "上海星辰贸易有限公司", "企业", 13912345678, "finance@xingchen.example", "A"],
    ["C002", "王芳", "个人", "138 0013 8000", None, None],
]


@pytest.fixture
def with_customers(engine: Engine, tmp_path: Path) -> Engine:
    run(engine, "customers", workbook(tmp_path / "crm.xlsx", {"客户": CUSTOMER_ROWS}))
    return engine


def test_a_workbook_imports_customers_with_a_phone_typed_as_a_number(
    engine: Engine, tmp_path: Path
) -> None:
    report = run(engine, "customers", workbook(tmp_path / "crm.xlsx", {"客户": CUSTOMER_ROWS}))
    assert (report.rows, report.inserted, report.encoding) == (2, 2, "xlsx, sheet 客户")
    with unit_of_work(engine) as s:
        c1, c2 = s.get(Customer, "C001"), s.get(Customer, "C002")
        assert c1 is not None and c2 is not None
        assert (c1.phone, c1.kind, c1.tier) == ("+8613912345678", "business", "A")
        assert (c2.phone, c2.kind, c2.email) == ("+8613800138000", "individual", None)
    again = run(engine, "customers", workbook(tmp_path / "crm.xlsx", {"客户": CUSTOMER_ROWS}))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)


def test_date_cells_numeric_cells_and_text_dates_read_as_the_csv_forms(
    with_customers: Engine, tmp_path: Path
) -> None:
    path = workbook(
        tmp_path / "ar.xlsx",
        {
            "应收": [
                ["单据编号", "客户编号", "金额", "开票日期", "到期日", "日罚息率"],
                ["INV-1", "C001", 30000, date(2026, 1, 26), datetime(2026, 2, 25, 0, 0), 0.0005],
                ["INV-2", "C001", 26000.5, "2026/1/26", "2026年2月25日", None],
                ["INV-3", "C002", "¥1,234.56", date(2026, 2, 1), date(2026, 3, 1), None],
            ]
        },
    )
    assert run(with_customers, "receivables", path).inserted == 3
    with unit_of_work(with_customers) as s:
        rows = {r.id: r for r in s.scalars(select(Receivable))}
    assert rows["INV-1"].amount_cents == 3_000_000 and rows["INV-1"].due_on == date(2026, 2, 25)
    assert str(rows["INV-1"].penalty_rate_daily) == "0.0005"
    assert (rows["INV-2"].amount_cents, rows["INV-2"].issued_on) == (2_600_050, date(2026, 1, 26))
    assert rows["INV-3"].amount_cents == 123_456


def test_a_bad_cell_names_its_row_and_column_and_nothing_is_written(
    with_customers: Engine, tmp_path: Path
) -> None:
    path = workbook(
        tmp_path / "ar.xlsx",
        {
            "Sheet1": [
                ["invoice_id", "customer_id", "amount", "issued_on", "due_on"],
                [],  # a blank row still counts: the rows are the sheet's own
                ["INV-1", "C001", 100, date(2026, 1, 1), date(2026, 2, 1)],
                ["INV-2", "C001", 1.005, date(2026, 1, 1), date(2026, 2, 1)],
                ["INV-3", "NOPE", 100, date(2026, 1, 1), 45000],
            ]
        },
    )
    found = problems(with_customers, "receivables", path)
    assert found[0] == "row 4, column amount: '1.005' has 3 decimal places; at most 2 are allowed"
    assert any(p.startswith("row 5, column due_on: '45000' is not a date") for p in found)
    assert any(p.startswith("row 5, column customer_id: unknown customer 'NOPE'") for p in found)
    assert count(with_customers, Receivable) == 0


def test_the_sheet_is_chosen_by_name_and_a_missing_one_lists_the_sheets(
    with_customers: Engine, tmp_path: Path
) -> None:
    path = workbook(
        tmp_path / "erp.xlsx",
        {
            "说明": [["本文件由金蝶导出"]],
            "收款": [["付款编号", "单据编号", "金额", "付款日期"]],
        },
    )
    with pytest.raises(NoSuchSheet) as info:
        run(with_customers, "payments", path, sheet="付款")
    assert str(info.value) == "erp.xlsx has no sheet named '付款'; its sheets are: '说明', '收款'"
    first = problems(with_customers, "payments", path)  # the first sheet is not a payments one
    assert first[0].startswith("row 1, column 本文件由金蝶导出: unknown column")
    assert run(with_customers, "payments", path, sheet="收款").rows == 0
    csv = tmp_path / "p.csv"
    csv.write_text("payment_id,invoice_id,amount,paid_on\n", encoding="utf-8")
    assert "applies to .xlsx files only" in problems(with_customers, "payments", csv, "收款")[0]


def test_a_float_s_noise_is_rounded_away_but_a_real_third_decimal_is_not() -> None:
    assert cell_text(110.00000000000001) == "110"
    assert cell_text(0.1 + 0.2) == "0.3"
    assert cell_text(1.005) == "1.005"
    assert cell_text(86000.0) == "86000"
    assert cell_text(13912345678) == "13912345678"
    assert cell_text(datetime(2026, 3, 2, 10, 15)) == "2026-03-02"
    assert cell_text(" 客户 ") == "客户" and cell_text(None) == ""


def test_an_old_xls_file_is_refused_with_what_to_do(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    assert "old .xls workbook" in problems(engine, "customers", path)[0]


# -- bank statements -----------------------------------------------------------------

STATEMENT = (
    "账户明细查询\n"
    "账号：6222 0000 1111,币种：人民币\n"
    "\n"
    "交易日期,交易时间,收入金额(元),支出金额(元),余额,对方户名,摘要\n"
    '20260301,09:12:00,"2,000.00",,50000.00,客户C1,货款 C1-1\n'
    "20260301,10:00:00,,800.00,49200.00,房东,房租\n"
    "2026-03-02 11:30:00,,3000.00,,52200.00,客户C2,付发票C2-1货款\n"
    "合计,,5000.00,800.00,,,\n"
)


@pytest.fixture
def drafted(engine: Engine, policy: Policy) -> dict[str, int]:
    return planned_portfolio(engine, policy)


def test_a_bank_statement_pays_the_invoices_its_text_names_and_skips_the_rest(
    drafted: dict[str, int], engine: Engine, tmp_path: Path, policy: Policy
) -> None:
    path = tmp_path / "statement.csv"
    path.write_bytes(STATEMENT.encode("gb18030"))  # as the bank's export saves it
    with unit_of_work(engine) as s:
        report = import_file(s, "payments", path, now=NOW)
        cancelled = settle_import(s, report, NOW, policy)
    assert (report.rows, report.inserted, report.source) == (2, 2, "bank statement (csv)")
    with unit_of_work(engine) as s:
        paid = {p.invoice_id: (p.amount_cents, p.paid_on) for p in s.scalars(select(Payment))}
        statuses = {r.id: (r.customer_id, r.status, r.reason) for r in s.scalars(select(Reminder))}
    assert paid["C1-1"] == (200_000, date(2026, 3, 1))
    assert paid["C2-1"] == (300_000, date(2026, 3, 2))
    # C1 owes 12,000.00 now, C2 nothing: their pending messages said otherwise.
    assert drafted["C1"] in cancelled and drafted["C2"] in cancelled
    assert statuses[drafted["C1"]][1:] == (
        "cancelled",
        "the amount owed changed (import of statement.csv): 14000.00 -> 12000.00",
    )
    assert statuses[drafted["C2"]][1] == "cancelled"
    with unit_of_work(engine) as s:  # the same statement again: nothing new
        again = import_file(s, "payments", path, now=NOW)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)


def test_a_statement_row_without_a_known_invoice_rejects_the_whole_file(
    drafted: dict[str, int], engine: Engine, tmp_path: Path
) -> None:
    path = workbook(
        tmp_path / "bank.xlsx",
        {
            "明细": [
                ["中国工商银行 账户明细"],
                ["交易日期", "贷方金额", "借方金额", "对方户名", "附言", "交易流水号"],
                [date(2026, 3, 1), 2000, None, "客户C1", "C1-1 货款", "SN001"],
                [date(2026, 3, 1), 500, None, "某公司", "预付款", "SN002"],
                [date(2026, 3, 2), 100, None, "客户C1", "C1-1 C1-2", "SN003"],
                [date(2026, 3, 2), 100, None, "客户C1", "C1-2", "SN001"],
            ]
        },
    )
    found = problems(engine, "payments", path)
    assert found == [
        "row 4, column 附言: names no known invoice ('预付款'); the text must carry the invoice "
        "id, e.g. 货款 INV-2026-001",
        "row 5, column 附言: names several invoices (C1-1, C1-2): one payment row per invoice",
    ]
    assert count(engine, Payment) == 1  # the portfolio's own; nothing of the file


def test_a_statement_s_serial_number_is_the_payment_id_and_must_be_unique(
    drafted: dict[str, int], engine: Engine, tmp_path: Path
) -> None:
    path = workbook(
        tmp_path / "bank.xlsx",
        {
            "明细": [
                ["交易日期", "贷方金额", "对方户名", "附言", "交易流水号"],
                [date(2026, 3, 1), 2000, "客户C1", "C1-1 货款", "SN001"],
                [date(2026, 3, 2), 100, "客户C1", "C1-2", "SN001"],
            ]
        },
    )
    assert problems(engine, "payments", path) == [
        "row 3, column 交易流水号: duplicate serial number 'SN001' (already on row 2)"
    ]
    path = workbook(
        tmp_path / "bank2.xlsx",
        {
            "明细": [
                ["交易日期", "贷方金额", "对方户名", "附言", "交易流水号"],
                [date(2026, 3, 1), 2000, "客户C1", "C1-1 货款", "SN001"],
            ]
        },
    )
    assert run(engine, "payments", path).source == "bank statement (xlsx)"
    with unit_of_work(engine) as s:
        stored = s.get(Payment, "SN001")
        assert stored is not None and stored.invoice_id == "C1-1"
        ids = list(s.scalars(select(col(Payment.id)).order_by(col(Payment.id))))
    assert ids == ["P1", "SN001"]
