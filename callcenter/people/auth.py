"""Users: password hashing (argon2), bearer tokens (only their sha256 is stored), lock-out."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.cases.workflow import Actor
from callcenter.core.errors import Conflict, Invalid, NotFound
from callcenter.store.db import Database
from callcenter.store.models import Department, LoginFailure, Role, User, UserSession, utcnow

_ph = PasswordHasher()
REVOKED_TOPIC = "auth.revoked"  # {"user_id": …}: every web worker drops the user's cached token
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


def hash_password(password: str) -> str:
    return _ph.hash(password)


# an unknown user, a deactivated one, one without a password or a locked one costs the same
# argon2 verify as a real attempt (against this hash of nothing anyone types): the time of the
# answer does not tell which names exist
_DUMMY_HASH = _ph.hash(secrets.token_urlsafe(24))


def verify_password(hash_: str | None, password: str) -> bool:
    if not hash_:
        _verify_dummy(password)
        return False
    try:
        return _ph.verify(hash_, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def _verify_dummy(password: str) -> None:
    try:
        _ph.verify(_DUMMY_HASH, password)
    except (VerifyMismatchError, InvalidHashError):
        pass


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
        # one look-up per token at a time: when an entry expires under load, the requests that
        # arrive meanwhile wait for that one query instead of each sending their own
        self._pending: dict[str, asyncio.Future[Actor | None]] = {}
        self._generation = 0  # bumped by drop_user / clear: a look-up begun before stores nothing

    def drop_user(self, user_id: int) -> None:
        """Forget the user's token at once (deactivated, token revoked): called in the worker that
        made the change and, through the bus (`auth.revoked`), in every other."""
        self._generation += 1
        self._pending.clear()
        for h, (_, a) in list(self._d.items()):
            if a is not None and a.id == user_id:
                self._d.pop(h, None)

    def clear(self) -> None:
        self._generation += 1
        self._pending.clear()
        self._d.clear()

    async def actor(self, db: Database, token: str) -> Actor | None:
        h = token_hash(token)
        hit = self._d.get(h)
        now = time.monotonic()
        if hit and now - hit[0] < self.ttl:
            return hit[1]
        fut = self._pending.get(h)
        if fut is None:
            fut = self._pending[h] = asyncio.ensure_future(self._load(db, h, now, self._generation))
        return await asyncio.shield(fut)

    async def _load(self, db: Database, h: str, now: float, generation: int) -> Actor | None:
        try:
            async with db.session() as s:
                u = (await s.execute(select(User).where(User.token_hash == h, User.active.is_(True)))
                     ).scalar_one_or_none()
            a = actor_of(u) if u else None
            if generation == self._generation:
                if len(self._d) > 10000:
                    self._d.clear()
                self._d[h] = (now, a)
            return a
        finally:
            if generation == self._generation:
                self._pending.pop(h, None)


async def address_blocked(db: Database, ip: str | None, limit: int, window_s: int,
                          now: datetime | None = None) -> bool:
    """Has `ip` failed `limit` sign-ins within the last `window_s` seconds (any account)?"""
    if not ip:
        return False
    now = now or utcnow()
    async with db.session() as s:
        n = (await s.execute(select(func.count()).select_from(LoginFailure)
                             .where(LoginFailure.ip == ip, LoginFailure.at > now - timedelta(seconds=window_s))
                             )).scalar_one()
    return int(n) >= limit


async def _record_address_failure(db: Database, ip: str | None, window_s: int, now: datetime) -> None:
    if not ip:
        return
    async with db.transaction() as s:
        await s.execute(insert(LoginFailure).values(ip=ip[:64], at=now))
        # the table holds one window of history, no more
        await s.execute(delete(LoginFailure).where(LoginFailure.at < now - timedelta(seconds=2 * window_s)))


async def check_login(db: Database, username: str, password: str, now: datetime | None = None, *,
                      ip: str | None = None, ip_limit: int = 20, ip_window_s: int = 900) -> Actor | None:
    """The user's actor if the password is right, the account is not locked out and the
    address (`ip`) has not failed `ip_limit` times within `ip_window_s`. Every failure takes the
    same time (an argon2 verify, against a dummy hash when there is no real one) and gives the
    same None: neither the time nor the answer tells whether a name exists or is locked. A
    failure counts against the account (lock-out after MAX_FAILED_LOGINS) and the address."""
    now = now or utcnow()
    blocked = await address_blocked(db, ip, ip_limit, ip_window_s, now)
    async with db.session() as s:
        u = (await s.execute(select(User).where(User.username == username))).scalar_one_or_none()
    if blocked or u is None or not u.active or (u.locked_until and u.locked_until > now):
        await asyncio.to_thread(_verify_dummy, password)
        await _record_address_failure(db, ip, ip_window_s, now)
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
    await _record_address_failure(db, ip, ip_window_s, now)
    return None


# ---- console sessions (server-side: a row per sign-in) ------------------------------------------
def session_id(secret: str) -> str:
    return hashlib.sha256(("session:" + secret).encode()).hexdigest()


async def open_session(db: Database, user_id: int, *, max_age_s: int, ip: str | None = None,
                       user_agent: str | None = None, now: datetime | None = None) -> str:
    """A new session for the user; returns the secret the signed cookie carries (the row keeps
    only its sha256)."""
    now = now or utcnow()
    secret = secrets.token_urlsafe(32)
    async with db.transaction() as s:
        s.add(UserSession(id=session_id(secret), user_id=user_id, created_at=now,
                          expires_at=now + timedelta(seconds=max_age_s), ip=(ip or None) and ip[:64],
                          user_agent=(user_agent or None) and user_agent[:200]))
    return secret


async def session_user(db: Database, secret: str, now: datetime | None = None) -> User | None:
    """The active user of a live session (not revoked, not expired), or None."""
    now = now or utcnow()
    async with db.session() as s:
        return (await s.execute(
            select(User).join(UserSession, UserSession.user_id == User.id)
            .where(UserSession.id == session_id(secret), UserSession.revoked_at.is_(None),
                   UserSession.expires_at > now, User.active.is_(True))
        )).scalar_one_or_none()


async def revoke_session(db: Database, secret: str, reason: str = "logout") -> None:
    async with db.transaction() as s:
        await s.execute(update(UserSession).where(UserSession.id == session_id(secret),
                                                  UserSession.revoked_at.is_(None))
                        .values(revoked_at=utcnow(), revoked_reason=reason))


async def revoke_user_sessions(s: AsyncSession, user_id: int, reason: str, now: datetime | None = None) -> int:
    """End every live session of the user, inside the caller's transaction; how many."""
    r = await s.execute(update(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
                        .values(revoked_at=now or utcnow(), revoked_reason=reason))
    return int(getattr(r, "rowcount", 0) or 0)


async def revoke_session_by_id(s: AsyncSession, sid: str, reason: str = "admin") -> UserSession | None:
    row = await s.get(UserSession, sid)
    if row is None or row.revoked_at is not None:
        return None
    row.revoked_at, row.revoked_reason = utcnow(), reason
    return row


async def live_sessions(db: Database, now: datetime | None = None) -> list[tuple[UserSession, User]]:
    """Every session neither revoked nor expired, newest first (the admin's 在线会话)."""
    now = now or utcnow()
    async with db.session() as s:
        rows = (await s.execute(
            select(UserSession, User).join(User, User.id == UserSession.user_id)
            .where(UserSession.revoked_at.is_(None), UserSession.expires_at > now)
            .order_by(UserSession.created_at.desc()).limit(500)
        )).all()
    return [(a, b) for a, b in rows]
