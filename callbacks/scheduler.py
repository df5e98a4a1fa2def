"""The scheduler process: fixed APScheduler 3.11 ticks over rows the database owns.

APScheduler's own job store cannot be the truth with more than one process (STACK.md): the jobs
here are only ticks in a MemoryJobStore (Asia/Shanghai, coalesce, one instance each). What is
due is computed from the case, call and callback rows at every tick, so ticks missed while no
scheduler ran are caught up by the next one.

Exactly one scheduler acts at a time: the leader. PostgreSQL: `pg_try_advisory_lock` on a
dedicated connection held while leading (the lock goes with the connection when the process
dies). SQLite: a lease row taken by compare-and-set and renewed while leading. The others stand
by, retrying every `leader_every` seconds, and take over when the lock is free (PostgreSQL: at
once when the leader's connection closes; SQLite: when its lease has expired). Rows are still
claimed with leases (claims.py) in case two leaders overlap for a moment.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.calls import drafts
from callcenter.cases.workdays import TZ
from callcenter.kb import services as kb
from callcenter.ops.heartbeat import run_heartbeat
from callcenter.qa import services as qa
from callcenter.recordings import services as rec
from callcenter.recordings.storage import S3Store
from callcenter.store import idempotency
from callcenter.store.db import Database
from callcenter.store.models import Notification, SchedulerLease, utcnow
from reports import traffic_rollup
from reports.rollup import refresh_rollups

from . import deadlines, service
from .claims import rowcount
from .due import CallbackRules

log = logging.getLogger("callbacks.scheduler")
LEASE_NAME = "scheduler"
# a fixed 64-bit key for pg_try_advisory_lock: "12345" + "CB" (callbacks)
ADVISORY_KEY = 1234567_0001


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class SchedulerConfig:
    worker_id: str = field(default_factory=default_worker_id)
    callbacks_every: float = 15.0  # placed calls' outcomes, repair
    missed_every: float = 15.0  # missed calls → 回拨 tasks
    deadlines_every: float = 60.0  # reminders, overdue, 督办, callbacks overdue, extensions waiting
    rollups_every: float = 60.0  # report rollups of the days changed since the last refresh
    leader_every: float = 10.0  # stand-by retry / leader heartbeat
    lease_s: float = 30.0  # SQLite leader lease; a dead leader is replaced after this
    claim_lease_s: float = 120.0  # row claims
    summary_hour: int = 0  # the nightly summary of the day before, Asia/Shanghai
    summary_minute: int = 10
    kb_every: float = 600.0  # knowledge base: expire entries past their end, remind departments
    kb_remind_days: int = 30  # … of entries ending within these days (issue 8)
    drafts_every: float = 600.0  # 来电登记 drafts older than a day, idempotency answers older than two
    data_dir: Path | None = None
    recordings_every: float = 60.0  # recordings: collect from the PBX's spool (issue 18)
    recordings_spool: Path | None = None  # None: no collection
    recordings_dir: Path | S3Store | None = None  # the storage; retention runs with the nightly summary
    qa_sample_size: int | None = None  # 质检: calls sampled per operator every Monday; None: no sampling
    qa_long_call_s: int = 600  # … and every call at least this long
    rules: CallbackRules | None = None  # None: sla_rules per kind (the admin's values); set: for all


# ---- the leader lock ---------------------------------------------------------------------------------


class Leader:
    leading: bool = False

    async def try_lead(self, now: datetime) -> bool:
        raise NotImplementedError

    async def release(self) -> None:
        raise NotImplementedError


async def _record_holder(db: Database, worker: str, now: datetime, expires: datetime | None) -> None:
    ins = sqlite.insert if db.is_sqlite else postgresql.insert
    async with db.transaction() as s:
        stmt = ins(SchedulerLease).values(name=LEASE_NAME, holder=worker, expires_at=expires, renewed_at=now)
        await s.execute(stmt.on_conflict_do_update(
            index_elements=["name"], set_={"holder": worker, "expires_at": expires, "renewed_at": now}))


class PgAdvisoryLeader(Leader):
    """Leads while holding a session advisory lock on its own connection (not from the pool's
    rotation: the lock belongs to the connection, which this object keeps until it stands down)."""

    def __init__(self, db: Database, worker: str, key: int = ADVISORY_KEY) -> None:
        self.db, self.worker, self.key = db, worker, key
        self.conn: AsyncConnection | None = None
        self.leading = False

    async def try_lead(self, now: datetime) -> bool:
        try:
            if self.conn is None:
                self.conn = await self.db.engine.connect()
                got = (await self.conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})).scalar()
                await self.conn.commit()  # the session lock outlives the transaction; no idle-in-transaction
                if not got:
                    await self._drop()
                    return False
                log.info("%s leads (advisory lock %s)", self.worker, self.key)
                self.leading = True
            else:
                await self.conn.execute(text("SELECT 1"))  # heartbeat: the lock lives as long as this connection
                await self.conn.commit()
            await _record_holder(self.db, self.worker, now, None)
        except Exception as exc:  # noqa: BLE001 - connection lost: the lock is lost with it
            log.warning("%s: leader connection failed (%s); standing by", self.worker, exc)
            await self._drop(invalidate=True)
        return self.leading

    async def _drop(self, invalidate: bool = False) -> None:
        self.leading = False
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                if invalidate:
                    await conn.invalidate()
                await conn.close()
            except Exception:  # noqa: BLE001
                pass

    async def release(self) -> None:
        if self.conn is not None and self.leading:
            try:
                await self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                await self.conn.commit()
            except Exception:  # noqa: BLE001
                pass
        await self._drop()


class LeaseLeader(Leader):
    """Leads while its lease row is unexpired (SQLite)."""

    def __init__(self, db: Database, worker: str, ttl: timedelta) -> None:
        self.db, self.worker, self.ttl = db, worker, ttl
        self.leading = False

    async def try_lead(self, now: datetime) -> bool:
        ins = sqlite.insert if self.db.is_sqlite else postgresql.insert
        try:
            async with self.db.transaction() as s:
                await s.execute(ins(SchedulerLease).values(name=LEASE_NAME).on_conflict_do_nothing())
                # compare-and-set: take the lease only if it is ours or has expired; two stand-bys
                # trying at once — the second finds the first's unexpired lease and gets 0 rows
                r = await s.execute(
                    update(SchedulerLease).where(
                        SchedulerLease.name == LEASE_NAME,
                        (SchedulerLease.holder == self.worker) | SchedulerLease.holder.is_(None)
                        | SchedulerLease.expires_at.is_(None) | (SchedulerLease.expires_at < now),
                    ).values(holder=self.worker, expires_at=now + self.ttl, renewed_at=now)
                    .execution_options(synchronize_session=False)
                )
                got = rowcount(r) == 1
        except Exception as exc:  # noqa: BLE001
            log.warning("%s: cannot renew the lease (%s)", self.worker, exc)
            got = False
        if got and not self.leading:
            log.info("%s leads (lease %s s)", self.worker, self.ttl.total_seconds())
        self.leading = got
        return got

    async def release(self) -> None:
        if not self.leading:
            return
        self.leading = False
        async with self.db.transaction() as s:
            await s.execute(update(SchedulerLease).where(SchedulerLease.name == LEASE_NAME,
                                                         SchedulerLease.holder == self.worker)
                            .values(expires_at=None, holder=None).execution_options(synchronize_session=False))


def make_leader(db: Database, config: SchedulerConfig) -> Leader:
    if db.is_sqlite:
        return LeaseLeader(db, config.worker_id, timedelta(seconds=config.lease_s))
    return PgAdvisoryLeader(db, config.worker_id)


# ---- the steps ---------------------------------------------------------------------------------------


class CallbackScheduler:
    """The ticks. Every step takes the time and returns whether it found work; `tick(now)` runs
    them all once (tests, and the catch-up when this process becomes the leader)."""

    def __init__(self, db: Database, config: SchedulerConfig | None = None, leader: Leader | None = None) -> None:
        self.db = db
        self.config = config or SchedulerConfig()
        self.leader = leader or make_leader(db, self.config)
        self.aps: AsyncIOScheduler | None = None
        self.stopped = asyncio.Event()

    @property
    def worker(self) -> str:
        return self.config.worker_id

    async def step_callbacks(self, now: datetime) -> bool:
        c = self.config
        found = await service.collect_outcomes(self.db, self.worker, now, rules=c.rules,
                                               lease=timedelta(seconds=c.claim_lease_s))
        return await service.repair(self.db, now, c.rules) or found

    async def step_missed(self, now: datetime) -> bool:
        return await service.sync_missed_calls(self.db, now, rules=self.config.rules)

    async def step_deadlines(self, now: datetime) -> bool:
        return await deadlines.check_deadlines(self.db, now, self.worker, self.config.rules)

    async def step_rollups(self, now: datetime) -> bool:
        """The report rollups (per-day counts) of the days changed since the last refresh:
        dashboards and `hotline report metrics` read them (reports/rollup.py); and the hourly
        traffic capacity planning reads (reports/traffic_rollup.py)."""

        days = await refresh_rollups(self.db, now)
        return await traffic_rollup.refresh(self.db, now) or days

    async def step_kb(self, now: datetime) -> bool:
        """Knowledge base (issue 8): entries past their end expire; a notice per entry ending
        within kb_remind_days to its department (unique key: never doubled)."""

        return await kb.remind_expiring(self.db, self.config.kb_remind_days, now, self.worker) > 0

    async def step_drafts(self, now: datetime) -> bool:
        """The operator's call (issue 12): drafts older than a day and stored idempotent answers
        older than two days are dropped."""

        return (await drafts.purge(self.db) + await idempotency.purge(self.db)) > 0

    async def step_recordings(self, now: datetime) -> bool:
        """Recordings (issue 18): move ended calls' files from the PBX's spool to the storage."""
        c = self.config
        if c.recordings_spool is None or c.recordings_dir is None:
            return False

        return bool((await rec.collect(self.db, c.recordings_spool, c.recordings_dir, now=now)).collected)

    async def step_retention(self, now: datetime) -> bool:
        """Recordings past their kind's retention period are removed (logged), none on legal hold."""
        if self.config.recordings_dir is None:
            return False

        return bool(await rec.apply_retention(self.db, self.config.recordings_dir, now))

    async def step_qa_sample(self, now: datetime) -> bool:
        """质检 (issue 18): the week before's sample — random calls per operator plus the calls
        picked by rule; idempotent, so a second run adds only what was not picked yet."""
        c = self.config
        if c.qa_sample_size is None:
            return False
        res = await qa.sample(self.db, qa.last_week(now), size=c.qa_sample_size, long_s=c.qa_long_call_s, now=now)
        if res.total:
            log.info("qa sample of the week of %s: %s", res.week, res.picked)
        return res.total > 0

    async def step_summary(self, now: datetime, day: date | None = None) -> bool:
        """The summary of `day` (default: yesterday in Asia/Shanghai); written once."""
        day = day or (now.astimezone(TZ).date() - timedelta(days=1))
        return await deadlines.daily_summary(self.db, day, now, self.config.data_dir, self.worker)

    async def step_catch_up_summary(self, now: datetime) -> bool:
        """After a restart: yesterday's summary if the nightly job did not run (cheap check first)."""
        day = now.astimezone(TZ).date() - timedelta(days=1)
        async with self.db.session() as s:
            had = (await s.execute(select(Notification.id).where(
                Notification.kind == "daily_summary", Notification.key.like(f"daily_summary:%:{day.isoformat()}")
            ).limit(1))).first()
        return False if had else await self.step_summary(now, day)

    async def tick(self, now: datetime) -> dict[str, bool]:
        return {
            "missed": await self.step_missed(now),
            "callbacks": await self.step_callbacks(now),
            "deadlines": await self.step_deadlines(now),
        }

    # ---- APScheduler wiring --------------------------------------------------------------------

    async def _leader_job(self) -> None:
        was = self.leader.leading
        now = utcnow()
        if await self.leader.try_lead(now) and not was:
            # just took over: catch up with everything due now (the previous leader may have died
            # mid-tick; its claims expire and are taken again)
            await self._guarded("catch-up", self.tick)
            await self._guarded("summary catch-up", self.step_catch_up_summary)

    async def _guarded(self, name: str, step: Any, now: datetime | None = None) -> None:
        if not self.leader.leading:
            return
        try:
            await step(now or utcnow())
        except Exception:  # noqa: BLE001 - one failed tick never stops the scheduler
            log.exception("%s tick failed", name)

    def interval_steps(self) -> dict[str, tuple[Any, float]]:
        """The interval jobs: name → (step, every seconds); `start` schedules these, `run_steps`
        runs them at a given time (a simulated day in the tests)."""
        c = self.config
        return {
            "callbacks": (self.step_callbacks, c.callbacks_every),
            "missed": (self.step_missed, c.missed_every),
            "deadlines": (self.step_deadlines, c.deadlines_every),
            "rollups": (self.step_rollups, c.rollups_every),
            "kb": (self.step_kb, c.kb_every),
            "drafts": (self.step_drafts, c.drafts_every),
            **({"recordings": (self.step_recordings, c.recordings_every)}
               if c.recordings_spool is not None and c.recordings_dir is not None else {}),
        }

    async def run_steps(self, now: datetime, names: tuple[str, ...] | None = None) -> None:
        """Run the interval jobs once at `now` exactly as APScheduler runs them (guarded: a failure
        is logged, never raised), after taking the lead like the leader job."""
        if await self.leader.try_lead(now):
            for name, (step, _every) in self.interval_steps().items():
                if names is None or name in names:
                    await self._guarded(name, step, now)

    def _job(self, name: str, step: Any) -> Any:
        async def run() -> None:
            await self._guarded(name, step)

        run.__name__ = f"tick_{name}"
        return run

    async def start(self) -> None:
        c = self.config
        tz = TZ  # the hotline's zone (settings.timezone)
        self.aps = AsyncIOScheduler(
            jobstores={"default": MemoryJobStore()},
            executors={"default": AsyncIOExecutor()},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
            timezone=tz,
        )
        now = datetime.now(tz)
        self.aps.add_job(self._leader_job, "interval", seconds=c.leader_every, id="leader", next_run_time=now)
        for name, (step, every) in self.interval_steps().items():
            self.aps.add_job(self._job(name, step), "interval", seconds=every, id=name)
        if c.recordings_dir is not None:
            self.aps.add_job(self._job("retention", self.step_retention), "cron", hour=c.summary_hour,
                             minute=(c.summary_minute + 20) % 60, id="retention")
        if c.qa_sample_size is not None:
            self.aps.add_job(self._job("qa_sample", self.step_qa_sample), "cron", day_of_week="mon", hour=1,
                             minute=30, id="qa_sample")
        self.aps.add_job(self._job("summary", self.step_summary), "cron", hour=c.summary_hour,
                         minute=c.summary_minute, id="summary")
        self.aps.start()
        log.info("scheduler %s started (stand-by until it leads)", self.worker)

    async def stop(self) -> None:
        if self.aps is not None:
            # wait=False cancels a running tick: its claims expire and are taken again
            self.aps.shutdown(wait=False)
            self.aps = None
        await self.leader.release()
        self.stopped.set()

    async def run_until(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()


async def run_scheduler(db: Database, config: SchedulerConfig, stop: asyncio.Event,
                        heartbeat: str | None = None) -> None:
    """Run the scheduler until `stop` is set (`hotline scheduler`, or in-process in the demo).
    heartbeat: a name (`scheduler:<host>`) to write into process_heartbeats every few seconds,
    leader or stand-by, so a dead stand-by shows in /readyz?strict=1 and /metrics (issue 20).
    The name outlives a restart (a restarted scheduler renews the same row)."""
    sched = CallbackScheduler(db, config)
    beating: asyncio.Task[None] | None = None
    if heartbeat:
        beating = asyncio.create_task(run_heartbeat(
            db, heartbeat[:128], "scheduler", lambda: {"leading": bool(sched.leader.leading), "worker": config.worker_id}),
            name="scheduler-heartbeat")
    try:
        await sched.run_until(stop)
    finally:
        if beating is not None:
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)

