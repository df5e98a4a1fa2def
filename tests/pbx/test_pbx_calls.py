"""The adapter against a real Asterisk 22.10.1, checked against Asterisk's own CDR and queue_log.

The adapter runs as `hotline telephony run` (its own process), logged in as deploy/asterisk's
least-privilege `hotline` user; calls are placed by a `driver` AMI user with Originate, as the
captures were made (Local-channel citizens, 5 Local-channel operators, 10 trunk lines).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import select

from callbacks.service import sync_missed_calls
from callcenter.store.db import Database
from callcenter.store.models import Call, Callback
from telephony.cdr import CdrReader, calls_from_cdr
from tests.livesrv import until
from tests.pbx.asterisk import HOTLINE_SECRET, Asterisk, Driver

HOTLINE = str(Path(sys.executable).parent / "hotline")


def adapter_env(ast: Asterisk, store_url: str, data_dir: Path) -> dict[str, str]:
    return {**os.environ, "HOTLINE_DATABASE_URL": store_url, "HOTLINE_DATA_DIR": str(data_dir),
            "HOTLINE_AMI_PORT": str(ast.port), "HOTLINE_AMI_USERNAME": "hotline", "HOTLINE_AMI_SECRET": HOTLINE_SECRET,
            "HOTLINE_LINES": "10", "HOTLINE_CDR_DATABASE_URL": ast.cdr_url}


def start_adapter(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([HOTLINE, "telephony", "run"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def queue_log(ast: Asterisk) -> dict[str, tuple[str, int]]:
    """trunk uniqueid → (answered|abandoned, wait) as Asterisk's queue_log has it."""
    out: dict[str, tuple[str, int]] = {}
    for line in ast.queue_log.read_text().splitlines():
        p = line.split("|")
        if len(p) > 5 and p[4] == "CONNECT":
            out[p[1]] = ("answered", int(p[5]))
        elif len(p) > 7 and p[4] == "ABANDON":
            out[p[1]] = ("abandoned", int(p[7]))
    return out


async def wait_quiet(driver: Driver, timeout: float = 90) -> None:
    async with asyncio.timeout(timeout):
        while await driver.channels():
            await asyncio.sleep(0.5)


async def test_kill_9_of_the_adapter_mid_burst_loses_and_doubles_nothing(
        asterisk: Asterisk, driver: Driver, pg: Database, pg_url: str, tmp_path: Path) -> None:
    env = adapter_env(asterisk, pg_url, tmp_path / "data")
    log = tmp_path / "adapter.log"
    proc = start_adapter(env, log)
    plan = [(f"1380000{i:04d}", 4 + (i * 7) % 12) for i in range(18)]  # patience 4–15 s
    try:
        await until(lambda: "adapter running" in log.read_text(), 30)
        for number, patience in plan[:8]:
            await driver.inbound(number, patience)
            await asyncio.sleep(0.3)
        proc.send_signal(signal.SIGKILL)  # mid-burst
        proc.wait(5)
        for number, patience in plan[8:]:  # offered while nobody watches: 10 lines full → refused
            await driver.inbound(number, patience)
            await asyncio.sleep(0.3)
        await asyncio.sleep(2.0)
        proc = start_adapter(env, log)
        await until(lambda: "adapter running" in log.read_text().split("restored", 1)[-1], 30)
        await wait_quiet(driver)
        await asyncio.sleep(8.0)  # the adapter's last CDR read of the window
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert "CDR window" in text, text[-3000:]
    async with pg.session() as s:
        rows = list((await s.scalars(select(Call).where(Call.direction == "in"))).all())
    since = datetime.now(UTC) - timedelta(minutes=10)
    with psycopg.connect(asterisk.cdr_admin_url) as c:
        assert c.execute("SELECT count(*) FROM cdr").fetchone()[0] > 0
    pbx = calls_from_cdr(await CdrReader(asterisk.cdr_admin_url).read(since, datetime.now(UTC)), pbx="default")
    ql = queue_log(asterisk)
    store_kinds = Counter(r.outcome.value for r in rows)
    pbx_kinds = Counter(f.outcome for f in pbx)
    print(f"\nAsterisk (CDR): {len(pbx)} calls {dict(pbx_kinds)}; queue_log: "
          f"{dict(Counter(o for o, _ in ql.values()))}\nstore:          {len(rows)} calls {dict(store_kinds)}; "
          f"peak line {max((r.line or 0) for r in rows)}; from the CDR: {sum(1 for r in rows if (r.data or {}).get('cdr'))}")
    assert len(pbx) == len(plan)
    assert sorted(r.linkedid for r in rows) == sorted(f.linkedid for f in pbx)  # 0 lost, 0 doubled
    assert {r.linkedid: r.outcome.value for r in rows} == {f.linkedid: f.outcome for f in pbx}
    assert pbx_kinds["refused"] >= 1 and pbx_kinds["answered"] >= 5
    assert max((r.line or 0) for r in rows) <= 10
    waits = []
    for r in rows:
        if r.uniqueid in ql:
            outcome, wait = ql[r.uniqueid]
            assert r.outcome.value == outcome, (r.linkedid, r.outcome, outcome)
            waits.append((r.caller_number, r.wait_s, wait))
            assert r.wait_s is not None and abs(r.wait_s - wait) <= 1.0, (r.caller_number, r.wait_s, wait, r.data)
    print("waits (number, store, queue_log):", waits)
    assert len(waits) >= 6
    # the missed calls, including those read from the CDR, get their 回拨 task
    await sync_missed_calls(pg, datetime.now(UTC))
    async with pg.session() as s:
        tasks = {t.phone_norm for t in (await s.scalars(select(Callback))).all()}
    assert tasks == {r.caller_norm for r in rows if r.outcome.value in ("abandoned", "refused")}


