"""The per-day rollups (reports/rollup.py) give exactly the base tables' figures.

Random cases and calls around a year boundary, on SQLite and PostgreSQL: metrics() from the
rollups (with the days changed since the watermark counted live) against metrics() from the
base tables alone, before and after changes, refreshes and a rebuild.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, select, update

from callcenter.store.db import Database
from callcenter.store.models import (
    Call,
    CallbackResult,
    CallDirection,
    CallOutcome,
    Category,
    Department,
    Kind,
    ReportCallDay,
    ReportCaseDay,
    ReportCaseGroupDay,
    ReportRollupState,
    Satisfaction,
    Status,
    Ticket,
)
from reports import rollup
from reports.metrics import GROUPS, _scope, metrics
from reports.rollup import counts_from_rollups, key_counts, refresh_rollups

CST = timezone(timedelta(hours=8))
REAL_NOW = datetime.now(UTC)
OLD = REAL_NOW - timedelta(hours=2)  # updated_at of the rows the first refresh takes in
PERIODS = [
    (date(2025, 1, 1), date(2025, 12, 31)),
    (date(2024, 12, 31), date(2024, 12, 31)),
    (date(2025, 1, 1), date(2025, 1, 1)),
    (date(2024, 12, 1), date(2025, 1, 31)),
    (date(2025, 6, 1), date(2025, 6, 30)),
]


async def empty_rollups(db: Database) -> None:
    async with db.transaction() as s:
        for t in (ReportCaseDay, ReportCaseGroupDay, ReportCallDay, ReportRollupState):
            await s.execute(delete(t))


@pytest.fixture(autouse=True)
async def _empty_rollups(database: Database) -> AsyncIterator[None]:
    # conftest truncates its own tables between tests, not these (PostgreSQL keeps them): left
    # behind, they would serve another test's metrics() with this test's figures
    await empty_rollups(database)
    yield
    await empty_rollups(database)


def _moment(rng: random.Random) -> datetime:
    days = [date(2024, 12, 30), date(2024, 12, 31), date(2025, 1, 1), date(2025, 1, 2), date(2025, 6, 15),
            date(2025, 12, 31), date(2026, 1, 1)]
    d = rng.choice(days)
    # the first and last seconds of the day in Shanghai are the edge cases
    sec = rng.choice([0, 1, 86399, rng.randrange(86400), rng.randrange(86400)])
    return datetime(d.year, d.month, d.day, tzinfo=CST) + timedelta(seconds=sec)


async def build(db: Database, seed: int, n_cases: int = 300, n_calls: int = 300) -> None:
    rng = random.Random(seed)
    async with db.transaction() as s:
        depts = [Department(code=f"d{i}", name=f"部门{i}") for i in range(4)]
        s.add_all(depts)
        await s.flush()
        cats = [Category(name=f"分类{i}", default_department_id=depts[i % 4].id) for i in range(5)]
        s.add_all(cats)
        await s.flush()
        for i in range(n_cases):
            reg = _moment(rng)
            status = rng.choice(list(Status))
            resolved = reg + timedelta(days=rng.randrange(0, 20)) if rng.random() < 0.7 else None
            due = reg + timedelta(days=rng.randrange(1, 12)) if rng.random() < 0.8 else None
            s.add(Ticket(
                number=f"R{seed}-{i}", kind=rng.choice(list(Kind)), category_id=rng.choice(cats).id, content="…",
                status=status, registered_at=reg, department_id=rng.choice([None, *(d.id for d in depts)]),
                ever_dispatched=rng.random() < 0.5, resolved_at=resolved, due_at=due,
                callback_result=rng.choice([None, *CallbackResult]), satisfaction=rng.choice([None, *Satisfaction]),
                solved=rng.choice([None, True, False]), reopen_count=rng.choice([0, 0, 1, 2]),
                area=rng.choice([None, "", "天河区", "越秀区"]), source=rng.choice(["phone", "web", "import"]),
                updated_at=OLD,
            ))
        for i in range(n_calls):
            at = _moment(rng)
            direction = rng.choice(list(CallDirection))
            outcome = rng.choice(list(CallOutcome))
            wait = rng.choice([None, 0.5, 3.25, 15.0, 15.5, 40.125])
            talk = rng.choice([None, 1.5, 60.0, 333.75])
            s.add(Call(
                linkedid=f"L{seed}-{i}", direction=direction, outcome=outcome, offered_at=at,
                answered_at=at + timedelta(seconds=5) if rng.random() < 0.6 else None,
                ended_at=at + timedelta(seconds=90) if rng.random() < 0.7 else None,
                wait_s=wait, talk_s=talk, line=rng.choice([None, 1, 2, 3, 7, 10]), updated_at=OLD,
            ))


def _strip_floats(m: dict) -> tuple[dict, dict]:
    calls = dict(m["calls"] or {})
    floats = {k: calls.pop(k) for k in ("avg_wait_s", "avg_talk_s")}
    return {**m, "calls": calls}, floats


async def assert_same(db: Database, now: datetime, *, expect_rollups: bool = True) -> None:
    for d0, d1 in PERIODS:
        if expect_rollups:  # the rollup path is really the one taken
            async with db.session() as s:
                assert await counts_from_rollups(s, _scope(d0, d1, now, None), d0, d1) is not None
        fast = await metrics(db, d0, d1, now=now)
        base = await metrics(db, d0, d1, now=now, use_rollups=False)
        await assert_same_keys(db, now, d0, d1)
        (f, ff), (b, bf) = _strip_floats(fast), _strip_floats(base)
        assert f == b, (d0, d1)
        for k in ff:
            assert (ff[k] is None) == (bf[k] is None), (d0, d1, k)
            if bf[k] is not None:
                assert ff[k] == pytest.approx(bf[k], rel=1e-12), (d0, d1, k)


async def assert_same_keys(db: Database, now: datetime, d0: date, d1: date) -> None:
    """Each breakdown key's counts (the wall's rates) from the rollups equal the base table's, and
    a department's equal metrics() for that department (an independent query)."""
    sc = _scope(d0, d1, now, None)
    async with db.session() as s:
        fast = await key_counts(s, sc, d0, d1, tuple(GROUPS))
    async with db.session() as s:
        base = await key_counts(s, sc, d0, d1, tuple(GROUPS), use_rollups=False)
        depts = (await s.execute(select(Department.id, Department.code))).all()
    assert fast == base, (d0, d1)
    for dep_id, code in depts:
        c = (await metrics(db, d0, d1, department_code=code, now=now))["cases"]
        got = fast["by_department"].get(dep_id, {})
        for k in ("registered", "resolved", "on_time", "callbacks_required", "callbacks_reached", "satisfied",
                  "overdue_open", "overdue_late"):
            assert got.get(k, 0) == c[k], (d0, d1, code, k)


