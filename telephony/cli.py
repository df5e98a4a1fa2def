"""`hotline telephony …`: the adapter as its own process, and the PBX simulator.

Mounted by callcenter.entry.cli. Imports stay light: no web framework on the adapter's path.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Annotated, Any

import typer

app = typer.Typer(help="电话 telephony: the AMI adapter and the PBX simulator", no_args_is_help=True)
log = logging.getLogger("telephony")


def _logging(verbose: bool) -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("panoramisk").setLevel(logging.WARNING if not verbose else logging.DEBUG)
    from callcenter.core.logs import configure_logging  # HOTLINE_LOG_FORMAT=json: one JSON object a line

    configure_logging(process_kind="telephony", level=logging.DEBUG if verbose else logging.INFO)


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


@app.command()
def run(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Follow the PBX over AMI and register every call in the store (SIGTERM stops cleanly)."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.calls.services import StoreCallSink
    from callcenter.core.settings import get_settings
    from callcenter.store.db import Database
    from telephony.adapter import Adapter, AdapterConfig
    from telephony.ami import AMILoginError

    _logging(verbose)
    s = get_settings()
    config = AdapterConfig(host=s.ami_host, port=s.ami_port, username=s.ami_username, secret=s.ami_secret,
                           pbx=s.pbx_name, lines=s.lines, trunk_context=s.trunk_context, queue=s.queue,
                           data_dir=s.data_dir, action_timeout=s.ami_action_timeout,
                           cdr_url=s.cdr_database_url, cdr_table=s.cdr_table)

    async def main() -> int:
        # lazy: a command loads only what it runs (`hotline --help` stays fast)
        from callbacks.dialer import run_dialer
        from callcenter.core.bus import make_bus

        stop = _stop_event()
        database = Database(s.effective_database_url, pool_size=2)
        # PostgreSQL: LISTEN/NOTIFY, so the screen pop reaches whichever web worker holds the
        # operator's stream; SQLite: in-process (then the demo runs everything in one process)
        bus = make_bus(s.effective_database_url)
        await bus.start()
        adapter = Adapter(config, StoreCallSink(database), publisher=bus)
        helpers: list[asyncio.Task[None]] = []
        # /readyz and /metrics of the web workers read the AMI link, lines, queue and spool from here
        from callcenter.ops.heartbeat import adapter_status, run_heartbeat

        heartbeat = asyncio.create_task(run_heartbeat(database, f"telephony:{config.pbx}", "telephony",
                                                      lambda: adapter_status(adapter)), name="heartbeat")
        try:
            connecting = asyncio.create_task(adapter.start())
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({connecting, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if connecting.done():
                connecting.result()
                log.info("adapter running for PBX %r at %s:%s", config.pbx, config.host, config.port)
                # this process is the only holder of AMI: it carries out the console's pause
                # requests and the click-to-call requests the callbacks module writes
                helpers = [
                    asyncio.create_task(adapter.follow_pause_requests(bus), name="pause-requests"),
                    asyncio.create_task(run_dialer(database, adapter.originate_callback, f"telephony-{config.pbx}", stop),
                                        name="dialer"),
                ]
                await stopped
            else:
                connecting.cancel()
            log.info("stopping: handling what was received and writing every call")
            for t in helpers:
                t.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await adapter.stop()
            await bus.close()
            log.info("stopped; %d call facts written", adapter.written)
            return 0
        except AMILoginError as exc:
            log.error("%s", exc)
            await adapter.stop(flush_timeout=5)
            return 2
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
            await database.dispose()

    raise typer.Exit(asyncio.run(main()))


@app.command()
def simulate(
    host: Annotated[str, typer.Option(help="listen address (loopback only by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 5038,
    rate: Annotated[float, typer.Option(help="inbound calls per minute")] = 6.0,
    abandon_pct: Annotated[float, typer.Option(
        help="% of impatient callers: they give up after 5-20 s in the queue, or while the phone rings")] = 10.0,
    lines: Annotated[int, typer.Option(help="trunk lines; more concurrent calls are refused")] = 10,
    operators: Annotated[int, typer.Option(help="queue members 8001…")] = 5,
    duration: Annotated[float | None, typer.Option(
        help="stop offering calls after S simulated seconds; the process exits once the calls in progress end")] = None,
    speed: Annotated[float, typer.Option(help="simulated seconds per real second")] = 1.0,
    seed: Annotated[int, typer.Option()] = 12345,
    username: Annotated[str, typer.Option()] = "hotline",
    secret: Annotated[str, typer.Option()] = "hotline-secret",
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """A PBX that speaks AMI like the captured Asterisk 22, generating hotline calls."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from telephony.simulator import PBXSimulator, SimConfig

    _logging(verbose)
    sim = PBXSimulator(SimConfig(rate_per_min=rate, abandon_pct=abandon_pct, lines=lines, operators=operators,
                                 duration_s=duration, speed=speed, seed=seed, username=username, secret=secret))

    async def main() -> None:
        stop = _stop_event()
        bound = await sim.start(host, port)
        log.info("PBX simulator on %s:%s: %.1f calls/min, %d lines, %d operators", host, bound, rate, lines, operators)
        waiting: list[asyncio.Task[Any]] = [asyncio.create_task(stop.wait())]
        if duration is not None:
            waiting.append(asyncio.create_task(sim.wait_idle()))
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        for t in waiting:
            t.cancel()
        await asyncio.sleep(0.2)  # let the last events reach the clients
        await sim.stop()
        log.info("simulator stopped: %s", sim.stats)

    asyncio.run(main())
