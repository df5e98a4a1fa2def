"""Build / refresh the report rollups on a bench database and time metrics() with and without them.

    .venv/bin/python bench/bench_rollup_metrics.py --url postgresql://postgres@127.0.0.1:5432/hotline_bench
    .venv/bin/python bench/bench_rollup_metrics.py --url sqlite:////tmp/benchsq/b.db

Migrates the database to head, runs refresh_rollups() (a full build the first time, then a
tick with nothing changed, then a tick after 200 cases changed on 30 days), and times
metrics() for the year from the rollups (with 3 and 30 changed days counted live, and with
none) and from the base tables (median of --repeat runs).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select, update  # noqa: E402

from callcenter.store.db import Database  # noqa: E402
from callcenter.store.migrate import upgrade  # noqa: E402
from callcenter.store.models import Ticket  # noqa: E402
from reports.annual import annual_report  # noqa: E402
from reports.metrics import metrics  # noqa: E402
from reports.render import render  # noqa: E402
from reports.rollup import LAG, refresh_rollups  # noqa: E402


async def _render_all(r: dict) -> None:  # type: ignore[type-arg]
    for fmt in ("html", "md", "xlsx", "json"):
        render(r, fmt)


def med(xs: list[float]) -> str:
    return f"median {statistics.median(xs):6.3f} s [{min(xs):.3f}–{max(xs):.3f}]"


async def timed(fn, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - t0)
    return out


async def run(url: str, year: int, repeat: int, rebuild: bool) -> None:
    upgrade(url)
    db = Database(url, pool_size=2)
    now = datetime.now(UTC)
    d0, d1 = date(year, 1, 1), date(year, 12, 31)
    try:
        t0 = time.perf_counter()
        await refresh_rollups(db, now, rebuild=rebuild)
        print(f"refresh (first build or rebuild={rebuild}): {time.perf_counter() - t0:.2f} s", flush=True)
        print("tick, nothing changed:", med(await timed(lambda: refresh_rollups(db, now), repeat)), flush=True)
        d0s, d1s = date(year, 1, 1), date(year, 12, 31)
        for n_days in (3, 30):
            # cases on n_days days change (as resolutions and callbacks do) after the tick: a
            # read counts those days from the base tables until the next tick takes them in
            async with db.transaction() as s:
                ids = []
                for k in range(n_days):
                    lo = datetime(year, 3, 1, tzinfo=UTC) + timedelta(days=7 * k)
                    ids += list((await s.execute(
                        select(Ticket.id).where(Ticket.registered_at >= lo).order_by(Ticket.registered_at)
                        .limit(5))).scalars())
                await s.execute(update(Ticket).where(Ticket.id.in_(ids)).values(updated_at=datetime.now(UTC)))
            live = await timed(lambda: metrics(db, d0s, d1s), repeat)
            print(f"metrics year, {len(ids)} cases on {n_days} days changed since the tick:", med(live), flush=True)
            t0 = time.perf_counter()
            await refresh_rollups(db, datetime.now(UTC) + LAG)
            print(f"  tick taking them in: {time.perf_counter() - t0:.2f} s", flush=True)
        fast = await timed(lambda: metrics(db, d0, d1), repeat)
        print("metrics year from the rollups, nothing changed since the tick:", med(fast), flush=True)
        m = await metrics(db, d0, d1)
        print(f"  registered {m['cases']['registered']}, offered {m['calls']['offered']}", flush=True)
        ann = await timed(lambda: annual_report(db, year), repeat)
        print("annual report for the year (figures; rollups):", med(ann), flush=True)
        r = await annual_report(db, year)
        rend = await timed(lambda: _render_all(r), repeat)
        print("  rendering it in html, md, xlsx, json:", med(rend), flush=True)
        base = await timed(lambda: metrics(db, d0, d1, use_rollups=False), max(1, repeat // 2))
        print("metrics year from the base tables:", med(base), flush=True)
        b = await metrics(db, d0, d1, use_rollups=False)
        same = {**m, "as_of": None, "calls": {**m["calls"], "avg_wait_s": 0, "avg_talk_s": 0}} == \
               {**b, "as_of": None, "calls": {**b["calls"], "avg_wait_s": 0, "avg_talk_s": 0}}
        print(f"  same figures: {same}", flush=True)
    finally:
        await db.dispose()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--year", type=int, default=2025)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--rebuild", action="store_true")
    a = p.parse_args()
    asyncio.run(run(a.url, a.year, a.repeat, a.rebuild))


if __name__ == "__main__":
    main()
