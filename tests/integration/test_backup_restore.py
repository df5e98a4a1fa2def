"""Backup then restore into an empty database gives the same figures (issue 7): the scripts of
deploy/backup/ on PostgreSQL (pg_dump / pg_restore) and on SQLite (the online backup API),
compared through `hotline report metrics`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from callcenter.cases import services
from callcenter.cases.services import NewTicket
from callcenter.people.auth import actor_of
from callcenter.store.db import Database
from callcenter.store.models import Call, CallDirection, CallOutcome
from tests import pgserver
from tests.conftest import DATA_TABLES, make_personas

ROOT = Path(__file__).resolve().parents[2]
HOTLINE = str(Path(sys.executable).parent / "hotline")
BACKUP, RESTORE = str(ROOT / "deploy/backup/hotline-backup"), str(ROOT / "deploy/backup/hotline-restore")
T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


async def fill(db: Database) -> None:
    """A month's worth in miniature: cases in every state, and calls of every outcome."""
    people = await make_personas(db)
    lina, zhangwei = actor_of(people.lina), actor_of(people.zhangwei)
    for i in range(12):
        at = T0 + timedelta(days=i % 6, minutes=i)
        t = await services.register(db, lina, NewTicket(kind="complaint" if i % 3 else "consultation",
                                                        category="物业管理", content=f"电梯故障 {i}",
                                                        caller_phone="13812345678"), now=at)
        if i % 4 == 0:
            continue
        await services.act(db, lina, t.number, "dispatch", None, {"department": "zjj"}, at + timedelta(hours=1))
        if i % 4 == 1:
            continue
        await services.act(db, zhangwei, t.number, "accept", None, {}, at + timedelta(hours=2))
        await services.act(db, zhangwei, t.number, "resolve", None, {"resolution": "已修复"}, at + timedelta(days=1))
        if i % 4 == 3:
            await services.act(db, lina, t.number, "callback", None,
                               {"outcome": "satisfied", "words": "好", "solved": True}, at + timedelta(days=2))
    async with db.transaction() as s:
        for i, outcome in enumerate([CallOutcome.answered] * 6 + [CallOutcome.abandoned] * 2 + [CallOutcome.refused]):
            at = T0 + timedelta(hours=i)
            s.add(Call(pbx="default", linkedid=f"17000000{i:02d}.1", direction=CallDirection.inbound,
                       caller_number="13812345678", offered_at=at, updated_at=at,
                       answered_at=at + timedelta(seconds=8) if outcome is CallOutcome.answered else None,
                       ended_at=at + timedelta(minutes=3), outcome=outcome, line=1 + i % 10,
                       seat="8001" if outcome is CallOutcome.answered else None))


def metrics(url: str, data_dir: Path) -> dict:  # type: ignore[type-arg]
    env = {**os.environ, "HOTLINE_DATABASE_URL": url, "HOTLINE_DATA_DIR": str(data_dir)}
    out = subprocess.run([HOTLINE, "report", "metrics", "--from", "2026-03-01", "--to", "2026-03-31",
                          "--format", "json"], env=env, check=True, capture_output=True, text=True).stdout
    m = json.loads(out)
    for k in ("as_of", "generated_at", "computed_at"):  # when it was computed is not a figure
        m.pop(k, None)
    return m


def script(path: str, *args: str, url: str, backup_dir: Path) -> str:
    env = {**os.environ, "HOTLINE_DATABASE_URL": url, "HOTLINE_BACKUP_DIR": str(backup_dir),
           "HOTLINE_PYTHON": sys.executable}
    r = subprocess.run([path, *args], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().splitlines()[-1]


@pytest.mark.pg
async def test_postgresql_backup_then_restore_into_an_empty_database(pg_url: str, tmp_path: Path) -> None:
    db = Database(pg_url, pool_size=2)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(DATA_TABLES)} RESTART IDENTITY CASCADE"))
        await fill(db)
    finally:
        await db.dispose()
    before = metrics(pg_url, tmp_path)
    assert before["cases"]["registered"] == 12 and before["calls"]["offered"] == 9
    dump = script(BACKUP, url=pg_url, backup_dir=tmp_path / "backups")
    assert dump.endswith(".dump") and Path(dump).stat().st_size > 0
    empty = pgserver.create_database("hotline_restore")
    script(RESTORE, dump, url=empty, backup_dir=tmp_path)
    assert metrics(empty, tmp_path) == before
    # a second restore into a database that is no longer empty is refused
    env = {**os.environ, "HOTLINE_DATABASE_URL": empty}
    r = subprocess.run([RESTORE, dump], env=env, capture_output=True, text=True)
    assert r.returncode == 1 and "not empty" in r.stderr


async def test_sqlite_online_backup_then_restore(sqlite_template: Path, tmp_path: Path) -> None:
    path = tmp_path / "hotline.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    db = Database(url)
    try:
        await fill(db)
        before = metrics(url, tmp_path)
        assert before["cases"]["registered"] == 12
        # online: the store is open (a connection in this process) while it is backed up
        copy = script(BACKUP, url=url, backup_dir=tmp_path / "backups")
    finally:
        await db.dispose()
    assert copy.endswith(".sqlite")
    target = tmp_path / "restored" / "hotline.db"
    script(RESTORE, copy, url=f"sqlite:///{target}", backup_dir=tmp_path)
    assert metrics(f"sqlite:///{target}", tmp_path) == before
    r = subprocess.run([RESTORE, copy], env={**os.environ, "HOTLINE_DATABASE_URL": f"sqlite:///{target}"},
                       capture_output=True, text=True)
    assert r.returncode == 1 and "exists" in r.stderr  # never over a live store
