#!/usr/bin/env python3
"""Benchmark: the 回访 / 回拨 work list (/callbacks) with 10,000 pending callbacks (issue 13).

    .venv/bin/python bench/callbacks_page.py [--pending 10000] [--requests 300] [--runs 3] [--pg]

A fresh store (SQLite under a temporary directory, or with --pg a database
`hotline_bench_callbacks` on $HOTLINE_BENCH_PG, recreated) gets the seed's reference data, an
operator, and `--pending` resolved cases each with a pending 回访 task, due from five days ago
to five days ahead (a tenth of them today), plus 5 % 回拨 tasks of missed calls. The console app
runs in this process (httpx's ASGI transport: the server's own time, no network) and an
operator signed in as the browser does asks, in a random mix: the three tabs (今日到期 / 超期 /
全部) at a random page, and one task's page (the 回访话术 and the outcome form). Prints p50 /
p99 / max per run and the medians over the runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, text  # noqa: E402

from callcenter.core.settings import Settings  # noqa: E402
from callcenter.entry.app import create_app  # noqa: E402
from callcenter.entry.seed import seed_reference  # noqa: E402
from callcenter.people.auth import add_user  # noqa: E402
from callcenter.store.db import Database  # noqa: E402
from callcenter.store.migrate import upgrade  # noqa: E402
from callcenter.store.models import (  # noqa: E402
    Callback,
    CallbackKind,
    CallbackResult,
    CallbackTaskStatus,
    Category,
    Kind,
    Role,
    Status,
    Ticket,
)

ADMIN = os.environ.get("HOTLINE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
DBNAME = os.environ.get("HOTLINE_BENCH_DB", "hotline_bench_callbacks")  # a name of your own on a shared server
PASSWORD = "bench-callbacks-pw"
_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def store_url(pg: bool, tmp: Path) -> str:
    if not pg:
        return f"sqlite:///{tmp / 'hotline.db'}"
    import psycopg

    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DBNAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DBNAME}")
    return ADMIN.rsplit("/", 1)[0] + f"/{DBNAME}"


async def fill(db: Database, pending: int, now: datetime) -> list[int]:
    await seed_reference(db)
    await add_user(db, "op", Role.operator, display_name="话务员", seat="8001", password=PASSWORD)
    rng = random.Random(13)
    async with db.transaction() as s:
        cat = (await s.execute(select(Category.id).limit(1))).scalar_one()
        tickets = []
        for i in range(pending):
            at = now - timedelta(days=rng.uniform(6, 30))
            tickets.append(dict(number=f"GD-B{i:06d}", kind=Kind.complaint, category_id=cat, content=f"诉求内容 {i}",
                                caller_phone=f"139{i:08d}", caller_name="市民", status=Status.resolved,
                                registered_at=at, resolved_at=at + timedelta(days=3), resolution="已处理完毕",
                                callback_result=CallbackResult.pending, urgent=False, confidential=False,
                                no_callback=False, ever_dispatched=True, extensions_granted=0, urge_count=0,
                                reopen_count=0, chase_count=0, version=1, created_at=at, updated_at=at,
                                source="phone"))
        for i in range(0, len(tickets), 2000):
            await s.execute(insert(Ticket), tickets[i:i + 2000])
        ids = list((await s.execute(select(Ticket.id).order_by(Ticket.id))).scalars())
        rows = []
        for n, tid in enumerate(ids):
            due = now + timedelta(hours=rng.uniform(-120, 120))
            if n % 10 == 0:  # a tenth due later today (Asia/Shanghai)
                due = now + timedelta(minutes=rng.uniform(1, 300))
            missed = n % 20 == 0
            rows.append(dict(kind=CallbackKind.missed if missed else CallbackKind.case,
                             ticket_id=None if missed else tid, phone=f"139{n:08d}", phone_norm=f"+86139{n:08d}",
                             status=CallbackTaskStatus.pending, due_at=due, attempts=n % 3,
                             idempotency_key=f"bench:{n}", created_at=now))
        for i in range(0, len(rows), 2000):
            await s.execute(insert(Callback), rows[i:i + 2000])
        cb_ids = list((await s.execute(select(Callback.id))).scalars())
    if not db.is_sqlite:
        async with db.engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
    return cb_ids


async def run(url: str, pending: int, requests: int, runs: int, tmp: Path) -> list[tuple[float, float, float]]:
    upgrade(url)
    db = Database(url)
    now = datetime.now(UTC)
    cb_ids = await fill(db, pending, now)
    app = create_app(Settings(data_dir=tmp, database_url=url), db=db)
    out = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://bench") as c:
        token = _CSRF.search((await c.get("/login")).text).group(1)  # type: ignore[union-attr]
        r = await c.post("/login", data={"username": "op", "password": PASSWORD, "csrf_token": token})
        assert r.status_code == 303, r.text[:300]
        counts = {}
        for tab in ("today", "overdue", "all"):
            html = (await c.get(f"/callbacks?tab={tab}")).text
            m = re.search(rf'id="cb-count-{tab}">(\d+)<', html)
            counts[tab] = int(m.group(1)) if m else 0
        print(f"pending {pending}: 今日到期 {counts['today']}, 超期 {counts['overdue']}, 全部 {counts['all']}")
        assert counts["all"] == pending
        rng = random.Random(7)
        for _ in range(runs):
            times = []
            by_kind: dict[str, list[float]] = {}
            for _ in range(requests):
                pick = rng.random()
                if pick < 0.25:
                    tab = rng.choice(["today", "overdue", "all"])
                    pages = max(1, -(-counts[tab] // 50))
                    path = f"/callbacks?tab={tab}&page={rng.randint(1, pages)}"
                elif pick < 0.5:
                    path = "/callbacks"
                else:
                    path = f"/callbacks/task/{rng.choice(cb_ids)}"
                t0 = time.perf_counter()
                r = await c.get(path)
                times.append((time.perf_counter() - t0) * 1000)
                by_kind.setdefault(path.split("?")[0].rsplit("/", 1)[0] + ("?tab" if "tab=" in path else ""),
                                   []).append(times[-1])
                assert r.status_code == 200, (path, r.status_code)
            times.sort()
            p50 = statistics.median(times)
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
            out.append((p50, p99, times[-1]))
            print(f"run: p50 {p50:.1f} ms  p99 {p99:.1f} ms  max {times[-1]:.1f} ms  ({requests} requests); " + ", ".join(
                f"{k} median {statistics.median(v):.1f} ms" for k, v in sorted(by_kind.items())))
    await db.dispose()
    return out


def main() -> None:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    ap = argparse.ArgumentParser()
    ap.add_argument("--pending", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pg", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hotline-bench-cb-") as d:
        tmp = Path(d)
        url = store_url(a.pg, tmp)
        res = asyncio.run(run(url, a.pending, a.requests, a.runs, tmp))
    print(f"median over {a.runs} runs: p50 {statistics.median(r[0] for r in res):.1f} ms, "
          f"p99 {statistics.median(r[1] for r in res):.1f} ms, max {max(r[2] for r in res):.1f} ms; "
          f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
