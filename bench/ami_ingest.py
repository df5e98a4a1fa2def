#!/usr/bin/env python3
"""Benchmark: AMI events/s one adapter process ingests end to end into PostgreSQL, against the
rate at which panoramisk alone parses the same stream, and the adapter's RSS after an hour of a
busy centre's traffic replayed at full speed.

    .venv/bin/python bench/ami_ingest.py [--hours 1] [--runs 3]

The stream: the recorded 10_mini_load session of the real Asterisk (91 s, 6,432 events with
read=all, 43 calls, all 10 lines in use with 8 refused) repeated in 100 s slots with every
Uniqueid/Linkedid renumbered, `--hours` of it (36 copies per hour: 231k events, 1,548 calls).
A TCP server plays it as fast as the client reads (after Login, as Asterisk would).

1. raw: a bare panoramisk 1.4 Manager with one no-op '*' handler counts the events.
2. adapter: `hotline telephony run` as its own process (exactly as in production) writes into
   its own database (hotline_bench_ami on $HOTLINE_BENCH_PG); the clock stops when the store
   holds the final row of every call. Then every call's outcome is checked (none lost) and
   VmRSS/VmHWM of the adapter process are read from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ADMIN = os.environ.get("HOTLINE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
DBNAME = "hotline_bench_ami"
CAPTURE = ROOT / "tests/fixtures/ami/10_mini_load.jsonl"
SPAN = 100  # seconds between copies (the capture lasts 91 s)
PER_COPY = {("in", "answered"): 30, ("in", "abandoned"): 2, ("in", "refused"): 8,
            ("out", "callback_answered"): 1, ("out", "callback_unanswered"): 2}
UID = re.compile(rb"(?<![\d.])(17957\d{5})\.(\d+)")


def build_stream(hours: float) -> tuple[bytes, int, int]:
    events = []
    for line in CAPTURE.open(encoding="utf-8"):
        r = json.loads(line)
        if r["dir"] == "in" and r["raw"].startswith("Event:") and not r["raw"].startswith(
                ("Event: FullyBooted", "Event: SuccessfulAuth")):
            events.append(r["raw"].encode())
    copies = max(1, round(hours * 3600 / SPAN))
    out = []
    for i in range(copies):
        shift = i * SPAN
        for ev in events:
            out.append(UID.sub(lambda m, s=shift, k=i: b"%d.%d" % (int(m[1]) + s, int(m[2]) + k * 100_000), ev))
    return b"".join(out), len(out), copies


class Server:
    def __init__(self, stream: bytes) -> None:
        self.stream = stream
        self.sent_at: float | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        buf = b""
        playing = None
        try:
            while chunk := await reader.read(65536):
                buf += chunk
                while b"\r\n\r\n" in buf:
                    raw, buf = buf.split(b"\r\n\r\n", 1)
                    a = dict(line.split(": ", 1) for line in raw.decode().split("\r\n") if ": " in line)
                    act, aid = a.get("Action", "").lower(), a.get("ActionID", "")
                    if act == "login":
                        writer.write(b"Response: Success\r\nActionID: %s\r\nMessage: Authentication accepted\r\n\r\n"
                                     % aid.encode())
                        if playing is None:
                            playing = asyncio.create_task(self.play(writer))
                    elif act == "coreshowchannels":
                        writer.write(b"Response: Success\r\nActionID: %s\r\nEventList: start\r\nMessage: Channels will "
                                     b"follow\r\n\r\nEvent: CoreShowChannelsComplete\r\nActionID: %s\r\nEventList: "
                                     b"Complete\r\nListItems: 0\r\n\r\n" % (aid.encode(), aid.encode()))
                    else:
                        writer.write(b"Response: Success\r\nActionID: %s\r\nPing: Pong\r\nTimestamp: 1795721429.0\r\n"
                                     b"Value: \r\n\r\n" % aid.encode())
                    await writer.drain()
        except ConnectionError:
            pass

    async def play(self, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.05)  # after the adapter's login actions
        self.sent_at = time.perf_counter()
        step = 256 * 1024
        for i in range(0, len(self.stream), step):
            writer.write(self.stream[i:i + step])
            await writer.drain()


async def raw_rate(stream: bytes, n_events: int) -> float:
    from panoramisk import Manager

    asyncio.get_running_loop().set_exception_handler(_quiet)  # the server's tasks cancelled at the end
    server = Server(stream)
    srv = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    done = asyncio.Event()
    count = 0
    last = 0.0

    def on_event(manager, message) -> None:  # type: ignore[no-untyped-def]
        nonlocal count, last
        count += 1
        if count == n_events:
            last = time.perf_counter()
            done.set()

    m = Manager(host="127.0.0.1", port=port, username="u", secret="s", ping_delay=10**6, ping_interval=10**6)
    m.register_event("*", on_event)
    await m.connect()
    await asyncio.wait_for(done.wait(), 600)
    m.close()
    srv.close()
    assert server.sent_at is not None
    return n_events / (last - server.sent_at)


def reset_db() -> str:
    with psycopg.connect(ADMIN, autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {DBNAME} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {DBNAME}")
    url = ADMIN.rsplit("/", 1)[0] + "/" + DBNAME
    from callcenter.store.migrate import upgrade

    upgrade(url)
    return url


def rss(pid: int) -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def adapter_rate(stream: bytes, n_events: int, copies: int) -> tuple[float, float, float]:
    url = reset_db()
    asyncio.get_running_loop().set_exception_handler(_quiet)
    server = Server(stream)
    srv = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    expected = sum(PER_COPY.values()) * copies
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "HOTLINE_DATABASE_URL": url, "HOTLINE_DATA_DIR": data, "HOTLINE_AMI_PORT": str(port),
               "HOTLINE_AMI_SECRET": "s"}
        proc = subprocess.Popen([str(Path(sys.executable).parent / "hotline"), "telephony", "run"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            with psycopg.connect(url, autocommit=True) as c:
                while True:
                    await asyncio.sleep(0.05)
                    n = c.execute("SELECT count(*) FROM calls WHERE outcome <> 'in_progress'").fetchone()[0]
                    if n >= expected:
                        end = time.perf_counter()
                        break
                    if proc.poll() is not None:
                        raise SystemExit(proc.stderr.read().decode()[-3000:])  # type: ignore[union-attr]
                got = Counter({(str(d), str(o)): n for d, o, n in c.execute(
                    "SELECT direction::text, outcome::text, count(*) FROM calls GROUP BY 1, 2").fetchall()})
            now_rss, peak_rss = rss(proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)
            srv.close()
    want = Counter({k: v * copies for k, v in PER_COPY.items()})
    assert got == want, f"calls lost or wrong: {got} != {want}"
    assert server.sent_at is not None
    return n_events / (end - server.sent_at), now_rss, peak_rss


def _quiet(loop: asyncio.AbstractEventLoop, ctx: dict) -> None:  # type: ignore[type-arg]
    if "connection_made" not in str(ctx.get("message", "")) + str(ctx.get("handle", "")):
        loop.default_exception_handler(ctx)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    stream, n, copies = build_stream(args.hours)
    print(f"stream: {n} events, {copies * sum(PER_COPY.values())} calls, {len(stream) / 1e6:.0f} MB; "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    raws, ends, rsss, peaks = [], [], [], []
    for i in range(args.runs):
        raws.append(asyncio.run(raw_rate(stream, n)))
        e, r, p = asyncio.run(adapter_rate(stream, n, copies))
        ends.append(e), rsss.append(r), peaks.append(p)
        print(f"run {i + 1}: raw {raws[-1]:,.0f} ev/s, adapter {e:,.0f} ev/s ({e / raws[-1]:.2f}), "
              f"RSS {r:.0f} MB (peak {p:.0f} MB); load {os.getloadavg()[0]:.2f}", flush=True)
    med = statistics.median
    print(f"median: raw {med(raws):,.0f} ev/s [{min(raws):,.0f}-{max(raws):,.0f}], adapter {med(ends):,.0f} ev/s "
          f"[{min(ends):,.0f}-{max(ends):,.0f}], ratio {med(ends) / med(raws):.2f}, RSS {med(rsss):.0f} MB "
          f"(peak {med(peaks):.0f} MB)")


if __name__ == "__main__":
    main()
