"""Time the capacity plan (reports/capacity.py) over a simulated year of calls.

    .venv/bin/python bench/capacity.py --url sqlite:///var/bench-capacity.db --runs 5
    .venv/bin/python bench/capacity.py --url postgresql://postgres@127.0.0.1:5432/hotline_capacity --runs 5

Loads a year (2025) of simulated inbound traffic (reports/simweek.py: 10 lines, 7 seats,
≈ 345,000 calls, each last written when it ended) into an empty migrated database unless it
already holds it (--reload to force), rebuilds the hourly traffic rollup (timed), then times
`capacity()` for the page's default period (the 28 days up to the latest call) and for the
whole year, read from the rollup and from the calls table: cold (the models' memos cleared
before each run) and warm (the memos kept from the run before; no memo of the plan itself),
wall and CPU time of this process (on PostgreSQL the server's CPU is not in it), median of
--runs [min–max].
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, func, select  # noqa: E402

from callcenter.store.db import Database  # noqa: E402
from callcenter.store.migrate import upgrade  # noqa: E402
from callcenter.store.models import Call  # noqa: E402
from reports import erlang, simweek, traffic_rollup  # noqa: E402
from reports.capacity import TZ, capacity  # noqa: E402

YEAR = simweek.Hotline(lines=10, seats=7, talk_s=200.0, patience_s=80.0, scale=1.25)


async def main(url: str, runs: int, reload: bool) -> None:
    if url.startswith("postgresql"):
        import psycopg
        from sqlalchemy.engine import make_url

        u = make_url(url)
        with psycopg.connect(u.set(database="postgres").render_as_string(hide_password=False).replace(
                "postgresql://", "postgresql://", 1), autocommit=True) as c:
            if not c.execute("select 1 from pg_database where datname = %s", (u.database,)).fetchone():
                c.execute(f'create database "{u.database}"')
    upgrade(url)
    db = Database(url)
    async with db.session() as s:
        n = (await s.execute(select(func.count()).select_from(Call))).scalar_one()
    if reload or n < 300_000:
        async with db.transaction() as s:
            await s.execute(delete(Call))
        t0 = time.perf_counter()
        rows = (r | {"updated_at": r["ended_at"]}
                for r in simweek.simulate(datetime(2025, 1, 1, tzinfo=TZ), 365, YEAR, seed=7))
        n = await simweek.load(db, rows)
        print(f"loaded {n} calls in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    await traffic_rollup.refresh(db, datetime.now(UTC), rebuild=True)
    print(f"hourly rollup rebuilt in {time.perf_counter() - t0:.2f} s; load average {os.getloadavg()[0]:.1f}")

    def clear() -> None:
        erlang.erlang_a.cache_clear()
        erlang.lines_and_seats.cache_clear()
        erlang.lines_and_seats_upto.cache_clear()

    for label, d0, d1 in (("28 days", date(2025, 12, 4), date(2025, 12, 31)),
                          ("a year", date(2025, 1, 1), date(2025, 12, 31))):
        for source in ("rollup", "calls"):
            for temp in ("cold", "warm"):
                times, cpu = [], []
                clear()
                await capacity(db, d0, d1, 10, history=False, use_rollup=source == "rollup")  # warms the memos
                for _ in range(runs):
                    if temp == "cold":
                        clear()
                    t0, c0 = time.perf_counter(), time.process_time()
                    plan = await capacity(db, d0, d1, 10, history=False, use_rollup=source == "rollup")
                    times.append(time.perf_counter() - t0)
                    cpu.append(time.process_time() - c0)  # this process: Python and SQLite's thread
                print(f"{label} from {source} {temp}: {plan['totals']['offered']} calls, median "
                      f"{statistics.median(times):.3f} s [{min(times):.3f}–{max(times):.3f}], CPU "
                      f"{statistics.median(cpu):.3f} s [{min(cpu):.3f}–{max(cpu):.3f}] over {runs} runs, "
                      f"load average {os.getloadavg()[0]:.1f}")
    await db.dispose()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--reload", action="store_true")
    a = p.parse_args()
    asyncio.run(main(a.url, a.runs, a.reload))
