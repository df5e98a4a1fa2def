"""End to end: `hotline telephony run` SIGKILLed mid-stream and restarted loses and doubles nothing.

The adapter runs as its own process against the PBX simulator (in this process, over TCP). It is
killed with SIGKILL while calls are ringing, queued and talking; while it is down those calls go
on (some are answered, some end). The restarted adapter takes the calls in progress back from its
spool journal and reconciles them with the PBX (CoreShowChannels): still up → followed on,
bridged → answered, gone → closed. Every call the simulator placed must then be one Call row with
the simulator's outcome.

No call may *begin and end* while no adapter is connected: AMI keeps no history, so such a call
exists only in the PBX's CDR. The simulator therefore holds new arrivals while the adapter is
down (`hold_arrivals`), and operators talk longer than the restart takes.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.store.db import Database
from callcenter.store.models import Call
from telephony.simulator import PBXSimulator, SimConfig
from tests.livesrv import until

HOTLINE = str(Path(sys.executable).parent / "hotline")


def start_adapter(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([HOTLINE, "telephony", "run"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


@pytest.mark.slow
async def test_sigkill_mid_stream_then_restart_registers_every_call_exactly_once(
        sqlite_template: Path, tmp_path: Path) -> None:
    db_path = tmp_path / "hotline.db"
    shutil.copy(sqlite_template, db_path)
    sim = PBXSimulator(SimConfig(rate_per_min=45, abandon_pct=15, talk_min_s=5, talk_max_s=9, patience_min_s=3,
                                 patience_max_s=8, seed=20261126))
    port = await sim.start("127.0.0.1", 0)
    env = {**os.environ, "HOTLINE_DATABASE_URL": f"sqlite:///{db_path}", "HOTLINE_DATA_DIR": str(tmp_path / "data"),
           "HOTLINE_AMI_PORT": str(port), "HOTLINE_AMI_SECRET": "hotline-secret", "HOTLINE_LINES": "10"}
    log = tmp_path / "adapter.log"
    proc = start_adapter(env, log)
    try:
        await until(lambda: sim.logins == 1, 15)
        await until(lambda: sim.stats["answered"] >= 3 and len(sim.connected) >= 2 and sim.queue, 25)
        in_progress_at_kill = {c.linkedid for c in sim.channels.values()}
        sim.hold_arrivals = True
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        await asyncio.sleep(1.0)  # calls go on without the adapter: some are answered, some end
        proc = start_adapter(env, log)
        await until(lambda: sim.logins == 2, 15)
        sim.hold_arrivals = False
        await asyncio.sleep(4.0)
        sim.generating = False
        await until(lambda: sim.idle, 40)
        await asyncio.sleep(1.0)
        proc.send_signal(signal.SIGTERM)  # stops cleanly with everything written
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        await sim.stop()
    text = log.read_text()
    assert "restored" in text and "calls in progress from the spool journal" in text, text[-3000:]
    db = Database(f"sqlite:///{db_path}")
    try:
        async with db.session() as s:
            rows = list((await s.scalars(select(Call))).all())
    finally:
        await db.dispose()
    assert len(in_progress_at_kill) >= 3
    by_id = Counter(r.linkedid for r in rows)
    assert max(by_id.values()) == 1  # exactly once
    placed = {lid: r["outcome"] for lid, r in sim.record.items()}
    stored = {r.linkedid: r.outcome.value for r in rows}
    assert stored == placed
    kinds = Counter(placed.values())
    assert kinds["answered"] >= 5 and kinds["abandoned"] >= 1, kinds
