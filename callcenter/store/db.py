"""Database URLs → drivers, engines and sessions.

Users give plain URLs (`sqlite:///var/hotline.db`, `postgresql://u:p@h:5432/db`); the project
picks the async drivers (aiosqlite, asyncpg). SQLite runs in WAL mode with a busy timeout and
takes its write lock at BEGIN (BEGIN IMMEDIATE), so two writers queue instead of one of them
failing with "database is locked" when it upgrades a read lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from callcenter.store.refdata import RefCache


def async_url(url: str) -> URL:
    """Map a plain URL to the project's async driver."""
    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        return u.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return u.set(drivername="postgresql+asyncpg")
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://USER@HOST:PORT/DB")


def is_sqlite(engine_or_url: AsyncEngine | str) -> bool:
    if isinstance(engine_or_url, str):
        return make_url(engine_or_url).get_backend_name() == "sqlite"
    return engine_or_url.dialect.name == "sqlite"


def _sqlite_setup(engine: AsyncEngine, immediate: bool = True) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
        # let SQLAlchemy emit BEGIN itself (below) instead of pysqlite's implicit one
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # writers take the write lock up front: a deferred transaction that later writes can
        # fail with SQLITE_BUSY at once (no busy wait) when another writer got there first.
        # Readers begin deferred: in WAL mode they then neither wait for nor block writers.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False, writer: bool = True) -> AsyncEngine:
    aurl = async_url(url)
    if aurl.get_backend_name() == "sqlite":
        db = aurl.database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(aurl, echo=echo)
        _sqlite_setup(engine, immediate=writer)
        return engine
    return create_async_engine(
        aurl,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        # no pre-ping (a round trip on every checkout, ~10 % of a case write): after a
        # PostgreSQL restart the first statement on a dead connection fails, SQLAlchemy then
        # invalidates the whole pool, and writers retry once (services.retry_on_disconnect)
        pool_recycle=1800,
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def _no_reset(con: asyncpg.Connection) -> None:
    """The raw pool runs single autocommit statements only (no transaction, lock, LISTEN or SET
    is ever left on a connection), so asyncpg's reset on release (RESET ALL, UNLISTEN *, … —
    a round trip per use) has nothing to undo."""


class Database:
    """An engine and its session factory, the unit the rest of the system passes around."""

    def __init__(self, url: str, *, pool_size: int = 10, ticket_prefix: str = "GD") -> None:
        self.url = url
        self.ticket_prefix = ticket_prefix
        self.engine = make_engine(url, pool_size=pool_size)
        self.sessions = make_sessionmaker(self.engine)
        # SQLite: reads go through an engine whose transactions begin deferred (see above);
        # PostgreSQL needs no such split
        self.read_engine = make_engine(url, writer=False) if is_sqlite(url) else self.engine
        self.read_sessions = make_sessionmaker(self.read_engine)
        self.refcache = RefCache()
        self.pool_size = pool_size
        self._raw: tuple[asyncio.AbstractEventLoop, asyncpg.Pool] | None = None
        self._raw_lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    async def raw_pool(self) -> asyncpg.Pool:
        """PostgreSQL: a plain asyncpg pool beside the engine, for the one hot write path (case
        registration: one statement, no SQLAlchemy greenlet switch, no BEGIN/COMMIT round trips).
        Made on first use in the running event loop; closed by dispose()."""
        loop = asyncio.get_running_loop()
        if self._raw is not None and self._raw[0] is loop:
            return self._raw[1]
        if self._raw_lock is None or self._raw_lock[0] is not loop:
            self._raw_lock = (loop, asyncio.Lock())
        async with self._raw_lock[1]:
            if self._raw is None or self._raw[0] is not loop:
                if self._raw is not None:  # made in an event loop that is gone (tests)
                    self._raw[1].terminate()
                dsn = make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)
                pool = await asyncpg.create_pool(dsn, min_size=0, max_size=max(2, self.pool_size), reset=_no_reset)
                self._raw = (loop, pool)
            return self._raw[1]

    def expire_raw(self) -> None:
        """The server went away (restarted): every pooled connection is replaced on next use."""
        if self._raw is not None:
            self._raw[1].expire_connections()

    async def ref(self):  # type: ignore[no-untyped-def]
        """Reference data (departments, categories, rules, calendar), cached per process."""
        return await self.refcache.current(self)

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.engine)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for reading (write with `transaction()`)."""
        async with self.read_sessions() as s:
            yield s

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as s, s.begin():
            yield s

    async def dispose(self) -> None:
        if self._raw is not None:
            loop, pool = self._raw
            self._raw = None
            if loop is asyncio.get_running_loop():
                await pool.close()
            else:  # its loop is gone: nothing left to close politely
                pool.terminate()
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
