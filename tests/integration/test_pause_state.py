"""示忙 whose truth is the PBX, end to end on real parts: the PBX simulator over TCP, the
telephony adapter (pause requests, heartbeat), the web app under uvicorn with its board, the
operator's page and SSE stream (SQLite with the in-process bus, PostgreSQL with LISTEN/NOTIFY).

- a pause from the console → QueuePause on the simulator → QueueMemberPause → `agent.paused`
  → the board (and the operator's page) say paused, confirmed;
- a web worker starting cold seeds its board from the adapter's heartbeat row;
- a pause made on the PBX directly (another AMI client) shows up;
- a pause the PBX refuses reverts, and the operator reads why;
- the adapter restarted while seats are paused (and the PBX changed meanwhile) tells the truth.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import update

from callcenter.calls.services import StoreCallSink
from callcenter.core.settings import Settings
from callcenter.entry.app import create_app
from callcenter.floor.agents import AgentBoard
from callcenter.ops.heartbeat import adapter_status, beat, pause_states, run_heartbeat
from callcenter.people.auth import add_user
from callcenter.store.db import Database
from callcenter.store.models import ProcessHeartbeat, Role, utcnow
from telephony.adapter import Adapter, AdapterConfig
from telephony.ami import AMIClient
from telephony.simulator import PBXSimulator, SimConfig
from tests.console_people import PASSWORD, csrf_of, seed_console_people, sign_in
from tests.livesrv import Stream, free_port, until


class Web:
    """One web worker: the app under uvicorn on this loop."""

    def __init__(self, db: Database, tmp_path: Path) -> None:
        self.app = create_app(Settings(data_dir=tmp_path, database_url=db.url), db=db)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    timeout_graceful_shutdown=1))
        self.clients: list[httpx.AsyncClient] = []
        self.streams: list[Stream] = []

    @property
    def board(self) -> AgentBoard:
        return self.app.state.board  # type: ignore[no-any-return]

    async def start(self) -> Web:
        self.task = asyncio.create_task(self.server.serve())
        await until(lambda: self.server.started, 30, "uvicorn")
        return self

    async def client(self, who: str) -> tuple[httpx.AsyncClient, str]:
        c = httpx.AsyncClient(base_url=self.base, timeout=httpx.Timeout(10, read=30))
        self.clients.append(c)
        s = await sign_in(c, who)
        return c, s.csrf

    def stream(self, c: httpx.AsyncClient, path: str = "/operator/stream") -> Stream:
        s = Stream(c, path)
        self.streams.append(s)
        return s

    async def stop(self) -> None:
        for s in self.streams:
            await s.close()
        for c in self.clients:
            await c.aclose()
        self.server.should_exit = True
        await asyncio.wait_for(self.task, 15)


class Telephony:
    """`hotline telephony run` in this loop: the adapter, its pause follower and its heartbeat."""

    def __init__(self, db: Database, bus: Any, port: int, data_dir: Path) -> None:
        self.db, self.bus, self.port, self.data_dir = db, bus, port, data_dir

    async def start(self) -> Telephony:
        self.adapter = Adapter(AdapterConfig(port=self.port, secret="hotline-secret", data_dir=self.data_dir,
                                             write_interval=0.02, reconnect_min=0.05), StoreCallSink(self.db),
                               publisher=self.bus)
        await self.adapter.start(connect_timeout=5)
        self.tasks = [asyncio.create_task(self.adapter.follow_pause_requests(self.bus)),
                      asyncio.create_task(run_heartbeat(self.db, "telephony:default", "telephony",
                                                        lambda: adapter_status(self.adapter), every=0.2))]
        await asyncio.sleep(0.1)  # the follower has subscribed
        return self

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.adapter.stop(flush_timeout=5)


def badge(html: str) -> str:
    """The seat's state as the operator page renders it."""
    start = html.index('id="seat-state">') + len('id="seat-state">')
    return html[start:html.index("<", start)]


def pause_error(html: str) -> str:
    start = html.index('id="pause-error"')
    start = html.index(">", start) + 1
    return html[start:html.index("</div>", start)].strip()


async def toggle(c: httpx.AsyncClient, paused: bool) -> httpx.Response:
    csrf = csrf_of((await c.get("/operator")).text)
    r = await c.post("/operator/status", data={"paused": "1" if paused else "0", "csrf_token": csrf})
    assert r.status_code == 303, r.text[:300]
    return r


@pytest.fixture
async def pbx() -> AsyncIterator[tuple[PBXSimulator, int]]:
    sim = PBXSimulator(SimConfig(operators=5, seed=11))
    sim.generating = False
    port = await sim.start("127.0.0.1", 0)
    yield sim, port
    await sim.stop()


