"""People and their credentials: reviewers, collectors, managers and admins (D4, D13).

Passwords are hashed with Argon2 (argon2-cffi, the maintained reference binding); API
bearer tokens are random, shown once, and only their SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime
from typing import Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlmodel import Session, col

from notifier.store.models import ApiToken, Event, User

Role = Literal["reviewer", "collector", "manager", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
# Who may decide on drafts (approve, reject, edit): not collectors (D13: reviewers approve).
DECIDERS = frozenset({"reviewer", "manager", "admin"})
MIN_PASSWORD = 10
_NAME = re.compile(r"^[\w.@-]{2,64}$")
_hasher = PasswordHasher()


class UserError(ValueError):
    """A user or token request that cannot be done; the message says why."""


def add_user(
    session: Session, name: str, role: str, password: str, now: datetime, locale: str = "zh-CN"
) -> User:
    if not _NAME.match(name):
        raise UserError(f"user name {name!r}: 2-64 letters, digits, '.', '@', '_' or '-'")
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
    if session.get(User, name) is not None:
        raise UserError(f"user {name!r} already exists")
    user = User(name=name, role=role, password_hash=_hasher.hash(password), locale=locale,
                created_at=now)  # fmt: skip
    session.add(user)
    session.add(Event(at=now, kind="user_added", actor=name, data={"role": role}))
    return user


def verify_password(user: User, password: str) -> bool:
    if not user.active or not user.password_hash:
        return False
    try:
        return bool(_hasher.verify(user.password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user_name: str, now: datetime) -> str:
    user = session.get(User, user_name)
    if user is None or not user.active:
        raise UserError(f"no active user {user_name!r}: add one with `notifier user add`")
    token = "ntf_" + secrets.token_urlsafe(32)
    session.add(ApiToken(token_sha256=_digest(token), user_name=user_name, created_at=now))
    session.add(Event(at=now, kind="token_created", actor=user_name, data={}))
    return token


def user_for_token(session: Session, token: str) -> User | None:
    user = session.scalar(
        select(User)
        .join(ApiToken, col(ApiToken.user_name) == col(User.name))
        .where(col(ApiToken.token_sha256) == _digest(token), col(ApiToken.revoked_at).is_(None))
    )
    return user if user is not None and user.active else None
