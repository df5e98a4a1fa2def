"""kill -9 of the adapter mid-burst, on the simulator path: calls that begin *and end* while it is
down are registered from the PBX's CDR (the simulator writes the rows cdr_pgsql would).

Unlike test_telephony_sigkill.py, arrivals are not held: calls are offered, answered, abandoned
and refused by the line limit while no adapter is connected. Afterwards every call the simulator
placed is one Call row with the simulator's outcome, the lines never went above the limit, the
waits are the PBX's, and the missed calls among them get their 回拨 task.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select

from callbacks.service import sync_missed_calls
from callcenter.store.db import Database
from callcenter.store.models import Call, Callback
from telephony.simulator import PBXSimulator, SimConfig
from tests import pgserver
from tests.livesrv import until

HOTLINE = str(Path(sys.executable).parent / "hotline")
CDR_SQL = Path(__file__).resolve().parents[2] / "deploy" / "asterisk" / "cdr_pgsql.sql"


def cdr_database() -> tuple[str, str]:
    """A fresh CDR database with deploy/asterisk/cdr_pgsql.sql: (writer URL, reader URL)."""
    admin = pgserver.create_database("hotline_cdr")
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(CDR_SQL.read_text())
    base, name = admin.rsplit("/", 1)
    host = base.split("@", 1)[-1]
    return f"postgresql://asterisk_cdr@{host}/{name}", f"postgresql://hotline_cdr@{host}/{name}"


def start_adapter(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([HOTLINE, "telephony", "run"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


@pytest.mark.slow
@pytest.mark.pg
async def test_sigkill_mid_burst_registers_the_calls_of_the_outage_from_the_cdr(
        sqlite_template: Path, tmp_path: Path, pg_url: str) -> None:
    writer, reader = cdr_database()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # the adapter's role only reads
        with psycopg.connect(reader, autocommit=True) as c:
            c.execute("INSERT INTO cdr (linkedid) VALUES ('x')")
    db_path = tmp_path / "hotline.db"
    shutil.copy(sqlite_template, db_path)
    sim = PBXSimulator(SimConfig(rate_per_min=70, abandon_pct=25, talk_min_s=4, talk_max_s=7, patience_min_s=2,
                                 patience_max_s=5, operators=5, lines=10, seed=20261202, cdr_url=writer))
    sim.hold_arrivals = True  # until the adapter first runs: nothing before it ever existed is asked of it
    port = await sim.start("127.0.0.1", 0)
    env = {**os.environ, "HOTLINE_DATABASE_URL": f"sqlite:///{db_path}", "HOTLINE_DATA_DIR": str(tmp_path / "data"),
           "HOTLINE_AMI_PORT": str(port), "HOTLINE_AMI_SECRET": "hotline-secret", "HOTLINE_LINES": "10",
           "HOTLINE_CDR_DATABASE_URL": reader}
    log = tmp_path / "adapter.log"
    proc = start_adapter(env, log)
    try:
        await until(lambda: sim.logins == 1 and "adapter running" in log.read_text(), 30)
        sim.hold_arrivals = False
        offered_at_start = sim.stats["offered"]
        await until(lambda: sim.stats["offered"] >= offered_at_start + 4, 25)
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        offered_at_kill = sim.stats["offered"]
        await asyncio.sleep(6.0)  # calls begin, are answered, abandoned, refused and end: nobody watches
        unseen = sim.stats["offered"] - offered_at_kill
        proc = start_adapter(env, log)
        await until(lambda: sim.logins == 2, 15)
        await asyncio.sleep(2.0)
        sim.generating = False
        await until(lambda: sim.idle, 40)
        await sim.flush_cdr()
        await asyncio.sleep(6.0)  # the adapter's last CDR read of the window
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        await sim.stop()
    text = log.read_text()
    assert "CDR window" in text, text[-3000:]
    db = Database(f"sqlite:///{db_path}")
    try:
        async with db.session() as s:
            rows = list((await s.scalars(select(Call))).all())
        await sync_missed_calls(db, datetime.now(UTC))
        async with db.session() as s:
            tasks = list((await s.scalars(select(Callback))).all())
    finally:
        await db.dispose()
    placed = {lid: r for lid, r in sim.record.items() if r["direction"] == "in"}
    stored = {r.linkedid: r for r in rows}
    by_id = Counter(r.linkedid for r in rows)
    kinds = Counter(r["outcome"] for r in placed.values())
    print(f"\nsimulator: {len(placed)} calls {dict(kinds)}; store: {len(rows)} rows "
          f"{dict(Counter(r.outcome.value for r in rows))}; offered while the adapter was down: {unseen}")
    assert unseen >= 5 and kinds["refused"] >= 1 and kinds["abandoned"] >= 1 and kinds["answered"] >= 5
    assert max(by_id.values()) == 1  # 0 doubled
    lost = set(placed) - set(stored)
    assert not lost, [(lid, placed[lid], [r for r in sim.cdr_rows if r["linkedid"] == lid]) for lid in sorted(lost)]
    assert {lid: r.outcome.value for lid, r in stored.items()} == {lid: r["outcome"] for lid, r in placed.items()}
    assert max((r.line or 0) for r in rows) <= 10
    assert sum(1 for r in rows if (r.data or {}).get("cdr")) >= 3
    for lid, r in stored.items():
        if r.outcome.value in ("answered", "abandoned"):
            # the PBX's wait: whole seconds (CDR), or HoldTime counted from the queue join (0.5 s later)
            assert abs((r.wait_s or 0) - placed[lid]["wait"]) <= 1.5, (lid, r.wait_s, placed[lid], r.data)
    missed = {r.caller_norm for r in rows if r.outcome.value in ("abandoned", "refused")}
    assert {t.phone_norm for t in tasks} >= missed - {None}