@pytest.mark.parametrize("seed", [1, 2])
async def test_rollups_give_the_base_figures_exactly(database: Database, seed: int) -> None:
    await build(database, seed)
    assert await refresh_rollups(database, REAL_NOW) is True
    for now in (REAL_NOW, datetime(2025, 1, 5, tzinfo=UTC), datetime(2025, 1, 1, 3, tzinfo=UTC)):
        await assert_same(database, now)
    # nothing changed since: the next tick recomputes nothing
    assert await refresh_rollups(database, REAL_NOW) is False

    # changes after the refresh are counted live from the base tables until the next tick
    rng = random.Random(seed + 100)
    async with database.transaction() as s:
        ids = list((await s.execute(select(Ticket.id))).scalars())
        for tid in rng.sample(ids, 40):
            await s.execute(update(Ticket).where(Ticket.id == tid).values(
                status=rng.choice(list(Status)), callback_result=rng.choice([None, *CallbackResult]),
                satisfaction=rng.choice([None, *Satisfaction]), department_id=None, updated_at=REAL_NOW,
                version=Ticket.version + 1))
        cids = list((await s.execute(select(Call.id))).scalars())
        for cid in rng.sample(cids, 40):
            await s.execute(update(Call).where(Call.id == cid).values(
                outcome=rng.choice(list(CallOutcome)), wait_s=rng.choice([None, 2.0, 99.0]), updated_at=REAL_NOW))
        s.add(Ticket(number=f"N{seed}", kind=Kind.praise, category_id=(await s.execute(
            select(Category.id).limit(1))).scalar_one(), content="…", status=Status.registered,
            registered_at=datetime(2025, 6, 15, 12, tzinfo=CST), updated_at=REAL_NOW))
    await assert_same(database, REAL_NOW)
    # the tick takes them in; the figures do not move
    later = REAL_NOW + timedelta(minutes=10)
    assert await refresh_rollups(database, later) is True
    await assert_same(database, later)
    # a category renamed after the refresh shows under its new name
    async with database.transaction() as s:
        await s.execute(update(Category).where(Category.name == "分类1").values(name="分类一"))
    await assert_same(database, later)
    # a rebuild gives the same
    assert await refresh_rollups(database, later, rebuild=True) is True
    await assert_same(database, later)


async def test_without_a_refresh_metrics_counts_the_base_tables(database: Database) -> None:
    await build(database, 3, 50, 50)
    d0, d1 = PERIODS[0]
    async with database.session() as s:
        assert await counts_from_rollups(s, _scope(d0, d1, REAL_NOW, None), d0, d1) is None
    m = await metrics(database, d0, d1, now=REAL_NOW)
    assert m == await metrics(database, d0, d1, now=REAL_NOW, use_rollups=False)


async def test_too_many_changed_days_fall_back_to_the_base_tables(database: Database, monkeypatch) -> None:
    await build(database, 4, 80, 80)
    await refresh_rollups(database, REAL_NOW)
    async with database.transaction() as s:
        await s.execute(update(Ticket).values(updated_at=REAL_NOW))
    monkeypatch.setattr(rollup, "MAX_LIVE_DAYS", 2)
    d0, d1 = PERIODS[3]
    async with database.session() as s:
        assert await counts_from_rollups(s, _scope(d0, d1, REAL_NOW, None), d0, d1) is None
    await assert_same(database, REAL_NOW, expect_rollups=False)


async def test_two_ticks_at_once_count_nothing_twice(database: Database) -> None:
    import asyncio

    await build(database, 5, 120, 120)
    await asyncio.gather(refresh_rollups(database, REAL_NOW), refresh_rollups(database, REAL_NOW))
    await assert_same(database, REAL_NOW)
    await asyncio.gather(*(refresh_rollups(database, REAL_NOW, rebuild=True) for _ in range(3)))
    await assert_same(database, REAL_NOW)
