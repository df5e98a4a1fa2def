"""The supervisor wall's figures (callcenter.floor.agents.WallFigures, callcenter.floor.wall) on SQLite and
PostgreSQL: each department's rates equal metrics() for that department, counted from the base
table and from the rollups (tests/unit/test_rollup.py checks every breakdown's keys on random
data, clean and changed days mixed); today's figures are fresh on every answer, this month's and
this year's are served from the cache and refreshed in the background."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from callcenter.floor.agents import WallFigures
from callcenter.floor.wall import key_rates
from callcenter.store.db import Database
from callcenter.store.models import Kind, Status, Ticket
from reports.metrics import metrics
from reports.rollup import refresh_rollups
from tests.unit.test_metrics import build_cases, cst

NOW = cst(2025, 11, 2, 12)  # "today" is 2 November 2025: L was registered this morning, K yesterday


PERIODS = ((date(2025, 1, 1), date(2025, 12, 31)), (date(2025, 6, 1), date(2025, 6, 30)),
           (date(2024, 1, 1), date(2026, 12, 31)), (date(2025, 11, 2), date(2025, 11, 2)))


async def _check_against_metrics(database: Database, use_rollups: bool) -> None:
    for lo, hi in PERIODS:
        got = (await key_rates(database, lo, hi, NOW, use_rollups=use_rollups))["department_rates"]
        for code, name in (("zjj", "住房和城乡建设局"), ("cgj", "城市管理局")):
            c = (await metrics(database, lo, hi, department_code=code, now=NOW))["cases"]
            if not c["registered"]:
                assert name not in got
                continue
            d = got[name]
            for k in ("registered", "resolved", "completion_rate", "on_time_rate", "callback_rate",
                      "satisfaction_rate", "overdue"):
                assert d[k] == c[k], (lo, hi, code, k, use_rollups)


async def test_department_rates_equal_metrics_per_department(database: Database) -> None:
    await build_cases(database)
    assert (await key_rates(database, *PERIODS[0], NOW))["department_rates"]
    await _check_against_metrics(database, use_rollups=False)
    await refresh_rollups(database, NOW)
    await _check_against_metrics(database, use_rollups=True)


async def test_month_and_year_are_served_from_the_cache_and_refreshed_behind(database: Database) -> None:
    await build_cases(database)
    w = WallFigures()
    f0 = await w.get(database, now=NOW)
    assert (f0["today"]["cases"]["registered"], f0["month"]["cases"]["registered"]) == (1, 2)
    assert f0["year"]["department_rates"]["住房和城乡建设局"]["registered"] == 3  # I, J, K (to today)
    year0 = f0["year"]["cases"]["registered"]
    cat = (await database.ref()).categories_by_name["物业管理"].id
    async with database.transaction() as s:
        s.add(Ticket(number="M", kind=Kind.complaint, category_id=cat, content="…", status=Status.registered,
                     registered_at=cst(2025, 11, 2, 11)))
    gate = asyncio.Event()
    compute = w._compute

    async def slow_behind(db, name, lo, hi, now):  # type: ignore[no-untyped-def]
        if name not in w.SYNC:
            await gate.wait()
        return await compute(db, name, lo, hi, now)

    w._compute = slow_behind  # type: ignore[method-assign]
    w.min_interval = dict.fromkeys(w.min_interval, 0.0)
    w.mark_dirty()
    f1 = await w.get(database, now=NOW)
    assert f1["today"]["cases"]["registered"] == 2  # recomputed before answering
    assert f1["month"]["cases"]["registered"] == 2  # the cached figure: the wall does not wait
    assert set(w._bg) == {"month", "year", "dep:month", "dep:year"}
    generation, woken = w.generation, asyncio.create_task(w.landed())
    await asyncio.sleep(0.05)
    assert not woken.done()  # nothing landed yet: the walls keep what they show
    gate.set()
    await asyncio.gather(*w._bg.values())
    await asyncio.wait_for(woken, 1)  # the walls are told at once
    assert w.generation == generation + 4
    f2 = await w.get(database, now=NOW)
    assert (f2["month"]["cases"]["registered"], f2["year"]["cases"]["registered"]) == (3, year0 + 1)


async def test_a_failing_background_refresh_keeps_the_cached_figures(sqlite_database: Database) -> None:
    await build_cases(sqlite_database)
    w = WallFigures()
    f0 = await w.get(sqlite_database, now=NOW)

    async def broken(db, name, lo, hi, now):  # type: ignore[no-untyped-def]
        raise RuntimeError("database away")

    w._compute = broken  # type: ignore[method-assign]
    w.min_interval = dict.fromkeys(w.min_interval, 0.0)
    w.mark_dirty()
    with pytest.raises(RuntimeError):
        await w.get(sqlite_database, now=NOW)  # today is computed before answering: the error shows
    await asyncio.gather(*w._bg.values())
    assert w._cache["year"][2]["cases"] == f0["year"]["cases"]
    assert w._dirty["year"]  # tried again at the next wall
