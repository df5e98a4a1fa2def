#!/usr/bin/env python3
"""Benchmark: the supervisor wall's figures with a year of data (about 1,000,000 cases) in PostgreSQL.

    .venv/bin/python bench/wall.py [--url postgresql://postgres@127.0.0.1:5432/hotline_bench] [--runs 7]

Reuses the database bench/gen_year.py fills (`hotline_bench`, year 2025; generate it first if
it is missing: `.venv/bin/python bench/gen_year.py --url … --year 2025 --cases 1000000
--calls 2000000`, then `bench/bench_rollup_metrics.py --url …` builds the rollups). Read-only:
it never writes to the database, so it can run beside the reports bench on the same data.

Times `callcenter.floor.agents.WallFigures.get` — the very function the wall (`/wall`, `/wall/data`,
`/wall/stream`) calls — for "now" = the last afternoon of the data's year, so today / this
month / this year are 2025-12-31 / December / 2025:

- cold: a fresh Database (new connections) and a fresh WallFigures (empty cache): the first
  wall of a freshly started web worker;
- warm: a fresh WallFigures on a warm connection pool: every figure computed again (what a
  worker does when its cache entries expire);
- after a change: a case changed (`mark_dirty`) on a warm WallFigures: today's figures are
  recomputed before answering, this month's and this year's come from the cache and are
  refreshed in the background (what a wall waits for in steady state);
- cached: the same WallFigures again within the TTL (what the other 49 walls of a worker get).

Each of cold and warm computes everything (today / month / year from metrics(), the
department rates of each period from callcenter.floor.wall) with the periods side by side.

Prints medians [min–max] of --runs runs, per period, and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callcenter.floor.agents import WallFigures  # noqa: E402
from callcenter.store.db import Database  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/hotline_bench"
TZ = ZoneInfo("Asia/Shanghai")


def ms(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:7.1f} ms [{min(xs) * 1000:.1f}–{max(xs) * 1000:.1f}]"


class TimedWall(WallFigures):
    """WallFigures with each period's computation timed (the function is the wall's own)."""

    def __init__(self) -> None:
        super().__init__()
        self.took: dict[str, float] = {}

    async def _compute(self, db: Database, name: str, lo, hi, now):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            return await super()._compute(db, name, lo, hi, now)
        finally:
            self.took[name] = time.perf_counter() - t0


async def check(url: str) -> tuple[int, str]:
    db = Database(url, pool_size=1)
    try:
        async with db.session() as s:
            from sqlalchemy import text

            n = (await s.execute(text("select count(*) from tickets"))).scalar_one()
            marks = (await s.execute(text("select name, watermark from report_rollup_state"))).all()
    finally:
        await db.dispose()
    return int(n), ", ".join(f"{k} {v:%Y-%m-%d %H:%M}" for k, v in marks if v) or "NOT BUILT"


async def run(url: str, runs: int, now: datetime) -> None:
    n, marks = await check(url)
    print(f"{url}: {n:,} cases; rollups: {marks}")
    cold: list[float] = []
    warm: list[float] = []
    cached: list[float] = []
    changed: list[float] = []
    per: dict[str, dict[str, list[float]]] = {"cold": {}, "warm": {}}
    for _ in range(runs):
        db = Database(url, pool_size=2)
        try:
            w = TimedWall()
            t0 = time.perf_counter()
            figs = await w.get(db, now=now)
            cold.append(time.perf_counter() - t0)
            for k, v in w.took.items():
                per["cold"].setdefault(k, []).append(v)
            w = TimedWall()
            t0 = time.perf_counter()
            figs = await w.get(db, now=now)
            warm.append(time.perf_counter() - t0)
            for k, v in w.took.items():
                per["warm"].setdefault(k, []).append(v)
            t0 = time.perf_counter()
            await w.get(db, now=now)
            cached.append(time.perf_counter() - t0)
            await asyncio.sleep(0.35)
            w.mark_dirty()
            t0 = time.perf_counter()
            await w.get(db, now=now)
            changed.append(time.perf_counter() - t0)
            await asyncio.gather(*w._bg.values())
        finally:
            await db.dispose()
    y = figs["year"]["cases"]
    print(f"year: registered {y['registered']:,}, {len(y['by_department'])} departments, "
          f"{len(y['by_category'])} categories; per-department rates for "
          f"{len(figs['year']['department_rates'])} departments")
    print(f"wall figures, {runs} runs (today / this month / this year at {now:%Y-%m-%d %H:%M %Z})")
    print(f"  cold (fresh worker)   {ms(cold)}")
    for k, v in per["cold"].items():
        print(f"      {k:<6}            {ms(v)}")
    print(f"  warm (recomputed)     {ms(warm)}")
    for k, v in per["warm"].items():
        print(f"      {k:<6}            {ms(v)}")
    print(f"  after a change        {ms(changed)}")
    print(f"  cached (within TTL)   {ms(cached)}")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("HOTLINE_BENCH_URL", DEFAULT_URL))
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--now", default="2025-12-31T15:00:00+08:00", help="the wall's now (in the data's year)")
    a = ap.parse_args()
    asyncio.run(run(a.url, a.runs, datetime.fromisoformat(a.now).astimezone(TZ)))


if __name__ == "__main__":
    main()
