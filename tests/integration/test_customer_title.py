"""A person's title (issue 13): imported as 先生/女士 or Mr/Ms in any common spelling,
stored as ``mr``/``ms``, and used by the planned messages to greet 王芳女士您好！ /
Hello Ms Smith; without a title a person is greeted with a plain 您好！."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from notifier.domain.policy import Policy
from notifier.importer import ImportRejected, ImportReport, import_file
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Receivable, Reminder
from notifier.sweeps.plan import plan
from tests.support import sweep_context

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
SH = ZoneInfo("Asia/Shanghai")
HEADER = "customer_id,name,kind,phone,locale,country,title\n"


def run(engine: Engine, tmp_path: Path, text: str, encoding: str = "utf-8") -> ImportReport:
    path = tmp_path / "customers.csv"
    path.write_bytes(text.encode(encoding))
    with unit_of_work(engine) as session:
        return import_file(session, "customers", path, now=NOW)


def problems(engine: Engine, tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ImportRejected) as info:
        run(engine, tmp_path, text)
    return [str(p) for p in info.value.problems]


def title_of(engine: Engine, cid: str) -> str | None:
    with unit_of_work(engine) as session:
        found = session.get(Customer, cid)
        assert found is not None
        return found.title


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("mr", "mr"), ("MR", "mr"), ("Mr", "mr"), ("Mr.", "mr"), ("先生", "mr"),
        ("ms", "ms"), ("Ms", "ms"), ("ms.", "ms"), ("Mrs", "ms"), ("MRS.", "ms"),
        ("Miss", "ms"), ("女士", "ms"), (" 女士 ", "ms"),
    ],
)  # fmt: skip
def test_each_accepted_spelling_of_a_title_is_stored_as_its_code(
    engine: Engine, tmp_path: Path, written: str, stored: str
) -> None:
    run(engine, tmp_path, HEADER + f"P1,王芳,individual,13800138000,,,{written}\n")
    assert title_of(engine, "P1") == stored


def test_an_empty_title_stores_none_and_a_file_without_the_column_keeps_it(
    engine: Engine, tmp_path: Path
) -> None:
    run(engine, tmp_path, HEADER + "P1,王芳,individual,13800138000,,,\n")
    assert title_of(engine, "P1") is None
    run(engine, tmp_path, HEADER + "P1,王芳,individual,13800138000,,,女士\n")
    run(engine, tmp_path, "customer_id,name,kind\nP1,王芳,individual\n")
    assert title_of(engine, "P1") == "ms"


def test_the_chinese_header_reads_the_title_from_a_gbk_export(
    engine: Engine, tmp_path: Path
) -> None:
    text = "客户编号,客户名称,类型,称谓\nP1,李强,个人,先生\n"
    run(engine, tmp_path, text, encoding="gbk")
    assert title_of(engine, "P1") == "mr"


def test_an_unknown_title_is_refused_naming_the_row_the_column_and_the_accepted_values(
    engine: Engine, tmp_path: Path
) -> None:
    text = HEADER + "P1,王芳,individual,13800138000,,,女士\nP2,李强,individual,,,,Dr\n"
    [problem] = problems(engine, tmp_path, text)
    assert problem.startswith("row 3, column title: 'Dr' is not a title")
    assert all(word in problem for word in ("mr", "先生", "ms", "女士", "Mrs", "Miss"))
    with unit_of_work(engine) as session:  # all or nothing: the good row is not written
        assert session.get(Customer, "P1") is None


def test_a_business_with_a_title_is_refused(engine: Engine, tmp_path: Path) -> None:
    text = "客户编号,客户名称,类型,称谓\nB1,上海星辰贸易有限公司,企业,先生\n"
    [problem] = problems(engine, tmp_path, text)
    assert problem.startswith("row 2, column 称谓: is for a person only")
    run(engine, tmp_path, "客户编号,客户名称,类型,称谓\nB1,上海星辰贸易有限公司,企业,\n")
    assert title_of(engine, "B1") is None


def planned_sms(engine: Engine, policy: Policy) -> dict[str, str]:
    """Every customer 5 days overdue on 2026-03-02 (a friendly reminder), planned then."""
    with unit_of_work(engine) as session:
        ids = list(session.exec(select(Customer.id)))
        for cid in ids:
            session.add(Receivable(id=f"INV-{cid}", customer_id=cid, amount_cents=860_000,
                                   issued_on=date(2026, 1, 26), due_on=date(2026, 2, 25),
                                   created_at=NOW, updated_at=NOW))  # fmt: skip
    at = datetime(2026, 3, 2, 8, 0, tzinfo=SH)
    assert plan(engine, at, sweep_context(policy), force=True).drafted >= len(ids)
    with unit_of_work(engine) as session:
        rows = session.exec(select(Reminder).where(Reminder.channel == "sms")).all()
        return {r.customer_id: r.body for r in rows}


def test_a_planned_sms_greets_a_person_by_name_and_title_and_without_one_plainly(
    engine: Engine, tmp_path: Path, policy: Policy
) -> None:
    run(engine, tmp_path, HEADER
        + "P1,王芳,individual,13800138000,zh-CN,CN,ms\n"
        + "P2,Jane Smith,individual,07911 123456,en,GB,Ms.\n"
        + "P3,李强,individual,13712345678,zh-CN,CN,先生\n"
        + "P4,陈静,individual,15855550123,zh-CN,CN,\n"
        + "P5,Tom Brown,individual,07911 123457,en,GB,\n")  # fmt: skip
    bodies = planned_sms(engine, policy)
    greetings = {cid: body.split("】", 1)[-1] for cid, body in bodies.items()}
    assert greetings["P1"].startswith("王芳女士您好！"), bodies["P1"]
    assert greetings["P3"].startswith("李强先生您好！"), bodies["P3"]
    assert greetings["P4"].startswith("您好！"), bodies["P4"]
    assert "陈静" not in bodies["P4"]  # never the bare name
    assert " Ms Smith, your invoice" in bodies["P2"], bodies["P2"]  # Hello / Dear by tone
    assert " Tom Brown, your invoice" in bodies["P5"], bodies["P5"]
