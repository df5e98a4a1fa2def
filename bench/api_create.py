#!/usr/bin/env python3
"""Benchmark: POST /api/v1/tickets throughput and latency against PostgreSQL, the app run as in
production (`hotline serve --workers 2`, uvicorn), the load generator on the same machine.

    .venv/bin/python bench/api_create.py [--total 5000] [--runs 3] [--conc 10,50]

Uses the closed-loop load generator of the peer harness (../shared/peers/django-helpdesk/
loadgen.py, or $LOADGEN), so our figures and django-helpdesk's come from the same client.
Each run starts from the same database state (tickets truncated) and ends with a check that
every ticket was written with its audit event and its routing suggestion.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LOADGEN = Path(os.environ.get("LOADGEN", ROOT.parent / "shared/peers/django-helpdesk/loadgen.py"))
ADMIN = os.environ.get("HOTLINE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
# each engineer's runs get their own database: HOTLINE_BENCH_DB=<name>_bench_api
DBNAME = os.environ.get("HOTLINE_BENCH_DB", "hotline_bench_api")
BODY = (
    '{"kind": "complaint", "category": "物业管理", "content": "{DESC}", '
    '"caller_phone": "13812345678", "caller_name": "王小明", "address": "和平街道{SEQ}号"}'
)


def sh(*args: str, **kw) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    return subprocess.run(args, check=True, **kw)


def setup_db() -> str:
    with psycopg.connect(ADMIN, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{DBNAME}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{DBNAME}"')
    url = ADMIN.rsplit("/", 1)[0] + "/" + DBNAME
    from callcenter.entry.seed import seed_reference
    from callcenter.people.auth import add_user, issue_token
    from callcenter.store.db import Database
    from callcenter.store.migrate import upgrade
    from callcenter.store.models import Role

    upgrade(url)

    async def seed() -> str:
        db = Database(url)
        await seed_reference(db)
        await add_user(db, "bench", Role.operator, display_name="压测话务员")
        tok = await issue_token(db, "bench")
        await db.dispose()
        return tok

    return url, asyncio.run(seed())  # type: ignore[return-value]


def truncate(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("TRUNCATE ticket_events, callbacks, tickets, ticket_counters RESTART IDENTITY CASCADE")
        c.execute("VACUUM ANALYZE")


def check(url: str) -> dict[str, int]:
    with psycopg.connect(url) as c:
        n_t = c.execute("select count(*) from tickets").fetchone()[0]
        n_e = c.execute("select count(*) from ticket_events where action = 'register'").fetchone()[0]
        n_r = c.execute("select count(*) from tickets where suggested_department_id is not null").fetchone()[0]
        n_u = c.execute("select count(distinct number) from tickets").fetchone()[0]
    return {"tickets": n_t, "register_events": n_e, "routed": n_r, "distinct_numbers": n_u}


def loadgen(base: str, token: str, conc: int, total: int, label: str, out: Path) -> dict:  # type: ignore[type-arg]
    out.unlink(missing_ok=True)
    sh(sys.executable, str(LOADGEN), "--base", base, "--path", "/api/v1/tickets", "--method", "POST",
       "--body", BODY, "-H", f"Authorization: Bearer {token}", "--conc", str(conc), "--total", str(total),
       "--ok", "201", "--label", label, "--out", str(out), "--max-seconds", "300")
    return json.loads(out.read_text().splitlines()[-1])


def rss_mb(pid: int) -> float:
    total = 0.0
    for p in [pid, *map(int, subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split())]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total = max(total, int(line.split()[1]) / 1024)
        except FileNotFoundError:
            pass
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--total", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--conc", default="10,50")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--port", type=int, default=8765)
    a = ap.parse_args()
    if not LOADGEN.exists():
        sys.exit(f"load generator not found at {LOADGEN}; set LOADGEN=path/to/loadgen.py")
    url, token = setup_db()
    env = {**os.environ, "HOTLINE_DATABASE_URL": url, "HOTLINE_DATA_DIR": tempfile.mkdtemp(), "HOTLINE_DB_POOL_SIZE": "20"}
    log_path = Path(env["HOTLINE_DATA_DIR"]) / "server.log"
    srv = subprocess.Popen([str(ROOT / ".venv/bin/hotline"), "serve", "--workers", str(a.workers), "--port", str(a.port)],
                           env=env, stdout=subprocess.DEVNULL, stderr=log_path.open("w"))
    print(f"server log: {log_path}")
    base = f"http://127.0.0.1:{a.port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        out = Path(tempfile.mkdtemp()) / "lg.jsonl"
        loadgen(base, token, 10, 500, "warmup", out)
        results: dict[int, list[dict]] = {}  # type: ignore[type-arg]
        for conc in map(int, a.conc.split(",")):
            for r in range(a.runs):
                truncate(url)
                res = loadgen(base, token, conc, a.total, f"c{conc}-r{r}", out)
                chk = check(url)
                assert chk["tickets"] == res["ok"] == chk["register_events"] == chk["routed"] == chk["distinct_numbers"], chk
                res["check"] = chk
                results.setdefault(conc, []).append(res)
        print(f"\nPOST /api/v1/tickets, PostgreSQL, uvicorn --workers {a.workers}, {a.total} tickets/run, {a.runs} runs; "
              f"peak RSS of the largest process {rss_mb(srv.pid):.0f} MB")
        print("| clients | tickets/s | p50 ms | p95 ms | p99 ms | errors |")
        print("|---|---|---|---|---|---|")
        for conc, rs in results.items():
            def med(k: str, rs: list = rs) -> str:  # type: ignore[type-arg]
                vals = [x[k] for x in rs]
                return f"{statistics.median(vals):.1f} [{min(vals):.1f}–{max(vals):.1f}]"
            print(f"| {conc} | {med('rps')} | {med('p50_ms')} | {med('p95_ms')} | {med('p99_ms')} | {sum(x['bad'] + x['conn_errors'] for x in rs)} |")
    finally:
        srv.terminate()
        srv.wait(10)


if __name__ == "__main__":
    main()
