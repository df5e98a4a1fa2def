"""Heartbeat rows live as long as they mean something (issue 20): a web worker's and a
scheduler's row goes when it stops, a dead web worker's expires, a telephony adapter's stays
until the PBX is retired (`hotline ops retire`), and a dead scheduler stand-by keeps
/readyz?strict=1 at 503."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import update

from callcenter.core.settings import Settings
from callcenter.entry.app import create_app
from callcenter.ops.heartbeat import WEB_EXPIRE_S, beat, rows, run_heartbeat
from callcenter.store.db import Database
from callcenter.store.models import ProcessHeartbeat, SchedulerLease, utcnow
from tests.livesrv import serve

HOTLINE = str(Path(sys.executable).parent / "hotline")


async def _age(db: Database, name: str, seconds: float) -> None:
    async with db.transaction() as s:
        await s.execute(update(ProcessHeartbeat).where(ProcessHeartbeat.name == name)
                        .values(beat_at=utcnow() - timedelta(seconds=seconds)))


async def _names(db: Database) -> set[str]:
    return {b.name for b in await rows(db)}


async def test_a_clean_stop_deletes_web_and_scheduler_rows_but_keeps_the_adapters(database: Database) -> None:
    tasks = {name: asyncio.create_task(run_heartbeat(database, name, kind, lambda: {"pbx": "east"}, every=0.05))
             for name, kind in (("web:h:1", "web"), ("scheduler:h", "scheduler"), ("telephony:east", "telephony"))}
    for _ in range(100):
        if await _names(database) >= set(tasks):
            break
        await asyncio.sleep(0.05)
    assert await _names(database) >= set(tasks)
    for t in tasks.values():
        t.cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    assert await _names(database) == {"telephony:east"}


async def test_a_dead_web_workers_row_expires_but_a_dead_adapter_and_scheduler_stay(database: Database) -> None:
    for name, kind in (("web:h:10", "web"), ("web:h:11", "web"), ("scheduler:b", "scheduler"),
                       ("telephony:east", "telephony")):
        await beat(database, name, kind, {}, utcnow())
    for name in ("web:h:10", "scheduler:b", "telephony:east"):
        await _age(database, name, WEB_EXPIRE_S + 60)
    await beat(database, "web:h:12", "web", {}, utcnow())  # any live process's beat sweeps
    assert await _names(database) == {"web:h:11", "web:h:12", "scheduler:b", "telephony:east"}


async def test_a_retired_pbx_and_a_dead_stand_by_in_readyz_strict(database: Database, tmp_path: Path) -> None:
    now = utcnow()
    async with database.transaction() as s:
        await s.merge(SchedulerLease(name="scheduler", holder="sched-a", renewed_at=now))
    await beat(database, "telephony:default", "telephony", {"pbx": "default", "ami_logged_in": True}, now)
    await beat(database, "scheduler:a", "scheduler", {"leading": True}, now)
    await beat(database, "scheduler:b", "scheduler", {"leading": False}, now)
    await beat(database, "telephony:old", "telephony", {"pbx": "old", "ami_logged_in": True}, now)
    await _age(database, "telephony:old", 3600)  # a PBX taken out of service a while ago
    env = {**os.environ, "HOTLINE_DATABASE_URL": database.url, "HOTLINE_DATA_DIR": str(tmp_path)}
    with serve(create_app, settings=Settings(data_dir=tmp_path, database_url=database.url)) as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as c:
            r = await c.get("/readyz?strict=1")
            assert r.status_code == 503, r.json()
            assert [t["pbx"] for t in r.json()["checks"]["telephony"] if not t["ok"]] == ["old"]

            listed = subprocess.run([HOTLINE, "ops", "processes", "--format", "json"], env=env,
                                    capture_output=True, text=True, check=True).stdout
            assert {p["name"] for p in json.loads(listed)} >= {"telephony:old", "scheduler:b"}
            out = subprocess.run([HOTLINE, "ops", "retire", "telephony:old"], env=env, capture_output=True, text=True)
            assert out.returncode == 0 and "retired telephony:old" in out.stdout, out.stderr
            again = subprocess.run([HOTLINE, "ops", "retire", "telephony:old"], env=env, capture_output=True, text=True)
            assert again.returncode == 1 and "no process named" in again.stderr

            async with database.transaction() as s:  # the leader keeps renewing its lock
                await s.merge(SchedulerLease(name="scheduler", holder="sched-a", renewed_at=utcnow()))
            for name in ("telephony:default", "scheduler:a", "scheduler:b"):  # they keep beating
                await beat(database, name, name.split(":")[0], {"pbx": "default", "ami_logged_in": True,
                                                                 "leading": name == "scheduler:a"}, utcnow())
            r = await c.get("/readyz?strict=1")
            assert r.status_code == 200, r.json()
            assert {x["name"] for x in r.json()["checks"]["schedulers"]} == {"scheduler:a", "scheduler:b"}

            await _age(database, "scheduler:b", 120)  # the stand-by died
            r = await c.get("/readyz?strict=1")
            assert r.status_code == 503
            dead = [x for x in r.json()["checks"]["schedulers"] if not x["ok"]]
            assert [x["name"] for x in dead] == ["scheduler:b"]
            m = (await c.get("/metrics")).text
            assert 'hotline_heartbeat_age_seconds{process="scheduler:b",kind="scheduler"}' in m
