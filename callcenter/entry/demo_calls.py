"""Demo call history: half a year of a small hotline's calls, so the 容量规划 page (and the call
figures of the wall and the reports) have traffic to plan from in `make demo`.

The calls come from reports/simweek.py — Poisson arrivals per hour of the week (a city
hotline's day, busier on Monday, quiet on Sunday), 10 trunk lines and 6 seats, exponential
talk, after-call work and patience — so some callers are refused when every line is busy
(占线未接入) and some hang up while waiting (放弃), as the models assume. Written with the
driver's executemany (no ORM, no per-row type processing) and each call's own end as its
`updated_at`; then the report rollups are rebuilt. Deterministic for a given seed; added only
to a store without them (PBX name `history`); the demo cases are left as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from callcenter.core.clock import TZ
from callcenter.store.db import Database
from callcenter.store.models import Call
from reports import simweek, traffic_rollup
from reports.rollup import refresh_rollups

PBX = "history"
DEMO_HOTLINE = simweek.Hotline(lines=10, seats=6, talk_s=200.0, patience_s=240.0, scale=0.85, acw_s=30.0,
                               week=(1.15, 1.05, 1.0, 1.0, 0.95, 0.6, 0.5))
COLUMNS = ("pbx", "linkedid", "direction", "caller_number", "line", "seat", "offered_at", "answered_at", "ended_at",
           "outcome", "wait_s", "talk_s", "acw_s", "updated_at")
TIMES = ("offered_at", "answered_at", "ended_at", "updated_at")


def history(now: datetime, days: int = 182, seed: int = 19, hotline: simweek.Hotline = DEMO_HOTLINE
            ) -> Iterator[dict[str, Any]]:
    """The simulated calls of the `days` Shanghai days up to `now` that had ended by `now`."""
    today = now.astimezone(TZ).date()
    start = datetime.combine(today - timedelta(days=days - 1), time(0), TZ)
    for r in simweek.simulate(start, days, hotline, seed=seed, pbx=PBX):
        if r["offered_at"] > now:
            return
        if r["ended_at"] <= now:
            yield r | {"updated_at": r["ended_at"]}


def _sqlite_time(t: datetime | None) -> str | None:
    """How the store keeps a time on SQLite: naive UTC text with microseconds (models.UTCDateTime
    through SQLAlchemy writes 'YYYY-MM-DD HH:MM:SS.ffffff'; isoformat is 5× faster than strftime)."""
    if t is None:
        return None
    text = t.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    return text if len(text) > 19 else text + ".000000"


async def bulk_insert(db: Database, rows: Iterator[dict[str, Any]], chunk: int = 20_000) -> int:
    """Insert call rows (COLUMNS; direction / outcome as their stored values) with the driver's
    executemany, a transaction per chunk; returns how many."""
    sqlite = db.is_sqlite
    marks = ", ".join("?" if sqlite else f"${i + 1}" for i in range(len(COLUMNS)))
    sql = f"INSERT INTO calls ({', '.join(COLUMNS)}) VALUES ({marks})"
    times = {COLUMNS.index(c) for c in TIMES}
    conv = [(c, _sqlite_time if sqlite and i in times else None) for i, c in enumerate(COLUMNS)]
    total = 0
    for batch in simweek.batches(rows, chunk):
        async with db.engine.begin() as conn:
            await conn.exec_driver_sql(sql, [tuple(f(r[c]) if f else r[c] for c, f in conv) for r in batch])
        total += len(batch)
    return total


async def seed_calls(db: Database, now: datetime | None = None, *, days: int = 182, seed: int = 19) -> int:
    """Half a year (`days`) of call history ending at `now`; returns how many calls were added (0
    when the store has the history already). Rebuilds the report rollups after."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    async with db.session() as s:
        if (await s.execute(select(func.count()).select_from(Call).where(Call.pbx == PBX))).scalar_one():
            return 0
    n = await bulk_insert(db, history(now, days, seed))
    # the calls carry their own (past) times as updated_at: the rollups, which follow
    # updated_at, are rebuilt rather than refreshed
    wall = datetime.now(UTC)
    await refresh_rollups(db, wall, rebuild=True)
    await traffic_rollup.refresh(db, wall, rebuild=True)
    return n

