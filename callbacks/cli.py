"""`hotline scheduler …`: the callback and deadline scheduler as its own process.

callcenter.entry.cli mounts `app` (e.g. `app.add_typer(callbacks.cli.app, name="scheduler")`);
`run` is the process, `summary` writes a day's department summary now.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from datetime import date
from typing import Annotated

import typer

app = typer.Typer(help="回访与督办 callbacks and deadline supervision (the scheduler)", invoke_without_command=True)


@app.callback()
def _default(ctx: typer.Context) -> None:
    """`hotline scheduler` alone runs the scheduler process (`run` with its defaults)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(run)


def _logging(verbose: bool) -> None:
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.core.logs import configure_logging

    # text or JSON lines as HOTLINE_LOG_FORMAT says (the same as the other processes)
    configure_logging(process_kind="scheduler", level=logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if verbose else logging.WARNING)


@app.command()
def run(
    worker_id: Annotated[str | None, typer.Option(help="this process's name in claims and notices")] = None,
    callbacks_every: Annotated[float, typer.Option(min=0.05)] = 15.0,
    missed_every: Annotated[float, typer.Option(min=0.05)] = 15.0,
    deadlines_every: Annotated[float, typer.Option(min=0.05)] = 60.0,
    leader_every: Annotated[float, typer.Option(min=0.05, help="stand-by retry / heartbeat, seconds")] = 10.0,
    lease: Annotated[float, typer.Option(min=0.1, help="SQLite leader lease, seconds")] = 30.0,
    database_url: Annotated[str | None, typer.Option(help="default: HOTLINE_DATABASE_URL")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the scheduler (one leader acts, the others stand by); SIGTERM stops it."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.core.settings import get_settings
    from callcenter.recordings.storage import store_of
    from callcenter.store.db import Database

    from .scheduler import SchedulerConfig, default_worker_id, run_scheduler

    _logging(verbose)
    s = get_settings()
    config = SchedulerConfig(worker_id=worker_id or default_worker_id(), callbacks_every=callbacks_every,
                             missed_every=missed_every, deadlines_every=deadlines_every, leader_every=leader_every,
                             lease_s=lease, data_dir=s.data_dir,
                             recordings_spool=s.recordings_spool, recordings_dir=store_of(s),
                             qa_sample_size=s.qa_sample_size, qa_long_call_s=s.qa_long_call_s)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        db = Database(database_url or s.effective_database_url, pool_size=3)
        try:
            # one row per machine (or per --worker-id): a restart renews it, a dead stand-by shows
            beat_name = f"scheduler:{worker_id or socket.gethostname()[:60]}"
            await run_scheduler(db, config, stop, heartbeat=beat_name)
        finally:
            await db.dispose()

    asyncio.run(main())


@app.command()
def summary(
    day: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD (Asia/Shanghai); default yesterday")] = None,
) -> None:
    """Write a day's department summary (notices + HOTLINE_DATA_DIR/reports/deadline-summary-DAY.json/.md)."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from datetime import timedelta

    from callcenter.cases.workdays import TZ
    from callcenter.core.settings import get_settings
    from callcenter.store.db import Database
    from callcenter.store.models import utcnow

    from .deadlines import daily_summary, department_summary, summary_text

    s = get_settings()
    now = utcnow()
    d = date.fromisoformat(day) if day else now.astimezone(TZ).date() - timedelta(days=1)

    async def main() -> None:
        db = Database(s.effective_database_url, pool_size=2)
        try:
            await daily_summary(db, d, now, s.data_dir, "cli")
            typer.echo(summary_text(await department_summary(db, d, now)), nl=False)
        finally:
            await db.dispose()

    asyncio.run(main())


if __name__ == "__main__":
    app()
