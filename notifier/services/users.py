"""People and their credentials: reviewers, collectors, managers and admins (D4, D13).

Passwords are hashed with Argon2 (argon2-cffi, the maintained reference binding); API
bearer tokens are random, shown once, and only their SHA-256 is stored. Disabling a user,
changing a password or a role ends the user's web sessions at once (logins.py); disabling
also revokes the user's tokens, so enabling the user again brings none of them back.
Every change lands in the event log, never with a password or a token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from functools import cache
from typing import Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlmodel import Session, col

from notifier.domain.errors import NotFound, Refused
from notifier.store.models import ApiToken, Event, User, WebSession

Role = Literal["reviewer", "collector", "manager", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
# Who may decide on drafts (approve, reject, edit): not collectors (D13: reviewers approve).
DECIDERS = frozenset({"reviewer", "manager", "admin"})
MIN_PASSWORD = 10
_NAME = re.compile(r"^[\w.@-]{2,64}$")
_hasher = PasswordHasher()
# last_used_at of a token is written at most this often: not one write per API call.
TOUCH_EVERY = timedelta(minutes=1)


class UserError(Refused, ValueError):
    """A user or token request that cannot be done; the message says why."""


class UnknownUser(NotFound, UserError):
    """No such user or token."""


def add_user(
    session: Session, name: str, role: str, password: str, now: datetime, locale: str = "zh-CN"
) -> User:
    if not _NAME.match(name):
        raise UserError(f"user name {name!r}: 2-64 letters, digits, '.', '@', '_' or '-'")
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
    _check_password_rules(password)
    if session.get(User, name) is not None:
        raise UserError(f"user {name!r} already exists")
    user = User(name=name, role=role, password_hash=_hasher.hash(password), locale=locale,
                created_at=now)  # fmt: skip
    session.add(user)
    session.add(Event(at=now, kind="user_added", actor=name, data={"role": role}))
    return user


def _check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")


@cache
def _dummy_hash() -> str:
    """A hash no password matches, made with the same parameters as real ones: verified
    when the user does not exist, is disabled or has no password, so that a failed login
    costs the same Argon2 work and its timing does not tell which names exist."""
    return _hasher.hash(secrets.token_urlsafe(32))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def verify_password(user: User | None, password: str) -> bool:
    """The password is right for an active user; one Argon2 verify in every case."""
    if user is None or not user.active or not user.password_hash:
        _verify(_dummy_hash(), password)
        return False
    return _verify(user.password_hash, password)


def get_user(session: Session, name: str) -> User:
    user = session.get(User, name, with_for_update=True)
    if user is None:
        raise UnknownUser(f"no user {name!r}: add one with `notifier user add`")
    return user


def decider_problem(user: User | None, name: str) -> str | None:
    """Why ``name`` may not decide on drafts (approve, reject, edit), or None."""
    if user is None:
        return (
            f"no user {name!r}: a decision names a notifier user (a reviewer, manager or "
            f"admin); add one with `notifier user add {name} --role reviewer`"
        )
    if not user.active:
        return f"user {name!r} is disabled and may not decide on drafts"
    if user.role not in DECIDERS:
        return f"user {name!r} is a {user.role}; only a {', '.join(sorted(DECIDERS))} may decide"
    return None


def end_sessions(session: Session, user_name: str, now: datetime) -> int:
    """End every open web session of the user (every device, every copied cookie)."""
    result = session.execute(
        update(WebSession)
        .where(col(WebSession.user_name) == user_name, col(WebSession.ended_at).is_(None))
        .values(ended_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def set_password(session: Session, name: str, password: str, now: datetime) -> int:
    """A new password; every session of the user ends. The number of sessions ended."""
    _check_password_rules(password)
    user = get_user(session, name)
    user.password_hash = _hasher.hash(password)
    ended = end_sessions(session, name, now)
    session.add(Event(at=now, kind="password_changed", actor=name,
                      data={"sessions_ended": ended}))  # fmt: skip
    return ended


def set_role(session: Session, name: str, role: str, now: datetime) -> int:
    """A new role; every session of the user ends (pages are built for the old one)."""
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
    user = get_user(session, name)
    before, user.role = user.role, role
    ended = end_sessions(session, name, now)
    session.add(Event(at=now, kind="role_changed", actor=name,
                      data={"from": before, "to": role, "sessions_ended": ended}))  # fmt: skip
    return ended


def disable_user(session: Session, name: str, now: datetime) -> tuple[int, int]:
    """No more access at once: sessions ended, tokens revoked. (sessions, tokens)."""
    user = get_user(session, name)
    user.active = False
    ended = end_sessions(session, name, now)
    revoked = revoke_tokens(session, name, now, event=False)
    session.add(Event(at=now, kind="user_disabled", actor=name,
                      data={"sessions_ended": ended, "tokens_revoked": revoked}))  # fmt: skip
    return ended, revoked


def enable_user(session: Session, name: str, now: datetime) -> None:
    """Allowed to log in again (with the same password); tokens must be created anew."""
    user = get_user(session, name)
    if user.active:
        return
    user.active = True
    session.add(Event(at=now, kind="user_enabled", actor=name, data={}))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user_name: str, now: datetime) -> str:
    user = session.get(User, user_name)
    if user is None or not user.active:
        raise UnknownUser(f"no active user {user_name!r}: add one with `notifier user add`")
    token = "ntf_" + secrets.token_urlsafe(32)
    session.add(ApiToken(token_sha256=_digest(token), user_name=user_name, created_at=now))
    session.add(Event(at=now, kind="token_created", actor=user_name, data={}))
    return token


def user_for_token(session: Session, token: str, now: datetime | None = None) -> User | None:
    """The active user behind a token that is not revoked; notes when it was last used."""
    row = session.execute(
        select(User, ApiToken)
        .join(ApiToken, col(ApiToken.user_name) == col(User.name))
        .where(col(ApiToken.token_sha256) == _digest(token), col(ApiToken.revoked_at).is_(None))
    ).first()
    if row is None:
        return None
    user, api_token = row
    assert isinstance(user, User) and isinstance(api_token, ApiToken)
    if not user.active:
        return None
    if now is not None and (
        api_token.last_used_at is None or now - api_token.last_used_at >= TOUCH_EVERY
    ):
        api_token.last_used_at = now
    return user


def list_tokens(session: Session, user_name: str | None = None) -> list[ApiToken]:
    query = select(ApiToken).order_by(col(ApiToken.id))
    if user_name is not None:
        query = query.where(col(ApiToken.user_name) == user_name)
    return list(session.scalars(query))


def revoke_token(session: Session, token_id: int, now: datetime) -> ApiToken:
    token = session.get(ApiToken, token_id, with_for_update=True)
    if token is None:
        raise UnknownUser(f"no token with id {token_id}: see `notifier token list`")
    if token.revoked_at is None:
        token.revoked_at = now
        session.add(Event(at=now, kind="token_revoked", actor=token.user_name,
                          data={"token_id": token_id}))  # fmt: skip
    return token


def revoke_tokens(session: Session, user_name: str, now: datetime, *, event: bool = True) -> int:
    """Revoke every live token of the user; how many."""
    if session.get(User, user_name) is None:
        raise UnknownUser(f"no user {user_name!r}")
    ids = list(
        session.scalars(
            select(col(ApiToken.id)).where(
                col(ApiToken.user_name) == user_name, col(ApiToken.revoked_at).is_(None)
            )
        )
    )
    if ids:
        session.execute(update(ApiToken).where(col(ApiToken.id).in_(ids)).values(revoked_at=now))
    if event:
        session.add(Event(at=now, kind="token_revoked", actor=user_name,
                          data={"token_ids": ids}))  # fmt: skip
    return len(ids)
