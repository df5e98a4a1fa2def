#!/usr/bin/env python3
"""Soak: a busy shift on the production shape, with things breaking (issue 7).

    .venv/bin/python bench/soak.py                 # 10 minutes (the issue's minimum)
    .venv/bin/python bench/soak.py --minutes 2     # a trial run
    .venv/bin/python bench/soak.py --record        # append the figures to docs/benchmarks.md

Bounded (stops by itself), loopback only, on a throwaway PostgreSQL cluster of its own
(initdb + pg_ctl on a free port: never the shared server), so it can be restarted mid-shift.

Runs: two web workers (`hotline serve`, one per port — the clients round-robin between them
as nginx would, and go to the other one when a worker refuses the connection), the adapter
(`hotline telephony run`) on the PBX simulator (in this process, AMI over TCP) with calls
arriving faster than 10 lines can carry (all 10 lines busy, the excess refused), two
schedulers, 30 operators with their screen-pop stream open, 20 supervisors' walls, and API
clients moving cases through registration, dispatch, acceptance, resolution and callback (回访).

Faults (as fractions of the shift): at 25 % the adapter is SIGKILLed and restarted; at 50 %
PostgreSQL is restarted (pg_ctl restart -m fast); at 75 % a web worker is SIGKILLed and
restarted. Each fault opens a window from its start to 10 s after recovery.

Checked afterwards: every call the simulator placed is one Call row with the simulator's
outcome; every case's audit trail matches its status history and the transitions the clients
got a 2xx for; no request got a 5xx (or a connection error) outside the fault windows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HOTLINE = str(Path(sys.executable).parent / "hotline")
PASSWORD = "soak-password-1"
BODY = {"kind": "complaint", "category": "物业管理", "caller_phone": "13812345678", "caller_name": "王小明"}


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return found[0] if found else (shutil.which(name) or name)


class Cluster:
    """A throwaway PostgreSQL cluster on its own port (as tests/pgserver.py starts one)."""

    def __init__(self) -> None:
        self.base = tempfile.mkdtemp(prefix="hotline-soak-pg-")
        self.data = os.path.join(self.base, "data")
        self.port = free_port()
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.run_as:
            shutil.chown(self.base, "postgres")

    def ctl(self, *args: str) -> None:
        # the server must not inherit a pipe of ours (pg_ctl would never seem to finish): log to a file
        subprocess.run([*self.run_as, pg_bin("pg_ctl"), "-D", self.data, "-l", os.path.join(self.base, "log"), *args],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self) -> None:
        subprocess.run([*self.run_as, pg_bin("initdb"), "-D", self.data, "-U", "postgres", "--auth=trust",
                        "-E", "UTF8", "--no-sync"], check=True, capture_output=True)
        self.ctl("-w", "-o",
                 f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c max_connections=200", "start")
        with psycopg.connect(self.admin, autocommit=True) as c:
            c.execute('CREATE DATABASE "hotline"')

    def restart(self) -> None:
        self.ctl("-m", "fast", "-w", "restart")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.ctl("-m", "immediate", "stop")
        shutil.rmtree(self.base, ignore_errors=True)

    @property
    def admin(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/hotline"


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.duration = args.minutes * 60
        self.cluster = Cluster()
        self.tmp = Path(tempfile.mkdtemp(prefix="hotline-soak-"))
        self.ports = [free_port(), free_port()]
        self.bases = [f"http://127.0.0.1:{p}" for p in self.ports]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.env: dict[str, str] = {}
        self.t0 = 0.0
        self.windows: list[list[Any]] = []  # [label, start, end]
        self.requests: list[tuple[float, str, int, float]] = []  # t, kind, status (0 = no answer), seconds
        self.pops = Counter[str]()
        self.pop_at: dict[str, float] = {}  # linkedid → when its screen pop first arrived
        self.answered_at: dict[str, float] = {}  # linkedid → when the simulator connected the operator
        self.stream_up: dict[str, float] = {}  # operator → since when their screen-pop stream is open
        self.stream_drops = Counter[str]()
        self.wall_events = 0
        self.done_transitions: dict[str, list[str]] = defaultdict(list)  # number → actions with a 2xx
        self.rss: dict[str, list[float]] = defaultdict(list)
        self.stop = asyncio.Event()
        self.rr = 0

    def now(self) -> float:
        return time.monotonic() - self.t0

    # ---- processes --------------------------------------------------------------------------------

    def spawn(self, name: str, args: list[str], **env: str) -> None:
        log = (self.tmp / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(args, env={**self.env, **env}, stdout=subprocess.DEVNULL, stderr=log)

    def spawn_web(self, i: int) -> None:
        self.spawn(f"web{i}", [HOTLINE, "serve", "--port", str(self.ports[i])])

    def spawn_adapter(self) -> None:
        self.spawn("adapter", [HOTLINE, "telephony", "run"])

    async def wait_http(self, base: str, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2) as c:
            while time.monotonic() < end:
                with contextlib.suppress(httpx.HTTPError):
                    if (await c.get(f"{base}/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{base} did not come up")

    async def setup(self) -> dict[str, Any]:
        from callcenter.entry.seed import seed_reference
        from callcenter.people.auth import add_user, issue_token
        from callcenter.store.db import Database
        from callcenter.store.migrate import upgrade
        from callcenter.store.models import Role

        self.cluster.start()
        upgrade(self.cluster.url)
        db = Database(self.cluster.url, pool_size=2)
        await seed_reference(db)
        for i in range(self.args.operators):
            await add_user(db, f"op{i + 1:02d}", Role.operator, display_name=f"话务员{i + 1:02d}", password=PASSWORD,
                           seat=str(8001 + i))
        for i in range(self.args.walls):
            await add_user(db, f"sup{i + 1:02d}", Role.supervisor, display_name=f"班长{i + 1:02d}", password=PASSWORD)
        await add_user(db, "clerk", Role.clerk, display_name="张伟", department="zjj")
        tokens = {"clerk": await issue_token(db, "clerk"), "sup": await issue_token(db, "sup01")}
        tokens["ops"] = [await issue_token(db, f"op{i + 1:02d}") for i in range(self.args.drivers)]  # type: ignore[assignment]
        await db.dispose()
        return tokens

    # ---- clients ----------------------------------------------------------------------------------

    def base(self) -> str:
        self.rr += 1
        return self.bases[self.rr % 2]

    async def call(self, c: httpx.AsyncClient, kind: str, method: str, path: str, **kw: Any) -> httpx.Response | None:
        """One API request as through nginx: round-robin, the other worker when one refuses the
        connection (nothing was sent, so even a POST is safe to send again)."""
        first = self.base()
        for base in (first, self.bases[(self.bases.index(first) + 1) % 2]):
            t, started = time.perf_counter(), self.now()  # a request counts at its start
            try:
                r = await c.request(method, base + path, **kw)
            except httpx.ConnectError:
                self.requests.append((started, kind, 0, time.perf_counter() - t))
                continue
            except httpx.HTTPError:
                self.requests.append((started, kind, 0, time.perf_counter() - t))
                return None
            self.requests.append((started, kind, r.status_code, time.perf_counter() - t))
            return r
        return None

    async def driver(self, n: int, token: str, tokens: dict[str, Any]) -> None:
        """Cases from registration to closed (回访 satisfied), one after another."""
        h_op = {"Authorization": f"Bearer {token}"}
        h_clerk = {"Authorization": f"Bearer {tokens['clerk']}"}
        h_sup = {"Authorization": f"Bearer {tokens['sup']}"}
        rng = random.Random(n)
        steps = [("dispatch", h_op, {"department": "zjj"}), ("accept", h_clerk, {}),
                 ("resolve", h_clerk, {"resolution": "已联系物业公司整改"}),
                 ("callback", h_op, {"outcome": "satisfied", "words": "修好了", "solved": True})]
        async with httpx.AsyncClient(timeout=httpx.Timeout(15)) as c:
            i = 0
            while not self.stop.is_set():
                i += 1
                r = await self.call(c, "register", "POST", "/api/v1/tickets", headers=h_op,
                                    json={**BODY, "content": f"电梯故障 soak {n}-{i}"})
                if r is None or r.status_code != 201:
                    await asyncio.sleep(1)
                    continue
                t = r.json()
                self.done_transitions[t["number"]].append("register")
                for action, h, params in steps:
                    await asyncio.sleep(self.args.think * rng.uniform(0.5, 1.5))
                    for _ in range(20):  # a refused step is tried again with the case as it now is
                        r = await self.call(c, action, "POST", f"/api/v1/tickets/{t['number']}/transitions",
                                            headers=h, json={"action": action, "version": t["version"], **params})
                        if r is not None and r.status_code == 200:
                            t = r.json()
                            self.done_transitions[t["number"]].append(action)
                            break
                        await asyncio.sleep(1)
                        g = await self.call(c, "get", "GET", f"/api/v1/tickets/{t['number']}", headers=h_sup)
                        if g is not None and g.status_code == 200:
                            t = g.json()
                    if self.stop.is_set():
                        break
                await self.call(c, "list", "GET", "/api/v1/tickets?limit=20", headers=h_sup)

    async def stream(self, name: str, who: str, path: str, idx: int) -> None:
        """A browser's SSE stream: signed in once (the session cookie is good on every worker);
        after a drop it reconnects, to the other worker when this one is down (as via nginx)."""
        async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=30)) as c:
            base = self.bases[idx % 2]
            while True:
                try:
                    r = await c.get(f"{base}/login")
                    tok = r.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
                    r = await c.post(f"{base}/login", data={"username": who, "password": PASSWORD, "csrf_token": tok})
                    if r.status_code == 303:
                        break
                except (httpx.HTTPError, IndexError):
                    pass
                await asyncio.sleep(1)
            while not self.stop.is_set():
                try:
                    async with c.stream("GET", f"{base}{path}", headers={"accept": "text/event-stream"}) as r:
                        if r.status_code == 200:
                            self.stream_up[who] = self.now()
                        event = ""
                        async for line in r.aiter_lines():
                            if line.startswith("event:"):
                                event = line[6:].strip()
                                if event == "wall":
                                    self.wall_events += 1
                            elif line.startswith("data:") and event == "call":
                                lid = json.loads(line[5:]).get("linkedid")
                                self.pops[who] += 1
                                self.pop_at.setdefault(lid, self.now())
                            if self.stop.is_set():
                                return
                except httpx.HTTPError:
                    pass
                self.stream_up.pop(who, None)
                self.stream_drops[name] += 1
                await asyncio.sleep(1)
                base = self.bases[(self.bases.index(base) + 1) % 2]

    # ---- faults -----------------------------------------------------------------------------------

    async def faults(self, sim: Any) -> None:
        plan = [(0.25, "adapter SIGKILL + restart", self.kill_adapter),
                (0.50, "PostgreSQL restart", self.restart_pg),
                (0.75, "web worker SIGKILL + restart", self.kill_web)]
        for frac, label, fn in plan:
            delay = self.t0 + frac * self.duration - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), delay)
            if self.stop.is_set():
                return
            start = self.now()
            print(f"[{start:6.1f}s] fault: {label}", flush=True)
            await fn(sim)
            self.windows.append([label, start, self.now() + 10.0])
            print(f"[{self.now():6.1f}s] recovered from: {label}", flush=True)

    async def kill_adapter(self, sim: Any) -> None:
        # AMI keeps no history: a call that began and ended while no adapter listened would exist
        # only in the PBX's CDR, so arrivals wait while the adapter is down (tests do the same)
        logins = sim.logins
        sim.hold_arrivals = True
        self.procs["adapter"].send_signal(signal.SIGKILL)
        self.procs["adapter"].wait(10)
        await asyncio.sleep(2)
        self.spawn_adapter()
        end = time.monotonic() + 30
        while sim.logins == logins and time.monotonic() < end:
            await asyncio.sleep(0.1)
        sim.hold_arrivals = False

    async def restart_pg(self, sim: Any) -> None:
        await asyncio.to_thread(self.cluster.restart)

    async def kill_web(self, sim: Any) -> None:
        self.procs["web1"].send_signal(signal.SIGKILL)
        self.procs["web1"].wait(10)
        await asyncio.sleep(2)
        self.spawn_web(1)
        await self.wait_http(self.bases[1])

    async def sample_memory(self) -> None:
        while not self.stop.is_set():
            for name, p in list(self.procs.items()):
                if p.poll() is None:
                    self.rss[name].append(rss_mb(p.pid))
            self.rss["soak (simulator + clients)"].append(rss_mb(os.getpid()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), 5)

    async def lines_busy(self, sim: Any) -> None:
        self.max_lines = 0
        self.full_s = 0.0
        while not self.stop.is_set():
            n = len(sim.trunk_in_use)
            self.max_lines = max(self.max_lines, n)
            if n >= sim.config.lines:
                self.full_s += 0.5
            await asyncio.sleep(0.5)

    # ---- the run ----------------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        from telephony.simulator import PBXSimulator, SimConfig

        tokens = await self.setup()
        sim = PBXSimulator(SimConfig(rate_per_min=self.args.rate, abandon_pct=8, lines=10,
                                     operators=self.args.operators, talk_min_s=20, talk_max_s=40, ring_s=1.5,
                                     patience_min_s=5, patience_max_s=15, seed=20261128))
        connect = sim._connect

        def connected(caller: Any, ring: Any) -> None:  # when each call is answered, for pop delays
            connect(caller, ring)
            rec = sim.record.get(caller.citizen.linkedid, {})
            who = f"op{int(rec.get('seat') or 0) - 8000:02d}"
            # a pop is owed only to an operator whose stream has been open a moment (as a browser's)
            if rec.get("outcome") == "answered" and self.now() - self.stream_up.get(who, 1e9) > 1.0:
                self.answered_at.setdefault(caller.citizen.linkedid, self.now())

        sim._connect = connected  # type: ignore[method-assign]
        ami_port = await sim.start("127.0.0.1", 0)
        self.env = {**os.environ, "HOTLINE_DATABASE_URL": self.cluster.url, "HOTLINE_DATA_DIR": str(self.tmp / "data"),
                    "HOTLINE_SECRET_KEY": "soak-secret-" + os.urandom(8).hex(), "HOTLINE_AMI_PORT": str(ami_port),
                    "HOTLINE_LOG_FORMAT": "json", "HOTLINE_DB_POOL_SIZE": "5"}
        for i in range(2):
            self.spawn_web(i)
        self.spawn_adapter()
        for name in ("sched-a", "sched-b"):
            self.spawn(name, [HOTLINE, "scheduler", "run", "--worker-id", name, "--callbacks-every", "5",
                              "--missed-every", "5", "--deadlines-every", "15", "--leader-every", "2"])
        for b in self.bases:
            await self.wait_http(b)
        self.t0 = time.monotonic()
        tasks = [asyncio.create_task(self.stream(f"op{i + 1:02d}", f"op{i + 1:02d}", "/operator/stream", i))
                 for i in range(self.args.operators)]
        tasks += [asyncio.create_task(self.stream(f"wall{i + 1:02d}", f"sup{i + 1:02d}", "/wall/stream", i))
                  for i in range(self.args.walls)]
        tasks += [asyncio.create_task(self.driver(i, tok, tokens)) for i, tok in enumerate(tokens["ops"])]
        tasks += [asyncio.create_task(self.sample_memory()), asyncio.create_task(self.lines_busy(sim))]
        fault_task = asyncio.create_task(self.faults(sim))
        print(f"soak: {self.args.minutes} min, PostgreSQL on :{self.cluster.port}, web {self.ports}, "
              f"logs in {self.tmp}", flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fault_task, self.duration)
        rest = self.duration - self.now()
        if rest > 0:
            await asyncio.sleep(rest)
        shift_s = self.now()
        self.stop.set()
        sim.generating = False
        fault_task.cancel()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, fault_task, return_exceptions=True)
        print(f"[{self.now():6.1f}s] shift over; letting the calls in progress end", flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sim.wait_idle(), 90)
        result = await self.settle_and_check(sim, shift_s)
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in self.procs.items():
            try:
                result["exit"][name] = p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                result["exit"][name] = "killed"
        await sim.stop()
        return result

    async def settle_and_check(self, sim: Any, shift_s: float) -> dict[str, Any]:
        placed = {lid: r["outcome"] for lid, r in sim.record.items()}
        end = time.monotonic() + 60
        while True:  # the adapter writes the last calls from its spool
            with psycopg.connect(self.cluster.url) as c:
                rows = c.execute("select linkedid, outcome from calls where direction = 'in'").fetchall()
            stored = {lid: o for lid, o in rows}
            if all(stored.get(lid) == o for lid, o in placed.items()) or time.monotonic() > end:
                break
            await asyncio.sleep(1)
        with psycopg.connect(self.cluster.url) as c:
            per_call = c.execute("select pbx, linkedid, count(*) from calls group by pbx, linkedid "
                                 "having count(*) > 1").fetchall()
            tickets = dict(c.execute("select number, status from tickets").fetchall())
            events = c.execute("select t.number, e.action, e.from_status, e.to_status from ticket_events e "
                               "join tickets t on t.id = e.ticket_id where e.to_status is not null "
                               "order by e.ticket_id, e.id").fetchall()
        trail: dict[str, list[tuple[str, str | None, str]]] = defaultdict(list)
        for number, action, frm, to in events:
            trail[number].append((action, frm, to))
        bad_trails, unacked = [], 0
        for number, status in tickets.items():
            tr = trail.get(number, [])
            chain_ok = bool(tr) and tr[0][0] == "register" and all(
                tr[k][1] == tr[k - 1][2] for k in range(1, len(tr))) and tr[-1][2] == status
            actions = iter(a for a, _, _ in tr)
            acked = self.done_transitions.get(number, [])
            # every step a client got a 2xx for is in the trail, in order; a step whose answer was
            # lost (a 5xx or a dropped connection after the commit) is one more event, counted
            if not chain_ok or not all(a in actions for a in acked):
                bad_trails.append(number)
            unacked += len(tr) - len(acked)
        missing = [lid for lid, o in placed.items() if stored.get(lid) != o]
        extra = [lid for lid in stored if lid not in placed]

        def in_window(t: float, d: float = 0.0) -> bool:  # the request [t, t + d] overlaps a window
            return any(s <= t + d and t <= e for _, s, e in self.windows)

        errors = [(round(t, 1), k, s) for t, k, s, d in self.requests if s == 0 or s >= 500]
        outside = [(t, k, s) for t, k, s, d in self.requests if (s == 0 or s >= 500) and not in_window(t, d)]
        ok = [(k, d) for t, k, s, d in self.requests if 200 <= s < 500 and not in_window(t, d)]
        lat: dict[str, list[float]] = defaultdict(list)
        for k, d in ok:
            lat[k].append(d * 1000)
        kinds = Counter(placed.values())
        calm = {lid: t for lid, t in self.answered_at.items() if not in_window(t) and t < shift_s - 1}
        delays = [(self.pop_at[lid] - t) * 1000 for lid, t in calm.items() if lid in self.pop_at]
        return {
            "minutes": self.args.minutes, "shift_s": round(shift_s, 1), "operators": self.args.operators,
            "walls": self.args.walls,
            "calls": {"placed": len(placed), "outcomes": dict(kinds), "stored_wrong_or_missing": len(missing),
                      "duplicates": len(per_call), "extra_rows": len(extra),
                      "per_min": round(len(placed) / (shift_s / 60), 1), "max_lines_busy": self.max_lines,
                      "all_lines_busy_s": round(self.full_s)},
            "cases": {"total": len(tickets), "closed": sum(1 for s in tickets.values() if s == "closed"),
                      "bad_audit_trails": len(bad_trails), "bad_examples": bad_trails[:5],
                      "steps_without_answer": unacked,
                      "transitions_acked": sum(len(v) for v in self.done_transitions.values())},
            "requests": {"total": len(self.requests), "per_s": round(len(self.requests) / shift_s, 1),
                         "errors_in_windows": len(errors) - len(outside), "errors_outside_windows": len(outside),
                         "outside_examples": outside[:5],
                         "latency_ms": {k: {"n": len(v), "p50": round(statistics.median(v), 1),
                                            "p99": round(pct(v, 99), 1), "max": round(max(v), 1)}
                                        for k, v in sorted(lat.items())}},
            "sse": {"screen_pops": sum(self.pops.values()), "answered": kinds.get("answered", 0),
                    "answered_outside_windows": len(calm), "popped_outside_windows": len(delays),
                    "pop_delay_ms": {"p50": round(statistics.median(delays), 1) if delays else None,
                                     "p99": round(pct(delays, 99), 1) if delays else None},
                    "wall_updates": self.wall_events, "stream_drops": sum(self.stream_drops.values())},
            "windows": [[lbl, round(s, 1), round(e, 1)] for lbl, s, e in self.windows],
            "rss_mb": {k: {"peak": round(max(v)), "end": round(v[-1])} for k, v in sorted(self.rss.items()) if v},
            "exit": {}, "logs": str(self.tmp),
        }


def verdict(r: dict[str, Any]) -> list[str]:
    bad = []
    if r["calls"]["stored_wrong_or_missing"] or r["calls"]["duplicates"] or r["calls"]["extra_rows"]:
        bad.append("calls: not every placed call registered exactly once")
    if r["cases"]["bad_audit_trails"]:
        bad.append("cases: incomplete audit trails")
    if r["requests"]["errors_outside_windows"]:
        bad.append("requests: 5xx / no answer outside the fault windows")
    if len(r["windows"]) < 3:
        bad.append("faults: not all three faults ran")
    return bad


def markdown(r: dict[str, Any], cmd: str) -> str:
    lat = r["requests"]["latency_ms"]
    rows = "\n".join(f"| {k} | {v['n']} | {v['p50']} | {v['p99']} | {v['max']} |" for k, v in lat.items())
    mem = "; ".join(f"{k} {v['peak']} MB" for k, v in r["rss_mb"].items())
    windows = "; ".join(f"{lbl} at {s:.0f} s (window to {e:.0f} s)" for lbl, s, e in r["windows"])
    c, cs, q, s = r["calls"], r["cases"], r["requests"], r["sse"]
    ok = verdict(r)
    return f"""
