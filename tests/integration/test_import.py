"""CSV import against a real, migrated SQLite database: all or nothing, upsert by id."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, update
from sqlmodel import select

from notifier.importer import ImportRejected, ImportReport, import_file
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Event, Payment, Receivable

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)

CUSTOMERS = (
    "customer_id,name,kind,phone,email,timezone,locale,country,tier,collector,notes\n"
    "C001,上海星辰贸易有限公司,business,13912345678,Finance@XingChen.example,,,,,张伟,月底对账\n"
    "C002,Acme Supply Inc.,business,(212) 555-0143,ap@acme.example,America/New_York,en,US,,,\n"
    "C003,王芳,individual,13800138000,,,,,,,\n"
)
RECEIVABLES = (
    "invoice_id,customer_id,amount,issued_on,due_on\n"
    "INV-1,C001,30000.00,2026-01-26,2026-02-25\n"
    "INV-2,C001,26000.00,2026-01-26,2026-02-25\n"
)


def write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def run(
    engine: Engine, kind: str, path: Path, now: datetime = NOW, dry_run: bool = False
) -> ImportReport:
    with unit_of_work(engine) as session:
        return import_file(session, kind, path, now=now, dry_run=dry_run)


def rejected(engine: Engine, kind: str, path: Path) -> list[str]:
    with pytest.raises(ImportRejected) as info:
        run(engine, kind, path)
    return [str(p) for p in info.value.problems]


def count(engine: Engine, model: type) -> int:
    with unit_of_work(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def customer(engine: Engine, cid: str) -> Customer:
    with unit_of_work(engine) as session:
        found = session.get(Customer, cid)
        assert found is not None
        return found


@pytest.fixture
def customers(engine: Engine, tmp_path: Path) -> Engine:
    run(engine, "customers", write(tmp_path, CUSTOMERS, name="customers.csv"))
    return engine


def test_english_headers_import_customers_with_normalised_fields(
    engine: Engine, tmp_path: Path
) -> None:
    report = run(engine, "customers", write(tmp_path, CUSTOMERS))
    assert (report.rows, report.inserted, report.updated, report.unchanged) == (3, 3, 0, 0)
    c1, c2 = customer(engine, "C001"), customer(engine, "C002")
    assert (c1.phone, c1.email) == ("+8613912345678", "Finance@xingchen.example")
    assert (c1.kind, c1.timezone, c1.locale, c1.country) == (
        "business", "Asia/Shanghai", "zh-CN", "CN"
    )  # fmt: skip
    assert c1.collector == "张伟"
    assert (c2.phone, c2.timezone, c2.locale, c2.country) == (
        "+12125550143", "America/New_York", "en", "US"
    )  # fmt: skip
    assert c1.created_at == c1.updated_at == NOW


def test_chinese_headers_and_formats_import_the_same_values(
    customers: Engine, tmp_path: Path
) -> None:
    text = (
        "单据编号,客户编号,金额,开票日期,到期日,日罚息率,付款链接\n"
        'INV-1,C001,"￥30,000.00",2026年1月26日,2026/2/25,0.05%,https://pay.example/i/1\n'
        "INV-2,C003,8600元,2026年1月2日,2026年2月1日,,\n"
    )
    report = run(customers, "receivables", write(tmp_path, text, "gbk"))
    assert (report.inserted, report.encoding) == (2, "gb18030")
    with unit_of_work(customers) as session:
        inv = session.get(Receivable, "INV-1")
        assert inv is not None
        assert (inv.amount_cents, inv.currency, inv.issued_on, inv.due_on) == (
            3_000_000, "CNY", date(2026, 1, 26), date(2026, 2, 25)
        )  # fmt: skip
        assert inv.penalty_rate_daily == Decimal("0.0005")
        assert inv.payment_url == "https://pay.example/i/1"


def test_utf8_with_bom_is_detected_and_the_bom_is_not_part_of_the_first_header(
    engine: Engine, tmp_path: Path
) -> None:
    report = run(engine, "customers", write(tmp_path, CUSTOMERS, "utf-8-sig"))
    assert (report.encoding, report.inserted) == ("utf-8-sig", 3)
    assert customer(engine, "C001").name == "上海星辰贸易有限公司"


def test_gbk_file_with_chinese_headers_is_detected(engine: Engine, tmp_path: Path) -> None:
    text = "客户编号,客户名称,类型,手机\nC009,成都天府餐饮管理有限公司,企业,18088887777\n"
    text += "C010,赵敏,个人,\n"
    report = run(engine, "customers", write(tmp_path, text, "gbk"))
    assert (report.encoding, report.inserted) == ("gb18030", 2)
    assert customer(engine, "C009").name == "成都天府餐饮管理有限公司"
    assert customer(engine, "C010").kind == "individual"


def test_file_in_no_known_encoding_is_rejected_as_a_whole(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"customer_id,name,kind\nC1,\xff\xfe\xff,business\n")
    problems = rejected(engine, "customers", path)
    assert len(problems) == 1
    assert problems[0].startswith("row 1, column (whole file): cannot be read as UTF-8 or GBK")


def test_utf16_file_is_rejected_with_advice_to_save_as_utf8(engine: Engine, tmp_path: Path) -> None:
    problems = rejected(engine, "customers", write(tmp_path, CUSTOMERS, "utf-16"))
    assert "save it as CSV UTF-8" in problems[0]


def test_one_bad_row_writes_nothing_and_every_problem_is_listed_by_row_and_column(
    engine: Engine, tmp_path: Path
) -> None:
    text = (
        "customer_id,name,kind,phone,email,timezone,country\n"
        "C001,上海星辰贸易有限公司,business,13912345678,,,\n"
        "\n"  # a blank line is skipped but still counts as a spreadsheet row
        "C002,,company,12345,not-an-email,Beijing,\n"
        "C003,王芳,individual,,,,XX\n"
    )
    problems = rejected(engine, "customers", write(tmp_path, text))
    assert problems[0] == "row 4, column name: is empty; a value is required"
    assert problems[1].startswith("row 4, column kind: 'company' is not a customer type")
    assert problems[2].startswith("row 4, column phone: '12345' is not a valid phone number")
    assert problems[3].startswith("row 4, column email: 'not-an-email' is not a valid e-mail")
    assert problems[4].startswith("row 4, column timezone: 'Beijing' is not an IANA time zone")
    assert problems[5].startswith("row 5, column country: 'XX' is not an ISO country code")
    assert len(problems) == 6
    assert count(engine, Customer) == 0  # the good row 2 was not written either
    assert count(engine, Event) == 0


def test_problems_name_the_column_as_the_file_spells_it(engine: Engine, tmp_path: Path) -> None:
    text = "客户编号,客户名称,类型\nC1,王芳,人\n"
    assert rejected(engine, "customers", write(tmp_path, text)) == [
        "row 2, column 类型: '人' is not a customer type; write business or individual"
    ]


def test_receivable_of_unknown_customer_is_rejected(customers: Engine, tmp_path: Path) -> None:
    text = RECEIVABLES + "INV-3,C404,100,2026-01-01,2026-02-01\n"
    problems = rejected(customers, "receivables", write(tmp_path, text))
    assert problems == [
        "row 4, column customer_id: unknown customer 'C404'; "
        "import it with `notifier import customers` first"
    ]
    assert count(customers, Receivable) == 0


def test_payment_of_unknown_invoice_is_rejected(customers: Engine, tmp_path: Path) -> None:
    run(customers, "receivables", write(tmp_path, RECEIVABLES, name="r.csv"))
    text = "payment_id,invoice_id,amount,paid_on\nP1,INV-1,100,2026-02-01\n"
    text += "P2,INV-9,100,2026-02-01\n"
    problems = rejected(customers, "payments", write(tmp_path, text))
    assert [p.split(";")[0] for p in problems] == [
        "row 3, column invoice_id: unknown invoice 'INV-9'"
    ]
    assert count(customers, Payment) == 0


def test_bad_amounts_and_dates_of_receivables_are_all_reported(
    customers: Engine, tmp_path: Path
) -> None:
    text = (
        "invoice_id,customer_id,amount,issued_on,due_on\n"
        "INV-1,C001,abc,2026-01-01,2026-02-01\n"
        "INV-2,C001,100.005,03/02/2026,2026-02-01\n"
        "INV-3,C001,-5,2026-02-01,2026-01-01\n"
    )
    problems = rejected(customers, "receivables", write(tmp_path, text))
    assert [p.split(":")[0] for p in problems] == [
        "row 2, column amount", "row 3, column amount", "row 3, column issued_on",
        "row 4, column amount", "row 4, column due_on",
    ]  # fmt: skip
    assert "before the issue date 2026-02-01" in problems[-1]


def test_duplicate_id_in_one_file_is_reported_on_the_later_row(
    engine: Engine, tmp_path: Path
) -> None:
    text = "customer_id,name,kind\nC1,A,business\nC2,B,business\nC1,C,individual\n"
    assert rejected(engine, "customers", write(tmp_path, text)) == [
        "row 4, column customer_id: duplicate id 'C1' (already on row 2)"
    ]


def test_unknown_column_is_named_and_rows_are_still_checked(engine: Engine, tmp_path: Path) -> None:
    text = "customer_id,name,kind,fax\nC1,A,business,123\nC2,B,robot,\n"
    problems = rejected(engine, "customers", write(tmp_path, text))
    assert problems[0].startswith("row 1, column fax: unknown column; the columns are ")
    assert problems[1].startswith("row 3, column kind: 'robot'")
    assert len(problems) == 2


def test_missing_required_column_is_named_once(engine: Engine, tmp_path: Path) -> None:
    text = "customer_id,name\nC1,A\nC2,B\n"
    assert rejected(engine, "customers", write(tmp_path, text)) == [
        "row 1, column kind: required column is missing (kind or 类型)"
    ]
    chinese = "客户编号,客户名称\nC1,A\n"
    assert rejected(engine, "customers", write(tmp_path, chinese)) == [
        "row 1, column 类型: required column is missing (kind or 类型)"
    ]


def test_value_beyond_the_header_is_refused(engine: Engine, tmp_path: Path) -> None:
    text = "customer_id,name,kind\nC1,A,business,oops\n"
    assert rejected(engine, "customers", write(tmp_path, text)) == [
        "row 2, column D: 'oops' has no column header"
    ]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ('C2,"Acme,business\nC3,B,business\n', 'a cell opens a quote (") that is never closed'),
        ('C2,"Acme"Ltd,business\n', 'text follows the closing quote of a cell ("ab"c)'),
    ],
)
def test_a_broken_quote_is_refused_not_read_into_its_neighbours(
    engine: Engine, tmp_path: Path, line: str, why: str
) -> None:
    text = "customer_id,name,kind\nC1,A,business\n" + line
    [problem] = rejected(engine, "customers", write(tmp_path, text))
    assert problem.startswith("row 3, column (whole file): is not valid CSV: ")
    assert why in problem
    assert count(engine, Customer) == 0


def test_whitespace_around_headers_and_values_is_ignored(engine: Engine, tmp_path: Path) -> None:
    text = " Customer_ID , name ,kind\n  C1 , 王芳 , individual \n"
    run(engine, "customers", write(tmp_path, text))
    assert customer(engine, "C1").name == "王芳"


def test_reimport_of_the_same_file_changes_nothing(customers: Engine, tmp_path: Path) -> None:
    report = run(customers, "customers", write(tmp_path, CUSTOMERS), now=LATER)
    assert (report.inserted, report.updated, report.unchanged) == (0, 0, 3)
    assert customer(customers, "C001").updated_at == NOW  # not touched


def test_changed_row_is_updated_and_only_it(customers: Engine, tmp_path: Path) -> None:
    changed = CUSTOMERS.replace("13800138000", "13700000000").replace("月底对账", "季度对账")
    changed += "C004,李强,individual,13712345678,,,,,,,\n"
    report = run(customers, "customers", write(tmp_path, changed), now=LATER)
    assert (report.inserted, report.updated, report.unchanged) == (1, 2, 1)
    c1, c2, c3 = (customer(customers, c) for c in ("C001", "C002", "C003"))
    assert (c1.notes, c1.created_at, c1.updated_at) == ("季度对账", NOW, LATER)
    assert (c3.phone, c3.updated_at) == ("+8613700000000", LATER)
    assert c2.updated_at == NOW


def test_reimported_receivable_amount_change_is_an_update(
    customers: Engine, tmp_path: Path
) -> None:
    run(customers, "receivables", write(tmp_path, RECEIVABLES))
    report = run(customers, "receivables", write(tmp_path, RECEIVABLES.replace("26000", "25000")))
    assert (report.updated, report.unchanged) == (1, 1)
    with unit_of_work(customers) as session:
        inv = session.get(Receivable, "INV-2")
        assert inv is not None and inv.amount_cents == 2_500_000


def test_column_absent_from_the_file_leaves_stored_values_alone(
    customers: Engine, tmp_path: Path
) -> None:
    path = write(tmp_path, "customer_id,name,kind\nC001,星辰,business\n")
    report = run(customers, "customers", path)
    assert report.updated == 1
    c1 = customer(customers, "C001")
    assert (c1.name, c1.collector, c1.phone) == ("星辰", "张伟", "+8613912345678")


def test_new_phone_number_clears_the_invalid_flag_of_the_old_one(
    customers: Engine, tmp_path: Path
) -> None:
    with unit_of_work(customers) as session:
        session.execute(update(Customer).values(phone_invalid=True))
    run(customers, "customers", write(tmp_path, CUSTOMERS))  # same numbers
    assert customer(customers, "C003").phone_invalid
    run(customers, "customers", write(tmp_path, CUSTOMERS.replace("13800138000", "13700000000")))
    assert not customer(customers, "C003").phone_invalid
    assert customer(customers, "C001").phone_invalid


def test_dry_run_validates_and_counts_but_writes_nothing(customers: Engine, tmp_path: Path) -> None:
    report = run(customers, "receivables", write(tmp_path, RECEIVABLES), dry_run=True)
    assert (report.dry_run, report.rows, report.inserted) == (True, 2, 2)
    assert count(customers, Receivable) == 0
    assert count(customers, Event) == 1  # the customers import only
    bad = RECEIVABLES + "INV-3,C404,100,2026-01-01,2026-02-01\n"
    with pytest.raises(ImportRejected):  # the database look-ups run in a dry run too
        run(customers, "receivables", write(tmp_path, bad), dry_run=True)


def test_tier_given_in_the_file_is_hand_set_and_an_empty_tier_clears_it(
    engine: Engine, tmp_path: Path
) -> None:
    run(engine, "customers", write(tmp_path, "customer_id,name,kind,tier\nC1,A,business,a\n"))
    c1 = customer(engine, "C1")
    assert (c1.tier, c1.tier_hand_set) == ("A", True)
    run(engine, "customers", write(tmp_path, "customer_id,name,kind,tier\nC1,A,business,\n"))
    c1 = customer(engine, "C1")
    assert (c1.tier, c1.tier_hand_set) == (None, False)


def test_each_import_records_one_event_with_its_counts(customers: Engine, tmp_path: Path) -> None:
    run(customers, "customers", write(tmp_path, CUSTOMERS, "utf-8-sig", name="crm.csv"), now=LATER)
    with unit_of_work(customers) as session:
        events = list(session.scalars(select(Event).order_by(Event.id)))  # type: ignore[arg-type]
    assert [e.kind for e in events] == ["import", "import"]
    assert events[-1].at == LATER
    assert events[-1].data == {
        "file": "crm.csv", "kind": "customers", "rows": 3, "inserted": 0, "updated": 0,
        "unchanged": 3, "encoding": "utf-8-sig",
    }  # fmt: skip


def test_progress_reaches_the_number_of_data_rows(customers: Engine, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    with unit_of_work(customers) as session:
        import_file(
            session, "receivables", write(tmp_path, RECEIVABLES), now=NOW,
            progress=lambda done, total: seen.append((done, total)),
        )  # fmt: skip
    assert seen[-1] == (2, 2)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_header_only_file_imports_zero_rows(engine: Engine, tmp_path: Path) -> None:
    report = run(engine, "customers", write(tmp_path, "customer_id,name,kind\n"))
    assert (report.rows, report.inserted) == (0, 0)


def test_empty_file_is_rejected(engine: Engine, tmp_path: Path) -> None:
    assert rejected(engine, "customers", write(tmp_path, "\n\n")) == [
        "row 1, column (whole file): is empty; the first row must be a header"
    ]


def test_samples_import_cleanly_and_the_chinese_gbk_copy_is_the_same_data(
    engine: Engine,
) -> None:
    for kind in ("customers", "receivables", "payments"):
        report = run(engine, kind, ROOT / "samples" / f"{kind}.csv")
        assert report.inserted == report.rows > 0 and report.encoding == "utf-8"
    for kind in ("customers", "receivables", "payments"):
        report = run(engine, kind, ROOT / "samples" / "zh" / f"{kind}.csv", now=LATER)
        assert report.encoding == "gb18030"
        assert report.unchanged == report.rows > 0, kind
    c001 = customer(engine, "C001")
    assert (c001.name, c001.kind, c001.locale) == ("上海星辰贸易有限公司", "business", "zh-CN")
    with unit_of_work(engine) as session:
        total = session.scalar(
            select(func.sum(Receivable.amount_cents)).where(Receivable.customer_id == "C001")
        )
    assert total == 8_600_000


def test_samples_import_cleanly_into_an_empty_database_from_the_gbk_copy(
    engine: Engine,
) -> None:
    for kind in ("customers", "receivables", "payments"):
        report = run(engine, kind, ROOT / "samples" / "zh" / f"{kind}.csv")
        assert report.inserted == report.rows > 0


@pytest.mark.slow
def test_twenty_thousand_receivables_import_and_reimport_unchanged(
    customers: Engine, tmp_path: Path
) -> None:
    lines = ["invoice_id,customer_id,amount,currency,issued_on,due_on,penalty_rate_daily"]
    lines += [
        f'INV{i:06d},C00{i % 3 + 1},"¥{i + 1:,}.50",CNY,2026/1/5,2026年2月5日,'
        + ("0.0005" if i % 2 else "")
        for i in range(20_000)
    ]
    path = write(tmp_path, "\n".join(lines) + "\n")
    first = run(customers, "receivables", path)
    assert (first.rows, first.inserted) == (20_000, 20_000)
    assert count(customers, Receivable) == 20_000
    again = run(customers, "receivables", path, now=LATER)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 20_000)
