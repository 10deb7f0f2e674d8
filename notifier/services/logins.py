"""Web sessions kept in the database, and the throttling of failed logins.

A session is a row in ``web_sessions``; the signed cookie holds only its random id. So a
session ends for good when the row says so: logout, a password or role change and
disabling the user end every session of that user (users.end_sessions), and a copied
cookie stops working at once. Sessions also end ``policy.security.session_hours`` after
the login.

Failed logins are rows in ``login_failures`` (shared by every process serving the app).
After ``login_free_failures`` failures within ``login_window_minutes`` for one account, or
from one client address, the next try must wait ``base * 2^(n - free)`` seconds (capped):
until then the login is answered 429 without running Argon2, so a password-guessing flood
costs one indexed count per request and the page stays fast for everyone else.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlmodel import Session, col

from notifier.domain.policy import SecurityPolicy
from notifier.store.models import LoginFailure, User, WebSession

# last_seen_at is written at most this often, not on every page.
TOUCH_EVERY = timedelta(minutes=1)


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(session: Session, user_name: str, now: datetime, hours: int) -> str:
    """A new session for the user; its id (for the cookie; only a hash is stored)."""
    session_id = secrets.token_urlsafe(32)
    session.add(WebSession(id_sha256=_digest(session_id), user_name=user_name, created_at=now,
                           last_seen_at=now, expires_at=now + timedelta(hours=hours)))  # fmt: skip
    return session_id


def session_user(session: Session, session_id: str, now: datetime) -> User | None:
    """The active user of a live session, else None (ended, expired, unknown, disabled)."""
    row = session.get(WebSession, _digest(session_id))
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_name)
    if user is None or not user.active:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return user


def end_session(session: Session, session_id: str, now: datetime) -> str | None:
    """End this session; the name of its user (None when there was no live session)."""
    row = session.get(WebSession, _digest(session_id))
    if row is None or row.ended_at is not None:
        return None
    row.ended_at = now
    return row.user_name


def retry_after(
    session: Session, name: str, address: str, now: datetime, rules: SecurityPolicy
) -> int:
    """Seconds until the account ``name`` or the ``address`` may try again; 0: now."""
    since = now - timedelta(minutes=rules.login_window_minutes)
    waits = [
        _wait(session, col(LoginFailure.user_name) == name[:64], since, now, rules),
        _wait(session, col(LoginFailure.address) == address[:64], since, now, rules),
    ]
    return max(waits)


def _wait(
    session: Session,
    which: ColumnElement[bool],
    since: datetime,
    now: datetime,
    rules: SecurityPolicy,
) -> int:
    count, last = session.execute(
        select(func.count(), func.max(col(LoginFailure.at))).where(
            which, col(LoginFailure.at) >= since
        )
    ).one()
    beyond = int(count) - rules.login_free_failures
    if beyond < 0 or last is None:
        return 0
    doubled = rules.login_delay_base_seconds * 2 ** min(beyond, 32)
    delay = min(doubled, rules.login_delay_max_seconds)
    last_at = last if isinstance(last, datetime) else datetime.fromisoformat(str(last))
    if last_at.tzinfo is None:
        last_at = last_at.replace(tzinfo=now.tzinfo)
    left = (last_at + timedelta(seconds=delay) - now).total_seconds()
    return max(0, math.ceil(left))


def record_failure(
    session: Session, name: str, address: str, now: datetime, rules: SecurityPolicy
) -> None:
    """Count a failed login; failures older than the window are forgotten on the way."""
    session.execute(
        delete(LoginFailure).where(
            col(LoginFailure.at) < now - timedelta(minutes=rules.login_window_minutes)
        )
    )
    session.add(LoginFailure(at=now, user_name=name[:64], address=address[:64]))


def clear_failures(session: Session, name: str) -> None:
    """A successful login forgets the account's failures (not the address's: else one
    good account would let an address go on guessing the others)."""
    session.execute(delete(LoginFailure).where(col(LoginFailure.user_name) == name[:64]))


def failures(session: Session, name: str | None = None, address: str | None = None) -> int:
    """How many failures are kept for the account or the address (for reports, tests)."""
    query = select(func.count()).select_from(LoginFailure)
    conditions = []
    if name is not None:
        conditions.append(col(LoginFailure.user_name) == name)
    if address is not None:
        conditions.append(col(LoginFailure.address) == address)
    if conditions:
        query = query.where(or_(*conditions))
    return int(session.scalar(query) or 0)