## Soak: a shift under load and faults (issue 7)

    {cmd}

{r['minutes']} minutes on {datetime.now(UTC):%Y-%m-%d} (the shared 2-core machine; a throwaway PostgreSQL 15
cluster; everything on loopback): two web workers, the adapter on the PBX simulator, two
schedulers, {r['operators']} operators' screen-pop streams and {r['walls']} walls, API clients moving cases
register → dispatch → accept → resolve → 回访. Faults: {windows}.

| | |
|---|---|
| calls placed | {c['placed']} ({c['per_min']}/min; {c['outcomes']}) — all 10 lines busy {c['all_lines_busy_s']} s of the shift |
| calls registered exactly once | {'yes' if not (c['stored_wrong_or_missing'] or c['duplicates'] or c['extra_rows']) else 'NO'} (wrong/missing {c['stored_wrong_or_missing']}, doubled {c['duplicates']}, extra {c['extra_rows']}) |
| cases | {cs['total']} registered, {cs['closed']} closed; {cs['transitions_acked']} acknowledged steps ({cs['steps_without_answer']} more written whose answer was lost in a fault); audit trails incomplete: {cs['bad_audit_trails']} |
| requests | {q['total']} ({q['per_s']}/s); 5xx or no answer: {q['errors_in_windows']} inside the fault windows, {q['errors_outside_windows']} outside |
| screen pops | {s['popped_outside_windows']} of the {s['answered_outside_windows']} calls answered outside the fault windows, to an operator whose stream was open, popped on the operator's stream (p50 {s['pop_delay_ms']['p50']} ms, p99 {s['pop_delay_ms']['p99']} ms after the simulator connected the call); {s['screen_pops']} pops in all for {s['answered']} answered calls |
| walls | {s['wall_updates']} wall updates to 20 walls; {s['stream_drops']} stream drops, each reconnected (to the other worker when one was down) |
| memory (peak RSS) | {mem} |
| verdict | {'PASS' if not ok else 'FAIL: ' + '; '.join(ok)} |

