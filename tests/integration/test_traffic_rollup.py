"""The hourly traffic rollup (reports/traffic_rollup.py) gives the traffic of the base table, on
SQLite and PostgreSQL: random calls of every outcome and direction, read before any refresh,
after a build, after calls changed or arrived since it (not yet refreshed) and after the
refresh that follows — always equal to the SQL aggregate over `calls` and to a count in Python."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from callcenter.store.db import Database
from callcenter.store.models import Call, CallDirection, CallOutcome, ReportCallHour
from reports import traffic_rollup as tr
from reports.capacity import capacity

START = datetime(2026, 2, 27, 16, 0, tzinfo=UTC)  # 2026-02-28 00:00 Asia/Shanghai
DAYS = 5
OUTCOMES_IN = [CallOutcome.answered] * 6 + [CallOutcome.abandoned] * 2 + [CallOutcome.refused, CallOutcome.in_progress]
OUTCOMES_OUT = [CallOutcome.callback_answered, CallOutcome.callback_unanswered, CallOutcome.callback_failed]


def _calls(rng: random.Random, n: int, tag: str) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        inbound = rng.random() < 0.85
        outcome = rng.choice(OUTCOMES_IN if inbound else OUTCOMES_OUT)
        at = START + timedelta(seconds=rng.uniform(0, DAYS * 86400))
        answered = outcome in (CallOutcome.answered, CallOutcome.callback_answered)
        row: dict[str, Any] = {
            "pbx": "t", "linkedid": f"{tag}-{i}", "direction": CallDirection.inbound if inbound else CallDirection.outbound,
            "outcome": outcome, "offered_at": at,
            "wait_s": None if outcome in (CallOutcome.refused, CallOutcome.in_progress) or rng.random() < 0.05
            else round(rng.expovariate(1 / 20), 3),
            "talk_s": round(rng.expovariate(1 / 180), 3) if answered and rng.random() < 0.95 else None,
            "acw_s": rng.randrange(0, 120) if answered and rng.random() < 0.7 else None,
            "seat": f"80{rng.randrange(1, 9):02d}" if answered else None,
        }
        out.append(row)
    return out


def _python_counts(rows: list[dict[str, Any]]) -> dict[datetime, dict[str, float]]:
    """The same figures counted in Python from the rows as written (an independent count)."""
    acc: dict[datetime, dict[str, float]] = {}
    for r in rows:
        h = r["offered_at"].replace(minute=0, second=0, microsecond=0)
        a = acc.setdefault(h, {"offered": 0, "refused": 0, "answered": 0, "acw_sum": 0.0, "talk_sum": 0.0,
                               "out_hold_sum": 0.0})
        if r["direction"] == CallDirection.outbound:
            a["out_hold_sum"] += (r["wait_s"] or 0.0) + (r["talk_s"] or 0.0)
            continue
        a["offered"] += 1
        a["refused"] += r["outcome"] == CallOutcome.refused
        if r["outcome"] == CallOutcome.answered:
            a["answered"] += 1
            a["acw_sum"] += r["acw_s"] or 0
            a["talk_sum"] += r["talk_s"] or 0.0
    return acc


def _same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> None:
    assert [r["start"] for r in a] == [r["start"] for r in b]
    for x, y in zip(a, b, strict=True):
        for f in tr.FIELDS:
            if f.endswith("_sum"):
                assert x[f] == pytest.approx(y[f], rel=1e-9, abs=1e-6), (x["start"], f)
            else:
                assert x[f] == y[f], (x["start"], f)


async def _base(db: Database, lo: datetime, hi: datetime) -> list[dict[str, Any]]:
    return await tr.traffic_rows(db, lo, hi, use_rollup=False)


async def test_rollup_traffic_equals_the_base_tables_on_random_calls(database: Database) -> None:
    rng = random.Random(19)
    rows = _calls(rng, 3000, "a")
    async with database.transaction() as s:
        await s.execute(insert(Call), rows)
    lo, hi = START, START + timedelta(days=DAYS)
    base = await _base(database, lo, hi)
    assert len(base) > 100
    # the SQL over the base table against a count in Python
    py = _python_counts(rows)
    assert [r["start"] for r in base] == sorted(py)
    for r in base:
        p = py[r["start"]]
        assert (r["offered"], r["refused"], r["answered"]) == (p["offered"], p["refused"], p["answered"])
        assert r["acw_sum"] == pytest.approx(p["acw_sum"]) and r["talk_sum"] == pytest.approx(p["talk_sum"])
        assert r["out_hold_sum"] == pytest.approx(p["out_hold_sum"])
    assert sum(r["acw_n"] for r in base) == sum(1 for c in rows if c["outcome"] == CallOutcome.answered
                                                and c["acw_s"] is not None and c["direction"] == CallDirection.inbound)

    # not built yet: the read counts the base table
    _same(await tr.traffic_rows(database, lo, hi), base)

    # built, with a watermark after every write so far
    now = datetime.now(UTC) + tr.LAG + timedelta(seconds=5)
    assert await tr.refresh(database, now)
    mark = now - tr.LAG
    async with database.session() as s:
        assert (await s.execute(select(func.count()).select_from(ReportCallHour))).scalar_one() == len(base)
    _same(await tr.traffic_rows(database, lo, hi), base)
    # a sub-period (whole hours of a day in Shanghai) too
    d_lo, d_hi = START + timedelta(days=1), START + timedelta(days=2)
    _same(await tr.traffic_rows(database, d_lo, d_hi), await _base(database, d_lo, d_hi))

    # the read really comes from the rollup: a tampered row of an unchanged hour shows
    first = tr._hour(base[0]["start"])
    async with database.transaction() as s:
        await s.execute(update(ReportCallHour).where(ReportCallHour.hour == first)
                        .values(offered=ReportCallHour.offered + 1000))
    got = await tr.traffic_rows(database, lo, hi)
    assert got[0]["offered"] == base[0]["offered"] + 1000
    assert await tr.refresh(database, now, rebuild=True)
    _same(await tr.traffic_rows(database, lo, hi), base)

    # calls change (in progress → answered with talk and after-call work, a late acw_s) and new
    # calls arrive after the watermark: the read counts their hours from `calls` at once
    later = mark + timedelta(seconds=30)
    async with database.transaction() as s:
        ids = (await s.execute(select(Call.id).where(Call.outcome == CallOutcome.in_progress)
                               .order_by(Call.id).limit(40))).scalars().all()
        await s.execute(update(Call).where(Call.id.in_(ids)).values(
            outcome=CallOutcome.answered, wait_s=4.0, talk_s=95.5, acw_s=33, seat="8009", updated_at=later))
        acw_ids = (await s.execute(select(Call.id).where(Call.outcome == CallOutcome.answered, Call.acw_s.is_(None))
                                   .order_by(Call.id).limit(25))).scalars().all()
        await s.execute(update(Call).where(Call.id.in_(acw_ids)).values(acw_s=61, updated_at=later))
        fresh = _calls(rng, 300, "b")
        await s.execute(insert(Call), [r | {"updated_at": later} for r in fresh])
    base2 = await _base(database, lo, hi)
    assert sum(r["offered"] for r in base2) > sum(r["offered"] for r in base)
    _same(await tr.traffic_rows(database, lo, hi), base2)
    # the next tick refreshes just those hours; the rollup alone then holds the same
    changed = await tr.refresh(database, later + tr.LAG + timedelta(seconds=1))
    assert changed
    _same(await tr.traffic_rows(database, lo, hi), base2)
    async with database.session() as s:
        held = (await s.execute(select(ReportCallHour).order_by(ReportCallHour.hour))).scalars().all()
    assert [datetime.fromtimestamp(h.hour * 3600, UTC) for h in held] == [r["start"] for r in base2]
    assert [h.acw_sum for h in held] == pytest.approx([r["acw_sum"] for r in base2])
    # nothing changed since: a tick recomputes nothing
    assert not await tr.refresh(database, later + tr.LAG + timedelta(seconds=2))


async def test_the_capacity_plan_is_the_same_from_the_rollup(database: Database) -> None:
    rows = _calls(random.Random(7), 2000, "c")
    async with database.transaction() as s:
        await s.execute(insert(Call), rows)
    d0, d1 = (START + timedelta(hours=8)).date(), (START + timedelta(days=DAYS - 1, hours=8)).date()
    before = await capacity(database, d0, d1, lines=10)
    await tr.refresh(database, datetime.now(UTC) + tr.LAG + timedelta(seconds=5))
    after = await capacity(database, d0, d1, lines=10)
    assert after["totals"] == before["totals"]
    assert after["hours"] == before["hours"]
    assert after["rates"] == before["rates"]
    # handling time is talk + after-call work (calls.acw_s)
    answered = [r for r in rows if r["direction"] == CallDirection.inbound and r["outcome"] == CallOutcome.answered]
    talk = [r["talk_s"] for r in answered if r["talk_s"] is not None]
    acw = [r["acw_s"] for r in answered if r["acw_s"] is not None]
    in_period = all(START <= r["offered_at"] < START + timedelta(days=DAYS) for r in rows)
    assert in_period
    assert after["rates"]["acw_s"] == pytest.approx(sum(acw) / len(acw), abs=0.01)
    assert after["rates"]["aht_s"] == pytest.approx(sum(talk) / len(talk) + sum(acw) / len(acw), abs=0.01)


async def test_the_schedulers_rollup_step_keeps_the_hourly_traffic(database: Database) -> None:
    from callbacks.scheduler import CallbackScheduler, SchedulerConfig

    rows = _calls(random.Random(3), 400, "s")
    async with database.transaction() as s:
        await s.execute(insert(Call), [r | {"updated_at": START} for r in rows])
    sched = CallbackScheduler(database, SchedulerConfig(worker_id="h19"))
    now = datetime.now(UTC)
    assert await sched.step_rollups(now)  # the first tick builds it
    lo, hi = START, START + timedelta(days=DAYS)
    base = await _base(database, lo, hi)
    async with database.session() as s:
        assert (await s.execute(select(func.count()).select_from(ReportCallHour))).scalar_one() == len(base)
    # a call arriving after the tick is in the next one's rollup
    late = _calls(random.Random(4), 1, "late")[0] | {"updated_at": now + timedelta(seconds=1)}
    async with database.transaction() as s:
        await s.execute(insert(Call), [late])
    assert await sched.step_rollups(now + tr.LAG + timedelta(seconds=2))
    hour = tr._hour(late["offered_at"])
    async with database.session() as s:
        row = (await s.execute(select(ReportCallHour).where(ReportCallHour.hour == hour))).scalar_one()
    live = {r["start"]: r for r in await _base(database, lo, hi)}
    assert row.offered == live[datetime.fromtimestamp(hour * 3600, UTC)]["offered"]
    assert row.out_hold_sum == pytest.approx(live[datetime.fromtimestamp(hour * 3600, UTC)]["out_hold_sum"])
