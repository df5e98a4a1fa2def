#!/usr/bin/env python3
"""Benchmark: screen-pop latency, from the PBX sending AMI AgentConnect to the SSE message in
the operator's stream, with 10 lines busy and 50 supervisor walls connected.

    .venv/bin/python bench/screen_pop.py [--seconds 120] [--runs 3] [--walls 50]

The app runs as in production, on PostgreSQL (own database `hotline_bench_console`, recreated):

- `hotline serve --workers 2` (uvicorn, two worker processes on one port) and
  `hotline telephony run` (the adapter) are started as subprocesses; the adapter follows the PBX
  over TCP and publishes on the bus (PostgreSQL LISTEN/NOTIFY), the web workers deliver;
- the PBX is `telephony.simulator.PBXSimulator` in this process (what `hotline telephony
  simulate` runs), subclassed here to note the moment it writes each AgentConnect to the
  AMI socket (time.perf_counter, keyed by Linkedid): 10 seats, 10 lines, 300 calls a minute,
  talks of 6–10 s, so the 10 lines stay busy (the surplus callers are refused as by the line
  limit, those in the queue wait for the next free operator);
- 10 operators (seats 8001–8010) sign in exactly as the browser does (GET /login for the
  CSRF token, POST /login, the session cookie; GET /operator, then /operator/stream as an
  EventSource) and note the moment each `call` message arrives, here in the same process as
  the simulator, so both timestamps come from one clock;
- 50 supervisor walls (signed in the same way, `/wall/stream`) are read by a child process
  (so parsing their figures does not delay the operators' reads here).

Latency = arrival of the `call` SSE message for a Linkedid − AgentConnect of that Linkedid.
Prints p50 / p99 / max per run, the medians over the runs, the walls' message rate and the
load average.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telephony.simulator import PBXSimulator, SimConfig  # noqa: E402

ADMIN = os.environ.get("HOTLINE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
DBNAME = "hotline_bench_console"
HOTLINE = str(Path(sys.executable).parent / "hotline")
PASSWORD = "bench-console-pw"
SEATS = [str(8001 + i) for i in range(10)]
N_SUPERVISORS = 5  # the walls sign in as these, 10 sessions each
_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


class TimedPBX(PBXSimulator):
    """The simulator, noting when it writes each AgentConnect to the AMI socket."""

    def __init__(self, config: SimConfig) -> None:
        super().__init__(config)
        self.connect_at: dict[str, float] = {}

    def _event(self, name: str, chan: Any, *extra: tuple[str, str], privilege: str = "call,all") -> None:
        super()._event(name, chan, *extra, privilege=privilege)
        if name == "AgentConnect" and chan is not None:
            self.connect_at[chan.linkedid] = time.perf_counter()


# ---------------------------------------------------------------------------------------------
# setup
# ---------------------------------------------------------------------------------------------
def setup_db() -> str:
    with psycopg.connect(ADMIN, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{DBNAME}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{DBNAME}"')
    url = ADMIN.rsplit("/", 1)[0] + "/" + DBNAME
    from callcenter.entry.seed import seed_reference
    from callcenter.people.auth import add_user
    from callcenter.store.db import Database
    from callcenter.store.migrate import upgrade
    from callcenter.store.models import Role

    upgrade(url)

    async def seed() -> None:
        db = Database(url)
        await seed_reference(db)
        for i, seat in enumerate(SEATS):
            await add_user(db, f"op{i + 1:02d}", Role.operator, display_name=f"话务员{i + 1}", password=PASSWORD,
                           seat=seat)
        for i in range(N_SUPERVISORS):
            await add_user(db, f"sup{i + 1}", Role.supervisor, display_name=f"班长{i + 1}", password=PASSWORD)
        await db.dispose()

    asyncio.run(seed())
    return url


def reset(url: str) -> None:
    """The same starting state for every run: no calls, no cases."""
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("TRUNCATE ticket_events, callbacks, tickets, calls, process_heartbeats RESTART IDENTITY CASCADE")


async def sign_in(client: httpx.AsyncClient, username: str) -> None:
    """As the browser: the login form's CSRF token, the form posted, the session cookie kept."""
    r = await client.get("/login")
    token = _CSRF.search(r.text)
    assert token, "no CSRF token on the login page"
    r = await client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)})
    assert r.status_code == 303, (username, r.status_code, r.text[:300])
    r = await client.get(r.headers["location"])  # the home page (/operator or /wall), as the browser loads it
    assert r.status_code == 200, (username, r.status_code)