Request latency outside the fault windows (ms, round trip through the client):

| request | n | p50 | p99 | max |
|---|---|---|---|---|
{rows}
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--operators", type=int, default=30)
    ap.add_argument("--walls", type=int, default=20)
    ap.add_argument("--drivers", type=int, default=4, help="API clients moving cases")
    ap.add_argument("--think", type=float, default=0.3, help="seconds between a client's steps")
    ap.add_argument("--rate", type=float, default=40.0, help="inbound calls per minute (10 lines carry ~20)")
    ap.add_argument("--record", action="store_true", help="append the figures to docs/benchmarks.md")
    ap.add_argument("--json", type=Path, default=None, help="write the result here too")
    args = ap.parse_args()
    soak = Soak(args)
    try:
        result = asyncio.run(soak.run())
    finally:
        for p in soak.procs.values():
            if p.poll() is None:
                p.kill()
        soak.cluster.stop()
    print(json.dumps(result, ensure_ascii=False, indent=1, default=str))
    cmd = ".venv/bin/python bench/soak.py" + (f" --minutes {args.minutes:g}" if args.minutes != 10 else "")
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str))
    if args.record:
        with (ROOT / "docs/benchmarks.md").open("a") as f:
            f.write(markdown(result, cmd))
    bad = verdict(result)
    print("PASS" if not bad else "FAIL: " + "; ".join(bad))
    return 0 if not bad else 1


if __name__ == "__main__":
    raise SystemExit(main())
