"""Expected failures of the `notifier` command, as a user meets them: a real process, a
real database that is locked, read-only, shared by two imports or unreachable. Each ends
in one line and exit code 1, with no traceback and nothing of the customers' data."""

from __future__ import annotations

import csv
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from tests.fakes.smtp_servers import free_port
from tests.support import ROOT, run

CUSTOMERS = ROOT / "samples" / "customers.csv"
# A strong key, so the settings say nothing of their own on stderr.
ENV = {"NOTIFIER_SECRET_KEY": secrets.token_urlsafe(32)}


def personal_data() -> list[str]:
    with CUSTOMERS.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    values = [r["phone"].strip()[-8:] for r in rows if r["phone"].strip()]
    values += [r["email"].strip() for r in rows if r["email"].strip()]
    assert len(values) > 10
    return values


def assert_one_clean_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit 1 and a single `error: ...` line naming ``words``; no traceback, SQL, phone
    number or e-mail anywhere."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0]
    both = result.stdout + result.stderr
    assert "Traceback" not in both and "INSERT" not in both and "[parameters" not in both
    for value in personal_data():
        assert value not in both


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    path = tmp_path / "cli.db"
    assert run("init", db=f"sqlite:///{path}", env=ENV).returncode == 0
    return path


def test_a_write_locked_database_fails_in_one_line_naming_it(db_file: Path) -> None:
    with closing(sqlite3.connect(db_file, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")  # another process is writing, for longer than we wait
        result = run("import", "customers", str(CUSTOMERS), db=f"sqlite:///{db_file}",
                     env={**ENV, "NOTIFIER_SQLITE_BUSY_TIMEOUT_SECONDS": "0.2"})  # fmt: skip
        other.execute("ROLLBACK")
    assert_one_clean_line(result, "busy", str(db_file), "run it again")


def test_a_read_only_database_fails_in_one_line_naming_it(db_file: Path) -> None:
    # Root ignores file modes, so the database is opened read-only by SQLite itself.
    url = f"sqlite:///file:{db_file}?mode=ro&uri=true"
    result = run("import", "customers", str(CUSTOMERS), db=url, env=ENV)
    assert_one_clean_line(result, "read-only", str(db_file))


def test_two_imports_of_one_file_at_once_end_cleanly_and_keep_the_data_whole(
    db_file: Path,
) -> None:
    url = f"sqlite:///{db_file}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}, **ENV}
    command = [sys.executable, "-m", "notifier", "--db", url, "import", "customers",
               str(CUSTOMERS)]  # fmt: skip
    with closing(sqlite3.connect(db_file, isolation_level=None)) as other:
        # Held while both start: each reads what is stored (nothing yet), then queues for
        # the write lock, so both try to insert the same new customers.
        other.execute("BEGIN IMMEDIATE")
        imports = [
            subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]  # fmt: skip
        for _ in range(400):  # until both have the database open (bounded)
            if all(_has_open(p.pid, db_file) or p.poll() is not None for p in imports):
                break
            time.sleep(0.05)
        time.sleep(1.0)  # time to reach the insert; the outcome is checked either way
        other.execute("ROLLBACK")
    results = [subprocess.CompletedProcess(p.args, p.wait(timeout=120), *p.communicate())
               for p in imports]  # fmt: skip
    for result in results:
        if result.returncode != 0:
            assert_one_clean_line(result, str(db_file), "run it again")
    assert any(r.returncode == 0 for r in results)
    with CUSTOMERS.open(encoding="utf-8-sig", newline="") as f:
        expected = {(r["customer_id"], r["email"].strip() or None) for r in csv.DictReader(f)}
    with closing(sqlite3.connect(db_file)) as db:
        stored = set(db.execute("SELECT id, email FROM customers"))
    assert stored == expected


def test_an_unreachable_postgresql_fails_in_one_line_with_its_password_masked() -> None:
    url = f"postgresql://collector:hunter2-secret@127.0.0.1:{free_port()}/notifier"
    result = run("report", "aging", db=url, env=ENV)
    assert_one_clean_line(result, "cannot reach the database", "127.0.0.1")
    assert "hunter2-secret" not in result.stderr


BOOM = (
    "import sys, notifier.cli.data as data\n"
    "def boom(*args, **kwargs):\n"
    "    raise ValueError('customer +8613912345678 finance@xingchen.example')\n"
    "data.import_file = boom\n"
    "from notifier.cli import main\n"
    "sys.argv[0] = 'notifier'\n"
    "main()\n"
)


def test_an_unexpected_error_is_one_line_with_its_type_and_how_to_see_more(
    db_file: Path,
) -> None:
    args = ("-c", BOOM, "--db", f"sqlite:///{db_file}", "import", "customers", str(CUSTOMERS))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                            env={**clean, **ENV}, timeout=120)  # fmt: skip
    assert_one_clean_line(result, "ValueError", "NOTIFIER_DEBUG=1")
    debug = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                           env={**clean, **ENV, "NOTIFIER_DEBUG": "1"}, timeout=120)  # fmt: skip
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def _has_open(pid: int, path: Path) -> bool:
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    target = str(path.resolve())
    for fd in fds:
        try:
            if os.readlink(fd) == target:
                return True
        except OSError:
            continue
    return False
