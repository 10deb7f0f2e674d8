"""The approval queue from the command line, as an operator drives it: a real process and
a real database (SQLite file, then PostgreSQL) with the sample portfolio, time given with
--at."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.fakes.postgres import Server
from tests.support import run

AT = "2026-03-02T08:00:00+08:00"
LATE = "2026-03-02T23:00:00+08:00"
PASSWORD = "long enough pw"


@pytest.fixture(scope="module")
def planned_once(
    store: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[str]:
    """The sample portfolio imported and planned through the CLI, once per store; each
    test gets a copy (``planned``)."""
    if store == "postgresql":
        server: Server = request.getfixturevalue("postgres_server")
        with server.database() as url:
            yield build_planned(url)
    else:
        yield build_planned(f"sqlite:///{tmp_path_factory.mktemp('queue') / 'queue.db'}")


def build_planned(url: str) -> str:
    assert run("init", db=url).returncode == 0
    for kind in ("customers", "receivables", "payments"):
        assert run("import", kind, f"samples/{kind}.csv", db=url).returncode == 0
    result = run("plan", "--at", AT, db=url)
    assert result.returncode == 0, result.stderr
    added = run("user", "add", "wang", "--role", "reviewer", "--password", PASSWORD, db=url)
    assert added.returncode == 0, added.stderr
    return url


@pytest.fixture
def planned(planned_once: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    source = make_url(planned_once)
    if source.get_backend_name() == "postgresql":
        server: Server = request.getfixturevalue("postgres_server")
        with server.database(template=str(source.database)) as url:
            yield url
        return
    target = tmp_path / "queue.db"
    with (
        closing(sqlite3.connect(str(source.database))) as original,
        closing(sqlite3.connect(target)) as copy,
    ):
        original.backup(copy)
    yield f"sqlite:///{target}"


def drafts(db: str, *args: str) -> list[dict[str, object]]:
    result = run("drafts", "--json", *args, db=db)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    return data


def test_plan_drafts_pending_reminders_in_the_contract_shape(planned: str) -> None:
    rows = drafts(planned)
    assert rows, "the sample portfolio has customers due a reminder on 2026-03-02"
    for row in rows:
        assert row["status"] == "pending_approval"
        assert row["channel"] in ("sms", "email")
        assert row["fallback_of"] is None
        assert str(row["slot_start"]).endswith("+00:00") and row["slot_end"] > row["slot_start"]
        assert row["body"] and row["stage"] and row["tone"] and row["step"]
        assert (row["subject"] is None) == (row["channel"] == "sms")


def test_replanning_the_same_instant_creates_nothing(planned: str) -> None:
    before = drafts(planned)
    again = run("plan", "--at", AT, "--json", db=planned)
    assert again.returncode == 0 and json.loads(again.stdout)["drafted"] == 0
    assert drafts(planned) == before


def test_approve_reject_and_status_filter(planned: str) -> None:
    rows = drafts(planned)
    first, second = rows[0]["id"], rows[1]["id"]
    ok = run("approve", str(first), "--as", "wang", "--at", AT, db=planned)
    assert ok.returncode == 0, ok.stderr
    no = run("reject", str(second), "--reason", "customer paid by phone", "--as", "wang",
             "--at", AT, db=planned)  # fmt: skip
    assert no.returncode == 0, no.stderr
    approved = drafts(planned, "--status", "approved")
    assert [r["id"] for r in approved] == [first]
    assert [r["id"] for r in drafts(planned, "--status", "rejected")] == [second]
    twice = run("approve", str(first), "--as", "wang", "--at", AT, db=planned)
    assert twice.returncode == 1 and "approved" in twice.stderr


def test_approve_after_the_slot_defers_to_the_next_slot(planned: str) -> None:
    row = drafts(planned)[0]
    result = run("approve", str(row["id"]), "--as", "wang", "--at", LATE, db=planned)
    assert result.returncode == 0, result.stderr
    [after] = [r for r in drafts(planned) if r["id"] == row["id"]]
    assert after["status"] == "approved" and after["slot_start"] > row["slot_start"]


def test_edit_refuses_a_threat_and_accepts_a_clean_text(planned: str, tmp_path: Path) -> None:
    sms = next(r for r in drafts(planned) if r["channel"] == "sms")
    threat = tmp_path / "threat.txt"
    threat.write_text(str(sms["body"]) + "\n否则我们将起诉你。", encoding="utf-8")
    refused = run("edit", str(sms["id"]), "--body-file", str(threat), "--as", "wang", db=planned)
    assert refused.returncode == 1 and "legal_threat" in refused.stderr
    [unchanged] = [r for r in drafts(planned) if r["id"] == sms["id"]]
    assert unchanged["body"] == sms["body"]
    clean = tmp_path / "clean.txt"
    clean.write_text("您好，" + str(sms["body"]), encoding="utf-8")
    accepted = run("edit", str(sms["id"]), "--body-file", str(clean), "--as", "wang", db=planned)
    assert accepted.returncode == 0, accepted.stderr
    [edited] = [r for r in drafts(planned) if r["id"] == sms["id"]]
    assert str(edited["body"]).startswith("您好，")


def test_an_id_or_a_body_out_of_bounds_is_refused_by_name_before_any_work(
    planned: str, tmp_path: Path
) -> None:
    # An id wider than the stores keep once failed inside the database ("unexpected
    # OverflowError, a bug to report"); a body file is measured before it is read.
    sms = next(r for r in drafts(planned) if r["channel"] == "sms")
    clean = tmp_path / "clean.txt"
    clean.write_text("您好，" + str(sms["body"]), encoding="utf-8")
    huge = str(2**63)
    for args in (("edit", huge, "--body-file", str(clean)), ("approve", "1", huge),
                 ("reject", huge, "--reason", "x"), ("call", huge, "--outcome", "x")):  # fmt: skip
        result = run(*args, "--as", "wang", db=planned)
        assert result.returncode == 2, (args, result.stderr)
        assert "9223372036854775807" in result.stderr and "Traceback" not in result.stderr
    long = tmp_path / "long.txt"
    long.write_text("您好" * 45_000, encoding="utf-8")  # 90,000 characters
    refused = run("edit", str(sms["id"]), "--body-file", str(long), "--as", "wang", db=planned)
    assert refused.returncode == 1 and "longer than 20000 characters" in refused.stderr
    [unchanged] = [r for r in drafts(planned) if r["id"] == sms["id"]]
    assert unchanged["body"] == sms["body"]


def test_approve_all_and_unknown_status_is_a_usage_error(planned: str) -> None:
    result = run("approve", "--all", "--as", "wang", "--at", AT, db=planned)
    assert result.returncode == 0, result.stderr
    assert drafts(planned, "--status", "pending_approval") == []
    assert run("drafts", "--status", "nonsense", db=planned).returncode == 2
    assert run("approve", db=planned).returncode == 2


def test_user_and_token_commands(planned: str) -> None:
    added = run("user", "add", "zhao", "--role", "reviewer", "--password", PASSWORD, db=planned)
    assert added.returncode == 0, added.stderr
    token = run("token", "create", "zhao", db=planned)
    assert token.returncode == 0 and token.stdout.strip().startswith("ntf_")
    assert run("token", "create", "nobody", db=planned).returncode == 1
    bad_role = run("user", "add", "x1", "--role", "boss", "--password", "long enough pw",
                   db=planned)  # fmt: skip
    assert bad_role.returncode == 2


def test_deliver_and_fallback_replay_with_the_local_capture(planned: str, tmp_path: Path) -> None:
    env = {"NOTIFIER_DELIVERY_MODE": "capture", "NOTIFIER_CAPTURE_DIR": str(tmp_path / "out")}
    assert run("approve", "--all", "--as", "wang", "--at", AT, db=planned).returncode == 0
    rows = drafts(planned, "--status", "approved")
    first_slot = min(str(r["slot_start"]) for r in rows)
    early = run("deliver", "--at", AT, "--json", db=planned, env=env)
    assert early.returncode == 0, early.stderr
    assert json.loads(early.stdout)["sent"] == 0  # no slot is open at 08:00
    at_slot = first_slot.replace("+00:00", "Z")
    sent = json.loads(run("deliver", "--at", at_slot, "--json", db=planned, env=env).stdout)
    assert sent["sent"] >= 1
    again = json.loads(run("deliver", "--at", at_slot, "--json", db=planned, env=env).stdout)
    assert again["sent"] == 0  # nothing twice
    files = list((tmp_path / "out").rglob("*.json"))
    assert len(files) == sent["sent"]
    done = drafts(planned, "--status", "sent")
    assert len(done) == sent["sent"] and all(r["sent_at"] and r["provider_id"] for r in done)
    follow = run("fallback", "--at", "2026-03-04T12:00:00+08:00", "--json", db=planned)
    assert follow.returncode == 0, follow.stderr
    emails = sum(1 for r in done if r["channel"] == "email")
    assert json.loads(follow.stdout)["drafted"] <= emails


def test_a_database_without_schema_asks_for_init_and_never_shows_its_password(
    blank_db_url: str, store: str
) -> None:
    url = make_url(blank_db_url)
    if store == "postgresql":
        url = url.set(password="s3cret-pw")  # the test server trusts any password
    result = run("drafts", db=url.render_as_string(hide_password=False))
    assert result.returncode == 1 and "run `notifier init` first" in result.stderr
    assert "s3cret-pw" not in result.stdout + result.stderr
