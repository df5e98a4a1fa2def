"""`hotline qa …` from outside: a checklist from a file, a week's sample, the month's figures —
and their errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from callcenter.cases.workdays import TZ
from callcenter.people.auth import add_user
from callcenter.qa.services import last_week
from callcenter.store.db import Database
from callcenter.store.models import Call, Recording, RecordingState, Role, utcnow
from tests.integration.test_recordings import add_call

HOTLINE = Path(sys.executable).parent / "hotline"


async def test_the_commands(tmp_path: Path) -> None:
    if not HOTLINE.exists():
        pytest.skip("no hotline console script in the venv (pip install -e .)")
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    env = {**os.environ, "HOTLINE_DATABASE_URL": url, "HOTLINE_DATA_DIR": str(tmp_path), "HOTLINE_QA_SAMPLE_SIZE": "1"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(HOTLINE), "qa", *args], env=env, capture_output=True, text=True, timeout=120)

    assert subprocess.run([str(HOTLINE), "db", "upgrade"], env=env, capture_output=True, timeout=120).returncode == 0
    week = last_week(utcnow())
    db = Database(url)
    try:
        op = await add_user(db, "lina", Role.operator, display_name="李娜", seat="8001")
        at = datetime.combine(week + timedelta(days=2), time(10), tzinfo=TZ)
        for n in range(3):
            cid = await add_call(db, f"1796400000.{n}", at=at + timedelta(hours=n), talk=60)
            async with db.transaction() as s:
                await s.execute(update(Call).where(Call.id == cid).values(operator_id=op.id))
                s.add(Recording(pbx="default", linkedid=f"1796400000.{n}", call_id=cid, state=RecordingState.collected,
                                path=f"x{n}.wav", size=1, sha256="-", duration_s=60, started_at=at, collected_at=at,
                                created_at=at))
    finally:
        await db.dispose()

    items = tmp_path / "items.txt"
    items.write_text("规范开头语 | 40\n准确记录诉求 | 六十\n", encoding="utf-8")
    r = run("checklist", "--name", "表", "--items", str(items))
    assert r.returncode == 1 and "error (items): 第 2 行" in r.stderr
    items.write_text("规范开头语 | 40\n准确记录诉求 | 60\n泄露举报人信息 | 致命\n", encoding="utf-8")
    r = run("checklist", "--name", "2026年话务质检表", "--items", str(items))
    assert r.returncode == 0 and "active" in r.stdout, r.stderr

    r = run("sample", "--week", "2026-13-01")
    assert r.returncode == 2 and "week" in r.stderr
    r = run("sample", "--week", (week + timedelta(days=1)).isoformat())
    assert r.returncode == 1 and "error (week):" in r.stderr and "星期一" in r.stderr
    r = run("sample")  # last week by default
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"week": week.isoformat(), "picked": {"sample": 1, "dissatisfied": 0, "chase": 0,
                                                                         "long": 0}, "total": 1}
    assert json.loads(run("sample").stdout)["total"] == 0  # never twice

    month = f"{week + timedelta(days=2):%Y-%m}"
    r = run("figures", "--month", month)
    assert r.returncode == 0, r.stderr
    f = json.loads(r.stdout)
    assert f["total"]["answered"] == 3 and f["total"]["pending"] == 1 and f["total"]["inspected"] == 0
