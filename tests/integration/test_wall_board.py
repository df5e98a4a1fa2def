"""The wall's seat board (callcenter.floor.agents.AgentBoard) across web workers: operator pages
open on one worker count on every worker's board, a worker started later learns who is online
from the others, who is paused from the telephony adapter's heartbeat (the PBX's state) and who
is on a call from the store, and a page closed anywhere goes offline everywhere (two boards on
two PostgreSQL buses = two workers). The pause state end to end: tests/integration/test_pause_state.py."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta
from typing import Any

import pytest

from callcenter.core.bus import InProcessBus, PgBus
from callcenter.floor.agents import AgentBoard
from callcenter.ops import heartbeat
from callcenter.store.db import Database
from callcenter.store.models import Call, CallDirection, CallOutcome, utcnow
from tests import livesrv


async def until(check: Any, timeout: float = 5.0, what: str = "") -> Any:
    """livesrv.until with this module's patience (5.0 s)."""
    return await livesrv.until(check, timeout, what)


async def test_one_worker_counts_its_pages_once() -> None:
    bus = InProcessBus()
    board = AgentBoard()
    task = asyncio.create_task(board.follow(bus))
    try:
        await asyncio.sleep(0.05)
        for delta in (+1, +1, -1):
            await bus.publish("agent.online", board.page_opened("8001", delta))
        await asyncio.sleep(0.05)
        assert board.seat_state("8001") == "ready" and board.online["8001"] == 1
        await bus.publish("agent.online", board.page_opened("8001", -1))
        await asyncio.sleep(0.05)
        assert board.seat_state("8001") == "offline"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.pg
async def test_a_worker_started_later_shows_the_seats_as_they_are(pg_url: str) -> None:
    db = Database(pg_url, pool_size=2)
    bus_a, bus_b = PgBus(pg_url), PgBus(pg_url)
    a, b = AgentBoard(), AgentBoard()
    tasks: list[asyncio.Task[None]] = []
    try:
        async with db.engine.begin() as conn:
            from sqlalchemy import text

            await conn.execute(text("DELETE FROM calls"))
            await conn.execute(text("DELETE FROM process_heartbeats"))
        await bus_a.start()
        tasks.append(asyncio.create_task(a.follow(bus_a)))
        await asyncio.sleep(0.2)
        # worker A: 8001's page open and paused, 8002's page open, 8003 talking (call begun before B)
        for seat in ("8001", "8002", "8003"):
            await bus_a.publish("agent.online", a.page_opened(seat, +1))
        pause = {"seat": "8001", "paused": True, "operator": "李娜", "rid": "r1"}
        a.apply("agent.pause", pause)
        await bus_a.publish("agent.pause", pause)
        # the telephony adapter: the PBX confirmed it (bus), and its heartbeat carries the map
        now = time.time()
        await bus_a.publish("agent.paused", {"seat": "8001", "paused": True, "reason": "示忙", "pbx": "default",
                                             "at": now, "source": "event"})
        await heartbeat.beat(db, "telephony:default", "telephony", {"pbx": "default", "ami_logged_in": True, "pauses": {
            "8001": {"paused": True, "reason": "示忙", "at": now}, "8002": {"paused": False, "reason": None, "at": now}}},
            utcnow())
        async with db.transaction() as s:
            s.add(Call(linkedid="L1", direction=CallDirection.inbound, outcome=CallOutcome.in_progress,
                       caller_number="13812345678", offered_at=utcnow() - timedelta(seconds=30),
                       answered_at=utcnow() - timedelta(seconds=20), seat="8003", line=1))
        await until(lambda: a.online["8003"] == 1)

        await until(lambda: a.pause_view("8001")["confirmed"] is True)
        # worker B starts now: the store for calls, the adapter's heartbeat for pauses, worker A for pages
        await bus_b.start()
        await b.load(db)
        assert await b.seed_pauses(db) == 2
        tasks.append(asyncio.create_task(b.follow(bus_b)))
        await until(lambda: {s: b.seat_state(s) for s in ("8001", "8002", "8003", "8004")}
                    == {"8001": "paused", "8002": "ready", "8003": "busy", "8004": "offline"})
        assert b.lines_in_use == 1

        # 8002 closes the page on A: its console is closed on both boards, while the PBX still has
        # it as a queue member (空闲: the seat's state is the PBX's)
        await bus_a.publish("agent.online", a.page_opened("8002", -1))
        await until(lambda: not b.console_open("8002") and not a.console_open("8002"))
        assert b.seat_state("8002") == "ready"  # B has the PBX's word (the heartbeat's map)
        assert a.seat_state("8002") == "offline"  # A never heard of 8002 from the PBX: its page stood in
        # 8002 opens a page on B: open on A too
        await bus_b.publish("agent.online", b.page_opened("8002", +1))
        await until(lambda: a.console_open("8002") and b.console_open("8002"))
        assert a.online["8002"] == b.online["8002"] == 1

        # worker A goes away without a word: its pages stop counting after 3 presence periods
        tasks[0].cancel()
        b.PRESENCE_S = 0.1
        b._recount()
        await until(lambda: (b._recount(), not b.console_open("8001"))[1], timeout=3)
        assert b.console_open("8002")  # B's own page
        assert b.seat_state("8001") == "paused"  # the PBX's pause stands
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bus_a.close()
        await bus_b.close()
        await db.dispose()
