"""One key, one case across real processes (issue 12): two `hotline serve` workers on one
PostgreSQL; 20 concurrent POST /api/v1/tickets with one Idempotency-Key spread over both →
one case, 20 identical answers; a worker killed and started again answers the same."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from callcenter.people.auth import issue_token
from callcenter.store.db import Database
from callcenter.store.models import Ticket
from tests import livesrv
from tests.console_people import seed_console_people
from tests.livesrv import free_port

pytestmark = [pytest.mark.slow, pytest.mark.pg]
HOTLINE = str(Path(sys.executable).parent / "hotline")
NEW = {"kind": "complaint", "category": "物业管理", "content": "楼道灯坏了一个月没人修",
       "caller_phone": "13812345678", "address": "和平街道幸福小区"}


def spawn(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([HOTLINE, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=log.open("wb"))


async def ready(base: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=3) as c:
            return (await c.get(f"{base}/healthz")).status_code == 200
    except httpx.HTTPError:
        return False


async def test_one_key_one_case_across_two_worker_processes(pg: Database, pg_url: str, tmp_path: Path) -> None:
    await seed_console_people(pg)
    token = await issue_token(pg, "lina")
    env = {**os.environ, "HOTLINE_DATABASE_URL": pg_url, "HOTLINE_DATA_DIR": str(tmp_path / "data"),
           "HOTLINE_SECRET_KEY": "idem-test-secret", "HOTLINE_DB_POOL_SIZE": "4"}
    ports = [free_port(), free_port()]
    procs = [spawn(p, env, tmp_path / f"web{i}.log") for i, p in enumerate(ports)]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    auth = {"Authorization": f"Bearer {token}", "Idempotency-Key": "across-workers-1"}
    try:
        for b in bases:
            await livesrv.until(lambda b=b: ready(b), 60, f"worker {b}")
        async with httpx.AsyncClient(timeout=30) as c:
            rs = await asyncio.gather(*(c.post(f"{bases[i % 2]}/api/v1/tickets", json=NEW, headers=auth)
                                        for i in range(20)))
        assert {r.status_code for r in rs} == {201}, [r.text[:200] for r in rs]
        assert all(r.json() == rs[0].json() for r in rs)
        async with pg.session() as s:
            assert (await s.execute(select(func.count()).select_from(Ticket))).scalar_one() == 1
        # worker 0 killed and started again: the same answer from it
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        procs[0] = spawn(ports[0], env, tmp_path / "web0-again.log")
        await livesrv.until(lambda: ready(bases[0]), 60, "worker 0 again")
        async with httpx.AsyncClient(timeout=30) as c:
            r = await c.post(f"{bases[0]}/api/v1/tickets", json=NEW, headers=auth)
        assert r.status_code == 201 and r.json() == rs[0].json() and r.headers["Idempotent-Replayed"] == "true"
        async with pg.session() as s:
            assert (await s.execute(select(func.count()).select_from(Ticket))).scalar_one() == 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
