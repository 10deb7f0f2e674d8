"""A throwaway PostgreSQL cluster for the tests, from Debian's packages.

:func:`start_server` runs ``initdb`` into a temporary directory and starts ``postgres``
on 127.0.0.1 (a free port; its unix socket in the same directory), tuned for tests
(``fsync``, ``synchronous_commit`` and ``full_page_writes`` off: a crash loses the
cluster, which is thrown away anyway). PostgreSQL refuses to run as root, so as root
``initdb`` and ``pg_ctl`` run as the ``postgres`` user (which Debian's package creates)
through ``runuser``, in a directory that user owns.

The server is stopped by :meth:`LocalCluster.stop` (the test session's finalizer), by
``atexit``, and, should the test process be killed outright, by a small watchdog that
stops it once the process that started it is gone.

``NOTIFIER_TEST_POSTGRES_URL`` (a superuser URL of an existing server) is used instead of
starting one; the tests then create and drop their own databases there.

When no server can be had, :class:`PostgresUnavailable` says why (binaries missing,
runuser missing, or the start failed, with the tail of the server's log).

Tests get databases from :meth:`Server.database` (a copy of a template, dropped after);
:func:`wait_until_blocked_on_a_lock` lets a race test hold a lock until the other party
is seen waiting for it, with no sleeps.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL, make_url

from tests.fakes.smtp_servers import free_port

ENV_URL = "NOTIFIER_TEST_POSTGRES_URL"
START_TIMEOUT_S = 60
OS_USER = "postgres"
SUPERUSER = "postgres"
# The cluster's clock is deliberately not UTC: stored times must not depend on the
# server's TimeZone setting (a PostgreSQL in China usually runs on Asia/Shanghai).
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "timezone": "'Asia/Shanghai'",
    "log_timezone": "'UTC'",
}


_names = count(1)


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server for the tests; the message says why."""


class Server:
    """A PostgreSQL server the tests may create and drop databases on."""

    def __init__(self, base: URL) -> None:
        self.base = base.set(drivername="postgresql+psycopg")
        self._admin: psycopg.Connection[tuple[object, ...]] | None = None

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database`` on this server (password included)."""
        return self.base.set(database=database).render_as_string(hide_password=False)

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit connection to the server's maintenance database."""
        conninfo = self.base.set(drivername="postgresql", database=self.base.database or "postgres")
        return psycopg.connect(conninfo.render_as_string(hide_password=False), autocommit=True)

    def _execute(self, statement: sql.Composed) -> None:
        """``statement`` on one admin connection kept for the session (reopened if lost)."""
        if self._admin is None or self._admin.closed:
            self._admin = self.admin()
        self._admin.execute(statement)

    def create_database(self, template: str = "template0") -> str:
        """A new database, a copy of ``template`` (which nobody may be connected to); its
        name, unique to this process (several test sessions may share a server)."""
        name = f"notifier_t_{os.getpid()}_{next(_names)}"
        create = sql.SQL("CREATE DATABASE {} TEMPLATE {}")
        self._execute(create.format(sql.Identifier(name), sql.Identifier(template)))
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, ending whatever connections are still open to it."""
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        self._execute(drop.format(sql.Identifier(name)))

    @contextlib.contextmanager
    def database(self, template: str = "template0") -> Iterator[str]:
        """The URL of a new copy of ``template``, dropped afterwards."""
        name = self.create_database(template)
        try:
            yield self.url(name)
        finally:
            self.drop_database(name)

    def stop(self) -> None:
        """Close the admin connection; the server itself is someone else's to stop."""
        admin, self._admin = self._admin, None
        if admin is not None:
            admin.close()


class LocalCluster(Server):
    """A cluster this test process started (see the module docstring)."""

    def __init__(self, directory: Path, bindir: Path, port: int, as_user: list[str]) -> None:
        super().__init__(URL.create("postgresql", SUPERUSER, None, "127.0.0.1", port, "postgres"))
        self.directory = directory
        self.bindir = bindir
        self._as_user = as_user
        self._watchdog: subprocess.Popen[bytes] | None = None

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"

    def command(self, tool: str, *args: str) -> list[str]:
        return [*self._as_user, str(self.bindir / tool), *args]

    def stop_command(self) -> list[str]:
        return self.command("pg_ctl", "-D", str(self.data), "-m", "immediate", "-s", "stop")

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return "(no server log)"

    def watch(self, parent: int) -> None:
        """Stop the server and remove its directory once process ``parent`` is gone."""
        script = (
            f"while kill -0 {parent} 2>/dev/null; do sleep 2; done; "
            f"{shlex.join(self.stop_command())} >/dev/null 2>&1; "
            f"rm -rf {shlex.quote(str(self.directory))}"
        )
        self._watchdog = subprocess.Popen(
            ["sh", "-c", script],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # not ended by a Ctrl-C meant for pytest
        )

    def stop(self) -> None:
        super().stop()
        if self.data.exists():
            subprocess.run(self.stop_command(), capture_output=True, timeout=60, check=False)
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None and watchdog.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(watchdog.pid, signal.SIGTERM)
            watchdog.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