async def test_the_pbx_is_the_truth_of_a_seats_pause(database: Database, tmp_path: Path, pbx) -> None:  # type: ignore[no-untyped-def]
    sim, ami_port = pbx
    db = database
    await seed_console_people(db)  # lina: seat 8001, a member of the simulator's queue
    await add_user(db, "liuyang", Role.operator, display_name="刘洋", password=PASSWORD, seat="8009")  # not a member
    web = await Web(db, tmp_path).start()
    tel = await Telephony(db, web.app.state.bus, ami_port, tmp_path / "tel").start()
    other_pbx_client = AMIClient("127.0.0.1", ami_port, "hotline", "hotline-secret")  # "another tool"
    web2: Web | None = None
    try:
        lina, _ = await web.client("lina")
        assert badge((await lina.get("/operator")).text) == "空闲"
        pop = web.stream(lina)
        await pop.next("hello")
        assert (await pop.next("pause"))["paused"] is False

        # -- the console asks, the PBX pauses, the PBX's answer is what the board shows -------------
        r = await toggle(lina, True)
        m = sim.members[0]
        assert (m.seat, m.paused, m.reason) == ("8001", True, "示忙")
        view = await pop.next("pause", lambda d: d["paused"] and not d["pending"])
        assert view["confirmed"] is True and view["reason"] == "示忙" and view["error"] is None
        known = web.board.pbx_pause["8001"]
        assert known.paused is True and known.pbx == "default"
        html = (await lina.get(r.headers["location"])).text
        assert badge(html) == "示忙" and "已示忙（暂停接听）" in html  # settled before the redirect
        assert 'class="muted hidden" id="seat-pending"' in html  # not waiting for the PBX any more

        # -- a web worker starting cold: seeded from the adapter's heartbeat row ---------------------
        await until(lambda: _paused_in_heartbeat(db, "8001"), what="the heartbeat carrying the pause")
        cold = AgentBoard()
        assert await cold.seed_pauses(db) == 5
        assert cold.is_paused("8001") and cold.pause_view("8001")["confirmed"] is True
        assert not cold.is_paused("8002")
        web2 = await Web(db, tmp_path).start()  # its own bus: on SQLite it hears nothing of the adapter
        assert web2.board.is_paused("8001")
        lina2, _ = await web2.client("lina")
        assert badge((await lina2.get("/operator")).text) == "示忙"
        pop2 = web2.stream(lina2)
        assert (await pop2.next("pause"))["paused"] is True
        boss2, _ = await web2.client("chenjing")
        wall = (await boss2.get("/wall/data")).json()["board"]
        assert {s["seat"]: s["state"] for s in wall["seats"]}["8001"] == "paused" and wall["paused"] == 1
        await web2.stop()
        web2 = None

        # -- a pause made on the PBX directly (another AMI client) shows up -------------------------
        await other_pbx_client.connect(timeout=5)
        await other_pbx_client.queue_pause("Local/8001@agents", False, queue="hotline")
        view = await pop.next("pause", lambda d: not d["paused"])
        assert view["pending"] is False and view["confirmed"] is False
        await other_pbx_client.queue_pause("Local/8002@agents", True, "午休 lunch", queue="hotline")
        await until(lambda: web.board.is_paused("8002"), what="8002 paused on the PBX")
        assert web.board.pause_view("8002")["reason"] == "午休 lunch"
        assert badge((await lina.get("/operator")).text) == "空闲"

        # -- a pause the PBX refuses reverts, with the reason for the operator ----------------------
        liuyang, _ = await web.client("liuyang")
        await toggle(liuyang, True)
        html = (await liuyang.get("/operator")).text
        assert badge(html) == "空闲"
        err = pause_error(html)
        assert "示忙未成功" in err and "不在电话系统的队列中" in err and "Interface not found" in err, err
        assert "当前状态：空闲" in err
        assert not web.board.is_paused("8009") and "8009" not in web.board.requests

        # -- the adapter restarts while 8001 is paused; meanwhile the PBX changes 8002 and 8003 ----
        await toggle(lina, True)
        await pop.next("pause", lambda d: d["paused"] and not d["pending"])
        await tel.stop()
        await other_pbx_client.queue_pause("Local/8002@agents", False, queue="hotline")
        await other_pbx_client.queue_pause("Local/8003@agents", True, "培训", queue="hotline")
        assert web.board.is_paused("8002") and not web.board.is_paused("8003")  # nobody told the board yet
        tel = await Telephony(db, web.app.state.bus, ami_port, tmp_path / "tel").start()
        await until(lambda: web.board.is_paused("8003") and not web.board.is_paused("8002"),
                    what="the new adapter's login listing")
        assert web.board.is_paused("8001")  # still paused, as the PBX says
        assert web.board.pause_view("8003")["reason"] == "培训"
        assert badge((await lina.get("/operator")).text) == "示忙"
        await until(lambda: _paused_in_heartbeat(db, "8003"), what="the new adapter's heartbeat")
        states = (await pause_states(db))["default"]
        assert {s for s, v in states.items() if v["paused"]} == {"8001", "8003"}
    finally:
        await other_pbx_client.close()
        if web2 is not None:
            await web2.stop()
        await tel.stop()
        await web.stop()


async def _paused_in_heartbeat(db: Database, seat: str) -> bool:
    return any(seats.get(seat, {}).get("paused") for seats in (await pause_states(db)).values())


async def test_a_stale_heartbeat_does_not_seed_the_board(database: Database) -> None:
    """An adapter gone for more than STALE_S: what it last knew may no longer be true."""
    now = utcnow()
    for name, age in (("telephony:old", 60), ("telephony:new", 1)):
        await beat(database, name, "telephony", {"pbx": name.split(":")[1], "pauses": {
            "8001" if name.endswith("old") else "8002": {"paused": True, "reason": "会议", "at": time.time()}}},
            now - timedelta(hours=1))
        async with database.transaction() as s:
            await s.execute(update(ProcessHeartbeat).where(ProcessHeartbeat.name == name)
                            .values(beat_at=now - timedelta(seconds=age)))
    assert list(await pause_states(database)) == ["new"]
    board = AgentBoard()
    assert await board.seed_pauses(database) == 1
    assert board.is_paused("8002") and not board.is_paused("8001")
