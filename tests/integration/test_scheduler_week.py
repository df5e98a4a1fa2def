"""The demo's scheduler through a simulated working week, time given (never slept): every interval
job (callbacks, missed calls, deadlines, rollups, knowledge base) every 20 simulated minutes and
the nightly summary, over the demo's cases while the hotline works them — citizens call and hang
up, departments resolve, operators call back (some 不满意 → 重办). Any logged error or traceback
fails the test (issue 13: the deadlines tick failed every minute for 21 minutes)."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from callbacks import service
from callbacks.scheduler import CallbackScheduler, LeaseLeader, SchedulerConfig
from callcenter.cases import services
from callcenter.core.errors import Conflict, Invalid
from callcenter.entry.demo_cases import seed_cases
from callcenter.entry.seed import seed_demo
from callcenter.people.auth import actor_of
from callcenter.store.db import Database
from callcenter.store.models import (
    Callback,
    CallbackTaskStatus,
    CallOutcome,
    Notification,
    Role,
    Status,
    Ticket,
    User,
)
from tests.integration.test_callbacks import add_call

START = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)  # Monday 16 November 2026, 08:00 in Shanghai


async def _work_an_hour(db: Database, rng: random.Random, now: datetime) -> None:
    """An hour of the hotline's work at `now`: a missed call or two, some resolutions, callbacks."""
    async with db.session() as s:
        users = {u.username: u for u in (await s.scalars(select(User))).all()}
        open_cases = (await s.execute(select(Ticket.number, Ticket.department_id).where(
            Ticket.status.in_((Status.accepted, Status.reopened, Status.dispatched)),
            Ticket.department_id.is_not(None)).order_by(Ticket.id))).all()
        pending = (await s.scalars(select(Callback.id).where(Callback.status == CallbackTaskStatus.pending)
                                   .order_by(Callback.due_at))).all()
    op = actor_of(next(u for u in users.values() if u.role is Role.operator))
    clerks = {u.department_id: actor_of(u) for u in users.values() if u.role is Role.clerk}
    for _ in range(rng.randrange(0, 3)):
        await add_call(db, f"139{rng.randrange(10**7, 10**8)}", now - timedelta(minutes=rng.randrange(50)),
                       rng.choice([CallOutcome.abandoned, CallOutcome.refused, CallOutcome.answered]))
    for number, dep in rng.sample(open_cases, min(3, len(open_cases))):
        clerk = clerks.get(dep)
        if clerk is None:
            continue
        try:
            t = await services.get(db, clerk, number)
            if t.status is Status.dispatched:
                await services.act(db, clerk, number, "accept", None, {}, now)
            else:
                await services.act(db, clerk, number, "resolve", None, {"resolution": "已处理完毕"}, now)
        except (Conflict, Invalid):
            pass
    for cb_id in pending[:3]:
        outcome = rng.choices(["satisfied", "basically", "dissatisfied", "not_reached"], (5, 2, 2, 2))[0]
        try:
            await service.record_attempt(db, op, cb_id, outcome, now=now)
        except (Conflict, Invalid):
            pass


@pytest.mark.slow
async def test_the_demo_scheduler_runs_a_working_week_without_a_traceback(
    sqlite_database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    # the demo's store (SQLite); the mixed notice batch on PostgreSQL: test_deadline_notices.py
    database = sqlite_database
    await seed_demo(database)
    assert await seed_cases(database, START, days=14, per_day=8) > 50
    rng = random.Random(13)
    sched = CallbackScheduler(database, SchedulerConfig(worker_id="week"),
                              leader=LeaseLeader(database, "week", timedelta(minutes=30)))
    caplog.set_level(logging.INFO)
    now = START
    summaries = 0
    while now < START + timedelta(days=7):
        await sched.run_steps(now)  # every interval job, guarded as under APScheduler
        local = now + timedelta(hours=8)
        if local.minute == 0 and 8 <= local.hour < 20:
            await _work_an_hour(database, rng, now)
        if local.hour == 0 and local.minute == 20:
            summaries += await sched.step_summary(now)
        now += timedelta(minutes=20)
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, "\n".join(f"{r.name}: {r.getMessage()}" for r in bad) + caplog.text[-4000:]
    assert summaries == 7
    async with database.session() as s:
        kinds = dict((await s.execute(select(Notification.kind, func.count()).group_by(Notification.kind))).all())
    # the week's notices: deadlines, signing, callbacks overdue (mixed batches), the daily summaries
    for kind in ("overdue", "callback_overdue", "daily_summary"):
        assert kinds.get(kind, 0) > 0, kinds
