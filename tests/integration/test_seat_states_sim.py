"""Seat states on the wall follow the PBX, on real parts: the PBX simulator over TCP, the
telephony adapter with its heartbeat, the web app under uvicorn. No operator page is open: the
queue's members are 空闲 (logged in on the phone), a seat that is no member is 未登录; a call
answered makes its seat 通话中 and its completion frees it; a web worker started in the middle of
a call (the store for calls, the adapter's heartbeat for members) shows the same seats.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from callcenter.people.auth import add_user
from callcenter.store.db import Database
from callcenter.store.models import Role
from telephony.simulator import PBXSimulator, SimConfig
from tests.console_people import PASSWORD, seed_console_people
from tests.integration.test_pause_state import Telephony, Web
from tests.livesrv import until


@pytest.fixture
async def pbx() -> AsyncIterator[PBXSimulator]:
    sim = PBXSimulator(SimConfig(operators=2, talk_min_s=5.0, talk_max_s=5.5, wrapup_s=0.0, seed=7))
    sim.generating = False
    sim.port = await sim.start("127.0.0.1", 0)  # type: ignore[attr-defined]
    yield sim
    await sim.stop()


async def seats(c: httpx.AsyncClient) -> dict[str, Any]:
    board = (await c.get("/wall/data")).json()["board"]
    return {s["seat"]: (s["state"], s["console"]) for s in board["seats"]}


async def test_seats_follow_the_simulators_queue_with_no_console_open(database: Database, tmp_path: Path,
                                                                      pbx: PBXSimulator) -> None:
    db, sim = database, pbx
    await seed_console_people(db)  # lina: seat 8001
    await add_user(db, "zhaolei", Role.operator, display_name="赵磊", password=PASSWORD, seat="8002")
    await add_user(db, "sunli", Role.operator, display_name="孙丽", password=PASSWORD, seat="8009")  # no member
    web = await Web(db, tmp_path / "w1").start()
    tel = await Telephony(db, web.app.state.bus, sim.port, tmp_path / "tel").start()  # type: ignore[attr-defined]
    web2: Web | None = None
    try:
        boss, _ = await web.client("chenjing")
        idle = {"8001": ("ready", False), "8002": ("ready", False), "8009": ("offline", False)}
        assert await until(lambda: _eq(seats(boss), idle), 10, "members 空闲 without a console page")

        lid = sim.inbound_call("13800001111", patience=30, impatient=False)
        got = await until(lambda: _busy(seats(boss)), 10, "a seat 通话中")
        seat = got[0]
        assert (await seats(boss))["8009"] == ("offline", False)

        # a second web worker starts while the call is on (its own bus: only the store and the
        # adapter's heartbeat tell it)
        web2 = await Web(db, tmp_path / "w2").start()
        boss2, _ = await web2.client("chenjing")
        s2 = await seats(boss2)
        assert s2[seat] == ("busy", False) and s2["8009"] == ("offline", False)
        other = "8002" if seat == "8001" else "8001"
        assert s2[other] == ("ready", False)

        # the call completes: free again
        await until(lambda: _eq(seats(boss), idle), 15, "the seat 空闲 after AgentComplete")
        assert lid
    finally:
        await tel.stop()
        if web2 is not None:
            await web2.stop()
        await web.stop()


async def _eq(got: Any, want: dict[str, Any]) -> bool:
    return bool(await got == want)


async def _busy(got: Any) -> list[str]:
    return [s for s, (state, _) in (await got).items() if state == "busy"]
