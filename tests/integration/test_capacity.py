"""Capacity planning from the calls table (reports/capacity.py) on SQLite and PostgreSQL: a
simulated week whose truth is known, and the replayed real Asterisk load run."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from callcenter.store.db import Database
from reports import simweek
from reports.capacity import TZ, capacity, capacity_paragraph
from reports.erlang import erlang_b, lines_and_seats

WEEK = date(2026, 3, 2)  # a Monday
HOTLINE = simweek.Hotline(lines=10, seats=7, talk_s=200.0, patience_s=80.0, scale=1.25)


@pytest.fixture
async def week(database: Database) -> list[dict]:
    rows = list(simweek.simulate(datetime(WEEK.year, WEEK.month, WEEK.day, tzinfo=TZ), 7, HOTLINE, seed=2026))
    await simweek.load(database, iter(rows))
    return rows


async def test_traffic_of_a_simulated_week_is_counted_exactly(database: Database, week: list[dict]) -> None:
    plan = await capacity(database, WEEK, date(2026, 3, 8), lines=HOTLINE.lines)
    n = Counter(r["outcome"] for r in week)
    t = plan["totals"]
    assert (t["offered"], t["refused"], t["answered"], t["abandoned"]) == (
        len(week), n["refused"], n["answered"], n["abandoned"])
    assert t["within_15s"] == sum(1 for r in week if r["outcome"] == "answered" and r["wait_s"] <= 15)
    # every hour of the week is there, an hour's mean is its calls (one week: one occurrence)
    assert len(plan["hours"]) == 168
    monday_10 = [r for r in week if r["offered_at"].astimezone(TZ).weekday() == 0
                 and r["offered_at"].astimezone(TZ).hour == 10]
    cell = next(h for h in plan["hours"] if (h["weekday"], h["hour"]) == (0, 10))
    assert cell["offered"] == len(monday_10)
    assert sum(h["offered"] for h in plan["hours"]) == pytest.approx(len(week))
    # the estimates recover the simulation's parameters
    talks = [r["talk_s"] for r in week if r["outcome"] == "answered"]
    assert plan["rates"]["aht_s"] == pytest.approx(sum(talks) / len(talks), abs=0.01)
    assert plan["rates"]["patience_s"] == pytest.approx(HOTLINE.patience_s, rel=0.15)
    assert plan["rates"]["aht_s"] == pytest.approx(HOTLINE.talk_s, rel=0.1)


async def test_on_a_simulated_week_the_models_predict_what_happened(database: Database, week: list[dict]) -> None:
    plan = await capacity(database, WEEK, date(2026, 3, 8), lines=HOTLINE.lines)
    v = plan["validation"]
    refused, abandoned = v["refused"], v["abandoned"]
    assert refused["observed"] == plan["totals"]["refused"] >= 30
    # the data obey the models' assumptions: the period's totals agree within a third
    assert abs(refused["difference"]) <= 0.35 * refused["observed"], refused
    assert abs(abandoned["difference"]) <= 0.35 * abandoned["observed"], abandoned
    assert len(v["intervals"]) == sum(1 for h in plan["hours"] if h["offered"])
    # one interval, recomputed by hand: Erlang B with its own offered calls and holding time,
    # and the lines-and-seats chain with the seats that answered in it
    busiest = max(v["intervals"], key=lambda i: i["load_lines"])
    assert busiest["refused_pred_erlang_b"] == pytest.approx(
        busiest["offered"] * erlang_b(10, busiest["load_lines"]), rel=1e-3)
    m = lines_and_seats(10, busiest["seats"], busiest["offered"] / 3600, 1 / plan["rates"]["aht_s"],
                        1 / plan["rates"]["patience_s"])
    assert busiest["model"] == "lines_and_seats"
    assert busiest["refused_pred"] == pytest.approx(busiest["offered"] * m.refused, rel=1e-3)
    # Erlang B alone ignores that a waiting caller holds a line: its error is shown beside
    assert v["refused_erlang_b"]["observed"] == refused["observed"]
    # more lines, fewer refused calls; k = 0 is the validation's prediction
    more = plan["with_more_lines"]
    assert [m["lines"] for m in more] == [10, 11, 12, 13, 14, 15]
    assert more[0]["refused_pred"] == refused["predicted"]
    assert all(a["refused_pred"] > b["refused_pred"] for a, b in zip(more, more[1:], strict=False))
    # the staffing table: seats per hour grow with the traffic, quiet night hours need few
    cells = {(h["weekday"], h["hour"]): h for h in plan["hours"]}
    assert cells[(0, 10)]["seats_needed"] > cells[(0, 3)]["seats_needed"] >= 1
    assert cells[(0, 10)]["lines_needed"] > 10  # the morning peak is where calls were refused
    json.dumps(plan)  # the JSON carries it all


async def test_blocking_above_target_writes_the_annual_paragraph(database: Database, week: list[dict]) -> None:
    plan = await capacity(database, WEEK, date(2026, 3, 8), lines=HOTLINE.lines)
    if plan["totals"]["refused_rate"] > 0.01:
        text = capacity_paragraph(plan)
        assert text and f"{HOTLINE.lines}条线路全忙" in text and "条线路" in text
    relaxed = await capacity(database, WEEK, date(2026, 3, 8), lines=40)
    assert relaxed["with_more_lines"][0]["refused_pred"] < 0.5
    # the observed refusals are what they were; the target is about them
    from reports.capacity import Targets

    lenient = await capacity(database, WEEK, date(2026, 3, 8), lines=10, targets=Targets(refused=0.5))
    assert not lenient["blocking_exceeded"] and capacity_paragraph(lenient) is None


async def test_an_empty_period_gives_zeros_not_errors(database: Database) -> None:
    plan = await capacity(database, date(2025, 1, 6), date(2025, 1, 12), lines=10)
    assert plan["totals"]["offered"] == 0 and plan["totals"]["refused_rate"] is None
    assert all(h["offered"] == 0 and h["seats_needed"] == 0 for h in plan["hours"])
    assert plan["validation"]["refused"]["relative"] is None


async def test_bad_arguments_are_refused_with_the_field(database: Database) -> None:
    from callcenter.core.errors import Invalid

    with pytest.raises(Invalid) as e:
        await capacity(database, WEEK, WEEK, lines=0)
    assert e.value.field == "lines"
    with pytest.raises(Invalid) as e:
        await capacity(database, WEEK, WEEK, lines=10, interval_minutes=7)
    assert e.value.field == "interval"
    with pytest.raises(Invalid):
        await capacity(database, date(2026, 3, 8), WEEK, lines=10)


async def test_the_replayed_real_load_run_predicted_beside_observed(database: Database, tmp_path: Path) -> None:
    from tests.integration.test_telephony_adapter import replay_into

    await replay_into(database, "10_mini_load", tmp_path, drop_events=("OriginateResponse",))
    expected = json.loads((Path(__file__).parents[1] / "fixtures/ami/10_mini_load.expected.json").read_text())
    async with database.session() as s:
        from sqlalchemy import func, select

        from callcenter.store.models import Call

        first = (await s.execute(select(func.min(Call.offered_at)))).scalar_one()
    day = first.astimezone(TZ).date()
    for minutes in (60, 5):
        plan = await capacity(database, day, day, lines=10, interval_minutes=minutes)
        t = plan["totals"]
        inbound = expected["inbound"]
        assert (t["offered"], t["refused"], t["answered"], t["abandoned"]) == (
            inbound["offered"], inbound["refused_line_limit"], inbound["answered"], inbound["abandoned"])
        v = plan["validation"]
        assert v["refused"]["observed"] == 8 and v["abandoned"]["observed"] == 2
        # predicted beside observed, per interval, in the JSON
        assert sum(i["refused"] for i in v["intervals"]) == 8
        assert all(i["refused_pred"] is not None for i in v["intervals"])
        assert v["refused"]["predicted"] == pytest.approx(sum(i["refused_pred"] for i in v["intervals"]), abs=0.01)
        assert max(i["seats"] for i in v["intervals"]) == 5  # the five operators of the run
        json.dumps(plan)


async def test_the_annual_report_says_when_lines_were_too_few(database: Database) -> None:
    from reports.annual import annual_report
    from reports.render import render

    # a busy year's March week on 10 lines (the default setting): more than 1 % refused
    busy = simweek.Hotline(lines=10, seats=7, talk_s=200.0, patience_s=80.0, scale=1.6)
    rows = list(simweek.simulate(datetime(WEEK.year, WEEK.month, WEEK.day, tzinfo=TZ), 7, busy, seed=5))
    await simweek.load(database, iter(rows))
    refused = sum(1 for r in rows if r["outcome"] == "refused")
    assert refused / len(rows) > 0.01
    report = await annual_report(database, 2026)
    note = report["capacity_note"]
    assert note and f"占线未接入 {refused} 次" in note and "10条线路全忙" in note
    assert note in render(report, "html").decode() and note in render(report, "md").decode()


async def test_the_annual_report_is_silent_when_lines_sufficed(database: Database) -> None:
    from reports.annual import annual_report

    quiet = simweek.Hotline(lines=10, seats=7, talk_s=120.0, patience_s=80.0, scale=0.3)
    await simweek.load(database, simweek.simulate(datetime(2026, 3, 2, tzinfo=TZ), 7, quiet, seed=6))
    assert (await annual_report(database, 2026))["capacity_note"] is None


async def test_the_page_cache_sees_a_new_call_at_once(database: Database, week: list[dict]) -> None:
    from reports.capacity import cached_capacity

    first = await cached_capacity(database, WEEK, date(2026, 3, 8), 10, history=False)
    again = await cached_capacity(database, WEEK, date(2026, 3, 8), 10, history=False)
    assert again == first
    again["totals"]["offered"] = -1  # a copy: the cached plan is not changed by its reader
    extra = dict(week[0], linkedid="late-1", outcome="refused")
    extra.pop("seat", None)
    await simweek.load(database, iter([extra]))
    after = await cached_capacity(database, WEEK, date(2026, 3, 8), 10, history=False)
    assert after["totals"]["offered"] == first["totals"]["offered"] + 1
    assert after["totals"]["refused"] == first["totals"]["refused"] + 1
    # a call that changes (here: refused → abandoned, as a correction would) shows at once too
    from sqlalchemy import update

    from callcenter.store.models import Call, CallOutcome

    async with database.transaction() as s:
        await s.execute(update(Call).where(Call.linkedid == "late-1").values(
            outcome=CallOutcome.abandoned, wait_s=5.0, updated_at=datetime.now(UTC)))
    changed = await cached_capacity(database, WEEK, date(2026, 3, 8), 10, history=False)
    assert changed["totals"]["refused"] == first["totals"]["refused"]
    assert changed["totals"]["abandoned"] == first["totals"]["abandoned"] + 1