async def test_a_burst_past_ten_lines_matches_asterisk(
        asterisk: Asterisk, driver: Driver, pg: Database, pg_url: str, tmp_path: Path) -> None:
    env = adapter_env(asterisk, pg_url, tmp_path / "data")
    log = tmp_path / "adapter.log"
    proc = start_adapter(env, log)
    try:
        await until(lambda: "adapter running" in log.read_text(), 30)
        for i in range(14):
            await driver.inbound(f"1350000{i:04d}", 3 + (i * 5) % 11)
            await asyncio.sleep(0.25)
        await wait_quiet(driver)
        await asyncio.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    async with pg.session() as s:
        rows = list((await s.scalars(select(Call).where(Call.direction == "in"))).all())
    pbx = calls_from_cdr(await CdrReader(asterisk.cdr_admin_url).read(datetime.now(UTC) - timedelta(minutes=10),
                                                                     datetime.now(UTC)), pbx="default")
    ql = queue_log(asterisk)
    print(f"\nAsterisk (CDR): {len(pbx)} calls {dict(Counter(f.outcome for f in pbx))}\n"
          f"store:          {len(rows)} calls {dict(Counter(r.outcome.value for r in rows))}; "
          f"peak line {max((r.line or 0) for r in rows)}")
    assert {r.linkedid: r.outcome.value for r in rows} == {f.linkedid: f.outcome for f in pbx}
    assert Counter(f.outcome for f in pbx)["refused"] >= 1
    assert max((r.line or 0) for r in rows) == 10  # the trunk was full, never above
    for r in rows:
        if r.uniqueid in ql:
            assert abs((r.wait_s or 0) - ql[r.uniqueid][1]) <= 1.0, (r.caller_number, r.wait_s, ql[r.uniqueid])


async def test_an_asterisk_restart_with_calls_up_loses_nothing(
        asterisk: Asterisk, pg: Database, pg_url: str, tmp_path: Path) -> None:
    env = adapter_env(asterisk, pg_url, tmp_path / "data")
    log = tmp_path / "adapter.log"
    proc = start_adapter(env, log)
    driver = Driver(asterisk.port)
    try:
        await until(lambda: "adapter running" in log.read_text(), 30)
        assert (await driver.connect()).get("Response") == "Success"
        for i in range(7):
            await driver.inbound(f"1860000{i:04d}", 20)
            await asyncio.sleep(0.3)
        await asyncio.sleep(3.0)  # 5 talking to operators, 2 waiting in the queue
        await driver.close()
        asterisk.stop()  # core stop now: every call is cut
        asterisk.start()
        await until(lambda: log.read_text().count("logged in to the PBX") >= 2, 60)
        driver = Driver(asterisk.port)
        assert (await driver.connect()).get("Response") == "Success"
        for i in range(3):  # and calls go on after the restart
            await driver.inbound(f"1870000{i:04d}", 4)
            await asyncio.sleep(0.3)
        await wait_quiet(driver)
        await asyncio.sleep(6.0)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        await driver.close()
        if proc.poll() is None:
            proc.kill()
    async with pg.session() as s:
        rows = list((await s.scalars(select(Call).where(Call.direction == "in"))).all())
    pbx = calls_from_cdr(await CdrReader(asterisk.cdr_admin_url).read(datetime.now(UTC) - timedelta(minutes=10),
                                                                     datetime.now(UTC)), pbx="default")
    print(f"\nAsterisk (CDR): {len(pbx)} calls {dict(Counter(f.outcome for f in pbx))}\n"
          f"store:          {len(rows)} calls {dict(Counter(r.outcome.value for r in rows))}")
    assert len(rows) == 10 and all(r.outcome.value != "in_progress" for r in rows)
    assert sorted(r.caller_number or "" for r in rows) == sorted(
        [f"1860000{i:04d}" for i in range(7)] + [f"1870000{i:04d}" for i in range(3)])
    assert {f.linkedid for f in pbx} <= {r.linkedid for r in rows}
    assert Counter(r.outcome.value for r in rows)["answered"] >= 5 + 3
    assert max((r.line or 0) for r in rows) <= 10
