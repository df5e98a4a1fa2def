"""Claiming rows with a lease, on PostgreSQL and SQLite (STACK.md, 'APScheduler').

A claim writes `claimed_by` and `claimed_until` on rows that nobody holds (or whose holder's
lease has run out) and returns their ids. A worker that dies mid-work (SIGKILL, or APScheduler's
`shutdown(wait=False)` cancelling a job) leaves a lease that simply expires; the rows are then
claimed again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_of(s: AsyncSession) -> str:
    bind = s.bind
    assert bind is not None, "a session bound to the project's engine"
    return bind.dialect.name


def rowcount(result: Any) -> int:
    """Rows an UPDATE / INSERT … ON CONFLICT DO NOTHING changed (its CursorResult's rowcount)."""
    return int(getattr(result, "rowcount", 0) or 0)


async def claim(
    s: AsyncSession,
    model: Any,
    where: ColumnElement[bool],
    worker: str,
    now: datetime,
    lease: timedelta,
    limit: int = 50,
) -> list[int]:
    """Claim up to `limit` rows of `model` matching `where` whose claim is free or expired.

    PostgreSQL: `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING id`. Two
    schedulers (or a stalled former leader and the new one) selecting at once each lock what they
    select and skip what the other locked, so a row is claimed by one of them; a transaction that
    waits for nothing cannot deadlock either. After the first commits, the second's re-read sees
    the new `claimed_until` and leaves the row alone.

    SQLite: the same UPDATE without FOR UPDATE is a compare-and-set: the database takes its
    write lock at BEGIN (callcenter.store.db), so the sub-select and the update see the same rows and
    a second claimer, queued behind the lock, finds them claimed (`claimed_until` in the future).
    """
    free = or_(model.claimed_until.is_(None), model.claimed_until < now)
    pick = select(model.id).where(where, free).order_by(model.id).limit(limit)
    if dialect_of(s) == "postgresql":
        pick = pick.with_for_update(skip_locked=True, of=model)
    stmt = (
        update(model)
        .where(model.id.in_(pick.scalar_subquery()))
        .values(claimed_by=worker, claimed_until=now + lease)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    return sorted((await s.execute(stmt)).scalars().all())
