"""`hotline report capacity` end to end: a simulated week in a store, JSON, the table, a workbook."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from callcenter.store.db import Database
from reports import simweek
from reports.capacity import TZ

HOTLINE = Path(sys.executable).parent / "hotline"


@pytest.fixture(scope="module")
def hotline(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if not HOTLINE.exists():
        pytest.skip("no hotline console script in the venv (pip install -e .)")
    d = tmp_path_factory.mktemp("capacity-cli")
    url = f"sqlite:///{d / 'hotline.db'}"
    env = {**os.environ, "HOTLINE_DATABASE_URL": url, "HOTLINE_DATA_DIR": str(d)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(HOTLINE), *args], env=env, capture_output=True, text=True, timeout=120,
                              cwd=d)

    assert run("db", "upgrade").returncode == 0

    async def fill() -> int:
        db = Database(url)
        try:
            week = simweek.Hotline(lines=10, seats=7, talk_s=200.0, patience_s=80.0, scale=1.25)
            return await simweek.load(db, simweek.simulate(datetime(2026, 3, 2, tzinfo=TZ), 7, week, seed=2026))
        finally:
            await db.dispose()

    run.calls = asyncio.run(fill())  # type: ignore[attr-defined]
    return run


def test_json_carries_predicted_beside_observed(hotline) -> None:  # type: ignore[no-untyped-def]
    r = hotline("report", "capacity", "--from", "2026-03-02", "--to", "2026-03-08", "--lines", "12",
                "--format", "json")
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert plan["lines"] == 12 and plan["totals"]["offered"] == hotline.calls
    assert [w["lines"] for w in plan["with_more_lines"]] == [12, 13, 14, 15, 16, 17]
    assert sum(i["refused"] for i in plan["validation"]["intervals"]) == plan["totals"]["refused"]
    assert all("refused_pred" in i and "abandoned_pred" in i for i in plan["validation"]["intervals"])


def test_the_table_and_the_workbook(hotline, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = hotline("report", "capacity", "--from", "2026-03-02", "--to", "2026-03-08")
    assert r.returncode == 0, r.stderr
    assert "容量规划 2026-03-02 至 2026-03-08（10 条线路）" in r.stdout and "所需坐席" in r.stdout
    assert r.stdout.count("时  ") >= 24  # 24 hours of the staffing table
    out = tmp_path / "plan.xlsx"
    r = hotline("report", "capacity", "--from", "2026-03-02", "--to", "2026-03-08", "--format", "xlsx",
                "--out", str(out))
    assert r.returncode == 0, r.stderr
    from openpyxl import load_workbook

    wb = load_workbook(out)
    assert wb.sheetnames == ["汇总", "每小时", "检验"]
    assert wb["每小时"].max_row == 1 + 168


def test_bad_input_is_a_clear_error(hotline) -> None:  # type: ignore[no-untyped-def]
    r = hotline("report", "capacity", "--from", "2026-03-08", "--to", "2026-03-02")
    assert r.returncode == 2 and "before" in r.stderr
    r = hotline("report", "capacity", "--from", "2026-03-02", "--to", "2026-03-08", "--interval", "7")
    assert r.returncode == 2 and "统计间隔" in r.stderr
    r = hotline("report", "capacity", "--from", "2026-03-02", "--to", "2026-03-08", "--format", "xlsx")
    assert r.returncode == 2 and "--out" in r.stderr