async def read_stream(client: httpx.AsyncClient, path: str, on_event: Any, ready: asyncio.Event | None = None) -> None:
    async with client.stream("GET", path, headers={"accept": "text/event-stream"}) as r:
        assert r.status_code == 200, (path, r.status_code)
        event, data = "message", ""
        async for line in r.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
            elif line == "" and data:
                on_event(event, data)
                if ready is not None and event == "hello":
                    ready.set()
                event, data = "message", ""


# ---------------------------------------------------------------------------------------------
# the walls (a child process)
# ---------------------------------------------------------------------------------------------
def walls_main(base: str, n: int, up: Any, stop: Any, out: Any) -> None:
    async def main() -> None:
        counts = [0] * n
        sizes = [0] * n
        clients = []
        tasks = []
        for i in range(n):
            c = httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(10, read=60))
            clients.append(c)
            await sign_in(c, f"sup{i % N_SUPERVISORS + 1}")

            def got(event: str, data: str, i: int = i) -> None:
                if event == "wall":
                    counts[i] += 1
                    sizes[i] = len(data)

            tasks.append(asyncio.create_task(read_stream(c, "/wall/stream", got)))
        while sum(1 for x in counts if x) < n:
            await asyncio.sleep(0.1)
            for t in tasks:
                if t.done():
                    t.result()
        up.set()
        c0 = sum(counts)
        t0 = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(0.2)
        out.put({"messages": sum(counts) - c0, "seconds": time.monotonic() - t0,
                 "alive": sum(1 for t in tasks if not t.done()), "bytes": statistics.median(sizes)})
        for t in tasks:
            t.cancel()
        for c in clients:
            await c.aclose()

    asyncio.run(main())


# ---------------------------------------------------------------------------------------------
# one run
# ---------------------------------------------------------------------------------------------
def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


