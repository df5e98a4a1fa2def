"""The simulated PBX records every answered call and callback (MixMonitor's `<pbx>-<linkedid>.wav`);
the adapter registers the calls; collection links each file to its call by that name."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.calls.services import StoreCallSink
from callcenter.recordings import services as rec
from callcenter.store.db import Database
from callcenter.store.models import Call, Recording, RecordingState
from telephony.adapter import Adapter, AdapterConfig
from telephony.simulator import PBXSimulator, SimConfig
from tests.livesrv import until


async def test_every_answered_call_is_recorded_collected_and_linked(sqlite_database: Database, tmp_path: Path) -> None:
    db = sqlite_database
    spool, store = tmp_path / "monitor", tmp_path / "recordings"
    sim = PBXSimulator(SimConfig(speed=40, seed=18, rate_per_min=8, duration_s=240, abandon_pct=20,
                                 recordings_spool=str(spool), pbx="default"))
    port = await sim.start("127.0.0.1", 0)
    adapter = Adapter(AdapterConfig(port=port, secret="hotline-secret", data_dir=tmp_path / "adapter",
                                    write_interval=0.01), StoreCallSink(db))
    try:
        await adapter.start(connect_timeout=5)
        await adapter.originate_callback("13812345678", "8002", ticket_ref="GD20261202-0001", idempotency_key="r1",
                                         style="citizen_first")
        await adapter.originate_callback("15907311234", "8003", ticket_ref="GD20261202-0002", idempotency_key="r2",
                                         style="operator_first")  # never answered: no recording
        await asyncio.wait_for(sim.wait_idle(), 60)
        await until(lambda: sim.idle)
        await asyncio.sleep(0.2)
        await adapter.flushed()
    finally:
        await adapter.stop()
        await sim.stop()

    answered = {lid for lid, r in sim.record.items() if r["outcome"] in ("answered", "callback_answered")}
    assert len(answered) >= 5 and any(sim.record[lid]["direction"] == "out" for lid in answered)
    assert any(r["outcome"] not in ("answered", "callback_answered") for r in sim.record.values())
    assert {p.name for p in spool.iterdir()} == {f"default-{lid}.wav" for lid in answered}

    # at speed 40 the PBX's clock runs ahead of the wall clock: collect as of its last hangup
    async with db.session() as s:
        last_end = max(e for e in (await s.execute(select(Call.ended_at))).scalars() if e is not None)
    res = await rec.collect(db, spool, store, now=last_end, grace=timedelta(0))
    assert sorted(res.collected) == sorted(f"default-{lid}.wav" for lid in answered)
    assert res.waiting == [] and res.failed == [] and list(spool.iterdir()) == []
    async with db.session() as s:
        rows = (await s.execute(select(Recording, Call).join(Call, Call.id == Recording.call_id))).all()
    assert {r.linkedid for r, _ in rows} == answered
    assert {r.ticket_ref for r, c in rows if c.direction.value == "out"} == {"GD20261202-0001"}
    for r, c in rows:
        assert r.state is RecordingState.collected and (r.pbx, r.linkedid) == (c.pbx, c.linkedid)
        assert r.ticket_ref == c.ticket_ref  # a callback's recording is found from its case
        assert r.duration_s == pytest.approx(sim.record[c.linkedid]["recording_s"], abs=0.01)
        assert (store / (r.path or "")).stat().st_size == r.size
        # an inbound call's file against its talk time (±1 s, like billsec); the callbacks' talk
        # time is measured on the wall clock, not the simulator's (speed 40)
        if c.talk_s is not None and c.direction.value == "in":
            assert abs((r.duration_s or 0) - c.talk_s) <= 1.0, (c.linkedid, r.duration_s, c.talk_s)
    assert sum(1 for _, c in rows if c.talk_s is not None and c.direction.value == "in") >= 5
