"""Users: password hashing (argon2), bearer tokens (only their sha256 is stored), lock-out."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.cases.workflow import Actor
from callcenter.core.errors import Conflict, Invalid, NotFound
from callcenter.store.db import Database
from callcenter.store.models import Department, Role, User, utcnow

_ph = PasswordHasher()
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


def hash_password(password: str) -> str:
    return _ph.hash(password)


def verify_password(hash_: str | None, password: str) -> bool:
    if not hash_:
        return False
    try:
        return _ph.verify(hash_, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def actor_of(u: User) -> Actor:
    return Actor(id=u.id, name=u.display_name, role=u.role, department_id=u.department_id)


async def add_user(
    db: Database,
    username: str,
    role: Role,
    *,
    display_name: str | None = None,
    department: str | None = None,
    password: str | None = None,
    seat: str | None = None,
) -> User:
    async with db.transaction() as s:
        return await create_user(s, username, role, display_name=display_name, department=department,
                                 password=password, seat=seat)


async def create_user(
    s: AsyncSession,
    username: str,
    role: Role,
    *,
    display_name: str | None = None,
    department: str | None = None,
    password: str | None = None,
    seat: str | None = None,
) -> User:
    """add_user inside the caller's transaction (the admin's change and its audit entry are one)."""
    if role is Role.clerk and not department:
        raise Invalid("承办人须指定承办单位（--department CODE）", field="department")
    if (await s.execute(select(User.id).where(User.username == username))).first():
        raise Conflict(f"用户“{username}”已存在")
    dep_id = None
    if department:
        dep = (
            await s.execute(select(Department).where((Department.code == department) | (Department.name == department)))
        ).scalar_one_or_none()
        if dep is None:
            raise Invalid(f"承办单位“{department}”不存在", field="department")
        dep_id = dep.id
    u = User(
        username=username,
        display_name=display_name or username,
        role=role,
        department_id=dep_id,
        password_hash=hash_password(password) if password else None,
        seat=seat,
    )
    s.add(u)
    await s.flush()
    return u


async def issue_token(db: Database, username: str) -> str:
    """A new bearer token for the user (replacing the old one). Shown once."""
    token = secrets.token_urlsafe(32)
    async with db.transaction() as s:
        u = (await s.execute(select(User).where(User.username == username))).scalar_one_or_none()
        if u is None:
            raise NotFound(f"用户“{username}”不存在")
        u.token_hash = token_hash(token)
    return token


class TokenCache:
    """token hash → actor for a few seconds: a bearer request need not hit the users table."""

    def __init__(self, ttl: float = 10.0) -> None:
        self.ttl = ttl
        self._d: dict[str, tuple[float, Actor | None]] = {}

    async def actor(self, db: Database, token: str) -> Actor | None:
        h = token_hash(token)
        hit = self._d.get(h)
        now = time.monotonic()
        if hit and now - hit[0] < self.ttl:
            return hit[1]
        async with db.session() as s:
            u = (await s.execute(select(User).where(User.token_hash == h, User.active.is_(True)))).scalar_one_or_none()
        a = actor_of(u) if u else None
        if len(self._d) > 10000:
            self._d.clear()
        self._d[h] = (now, a)
        return a


async def check_login(db: Database, username: str, password: str, now: datetime | None = None) -> Actor | None:
    """The user's actor if the password is right and the account is not locked out."""
    now = now or utcnow()
    async with db.session() as s:
        u = (await s.execute(select(User).where(User.username == username))).scalar_one_or_none()
    if u is None or not u.active or (u.locked_until and u.locked_until > now):
        return None
    # argon2 costs tens of milliseconds of CPU on purpose: off the event loop (or 25 people
    # signing in at the start of a shift stall every request of this worker) and outside any
    # transaction (on SQLite a write transaction would hold the write lock meanwhile)
    ok = await asyncio.to_thread(verify_password, u.password_hash, password)
    async with db.transaction() as s:
        if ok:
            await s.execute(update(User).where(User.id == u.id).values(failed_logins=0, locked_until=None))
            return actor_of(u)
        # one statement: concurrent wrong guesses each count (no lost update)
        failed = (
            await s.execute(
                update(User).where(User.id == u.id).values(failed_logins=User.failed_logins + 1)
                .returning(User.failed_logins)
            )
        ).scalar_one()
        if failed >= MAX_FAILED_LOGINS:
            await s.execute(update(User).where(User.id == u.id).values(locked_until=now + LOCKOUT, failed_logins=0))
        return None