def find_bindir() -> Path | None:
    """The newest PostgreSQL server binaries: ``pg_config --bindir``, else Debian's
    /usr/lib/postgresql/<version>/bin."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if done.returncode == 0 and done.stdout.strip():
            candidates.append(Path(done.stdout.strip()))

    def version(path: str) -> int:
        found = re.search(r"/postgresql/(\d+)/", path)
        return int(found.group(1)) if found else -1

    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    candidates.extend(Path(path) for path in debian)
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    return None


def start_server() -> Server:
    """The server named by ``NOTIFIER_TEST_POSTGRES_URL``, else a new local cluster."""
    external = os.environ.get(ENV_URL)
    if external:
        server = Server(make_url(external))
        try:
            server.admin().close()
        except psycopg.Error as error:
            raise PostgresUnavailable(f"{ENV_URL} does not answer: {error}") from error
        return server
    return start_local_cluster()


def start_local_cluster() -> LocalCluster:
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailable(
            "PostgreSQL server binaries not found (no initdb via pg_config or in "
            "/usr/lib/postgresql/*/bin): install Debian's postgresql package, or set "
            f"{ENV_URL} to a superuser URL of a running server"
        )
    as_user: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        runuser = shutil.which("runuser")
        if runuser is None:
            raise PostgresUnavailable(
                "running as root, and runuser (util-linux) is missing to start PostgreSQL "
                f"as the {OS_USER} user"
            )
        try:
            owner = pwd.getpwnam(OS_USER)
        except KeyError:
            raise PostgresUnavailable(
                f"running as root, and there is no {OS_USER} user to run PostgreSQL as "
                "(Debian's postgresql package creates it)"
            ) from None
        as_user = [runuser, "-u", OS_USER, "--"]
    directory = Path(tempfile.mkdtemp(prefix="notifier-pg-"))
    if owner is not None:
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    cluster = LocalCluster(directory, bindir, free_port(), as_user)
    try:
        _initdb(cluster)
        _start(cluster)
    except BaseException:
        cluster.stop()
        raise
    cluster.watch(os.getpid())
    atexit.register(cluster.stop)
    return cluster


def _run(cluster: LocalCluster, what: str, command: list[str]) -> None:
    done = subprocess.run(
        command, cwd=cluster.directory, capture_output=True, text=True,
        timeout=START_TIMEOUT_S + 30, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()[-2000:]
        log = cluster.log_tail() if cluster.log_path.exists() else ""
        raise PostgresUnavailable(
            f"PostgreSQL {what} failed ({shlex.join(command)}):\n{output}\n{log}".rstrip()
        )


def _initdb(cluster: LocalCluster) -> None:
    _run(cluster, "initdb", cluster.command(
        "initdb", "-D", str(cluster.data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
        "--locale=C", "--no-sync", "--no-instructions",
    ))  # fmt: skip
    settings = {
        **SERVER_SETTINGS,
        "unix_socket_directories": f"'{cluster.directory}'",
    }
    with (cluster.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write("\n# notifier tests\n")
        conf.writelines(f"{name} = {value}\n" for name, value in settings.items())


def _start(cluster: LocalCluster) -> None:
    for attempt in range(3):
        port = cluster.base.port
        command = cluster.command(
            "pg_ctl", "-D", str(cluster.data), "-l", str(cluster.log_path), "-o", f"-p {port}",
            "-w", "-t", str(START_TIMEOUT_S), "-s", "start",
        )  # fmt: skip
        try:
            _run(cluster, "start", command)
            return
        except PostgresUnavailable:
            if attempt == 2 or "could not bind" not in cluster.log_tail():
                raise
            cluster.base = cluster.base.set(port=free_port())  # someone took the port


def wait_until_blocked_on_a_lock(engine: Engine, thread: threading.Thread) -> None:
    """Return once another connection to ``engine``'s database waits for a lock (a race
    test's second party has reached the row the first one holds), or once ``thread`` has
    ended without waiting."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    with engine.connect() as connection:
        while thread.is_alive():
            if connection.execute(query).scalar():
                return
            connection.rollback()  # a new snapshot of pg_stat_activity
            thread.join(0.01)
