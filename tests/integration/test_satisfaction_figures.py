"""满意率 / 最终满意率 / 重办率 / 催办 (DOMAIN.md "Figures") through the real workflow, counted by
hand, on SQLite and PostgreSQL; a reopened case's new deadline (重办) and its on-time judgement;
催办 notices to the department at once and to the supervisors at the second."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from callbacks.deadlines import open_notices
from callcenter.cases import services
from callcenter.core.errors import Conflict, Forbidden
from callcenter.store.db import Database
from callcenter.store.models import Notification, Status, TicketEvent
from reports.metrics import drill, metrics
from reports.rollup import refresh_rollups
from tests.integration.test_callbacks import People, cst, new_case, resolve

MARCH = (date(2026, 3, 1), date(2026, 3, 31))
NOW = cst(2026, 3, 20, 12, 0)


@pytest.fixture
def people(personas):  # type: ignore[no-untyped-def]
    return People(personas)


async def callback(db: Database, who: People, number: str, outcome: str, at) -> None:  # type: ignore[no-untyped-def]
    params = {"outcome": outcome}
    if outcome != "unreachable":
        params["words"] = "回访记录"
    await services.act(db, who.lina, number, "callback", None, params, at)


async def build(db: Database, p: People) -> dict[str, str]:
    n: dict[str, str] = {}
    # P1: 满意 at the first callback
    t = await new_case(db, p, cst(2026, 3, 2, 9, 0))
    await resolve(db, p, t.number, cst(2026, 3, 3, 10, 0))
    await callback(db, p, t.number, "satisfied", cst(2026, 3, 4, 10, 0))
    n["P1"] = t.number
    # P2: 不满意 → 重办 → resolved again (after the first deadline, before the new one) → 满意
    t = await new_case(db, p, cst(2026, 3, 2, 9, 0))
    await resolve(db, p, t.number, cst(2026, 3, 3, 10, 0))
    await callback(db, p, t.number, "dissatisfied", cst(2026, 3, 4, 10, 0))
    await services.act(db, p.zhangwei, t.number, "resolve", None, {"resolution": "重新处理完毕"}, cst(2026, 3, 10, 10, 0))
    await callback(db, p, t.number, "satisfied", cst(2026, 3, 11, 10, 0))
    n["P2"] = t.number
    # P3: 不满意 → 重办, still in work
    t = await new_case(db, p, cst(2026, 3, 2, 9, 0))
    await resolve(db, p, t.number, cst(2026, 3, 3, 10, 0))
    await callback(db, p, t.number, "dissatisfied", cst(2026, 3, 4, 10, 0))
    n["P3"] = t.number
    # P4: 基本满意
    t = await new_case(db, p, cst(2026, 3, 3, 9, 0))
    await resolve(db, p, t.number, cst(2026, 3, 4, 10, 0))
    await callback(db, p, t.number, "basically", cst(2026, 3, 5, 10, 0))
    n["P4"] = t.number
    # P5: the citizen could not be reached (closed, no answer to count)
    t = await new_case(db, p, cst(2026, 3, 3, 9, 0))
    await resolve(db, p, t.number, cst(2026, 3, 4, 10, 0))
    await callback(db, p, t.number, "unreachable", cst(2026, 3, 5, 10, 0))
    n["P5"] = t.number
    # P6: resolved, callback still to make
    t = await new_case(db, p, cst(2026, 3, 4, 9, 0))
    await resolve(db, p, t.number, cst(2026, 3, 5, 10, 0))
    n["P6"] = t.number
    # P7: in work, the citizen called again twice (催办); P8: registered, not dispatched, once
    t = await new_case(db, p, cst(2026, 3, 16, 9, 0), caller_phone="13900001111")
    await services.act(db, p.lina, t.number, "dispatch", None, {"department": "zjj"}, cst(2026, 3, 16, 9, 5))
    await services.act(db, p.lina, t.number, "chase", None, {"note": "市民称问题仍未处理"}, cst(2026, 3, 17, 9, 0))
    await services.act(db, p.lina, t.number, "chase", None, {}, cst(2026, 3, 18, 9, 0))
    n["P7"] = t.number
    t = await new_case(db, p, cst(2026, 3, 16, 10, 0), caller_phone="13900002222")
    await services.act(db, p.chenjing, t.number, "chase", None, {}, cst(2026, 3, 17, 10, 0))
    n["P8"] = t.number
    return n


async def test_satisfaction_reopening_and_chases_counted_by_hand(database: Database, people: People) -> None:
    n = await build(database, people)
    for use_rollups in (False, True):
        if use_rollups:
            await refresh_rollups(database, NOW, rebuild=True)
        c = (await metrics(database, *MARCH, now=NOW, use_rollups=use_rollups))["cases"]
        assert c["registered"] == 8
        assert c["resolved"] == 5  # P1 P2 P4 P5 P6 (P3 reopened, P7 P8 open)
        # 满意率: the first reached callback of P1 P2 P3 P4 — 满意 P1, 基本满意 P4; P2 P3 said 不满意
        assert (c["rated"], c["satisfied"], c["dissatisfied"]) == (4, 2, 2)
        assert c["satisfaction_rate"] == 2 / 4
        # 最终满意率: the latest reached callback — P2 is 满意 at last
        assert (c["final_rated"], c["final_satisfied"]) == (4, 3)
        assert c["final_satisfaction_rate"] == 3 / 4
        # 重办率: reopened P2 P3 over the resolved
        assert c["reopened"] == 2 and c["reopen_rate"] == 2 / 5
        # 催办量 and the cases chased
        assert (c["chases"], c["chased"]) == (3, 2)
        # 回访率 unchanged: reached P1 P2 P4 over required P1 P2 P4 P5 P6
        assert (c["callbacks_reached"], c["callbacks_required"]) == (3, 5)
        # P2 resolved again after its first deadline but before the new one: on time
        assert c["on_time"] == 5
    assert sorted(await drill(database, "satisfied", *MARCH, now=NOW)) == sorted([n["P1"], n["P4"]])
    assert sorted(await drill(database, "rated", *MARCH, now=NOW)) == sorted([n[k] for k in ("P1", "P2", "P3", "P4")])
    assert sorted(await drill(database, "final_satisfied", *MARCH, now=NOW)) == sorted([n[k] for k in ("P1", "P2", "P4")])
    assert sorted(await drill(database, "chases", *MARCH, now=NOW)) == sorted([n["P7"], n["P8"]])
    assert sorted(await drill(database, "chased", *MARCH, now=NOW)) == sorted([n["P7"], n["P8"]])


async def test_a_reopened_case_gets_a_new_deadline_from_its_reopening(database: Database, people: People) -> None:
    t = await new_case(database, people, cst(2026, 3, 2, 9, 0))
    assert t.due_at == cst(2026, 3, 9, 17, 30)
    await resolve(database, people, t.number, cst(2026, 3, 3, 10, 0))
    await callback(database, people, t.number, "dissatisfied", cst(2026, 3, 20, 10, 0))  # a Friday
    t = await services.get(database, people.lina, t.number)
    assert t.status is Status.reopened
    assert t.due_at == cst(2026, 3, 27, 17, 30)  # five working days from the reopening, not "超期 11 天"
    # resolved again late: judged by the new deadline
    await services.act(database, people.zhangwei, t.number, "resolve", None, {"resolution": "再次处理"},
                       cst(2026, 3, 30, 10, 0))
    c = (await metrics(database, *MARCH, now=cst(2026, 3, 31, 9, 0)))["cases"]
    assert (c["resolved"], c["on_time"], c["overdue_late"]) == (1, 0, 1)
    # a supervisor's reopening likewise
    t = await new_case(database, people, cst(2026, 3, 2, 9, 0), kind="suggestion")
    await resolve(database, people, t.number, cst(2026, 3, 3, 10, 0))
    t = await services.act(database, people.chenjing, t.number, "reopen", None, {"reason": "处理情况不完整"},
                           cst(2026, 3, 16, 9, 0))
    assert t.due_at == cst(2026, 4, 7, 17, 30)  # 建议意见: 15 working days, over Qingming (4–6 April)


async def test_a_chase_notifies_the_department_at_once_and_the_supervisor_at_the_second(
    database: Database, people: People
) -> None:
    t = await new_case(database, people, cst(2026, 3, 16, 9, 0))
    await services.act(database, people.lina, t.number, "dispatch", None, {"department": "zjj"}, cst(2026, 3, 16, 9, 5))
    t = await services.act(database, people.lina, t.number, "chase", None, {"note": "市民称没人联系"},
                           cst(2026, 3, 17, 9, 0))
    assert t.chase_count == 1
    dept = await open_notices(database, department_id=t.department_id)
    assert [x.kind for x in dept] == ["chase"] and "第 1 次" in dept[0].message
    assert await open_notices(database, audience="supervisor") == []
    await services.act(database, people.chenjing, t.number, "chase", None, {}, cst(2026, 3, 17, 15, 0))
    [sup] = await open_notices(database, audience="supervisor")
    assert sup.kind == "chase" and "2 次" in sup.message
    async with database.session() as s:
        ev = (await s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id, TicketEvent.action == "chase")
                              .order_by(TicketEvent.id))).all()
    assert [e.note for e in ev] == ["市民称没人联系", "市民来电催办"]
    # clerks may not chase; a closed case cannot be chased
    with pytest.raises(Forbidden):
        await services.act(database, people.zhangwei, t.number, "chase", None, {}, cst(2026, 3, 17, 16, 0))
    await services.act(database, people.zhangwei, t.number, "accept", None, {}, cst(2026, 3, 17, 16, 0))
    await services.act(database, people.zhangwei, t.number, "resolve", None, {"resolution": "已处理"},
                       cst(2026, 3, 18, 10, 0))
    with pytest.raises(Conflict):
        await services.act(database, people.lina, t.number, "chase", None, {}, cst(2026, 3, 18, 11, 0))
    async with database.session() as s:
        assert len((await s.scalars(select(Notification.id).where(Notification.kind == "chase"))).all()) == 3
