"""What makes a secret good enough for production, and the development key kept in a file.

The rules are deliberately plain so that an operator can tell why a key is refused:

- a secret key has at least ``MIN_SECRET`` characters, at least ``MIN_DISTINCT`` different
  characters, no character more than a quarter of the key, and is not one short piece
  repeated (``abab...``, ``abcdefghij`` four times); ``secrets.token_urlsafe(32)`` passes;
- a credential (secret key, Twilio token, SMTP password) is never a value shipped in
  ``config/.env.example`` nor a well-known placeholder (``changeme``, ``your_auth_token``,
  ``<token>``, ``xxxxxxxx``...).

Outside production a missing key is generated once and kept in a file (mode 0600) so that
the web app, the workers and later runs agree on it; the file is created atomically (a
hard link of a complete temporary file) so two processes starting together read the same
key. Nothing here ever puts a secret in a message.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from collections import Counter
from pathlib import Path

MIN_SECRET = 32
MIN_DISTINCT = 10
# Values a copied .env.example or a tutorial leaves in place. config/.env.example must only
# hold values from this set for its secrets (a unit test keeps the two in step).
EXAMPLE_VALUES = frozenset(
    {
        "replace-with-at-least-32-random-characters",
        "your_auth_token",
        "your_account_sid",
        "your_smtp_password",
        "dev-only-secret-key",
    }
)
_PLACEHOLDERS = frozenset(
    {
        "", "changeme", "change-me", "change_me", "secret", "password", "passwd", "placeholder",
        "xxx", "todo", "tbd", "none", "null", "test", "example", "default", "admin",
    }
)  # fmt: skip
_PLACEHOLDER_PATTERN = re.compile(
    r"^(your|my|replace|change|insert|enter|put|fill|set)[-_ ]"  # your_auth_token, replace-me
    r"|changeme|placeholder|example|dummy|x{4,}"  # anywhere: ACxxxxxxxx...
    r"|^<.*>$|^\$\{.*\}$|^\{\{.*\}\}$"  # <token>, ${TOKEN}, {{ token }}
    r"|^(.)\2*$",  # one character repeated: xxxxxxxx, ********
    re.IGNORECASE,
)
KEY_FILE_SUFFIX = ".secret"
# Where the development key lives when the database is not a SQLite file (PostgreSQL, an
# in-memory SQLite): the working directory.
DEFAULT_KEY_FILE = Path("notifier.secret")


def is_placeholder(value: str) -> bool:
    """A value nobody chose: shipped as an example, a tutorial's filler, or empty."""
    text = value.strip()
    return (
        text.lower() in _PLACEHOLDERS
        or text in EXAMPLE_VALUES
        or bool(_PLACEHOLDER_PATTERN.search(text))
    )


def secret_key_problem(value: str) -> str | None:
    """Why ``value`` is not good enough as the signing key, or None. Never quotes it."""
    if not value.strip():
        return "is missing"
    if is_placeholder(value):
        return "is a placeholder or the example value: generate one, e.g. " + _HOW
    if len(value) < MIN_SECRET:
        return f"is shorter than {MIN_SECRET} characters: generate one, e.g. " + _HOW
    counts = Counter(value)
    if len(counts) < MIN_DISTINCT or max(counts.values()) * 4 > len(value) or _repeats(value):
        return (
            f"has too little variety (it needs {MIN_DISTINCT} different characters, none "
            "more than a quarter of the key, and no repeated pattern): generate one, e.g. " + _HOW
        )
    return None


_HOW = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def _repeats(value: str) -> bool:
    """``value`` is a shorter piece repeated (the last copy may be cut short)."""
    n = len(value)
    return any(value == (value[:p] * (n // p + 1))[:n] for p in range(1, n // 2 + 1))


def key_file_for(database_url: str) -> Path:
    """Beside the SQLite database file (``notifier.db`` -> ``notifier.db.secret``); for any
    other store, ``notifier.secret`` in the working directory."""
    from sqlalchemy.engine import make_url  # only when a key is needed

    url = make_url(database_url)
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file:")
    if url.get_backend_name() == "sqlite" and not in_memory:
        return Path(database + KEY_FILE_SUFFIX)
    return DEFAULT_KEY_FILE


class KeyFileError(Exception):
    """The key file exists but cannot be used; the message names the file."""


def read_or_create_key(path: Path) -> tuple[str, bool]:
    """The key kept in ``path``, creating it (0600) when there is none; (key, created)."""
    key = _read(path)
    if key is not None:
        return key, False
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp makes the file readable and writable by its owner only (0600).
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            # A link never replaces an existing file: of two processes starting together
            # one creates the file, the other finds it and reads the winner's key.
            os.link(tmp, path)
            created = True
        except FileExistsError:
            created = False
    finally:
        os.unlink(tmp)
    key = _read(path)
    if key is None:
        raise KeyFileError(f"the key file {path} could not be read back")
    return key, created


def _read(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"the key file {path} cannot be read: {exc.__class__.__name__}") from exc
    if secret_key_problem(text) is not None:
        raise KeyFileError(
            f"the key file {path} does not hold a usable key: delete it to have a new one made"
        )
    return text
