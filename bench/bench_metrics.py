"""Time reports.metrics() for a year (and a month, a day, one department) on a database.

    .venv/bin/python bench/bench_metrics.py --url postgresql://postgres@127.0.0.1:5432/hotline_bench
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callcenter.store.db import Database  # noqa: E402
from reports.metrics import metrics  # noqa: E402


async def run(url: str, year: int, repeat: int) -> None:
    db = Database(url, pool_size=2)
    now = datetime(year + 1, 3, 1, tzinfo=UTC)
    cases = [
        ("year", date(year, 1, 1), date(year, 12, 31), None),
        ("month", date(year, 6, 1), date(year, 6, 30), None),
        ("day", date(year, 6, 15), date(year, 6, 15), None),
        ("year, one department", date(year, 1, 1), date(year, 12, 31), "d001"),
    ]
    try:
        for label, d0, d1, dept in cases:
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                m = await metrics(db, d0, d1, department_code=dept, now=now)
                times.append(time.perf_counter() - t0)
            c = m["cases"]
            print(f"{label:24s} best {min(times):6.3f} s  worst {max(times):6.3f} s  "
                  f"(registered {c['registered']}, offered {(m['calls'] or {}).get('offered')})", flush=True)
    finally:
        await db.dispose()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--year", type=int, default=2025)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    asyncio.run(run(a.url, a.year, a.repeat))


if __name__ == "__main__":
    main()