async def one_run(url: str, seconds: float, n_walls: int, tmp: Path, rate: float) -> dict[str, Any]:
    sim = TimedPBX(SimConfig(operators=10, lines=10, rate_per_min=rate, talk_min_s=6, talk_max_s=10,
                             ring_s=0.5, wrapup_s=0.5, abandon_pct=0, seed=int(time.time())))
    sim.generating = False  # the calls start once every stream is connected
    ami_port = await sim.start("127.0.0.1", 0)
    from tests.livesrv import free_port

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HOTLINE_DATABASE_URL": url, "HOTLINE_DATA_DIR": str(tmp / "data"),
           "HOTLINE_SECRET_KEY": "bench-console-secret-0123456789abcdef", "HOTLINE_AMI_PORT": str(ami_port),
           "HOTLINE_LINES": "10"}
    procs = {
        "web": subprocess.Popen([HOTLINE, "serve", "--workers", "2", "--port", str(port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=(tmp / "web.log").open("wb")),
        "adapter": subprocess.Popen([HOTLINE, "telephony", "run"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=(tmp / "adapter.log").open("wb")),
    }
    ctx = mp.get_context("spawn")
    walls_up, walls_stop, walls_out = ctx.Event(), ctx.Event(), ctx.Queue()
    walls = None
    clients: list[httpx.AsyncClient] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=2) as c:
            while True:
                for name, p in procs.items():
                    assert p.poll() is None, (name, (tmp / f"{name}.log").read_text()[-2000:])
                with contextlib.suppress(httpx.HTTPError):
                    if (await c.get(f"{base}/healthz")).status_code == 200 and sim.logins >= 1:
                        break
                assert time.monotonic() < deadline, "the app did not start"
                await asyncio.sleep(0.2)
        walls = ctx.Process(target=walls_main, args=(base, n_walls, walls_up, walls_stop, walls_out), daemon=True)
        walls.start()

        pops: list[tuple[str, float]] = []
        seats_ready = []
        for i, _seat in enumerate(SEATS):
            c = httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(10, read=60))
            clients.append(c)
            await sign_in(c, f"op{i + 1:02d}")
            ready = asyncio.Event()
            seats_ready.append(ready)

            def got(event: str, data: str) -> None:
                if event == "call":
                    pops.append((json.loads(data)["linkedid"], time.perf_counter()))

            tasks.append(asyncio.create_task(read_stream(c, "/operator/stream", got, ready)))
        async with asyncio.timeout(30):
            for r in seats_ready:
                await r.wait()
        while not walls_up.is_set():
            assert walls.is_alive(), "the walls' process died"
            await asyncio.sleep(0.1)

        # the calls: fill the 10 lines, then keep them busy
        sim.generating = True
        sim._at(0.01, sim._arrival)
        lines: list[int] = []
        t_end = time.perf_counter() + seconds
        counted_from = time.perf_counter() + 10  # the first seconds fill the lines: not counted
        while time.perf_counter() < t_end:
            await asyncio.sleep(0.25)
            if time.perf_counter() > counted_from:
                lines.append(len(sim.trunk_in_use))
            for t in tasks:
                if t.done():
                    t.result()
        sim.generating = False
        await asyncio.sleep(1.0)  # the last pops arrive
        walls_stop.set()
        wall_stats = walls_out.get(timeout=30)
        popped = dict(pops)
        counted = {lid: t for lid, t in sim.connect_at.items() if counted_from <= t <= t_end}
        lat = [(popped[lid] - t) * 1000 for lid, t in counted.items() if lid in popped]
        missing = [lid for lid in counted if lid not in popped]
        return {"n": len(lat), "p50": pct(lat, 0.5), "p99": pct(lat, 0.99), "max": max(lat),
                "missing": len(missing), "lines_busy_median": statistics.median(lines) if lines else 0,
                "lines_busy_share": sum(1 for x in lines if x >= 10) / max(1, len(lines)),
                "offered": sim.stats["offered"], "refused": sim.stats["refused"], "answered": sim.stats["answered"],
                "walls_alive": wall_stats["alive"],
                "wall_msgs_per_s": wall_stats["messages"] / max(wall_stats["seconds"], 0.001),
                "wall_msg_bytes": wall_stats["bytes"], "load": os.getloadavg()}
    finally:
        walls_stop.set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in clients:
            await c.aclose()
        if walls is not None:
            walls.join(10)
            if walls.is_alive():
                walls.kill()
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        await sim.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--walls", type=int, default=50)
    ap.add_argument("--rate", type=float, default=300.0, help="inbound calls per minute offered to the PBX")
    a = ap.parse_args()
    url = setup_db()
    print(f"database {DBNAME}; `hotline serve --workers 2` + `hotline telephony run`, simulator in process; "
          f"{a.walls} walls, 10 operators, {a.rate:g} calls/min, {a.seconds:g} s a run")
    results = []
    for i in range(a.runs):
        reset(url)
        with tempfile.TemporaryDirectory(prefix="screenpop-") as tmp:
            r = asyncio.run(one_run(url, a.seconds, a.walls, Path(tmp), a.rate))
        results.append(r)
        print(f"run {i + 1}: {r['n']} pops  p50 {r['p50']:.1f} ms  p99 {r['p99']:.1f} ms  max {r['max']:.1f} ms  "
              f"missing {r['missing']}; lines busy median {r['lines_busy_median']:g}/10 "
              f"({r['lines_busy_share'] * 100:.0f} % of samples at 10); offered {r['offered']} answered "
              f"{r['answered']} refused {r['refused']}; walls alive {r['walls_alive']}, "
              f"{r['wall_msgs_per_s']:.0f} wall messages/s ({r['wall_msg_bytes'] / 1000:.1f} kB each); "
              f"load {' '.join(f'{x:.2f}' for x in r['load'])}", flush=True)
    med = {k: statistics.median(r[k] for r in results) for k in ("p50", "p99", "max")}
    print(f"median of {a.runs} runs: p50 {med['p50']:.1f} ms [{min(r['p50'] for r in results):.1f}–"
          f"{max(r['p50'] for r in results):.1f}]  p99 {med['p99']:.1f} ms [{min(r['p99'] for r in results):.1f}–"
          f"{max(r['p99'] for r in results):.1f}]  max {med['max']:.1f} ms")


if __name__ == "__main__":
    main()
