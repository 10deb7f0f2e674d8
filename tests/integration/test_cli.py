"""The `notifier` command as a user runs it: a real process, a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import ROOT, run


@pytest.fixture
def demo_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert run("init", db=url).returncode == 0
    for kind in ("customers", "receivables", "payments"):
        result = run("import", kind, f"samples/{kind}.csv", db=url)
        assert result.returncode == 0, result.stderr
    return url


def test_init_twice_reports_up_to_date(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    first = run("init", db=url)
    assert first.returncode == 0 and "database schema empty -> " in first.stdout
    second = run("init", db=url)
    assert second.returncode == 0 and "up to date" in second.stdout


def test_commands_on_an_uninitialised_database_say_to_run_init(tmp_path: Path) -> None:
    result = run("report", "aging", db=f"sqlite:///{tmp_path / 'none.db'}")
    assert result.returncode == 1
    assert "notifier init" in result.stderr


def test_bad_policy_file_fails_at_start_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "p.toml"
    text = (ROOT / "config/notifier.toml").read_text(encoding="utf-8")
    bad.write_text(text.replace("sms_per_day = 1", "sms_per_day = -1"), encoding="utf-8")
    result = run("--config", str(bad), "init", db=f"sqlite:///{tmp_path / 'x.db'}")
    assert result.returncode == 1
    assert "caps.sms_per_day" in result.stderr


def test_import_with_a_bad_row_exits_1_and_names_row_and_column(
    tmp_path: Path, demo_db: str
) -> None:
    bad = tmp_path / "r.csv"
    bad.write_text(
        "invoice_id,customer_id,amount,issued_on,due_on\n"
        "X1,C001,100,2026-01-01,2026-02-01\n"
        "X2,C001,abc,2026-01-01,2026-02-01\n",
        encoding="utf-8",
    )
    result = run("import", "receivables", str(bad), db=demo_db)
    assert result.returncode == 1
    assert "row 3, column amount:" in result.stderr
    listing = run("explain", "C001", "--json", "--at", "2026-03-02T10:00:00+08:00", db=demo_db)
    assert "X1" not in listing.stdout  # all-or-nothing: the good row was not written either


def test_usage_error_exits_2() -> None:
    assert run("import", "invoices", "x.csv").returncode == 2


def test_at_without_offset_is_a_usage_error(demo_db: str) -> None:
    result = run("explain", "C001", "--at", "2026-03-02T10:00:00", db=demo_db)
    assert result.returncode == 2
    assert "offset" in result.stderr


def test_explain_unknown_customer_exits_1(demo_db: str) -> None:
    result = run("explain", "NOPE", db=demo_db)
    assert result.returncode == 1 and "NOPE" in result.stderr


def test_explain_gives_stage_tier_tone_slot_and_flags(demo_db: str) -> None:
    result = run("explain", "C001", "--json", "--at", "2026-03-02T10:00:00+08:00", db=demo_db)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for key in (
        "stage",
        "days_overdue",
        "open_items",
        "total_outstanding",
        "penalty_so_far",
        "tier",
        "tier_reasons",
        "tone",
        "next_slot",
        "blacklisted",
        "suspend_new_orders",
    ):
        assert key in data  # fmt: skip
    text = run("explain", "C001", "--at", "2026-03-02T10:00:00+08:00", db=demo_db)
    assert "next contact slot" in text.stdout
    assert "tier:" in text.stdout


def test_aging_report_formats_agree(demo_db: str) -> None:
    as_json = json.loads(run("report", "aging", "--at", "2026-03-02", "--format", "json",
                             db=demo_db).stdout)  # fmt: skip
    as_csv = run("report", "aging", "--at", "2026-03-02", "--format", "csv", db=demo_db).stdout
    assert len(as_csv.strip().splitlines()) == len(as_json["items"]) + 1
    assert [b["bucket"] for b in as_json["buckets"]] == [
        "not_due", "0-30", "31-60", "61-90", "90+", "settled"
    ]  # fmt: skip
    table = run("report", "aging", "--at", "2026-03-02", db=demo_db)
    assert table.returncode == 0 and "Aging report as of 2026-03-02" in table.stdout
