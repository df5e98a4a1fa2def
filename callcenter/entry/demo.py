"""`hotline demo`: the whole system in one process on the embedded default — the PBX simulator
speaking AMI on loopback, the telephony adapter following it through panoramisk exactly as in
production, the web console and API, on SQLite under HOTLINE_DATA_DIR.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket

import uvicorn

from callbacks.dialer import run_dialer
from callbacks.scheduler import SchedulerConfig, run_scheduler
from callcenter.calls.services import StoreCallSink
from callcenter.core.settings import get_settings
from callcenter.entry.app import create_app
from callcenter.ops.heartbeat import adapter_status, run_heartbeat
from callcenter.recordings.storage import store_of
from callcenter.store.db import Database
from telephony.adapter import Adapter, AdapterConfig
from telephony.simulator import PBXSimulator, SimConfig

log = logging.getLogger("hotline.demo")


def _free_port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]


async def run_demo(host: str, port: int, rate: float, speed: float) -> None:
    s = get_settings()
    db = Database(s.effective_database_url)
    app = create_app(s, db=db)

    # the simulated PBX records every answered call into a spool the scheduler collects (issue 18)
    spool = s.recordings_spool or s.data_dir / "pbx-spool"
    sim = PBXSimulator(SimConfig(rate_per_min=rate, lines=s.lines, speed=speed,
                                 username=s.ami_username, secret=s.ami_secret,
                                 recordings_spool=str(spool), pbx=s.pbx_name))
    ami_port = await sim.start("127.0.0.1", _free_port(s.ami_port))
    adapter = Adapter(
        AdapterConfig(host="127.0.0.1", port=ami_port, username=s.ami_username, secret=s.ami_secret,
                      pbx=s.pbx_name, lines=s.lines, trunk_context=s.trunk_context, queue=s.queue,
                      data_dir=s.data_dir, action_timeout=s.ami_action_timeout),
        StoreCallSink(db),
        publisher=app.state.bus,
    )
    await adapter.start(connect_timeout=10)
    # the scheduler (callbacks, deadlines) and the click-to-call dialer, in-process

    stop_bg = asyncio.Event()
    background = [
        asyncio.create_task(run_scheduler(db, SchedulerConfig(
            data_dir=s.data_dir, recordings_spool=spool, recordings_dir=store_of(s),
            qa_sample_size=s.qa_sample_size, qa_long_call_s=s.qa_long_call_s), stop_bg), name="scheduler"),
        asyncio.create_task(run_dialer(db, adapter.originate_callback, "demo", stop_bg), name="dialer"),
        asyncio.create_task(run_heartbeat(db, f"telephony:{s.pbx_name}", "telephony",
                                          lambda: adapter_status(adapter)), name="heartbeat"),
        asyncio.create_task(adapter.follow_pause_requests(app.state.bus), name="pause-requests"),
    ]
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                          server_header=False))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    serving = asyncio.create_task(server.serve())
    print(f"Hotline 12345 demo: http://{host}:{port}/  (API docs /docs)", flush=True)
    print(f"PBX simulator on 127.0.0.1:{ami_port}, {rate:g} calls/min; store {s.effective_database_url}", flush=True)
    print("users: lina (话务员), zhangwei (住建局承办人), chenjing (班长), admin — password hotline-demo", flush=True)
    print("Ctrl-C stops everything.", flush=True)
    await asyncio.wait({serving, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    with contextlib.suppress(Exception):
        await serving
    stop_bg.set()
    for task in background[-2:]:  # the heartbeat and the pause follower run until cancelled
        task.cancel()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.gather(*background, return_exceptions=True), 15)
    await adapter.stop()
    await sim.stop()
    await db.dispose()
