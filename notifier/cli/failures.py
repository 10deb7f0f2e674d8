"""What the command says when it cannot go on: one line a user can act on.

A failure is described by its kind, never by the words of the exception: a database
error's text holds the statement and its parameters (phone numbers, e-mails, message
bodies), PostgreSQL's DETAIL quotes the key values, and an unexpected error's message can
hold anything. NOTIFIER_DEBUG=1 lets the traceback through instead.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import exc as sa

DEBUG_HINT = "NOTIFIER_DEBUG=1 shows the traceback"

# SQLite primary result codes (https://sqlite.org/rescode.html); extended codes carry the
# primary one in their low byte.
_SQLITE = {
    5: "busy",  # SQLITE_BUSY
    6: "busy",  # SQLITE_LOCKED
    8: "read_only",  # SQLITE_READONLY
    14: "cannot_open",  # SQLITE_CANTOPEN
    3: "cannot_open",  # SQLITE_PERM
    13: "full",  # SQLITE_FULL
    10: "io",  # SQLITE_IOERR
    11: "damaged",  # SQLITE_CORRUPT
    26: "damaged",  # SQLITE_NOTADB
}
# PostgreSQL SQLSTATE classes and codes (Appendix A of its manual).
_POSTGRES = {
    "40001": "conflict",  # serialization_failure
    "40P01": "conflict",  # deadlock_detected
    "55P03": "busy",  # lock_not_available
    "25006": "read_only",  # read_only_sql_transaction
    "3D000": "no_database",  # invalid_catalog_name
    "53100": "full",  # disk_full
}
_POSTGRES_CLASSES = {"08": "cannot_connect", "28": "refused_login", "57": "cannot_connect"}


def describe(exc: BaseException, database: str, *, busy_timeout_s: float | None = None) -> str:
    """The one line for ``exc``; ``database`` is the URL to name, its password masked."""
    db_error = _database_error(exc)
    if db_error is not None:
        return _describe_database(db_error, database, busy_timeout_s)
    if isinstance(exc, sa.ArgumentError):
        return (
            f"{database}: not a database URL notifier can use, e.g. sqlite:///./notifier.db "
            "or postgresql://user@host/name (psycopg: pip install 'notifier[postgresql]')"
        )
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").startswith("psycopg"):
        return "PostgreSQL needs the driver: pip install 'notifier[postgresql]'"
    if isinstance(exc, OSError):
        return _describe_os_error(exc)
    # Its message may quote anything (a name, a phone number): only the type is shown.
    return f"unexpected {type(exc).__name__}, a bug to report; {DEBUG_HINT}"


def _database_error(exc: BaseException) -> sa.DBAPIError | None:
    """The database error ``exc`` is or was raised from, if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, sa.DBAPIError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _kind(error: sa.DBAPIError) -> str:
    orig = error.orig
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF in _SQLITE:
            return _SQLITE[code & 0xFF]
    state = getattr(orig, "sqlstate", None)
    if isinstance(state, str):
        if state in _POSTGRES:
            return _POSTGRES[state]
        if state[:2] in _POSTGRES_CLASSES:
            return _POSTGRES_CLASSES[state[:2]]
    if isinstance(error, sa.IntegrityError):
        return "conflict"
    # A failed connect has no SQLSTATE: psycopg reports it as an OperationalError; which
    # words it uses is read only to choose our message, never printed.
    text = str(orig).lower()
    if "password authentication failed" in text or ("role" in text and "does not exist" in text):
        return "refused_login"
    if "database" in text and "does not exist" in text:
        return "no_database"
    if "connection" in text or "could not connect" in text or "server" in text:
        return "cannot_connect"
    return "other"


def _describe_database(error: sa.DBAPIError, db: str, busy_timeout_s: float | None) -> str:
    waited = f" for {busy_timeout_s:g}s" if busy_timeout_s is not None else ""
    kind = _kind(error)
    if kind == "busy":
        return (
            f"the database {db} is busy: another process held its write lock{waited}; "
            "this command's uncommitted changes were rolled back: run it again when the other "
            "process is done (NOTIFIER_SQLITE_BUSY_TIMEOUT_SECONDS waits longer)"
        )
    if kind == "conflict":
        return (
            f"the database {db} refused a change that conflicts with what is stored, most "
            "likely written at the same time by another process (e.g. two imports at once); "
            "this command's uncommitted changes were rolled back: run it again"
        )
    messages = {
        "read_only": f"the database {db} is read-only: check the file's and its folder's "
        "permissions and the URL (mode=ro), or use a database this user may write",
        "cannot_open": f"cannot open the database {db}: check that its folder exists and "
        "this user may read and write there",
        "full": f"the disk of the database {db} is full: free some space and run it again",
        "io": f"the disk of the database {db} failed to read or write: check the disk",
        "damaged": f"{db} is not a usable SQLite database (damaged or another kind of "
        "file): restore it from a backup or point --db elsewhere",
        "cannot_connect": f"cannot reach the database {db}: check that the server runs and "
        "the host and port are right",
        "refused_login": f"the database {db} refused the user or password",
        "no_database": f"the database {db} does not exist on its server: create it, then "
        "run `notifier init`",
    }
    if kind in messages:
        return messages[kind]
    return f"the database {db} failed ({type(error.orig).__name__}); {DEBUG_HINT}"


def _describe_os_error(exc: OSError) -> str:
    name = f"{exc.filename}: " if exc.filename else ""
    if isinstance(exc, PermissionError):
        return f"{name}permission denied: this user may not read or write it"
    reason = exc.strerror or type(exc).__name__
    return f"{name}{reason}"
