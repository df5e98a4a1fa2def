"""Quality inspection (质检, issue 18): checklists, the weekly sample (random per operator plus the
calls picked by rule), scoring with fatal items, comments at an offset, one appeal, the
decision, the figures per operator, team and month, and the monthly summary's export — on SQLite
and PostgreSQL."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.cases import services as cases
from callcenter.cases.workdays import TZ
from callcenter.cases.workflow import Actor
from callcenter.core.errors import Conflict, Forbidden, Invalid, NotFound
from callcenter.people.auth import actor_of, add_user
from callcenter.qa import services as qa
from callcenter.store.db import Database
from callcenter.store.models import (
    AuditEntry,
    Call,
    Callback,
    CallbackKind,
    CallbackTaskStatus,
    CallDirection,
    CallOutcome,
    Kind,
    QaInspection,
    QaState,
    Recording,
    RecordingState,
    Role,
    Satisfaction,
    SeatGroup,
)
from reports.annual import summary
from reports.quality import qa_figures
from reports.render import render
from telephony.simulator import write_tone_wav

WEEK = date(2026, 11, 16)  # a Monday
ITEMS = "规范开头语 | 10\n准确记录诉求 | 30\n告知办理时限 | 20\n服务态度 | 40\n泄露举报人信息 | 致命"


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=TZ).astimezone(UTC)


@dataclass
class World:
    db: Database
    store: Path
    lina: Actor
    zhaolei: Actor
    sup: Actor
    admin: Actor
    calls: dict[str, int] = field(default_factory=dict)  # name → call id
    answered: dict[int, list[str]] = field(default_factory=dict)  # operator → calls answered in November


async def add_call(w: World, name: str, op: Actor, when: datetime, talk_s: float, *, queue: str = "hotline",
                   recorded: bool = True, answered: bool = True) -> int:
    assert op.id is not None
    async with w.db.transaction() as s:
        c = Call(pbx="default", linkedid=f"qa-{name}", direction=CallDirection.inbound, caller_number="13800138000",
                 offered_at=when, answered_at=when if answered else None, ended_at=when + timedelta(seconds=talk_s),
                 outcome=CallOutcome.answered if answered else CallOutcome.abandoned,
                 operator_id=op.id if answered else None, talk_s=talk_s if answered else None, queue=queue,
                 updated_at=when)
        s.add(c)
        await s.flush()
        if recorded:
            f = w.store / f"{name}.wav"
            write_tone_wav(f, 1)
            s.add(Recording(pbx="default", linkedid=c.linkedid, call_id=c.id, state=RecordingState.collected,
                            path=f.name, size=f.stat().st_size, sha256="-", duration_s=talk_s, started_at=when,
                            collected_at=when, created_at=when))
        w.calls[name] = c.id
    if answered and when.astimezone(TZ).month == 11:
        w.answered.setdefault(op.id, []).append(name)
    return c.id


@pytest.fixture
async def world(database: Database, tmp_path: Path) -> World:
    db = database
    from callcenter.entry.seed import seed_reference

    await seed_reference(db)
    people = {u: actor_of(await add_user(db, u, r, display_name=n, seat=seat)) for u, r, n, seat in (
        ("lina", Role.operator, "李娜", "8001"), ("zhaolei", Role.operator, "赵磊", "8002"),
        ("chenjing", Role.supervisor, "陈静", None), ("admin", Role.admin, "管理员", None))}
    (tmp_path / "rec").mkdir()
    w = World(db, tmp_path / "rec", people["lina"], people["zhaolei"], people["chenjing"], people["admin"])
    async with db.transaction() as s:  # seat_groups are reference data (not emptied between tests)
        if (await s.execute(select(SeatGroup.id).where(SeatGroup.queue == "q2"))).first() is None:
            s.add(SeatGroup(queue="q2", name="二组"))
    # 李娜: six recorded calls in the week (one of 700 s), one without a recording, one abandoned
    # (no operator), one the week after
    for n in range(6):
        await add_call(w, f"lina{n}", w.lina, at(WEEK + timedelta(days=n), 9 + n), 700 if n == 2 else 120 + n)
    await add_call(w, "lina-unrecorded", w.lina, at(WEEK, 15), 200, recorded=False)
    await add_call(w, "abandoned", w.lina, at(WEEK, 16), 5, answered=False)
    await add_call(w, "lina-next-week", w.lina, at(WEEK + timedelta(days=7), 10), 900)
    # two earlier calls of hers whose cases come back this week: a 不满意 回访, a 催办
    for name in ("lina-unhappy", "lina-chased"):
        cid = await add_call(w, name, w.lina, at(WEEK - timedelta(days=6), 10), 150)
        t = await cases.register(db, w.lina, cases.NewTicket(kind=Kind.complaint, category="物业管理",
                                                              content=f"{name} 电梯坏了", caller_phone="13800138000",
                                                              call_id=cid), now=at(WEEK - timedelta(days=6), 10, 5))
        t = await cases.act(db, w.lina, t.number, "dispatch", None, {"department": "zjj"},
                            now=at(WEEK - timedelta(days=6), 10, 6))
        if name == "lina-chased":
            await cases.act(db, w.lina, t.number, "chase", None, {}, now=at(WEEK + timedelta(days=2), 11))
        else:
            async with db.transaction() as s:
                s.add(Callback(kind=CallbackKind.case, ticket_id=t.id, status=CallbackTaskStatus.done,
                               due_at=at(WEEK, 9), satisfaction=Satisfaction.dissatisfied,
                               completed_at=at(WEEK + timedelta(days=1), 14), created_at=at(WEEK, 9)))
    # 赵磊 of 二组: two recorded calls in the week
    for n in range(2):
        await add_call(w, f"zhao{n}", w.zhaolei, at(WEEK + timedelta(days=n), 10), 90, queue="q2")
    return w


async def inspections(db: Database) -> list[QaInspection]:
    async with db.session() as s:
        return list((await s.execute(select(QaInspection).order_by(QaInspection.id))).scalars().all())


def test_items_are_parsed_and_bad_lines_named() -> None:
    items = qa.parse_items(ITEMS)
    assert [(i.label, i.weight, i.fatal) for i in items][-1] == ("泄露举报人信息", 0, True)
    assert sum(i.weight for i in items) == 100
    for text, where in (("规范开头语 10", "第 1 行"), ("开头语 | 10\n态度 | 很好", "第 2 行"), ("开头 | 0", "第 1 行"),
                        ("泄露举报人信息 | 致命", "至少"), ("a | 10\na | 5", "重复")):
        with pytest.raises(Invalid) as e:
            qa.parse_items(text)
        assert where in e.value.message and e.value.field == "items"


async def test_the_weekly_sample_picks_by_rule_and_at_random(world: World) -> None:
    w = world
    res = await qa.sample(w.db, WEEK, size=3, long_s=600, rng=random.Random(7))
    got = {(i.call_id, i.reason) for i in await inspections(w.db)}
    ids = w.calls
    rules = {(ids["lina-unhappy"], "dissatisfied"), (ids["lina-chased"], "chase"), (ids["lina2"], "long")}
    assert rules <= got
    sampled = {c for c, r in got if r == "sample"}
    lina_week = {ids[f"lina{n}"] for n in range(6)} - {ids["lina2"]}
    zhao = {ids["zhao0"], ids["zhao1"]}
    assert len(sampled & lina_week) == 3 and zhao <= sampled and sampled <= lina_week | zhao
    never = {ids["lina-unrecorded"], ids["abandoned"], ids["lina-next-week"]}
    assert not {c for c, _ in got} & never
    assert res.total == len(got) == 8 and res.picked == {"sample": 5, "dissatisfied": 1, "chase": 1, "long": 1}
    # a rerun adds nothing; a bigger size tops each operator up (赵磊 has no more calls)
    assert (await qa.sample(w.db, WEEK, size=3, long_s=600)).total == 0
    more = await qa.sample(w.db, WEEK, size=4, long_s=600)
    assert more.picked == {"sample": 1, "dissatisfied": 0, "chase": 0, "long": 0}
    assert len({i.call_id for i in await inspections(w.db)}) == 9
    with pytest.raises(Invalid):
        await qa.sample(w.db, WEEK + timedelta(days=1), size=3, long_s=600)
    async with w.db.session() as s:
        logged = (await s.execute(select(AuditEntry.changes).where(AuditEntry.action == "qa.sample"))).scalars().all()
    assert logged == [{"sample": 5, "dissatisfied": 1, "chase": 1, "long": 1}, {"sample": 1}]


async def test_score_comment_appeal_decide(world: World) -> None:
    w = world
    await qa.sample(w.db, WEEK, size=1, long_s=600, rng=random.Random(1))
    with pytest.raises(Forbidden):
        await qa.create_checklist(w.db, w.sup, "表", ITEMS)
    with pytest.raises(Invalid) as e:
        await qa.create_checklist(w.db, w.admin, " ", ITEMS)
    assert e.value.field == "name"
    mine = [i for i in await inspections(w.db) if i.operator_id == w.lina.id]
    first, second = mine[0], mine[1]
    with pytest.raises(Conflict):  # no checklist yet
        await qa.score(w.db, w.sup, first.id, set())
    await qa.create_checklist(w.db, w.admin, "2026年话务质检表", ITEMS)
    cl = await qa.checklist(w.db, None)
    assert cl is not None and cl.total == 100
    by = {i.label: i.id for i in cl.items}
    # the operator does not see a call before it is scored, nor may score
    with pytest.raises(Forbidden):
        await qa.get(w.db, w.lina, first.id)
    with pytest.raises(Forbidden):
        await qa.score(w.db, w.lina, first.id, set())
    met = {by["规范开头语"], by["准确记录诉求"], by["服务态度"], by["泄露举报人信息"]}
    assert await qa.score(w.db, w.sup, first.id, met) == (80.0, False)
    with pytest.raises(Conflict):
        await qa.score(w.db, w.sup, first.id, met)
    # a fatal item not met: 0 whatever else
    assert await qa.score(w.db, w.sup, second.id, met - {by["泄露举报人信息"]}) == (0.0, True)
    await qa.comment(w.db, w.sup, first.id, "0:45", "未告知办理时限")
    for bad, fld in (("", "at"), ("1:75", "at"), ("abc", "at"), ("99:00", "at")):
        with pytest.raises(Invalid) as e:
            await qa.comment(w.db, w.sup, first.id, bad, "x")
        assert e.value.field == fld, bad
    v = await qa.get(w.db, w.lina, first.id)
    assert v.i.score == 80.0 and v.i.comments and v.i.comments[0]["at_s"] == 45.0
    # 赵磊 sees neither her inspection nor may appeal it
    with pytest.raises(Forbidden):
        await qa.get(w.db, w.zhaolei, first.id)
    with pytest.raises(Forbidden):
        await qa.appeal(w.db, w.zhaolei, first.id, "不是我")
    with pytest.raises(Invalid):
        await qa.appeal(w.db, w.lina, first.id, "  ")
    await qa.appeal(w.db, w.lina, first.id, "已在 1:10 告知办理时限")
    with pytest.raises(Conflict):
        await qa.appeal(w.db, w.lina, first.id, "再申诉一次")
    with pytest.raises(Invalid):
        await qa.decide(w.db, w.sup, first.id, True, "", met)
    await qa.decide(w.db, w.sup, first.id, True, "复听属实，改分", met | {by["告知办理时限"]})
    v = await qa.get(w.db, w.lina, first.id)
    assert (v.i.state, v.i.score, v.i.first_score, v.i.decision) == (QaState.final, 100.0, 80.0, "upheld")
    with pytest.raises(Conflict):
        await qa.appeal(w.db, w.lina, first.id, "again")
    await qa.appeal(w.db, w.lina, second.id, "没有泄露")
    await qa.decide(w.db, w.sup, second.id, False, "录音 0:30 处确有泄露")
    v = await qa.get(w.db, w.lina, second.id)
    assert (v.i.state, v.i.score, v.i.first_score, v.i.decision) == (QaState.final, 0.0, None, "rejected")
    with pytest.raises(NotFound):
        await qa.get(w.db, w.sup, 999999)
    async with w.db.session() as s:
        trail = (await s.execute(select(AuditEntry.action, AuditEntry.actor_name).where(
            AuditEntry.target_type == "qa_inspection", AuditEntry.target_id == str(first.id)).order_by(AuditEntry.id))).all()
    assert [tuple(r) for r in trail] == [("qa.score", "陈静"), ("qa.comment", "陈静"), ("qa.appeal", "李娜"),
                                         ("qa.decide", "陈静")]
    # the operator's own list: scored ones only
    assert {v.i.id for v in await qa.listing(w.db, w.lina)} == {first.id, second.id}
    assert await qa.listing(w.db, w.admin) == []


async def test_figures_per_operator_team_and_month_and_the_summary(world: World, tmp_path: Path) -> None:
    w = world
    await qa.sample(w.db, WEEK, size=2, long_s=600, rng=random.Random(3))
    await qa.create_checklist(w.db, w.admin, "表", ITEMS)
    cl = await qa.checklist(w.db, None)
    assert cl is not None
    every = {i.id for i in cl.items}
    fatal = next(i.id for i in cl.items if i.fatal)
    rows = await inspections(w.db)
    zhao = [i for i in rows if i.operator_id == w.zhaolei.id]
    lina = [i for i in rows if i.operator_id == w.lina.id]
    await qa.score(w.db, w.sup, zhao[0].id, every)  # 100
    await qa.score(w.db, w.sup, lina[0].id, every - {fatal})  # 0, fatal
    await qa.score(w.db, w.sup, lina[1].id, every - {next(i.id for i in cl.items if i.weight == 30)})  # 70
    f = await qa_figures(w.db, date(2026, 11, 1), date(2026, 11, 30))
    ops = {r["label"]: r for r in f["operators"]}
    assert w.lina.id is not None and w.zhaolei.id is not None
    assert ops["李娜"]["answered"] == len(w.answered[w.lina.id])
    assert ops["赵磊"]["answered"] == len(w.answered[w.zhaolei.id]) == 2
    assert (ops["李娜"]["inspected"], ops["李娜"]["average"], ops["李娜"]["fatal"]) == (2, 35.0, 1)
    assert ops["李娜"]["pending"] == len(lina) - 2
    assert (ops["赵磊"]["inspected"], ops["赵磊"]["average"], ops["赵磊"]["share"]) == (1, 100.0, 0.5)
    teams = {r["label"]: r for r in f["teams"]}
    assert set(teams) == {"hotline", "二组"} and teams["二组"]["inspected"] == 1
    assert [m["key"] for m in f["months"]] == ["2026-11"]
    assert f["total"]["inspected"] == 3 and f["total"]["average"] == round(170 / 3, 1) and f["total"]["fatal"] == 1
    # the monthly summary carries them: HTML, Markdown and the XLSX's sheet
    rep = await summary(w.db, date(2026, 11, 1), date(2026, 11, 30), label="2026年11月")
    assert rep["quality"]["total"] == f["total"]
    html = render(rep, "html").decode()
    assert "四、质检" in html and "赵磊" in html and "二组" in html
    assert "四、质检" in render(rep, "md").decode()
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(render(rep, "xlsx")))
    ws = wb["质检"]
    values = [[c.value for c in r] for r in ws.iter_rows()]
    assert ["话务员", "赵磊", 2, 1, 0.5, 100.0, 0, 0, 1] in values
    # a department's summary has no 质检 (it is the hotline's own work)
    rep = await summary(w.db, date(2026, 11, 1), date(2026, 11, 30), label="x", department_code="zjj")
    assert rep["quality"] is None and "四、质检" not in render(rep, "html").decode()


async def test_the_schedulers_weekly_step_samples_the_week_before(world: World) -> None:
    from callbacks.scheduler import CallbackScheduler, SchedulerConfig

    w = world
    monday_after = at(WEEK + timedelta(days=7), 1, 30)  # the cron's time: Monday 01:30 of the week after
    assert qa.last_week(monday_after) == WEEK
    assert qa.last_week(at(WEEK + timedelta(days=13), 23, 59)) == WEEK  # Sunday night: still that week's before
    off = CallbackScheduler(w.db, SchedulerConfig(worker_id="w"))
    assert not await off.step_qa_sample(monday_after) and await inspections(w.db) == []  # not configured
    sched = CallbackScheduler(w.db, SchedulerConfig(worker_id="w", qa_sample_size=1, qa_long_call_s=600))
    assert await sched.step_qa_sample(monday_after)
    got = await inspections(w.db)
    assert {i.week for i in got} == {WEEK}
    assert sorted(i.reason for i in got) == ["chase", "dissatisfied", "long", "sample", "sample"]
    assert not await sched.step_qa_sample(monday_after)  # a second run (a restart) adds nothing
