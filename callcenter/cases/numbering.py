"""Ticket numbers staff can read aloud: prefix + Shanghai date + per-day sequence (GD20261126-0042).

`in_transaction(session, at)` takes the number inside the case's own transaction:
- PostgreSQL: from the sequence `ticket_number_seq` — number in day = nextval − base(day),
  base(day) being a sequence value taken just before the day's first case (ticket_number_days,
  cached per process). nextval never waits for another transaction, so concurrent
  registrations do not queue on a counter row; numbers are unique (distinct nextvals), and a
  rolled-back case leaves a gap — harmless on the phone.
- SQLite: the per-day row of ticket_counters, bumped in the same transaction (SQLite has one
  writer at a time anyway, so the row lock costs nothing more).
`allocate(db, at, count)` reserves a block in its own transaction (bulk import).
Case registration on PostgreSQL puts `pg_number_sql` in its INSERT (the statement takes the
number itself) with the day's base from `pg_base_raw` (the same cache, through asyncpg).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.core.clock import TZ
from callcenter.store.db import Database
from callcenter.store.models import TicketCounter, TicketNumberDay

_bases: dict[tuple[str, str], int] = {}  # (database url, day) → base


def day_of(at: datetime) -> str:
    return at.astimezone(TZ).strftime("%Y%m%d")


def format_number(prefix: str, day: str, n: int) -> str:
    return f"{prefix}{day}-{n:04d}"


def _dialect(session: AsyncSession) -> str:
    bind = session.bind
    assert bind is not None, "sessions are made bound to an engine or a connection"
    return bind.dialect.name


async def _counter_bump(session: AsyncSession, day: str, count: int) -> int:
    ins = sqlite.insert(TicketCounter) if _dialect(session) == "sqlite" else postgresql.insert(TicketCounter)
    stmt = (
        ins.values(day=day, last=count)
        .on_conflict_do_update(index_elements=["day"], set_={"last": TicketCounter.last + count})
        .returning(TicketCounter.last)
    )
    return (await session.execute(stmt)).scalar_one()


async def _pg_base(session: Any, day: str) -> int:
    key = (str((getattr(session, "engine", None) or session.bind).url), day)
    base = _bases.get(key)
    if base is None:
        # the first case of the day (in any process) fixes the base, in a transaction of its
        # own: were it part of a case's transaction that then rolled back, this process would
        # keep a base no other process saw, and numbers could collide
        engine = getattr(session, "engine", None) or session.bind
        async with engine.begin() as conn:
            await conn.execute(
                postgresql.insert(TicketNumberDay)
                .values(day=day, base=text("nextval('ticket_number_seq')"))
                .on_conflict_do_nothing(index_elements=["day"])
            )
        async with engine.connect() as conn:
            base = (await conn.execute(select(TicketNumberDay.base).where(TicketNumberDay.day == day))).scalar_one()
        _bases[key] = base
    return base


def pg_number_sql(prefix: str, day: str, base: str) -> str:
    """The number as a SQL expression (PostgreSQL), so the INSERT takes it itself; the
    arguments are the placeholders of the prefix, the day (text) and the day's base (bigint)."""
    return (
        f"(SELECT {prefix}::text || {day}::text || '-' || CASE WHEN s.n < 10000 THEN lpad(s.n::text, 4, '0') "
        f"ELSE s.n::text END FROM (SELECT nextval('ticket_number_seq') - {base}::bigint AS n) AS s)"
    )


async def pg_base_raw(con: Any, url_key: str, day: str) -> int:
    """The day's base through a plain asyncpg connection (outside any transaction, so the
    first case of the day fixes it in a statement of its own, as `_pg_base` does); the same
    per-process cache, keyed by the engine's URL."""
    key = (url_key, day)
    base = _bases.get(key)
    if base is None:
        await con.execute("INSERT INTO ticket_number_days (day, base) VALUES ($1, nextval('ticket_number_seq')) "
                          "ON CONFLICT (day) DO NOTHING", day)
        base = int(await con.fetchval("SELECT base FROM ticket_number_days WHERE day = $1", day))
        _bases[key] = base
    return base


async def in_transaction(session: AsyncSession, at: datetime, prefix: str = "GD") -> str:
    day = day_of(at)
    if _dialect(session) == "sqlite":
        return format_number(prefix, day, await _counter_bump(session, day, 1))
    base = await _pg_base(session, day)
    n = (await session.execute(text("SELECT nextval('ticket_number_seq')"))).scalar_one()
    return format_number(prefix, day, n - base)


async def allocate(db: Database, at: datetime, count: int = 1, prefix: str = "GD") -> list[str]:
    """Reserve `count` numbers for the Shanghai day of `at`, in their own transaction."""
    day = day_of(at)
    async with db.transaction() as s:
        if db.is_sqlite:
            last = await _counter_bump(s, day, count)
            return [format_number(prefix, day, n) for n in range(last - count + 1, last + 1)]
        base = await _pg_base(s, day)
        rows = await s.execute(text("SELECT nextval('ticket_number_seq') FROM generate_series(1, :n)"), {"n": count})
        return [format_number(prefix, day, v - base) for (v,) in rows]
