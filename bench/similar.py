"""Likely-duplicates benchmark: the latency of `similar.find` (the 可能重复的工单 panel) with a
year of cases in PostgreSQL — read-only.

    .venv/bin/python bench/similar.py [--url postgresql://postgres@127.0.0.1:5432/hotline_bench]
                                      [--now 2025-12-31T22:00+08:00] [--runs 7] [--per-run 20] [--explain]

The database is the one bench/gen_year.py fills (1M cases of 2025: ~25,000 still open, 40
categories, 12 areas, every content "基准测试工单", no caller numbers). The session is
read-only (default_transaction_read_only): nothing is written. `now` is the end of that year,
so "the last 7 days" is the last week of the data.

For each draft below: `--runs` runs of `--per-run` calls after a warm-up; each run's median
is printed, then the median and the worst of those medians. Three figures per draft:

* query — the candidate statement alone (one round trip, both branches);
* find — the whole call as the console makes it: query, keyword extraction, scoring;
* cold scoring — the pool scored with nothing cached and each case a different realistic
  text sharing a phrase with the draft (the generated cases all say the same thing, which
  the caches would hide): the first request after a restart, an upper bound for CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, text  # noqa: E402

from callcenter.cases import similar  # noqa: E402
from callcenter.cases.workflow import Actor  # noqa: E402
from callcenter.store.db import Database  # noqa: E402
from callcenter.store.models import Role  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "samples"
OPERATOR = Actor(id=None, name="bench", role=Role.operator, department_id=None)

# what an operator has typed, from little to everything; the generated content is 基准测试工单,
# so a draft that says it pulls every recent open case into the pool (the worst case)
DRAFTS: list[tuple[str, similar.Draft]] = [
    ("phone only (no match)", similar.Draft(phone="13800138000")),
    ("text only, every case matches", similar.Draft(text="基准测试工单 工地夜间施工噪音扰民")),
    ("text, nothing matches", similar.Draft(text="幸福小区工地夜间施工噪音扰民 凌晨还在打桩")),
    ("category + area + address", similar.Draft(category="问题分类07", area="天河区", address="天河区幸福路12号")),
    ("everything typed", similar.Draft(phone="13800138000", category="问题分类07", area="天河区",
                                       address="天河区幸福路12号", text="基准测试工单 工地夜间施工噪音扰民")),
]


def realistic_texts(n: int, seed: int = 7) -> list[str]:
    """n different complaint texts of 20–120 characters, recombined from the sample registry's
    and the knowledge base's phrasings."""
    import csv

    phrases: list[str] = []
    with (SAMPLES / "registry-sample.csv").open(encoding="utf-8-sig", newline="") as f:
        phrases += [r["诉求内容"] for r in csv.DictReader(f) if r.get("诉求内容")]
    with (SAMPLES / "kb-entries.csv").open(encoding="utf-8-sig", newline="") as f:
        for r in csv.DictReader(f):
            phrases += [p for p in r["常见问法"].split("|") if p]
    rnd = random.Random(seed)
    return ["，".join(rnd.sample(phrases, rnd.randint(2, 5)))[:120] + f"（{i}）" for i in range(n)]


async def timed(fn: Callable[[], Awaitable[Any]], runs: int, per_run: int) -> list[float]:
    await fn()  # warm-up: connection, plans, caches
    medians = []
    for _ in range(runs):
        ts = []
        for _ in range(per_run):
            t0 = time.perf_counter()
            await fn()
            ts.append((time.perf_counter() - t0) * 1000)
        medians.append(statistics.median(ts))
    return medians


