"""The production shape on one machine against a real PostgreSQL (issue 7): two web workers
(`hotline serve` on two ports), the adapter (`hotline telephony run`) on the PBX simulator
(in this process, over TCP), two schedulers (`hotline scheduler run`).

Shows: a screen pop raised in the adapter's process reaches the operator's SSE streams on
either web worker; a case changed through one worker updates a wall streamed by the other;
exactly one scheduler acts; /readyz and /metrics see the whole installation from any worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select

from callcenter.cases import services
from callcenter.cases.services import NewTicket
from callcenter.people.auth import actor_of, add_user, issue_token
from callcenter.store.db import Database
from callcenter.store.models import Notification, ProcessHeartbeat, Role, SchedulerLease, User, utcnow
from telephony.simulator import PBXSimulator, SimConfig
from tests import livesrv
from tests.console_people import PASSWORD, seed_console_people, sign_in
from tests.livesrv import Stream, free_port

pytestmark = [pytest.mark.slow, pytest.mark.pg]
HOTLINE = str(Path(sys.executable).parent / "hotline")


async def until(check: Any, timeout: float = 20.0, what: str = "") -> Any:
    """livesrv.until with this module's patience (20.0 s)."""
    return await livesrv.until(check, timeout, what)




def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))


async def test_two_workers_one_adapter_two_schedulers(pg: Database, pg_url: str, tmp_path: Path) -> None:
    await seed_console_people(pg)
    await add_user(pg, "liuyang", Role.operator, display_name="刘洋", password=PASSWORD, seat="8002")
    token = await issue_token(pg, "lina")
    sim = PBXSimulator(SimConfig(operators=2, talk_min_s=3, talk_max_s=4, seed=7))
    sim.generating = False  # the test places each call itself
    ami_port = await sim.start("127.0.0.1", 0)
    env = {**os.environ, "HOTLINE_DATABASE_URL": pg_url, "HOTLINE_DATA_DIR": str(tmp_path / "data"),
           "HOTLINE_SECRET_KEY": "multiprocess-test-secret", "HOTLINE_AMI_PORT": str(ami_port),
           "HOTLINE_DB_POOL_SIZE": "4"}
    ports = [free_port(), free_port()]
    procs: dict[str, subprocess.Popen[bytes]] = {}
    streams: list[Stream] = []
    clients: list[httpx.AsyncClient] = []
    try:
        for i, port in enumerate(ports):  # worker A logs JSON: one object a line
            procs[f"web{i}"] = spawn([HOTLINE, "serve", "--port", str(port)],
                                     {**env, "HOTLINE_LOG_FORMAT": "text" if i else "json", "HOTLINE_ACCESS_LOG": "true"}, tmp_path / f"web{i}.log")
        procs["adapter"] = spawn([HOTLINE, "telephony", "run"], env, tmp_path / "adapter.log")
        for name in ("alpha", "beta"):
            procs[name] = spawn([HOTLINE, "scheduler", "run", "--worker-id", name, "--callbacks-every", "0.5",
                                 "--missed-every", "0.5", "--deadlines-every", "0.5", "--leader-every", "0.5"],
                                env, tmp_path / f"{name}.log")
        a, b = (f"http://127.0.0.1:{p}" for p in ports)

        async def ready() -> bool:
            for p in procs.values():
                assert p.poll() is None, (tmp_path / "web0.log").read_text()[-2000:]
            try:
                async with httpx.AsyncClient(timeout=3) as c:
                    return all([(await c.get(f"{u}/readyz?strict=1")).status_code == 200 for u in (a, b)])
            except httpx.HTTPError:
                return False

        await until(ready, 40, "both workers ready, adapter logged in, a scheduler leading")

        def client(base: str) -> httpx.AsyncClient:
            c = httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(10, read=30))
            clients.append(c)
            return c

        lina_a, lina_b, liuyang_b, chenjing_b = client(a), client(b), client(b), client(b)
        for c, who in ((lina_a, "lina"), (lina_b, "lina"), (liuyang_b, "liuyang"), (chenjing_b, "chenjing")):
            await sign_in(c, who)
        pops = {name: Stream(c, "/operator/stream") for name, c in
                (("lina@a", lina_a), ("lina@b", lina_b), ("liuyang@b", liuyang_b))}
        streams += pops.values()
        for s in pops.values():
            await s.next("hello")

        # -- the screen pop: raised in the adapter's process, delivered by both workers ---------------
        first = sim.inbound_call("13812345678", impatient=False)
        await asyncio.sleep(0.3)
        second = sim.inbound_call("13912345678", impatient=False)
        got_a = await pops["lina@a"].next("call")
        got_b = await pops["lina@b"].next("call")
        got_l = await pops["liuyang@b"].next("call")
        assert sim.record[first]["seat"] == "8001" and sim.record[second]["seat"] == "8002"
        assert got_a["linkedid"] == got_b["linkedid"] == first and got_a["number"] == "13812345678"
        assert got_l["linkedid"] == second and got_l["number"] == "13912345678"

        # -- a case changed through worker A updates the wall streamed by worker B --------------------
        wall = Stream(chenjing_b, "/wall/stream")
        streams.append(wall)
        w0 = await wall.next("wall")
        seq0, reg0 = w0["board"]["ticket_seq"], w0["periods"]["today"]["registered"]
        h = {"Authorization": f"Bearer {token}"}
        r = await lina_a.post("/api/v1/tickets", headers=h, json={
            "kind": "complaint", "category": "物业管理", "content": "电梯停运三天", "caller_phone": "13812345678"})
        assert r.status_code == 201, r.text
        t = r.json()
        r = await lina_a.post(f"/api/v1/tickets/{t['number']}/transitions", headers=h,
                              json={"action": "dispatch", "version": t["version"], "department": "zjj"})
        assert r.status_code == 200, r.text
        w1 = await wall.next("wall", lambda d: d["board"]["ticket_seq"] >= seq0 + 2, timeout=4)
        assert w1["periods"]["today"]["registered"] == reg0 + 1
        assert w1["periods"]["today"]["dispatched"] >= 1

        # -- one scheduler acts: an overdue case is escalated once, by the leader ---------------------
        async with pg.session() as s:
            lina = (await s.scalars(select(User).where(User.username == "lina"))).one()
        then = utcnow() - timedelta(days=40)
        overdue = []
        for i in range(3):
            c = await services.register(pg, actor_of(lina), NewTicket(kind="complaint", category="物业管理",
                                        content=f"超期 {i}", caller_phone="13812345678"), now=then)
            await services.act(pg, actor_of(lina), c.number, "dispatch", None, {"department": "zjj"}, then)
            overdue.append(c.id)

        async def escalated() -> list[str] | None:
            async with pg.session() as s:
                rows = (await s.scalars(select(Notification.created_by).where(
                    Notification.kind == "escalated", Notification.ticket_id.in_(overdue)))).all()
            return list(rows) if len(rows) >= len(overdue) else None

        by = await until(escalated, 20, "the escalations")
        async with pg.session() as s:
            holder = (await s.scalars(select(SchedulerLease.holder))).one()
        assert set(by) == {holder} and len(by) == len(overdue)
        assert all(procs[n].poll() is None for n in ("alpha", "beta"))  # the other stands by

        # -- /readyz and /metrics on either worker see the whole installation --------------------------
        async with httpx.AsyncClient(timeout=5) as c:
            rz = (await c.get(f"{a}/readyz?strict=1")).json()
            assert rz["checks"]["scheduler"]["leader"] == holder and rz["checks"]["telephony"][0]["ami_logged_in"]

            async def both_workers() -> str | None:
                m = (await c.get(f"{b}/metrics")).text
                # worker A's request, seen from worker B (A's counters arrive with its next heartbeat)
                return m if "hotline_web_workers 2" in m and 'route="/api/v1/tickets",status="201"} 1' in m else None

            m = await until(both_workers, 15, "both workers in /metrics")
        assert 'hotline_ami_up{pbx="default"} 1' in m and "hotline_scheduler_leader_up 1" in m
        assert 'hotline_sse_streams_open{route="/operator/stream"} 3' in m
        async with pg.session() as s:
            kinds = sorted((await s.scalars(select(ProcessHeartbeat.kind))).all())
        # every process writes its heartbeat: both schedulers (leader and stand-by), the adapter, both workers
        assert kinds == ["scheduler", "scheduler", "telephony", "web", "web"]
    finally:
        for s in streams:
            await s.close()
        for c in clients:
            await c.aclose()
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        await sim.stop()
        async with pg.engine.begin() as conn:
            await conn.execute(delete(SchedulerLease.__table__))
    # worker A logged JSON, one object a line; its access line for the transition names the case
    lines = [json.loads(x) for x in (tmp_path / "web0.log").read_text().splitlines() if x.startswith("{")]
    assert any(x.get("ticket") == t["number"] and x.get("path", "").endswith("/transitions") for x in lines), lines[-5:]
