"""示忙 in the production shape on one machine (PostgreSQL, `hotline serve`, `hotline telephony
run` on the PBX simulator over TCP): the operator page and the wall show the PBX's pause state
after every web worker restarted, after the adapter restarted while seats were paused (and the
PBX changed meanwhile), and when a pause is set on the PBX directly (another AMI client)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from callcenter.people.auth import add_user
from callcenter.store.db import Database
from callcenter.store.models import Role
from telephony.ami import AMIClient
from telephony.simulator import PBXSimulator, SimConfig
from tests.console_people import PASSWORD, csrf_of, seed_console_people, sign_in
from tests.integration.test_pause_state import badge
from tests.livesrv import Stream, free_port, until

pytestmark = [pytest.mark.slow, pytest.mark.pg]
HOTLINE = str(Path(sys.executable).parent / "hotline")




class Proc:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.p: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        with self.log.open("ab") as f:
            self.p = subprocess.Popen(self.args, env=self.env, stdout=subprocess.DEVNULL, stderr=f)
        return self

    def stop(self) -> None:
        if self.p is not None and self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        self.p = None


async def test_the_pages_show_the_pbxs_pause_state_across_restarts(pg: Database, pg_url: str, tmp_path: Path) -> None:
    await seed_console_people(pg)  # lina: seat 8001
    await add_user(pg, "liuyang", Role.operator, display_name="刘洋", password=PASSWORD, seat="8002")
    sim = PBXSimulator(SimConfig(operators=3, seed=9))
    sim.generating = False
    ami_port = await sim.start("127.0.0.1", 0)
    env = {**os.environ, "HOTLINE_DATABASE_URL": pg_url, "HOTLINE_DATA_DIR": str(tmp_path / "data"),
           "HOTLINE_SECRET_KEY": "pause-test-secret", "HOTLINE_AMI_PORT": str(ami_port), "HOTLINE_DB_POOL_SIZE": "3"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = Proc([HOTLINE, "serve", "--port", str(port)], env, tmp_path / "web.log")
    adapter = Proc([HOTLINE, "telephony", "run"], env, tmp_path / "adapter.log")
    tool = AMIClient("127.0.0.1", ami_port, "hotline", "hotline-secret")  # "another tool" on the PBX
    opened: list[Any] = []

    async def ready(adapter_up: bool = True) -> None:
        async def check() -> bool:
            try:
                async with httpx.AsyncClient(timeout=3) as c:
                    r = (await c.get(f"{base}/readyz")).json()
            except (httpx.HTTPError, ValueError):
                return False
            tel = r["checks"].get("telephony") or [{}]
            return r["status"] != "down" and (not adapter_up or bool(tel[0].get("ami_logged_in")))

        await until(check, 40, "the web worker (and the adapter's heartbeat)")

    async def person(who: str) -> httpx.AsyncClient:
        c = httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(10, read=30))
        opened.append(c)
        await sign_in(c, who)
        return c

    async def page_state(c: httpx.AsyncClient) -> str:
        return badge((await c.get("/operator")).text)

    async def wall_states(c: httpx.AsyncClient) -> dict[str, str]:
        return {s["seat"]: s["state"] for s in (await c.get("/wall/data")).json()["board"]["seats"]}

    async def pages(*who: str) -> tuple[dict[str, httpx.AsyncClient], dict[str, Stream]]:
        clients = {w: await person(w) for w in who}
        streams = {w: Stream(c, "/operator/stream") for w, c in clients.items()}
        opened.extend(streams.values())
        for s in streams.values():
            await s.next("hello")
        return clients, streams

    async def close_all() -> None:
        for o in opened:
            await (o.close() if isinstance(o, Stream) else o.aclose())
        opened.clear()

    try:
        web.start()
        adapter.start()
        await ready()
        await tool.connect(timeout=5)
        ops, pops = await pages("lina", "liuyang")

        # the console pauses lina's seat: the PBX does it, the page says so
        csrf = csrf_of((await ops["lina"].get("/operator")).text)
        r = await ops["lina"].post("/operator/status", data={"paused": "1", "csrf_token": csrf})
        assert r.status_code == 303
        await pops["lina"].next("pause", lambda d: d["paused"] and not d["pending"] and d["confirmed"])
        assert sim.members[0].paused and not sim.members[1].paused

        # -- every web worker restarts: the new one shows the seat paused ---------------------------
        await close_all()
        web.stop()
        web.start()
        await ready()
        ops, pops = await pages("lina", "liuyang")
        assert await page_state(ops["lina"]) == "示忙"
        assert (await pops["lina"].next("pause"))["paused"] is True
        boss = await person("chenjing")
        await until(lambda: _eq(wall_states(boss), {"8001": "paused", "8002": "ready"}), 10, "the wall")

        # -- the adapter restarts while 8001 is paused; meanwhile 8002 is paused on the PBX ----------
        adapter.stop()
        await tool.queue_pause("Local/8002@agents", True, "会议 meeting", queue="hotline")
        await asyncio.sleep(0.5)
        assert await page_state(ops["liuyang"]) == "空闲"  # nobody could tell the console yet
        adapter.start()
        got = await pops["liuyang"].next("pause", lambda d: d["paused"], timeout=30)
        assert got["reason"] == "会议 meeting" and got["pending"] is False
        assert await page_state(ops["lina"]) == "示忙" and await page_state(ops["liuyang"]) == "示忙"
        await until(lambda: _eq(wall_states(boss), {"8001": "paused", "8002": "paused"}), 10, "the wall")

        # -- set on the PBX directly while everything runs: unpaused, the page and the wall follow --
        await tool.queue_pause("Local/8001@agents", False, queue="hotline")
        assert (await pops["lina"].next("pause", lambda d: not d["paused"]))["confirmed"] is False
        await until(lambda: _eq(wall_states(boss), {"8001": "ready", "8002": "paused"}), 10, "the wall")
        assert await page_state(ops["lina"]) == "空闲"
    finally:
        await close_all()
        with contextlib.suppress(Exception):
            await tool.close()
        web.stop()
        adapter.stop()
        await sim.stop()
    log = (tmp_path / "adapter.log").read_text()
    assert "seat 8002 paused on the PBX (会议 meeting) (status)" in log  # learnt from the login listing


async def _eq(got: Any, want: dict[str, str]) -> bool:
    states = await got
    return {k: states.get(k) for k in want} == want
