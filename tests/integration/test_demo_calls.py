"""`hotline seed demo`'s call history (callcenter/entry/demo_calls.py) on SQLite and PostgreSQL:
the calls of an hour-of-week profile with refused and abandoned ones, nothing after `now`,
written once, the rollups rebuilt so the 容量规划 page reads them, and a plan with something in it."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from callcenter.entry import demo_calls
from callcenter.store.db import Database
from callcenter.store.models import Call, CallOutcome, ReportRollupState
from reports import traffic_rollup
from reports.capacity import TZ, capacity

NOW = datetime(2026, 3, 18, 6, 30, tzinfo=UTC)  # a Wednesday, 14:30 in Shanghai


async def test_demo_history_has_the_traffic_a_plan_needs(database: Database) -> None:
    n = await demo_calls.seed_calls(database, NOW, days=28)
    async with database.session() as s:
        rows = (await s.execute(select(Call.offered_at, Call.ended_at, Call.outcome, Call.updated_at, Call.acw_s,
                                       Call.talk_s))).all()
        marks = dict((await s.execute(select(ReportRollupState.name, ReportRollupState.watermark))).all())
    assert n == len(rows) > 10_000
    outcomes = Counter(r.outcome for r in rows)
    assert outcomes[CallOutcome.refused] > 0 and outcomes[CallOutcome.abandoned] > 0
    assert outcomes[CallOutcome.answered] > 0.8 * n
    assert all(r.ended_at <= NOW and r.updated_at == r.ended_at for r in rows)
    first = min(r.offered_at for r in rows).astimezone(TZ)
    assert first.date() == (NOW.astimezone(TZ) - timedelta(days=27)).date() and first.hour == 0
    # an hour-of-week profile: Monday 10:00 is the busiest, the small hours and Sunday quiet
    per = Counter((r.offered_at.astimezone(TZ).weekday(), r.offered_at.astimezone(TZ).hour) for r in rows)
    assert per[(0, 10)] > 1.5 * per[(6, 10)] > 0
    assert per[(0, 10)] > 10 * per[(0, 3)]
    refused_at = Counter(r.offered_at.astimezone(TZ).hour for r in rows if r.outcome == CallOutcome.refused)
    assert sum(refused_at[h] for h in range(8, 18)) == sum(refused_at.values())  # only when lines are busy
    # after-call work is recorded for answered calls (handling time = talk + ACW)
    assert all(r.acw_s is not None for r in rows if r.outcome == CallOutcome.answered)
    # the rollups are rebuilt: the hourly traffic is read from report_call_hours
    assert marks["call_hours"] is not None and marks["calls"] is not None
    lo = min(r.offered_at for r in rows).replace(minute=0, second=0, microsecond=0)
    hi = NOW.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    from_rollup = await traffic_rollup.traffic_rows(database, lo, hi)
    base = await traffic_rollup.traffic_rows(database, lo, hi, use_rollup=False)
    assert [(r["start"], r["offered"], r["refused"], r["abandoned"], r["acw_n"]) for r in from_rollup] == [
        (r["start"], r["offered"], r["refused"], r["abandoned"], r["acw_n"]) for r in base]
    assert sum(r["offered"] for r in base) == n
    # once only
    assert await demo_calls.seed_calls(database, NOW, days=28) == 0
    # the plan over the history has refused calls to explain and seats to staff
    plan = await capacity(database, first.date(), (NOW.astimezone(TZ) - timedelta(days=1)).date(), lines=10)
    assert plan["totals"]["refused"] > 0 and plan["totals"]["abandoned"] > 0
    assert plan["rates"]["acw_s"] is not None and plan["rates"]["acw_s"] > 10
    cells = {(h["weekday"], h["hour"]): h for h in plan["hours"]}
    assert cells[(0, 10)]["seats_needed"] > cells[(6, 3)]["seats_needed"]
    assert cells[(0, 10)]["blocking"] > max(cells[(d, 3)]["blocking"] for d in range(7))
    async with database.session() as s:
        assert (await s.execute(select(func.count()).select_from(Call))).scalar_one() == n