def fmt(ms: list[float]) -> str:
    return f"median {statistics.median(ms):6.2f} ms  (runs' medians {min(ms):.2f}–{max(ms):.2f})"


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/hotline_bench")
    p.add_argument("--now", default="2025-12-31T22:00+08:00", help="the time of the draft (end of the data's year)")
    p.add_argument("--days", type=int, default=similar.RECENT_DAYS, help="the window of open cases compared")
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--per-run", type=int, default=20)
    p.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the fullest draft's query")
    a = p.parse_args()
    now = datetime.fromisoformat(a.now)

    db = Database(a.url, pool_size=2)

    @event.listens_for(db.engine.sync_engine, "connect")
    def _read_only(dbapi_conn: Any, _rec: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("SET default_transaction_read_only = on")
        cur.close()
        dbapi_conn.commit()  # a SET in a transaction that is rolled back would not stay

    async with db.session() as s:
        assert (await s.execute(text("SHOW transaction_read_only"))).scalar_one() == "on"
        n_cases = (await s.execute(text("SELECT count(*) FROM tickets"))).scalar_one()
        n_open = (await s.execute(text(
            "SELECT count(*) FROM tickets WHERE status IN ('registered','dispatched','accepted','returned','reopened')"
        ))).scalar_one()
        n_recent = (await s.execute(text(
            "SELECT count(*) FROM tickets WHERE status IN ('registered','dispatched','accepted','returned','reopened') "
            "AND registered_at >= :since"), {"since": now - timedelta(days=a.days)})).scalar_one()
        pg = (await s.execute(text("SHOW server_version"))).scalar_one()
    ref = await db.ref()
    print(f"{n_cases:,} cases, {n_open:,} open, {n_recent:,} open and registered in the {a.days} days before "
          f"{now.isoformat()} (PostgreSQL {pg}); {a.runs} runs × {a.per_run} calls")
    similar.keywords("预热")  # jieba's dictionary, once per process (the server warms it at start)

    for name, draft in DRAFTS:
        cat = ref.categories_by_name[draft.category].id if draft.category else None
        stmt = similar.query(OPERATOR, draft, cat, now, a.days)
        rows: list[Any] = []

        async def q(stmt: Any = stmt, rows: list[Any] = rows) -> None:
            async with db.session() as s:
                rows[:] = (await s.execute(stmt)).mappings().all() if stmt is not None else []

        async def f(draft: similar.Draft = draft) -> None:
            await similar.find(db, OPERATOR, draft, now, days=a.days)

        tq = await timed(q, a.runs, a.per_run)
        tf = await timed(f, a.runs, a.per_run)
        found = await similar.find(db, OPERATOR, draft, now, days=a.days)
        print(f"\n{name}: {len(rows)} candidate rows, {len(found)} proposed")
        print(f"  query         {fmt(tq)}")
        print(f"  find          {fmt(tf)}")
        if rows and draft.text:
            # each a different text that shares a phrase with the draft: all pass the bigram
            # pre-filter, the SEGMENT_TOP closest are segmented (the worst case)
            texts = [f"{draft.text[-8:]}，{t}" for t in realistic_texts(len(rows))]
            varied = [dict(r) | {"content": t} for r, t in zip(rows, texts, strict=True)]
            n_seg = len(similar._bigram_ranked(draft.text, {r["id"]: r for r in varied}, similar.SEGMENT_TOP))

            async def cold(varied: list[dict[str, Any]] = varied, draft: similar.Draft = draft, cat: Any = cat) -> None:
                similar._keywords.cache_clear()
                similar._bigrams.cache_clear()
                similar.score(varied, OPERATOR, draft, cat, now, ref)

            print(f"  cold scoring  {fmt(await timed(cold, a.runs, max(3, a.per_run // 4)))}  "
                  f"({len(varied)} different texts, nothing cached, {n_seg} segmented)")

    if a.explain:
        name, draft = DRAFTS[-1]
        cat = ref.categories_by_name[draft.category].id if draft.category else None
        stmt = similar.query(OPERATOR, draft, cat, now, a.days)
        compiled = stmt.compile(db.engine.sync_engine, compile_kwargs={"literal_binds": True})
        async with db.session() as s:
            plan = (await s.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}"))).scalars().all()
        print(f"\nEXPLAIN ANALYZE ({name}):")
        print("\n".join(plan))
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
