"""The dispatcher's queues (待派, 退单待审核, 派单异议, 重办待派) and /cases filters, through the
console on SQLite and PostgreSQL (issue 13)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select, update

from callcenter.cases import queues, services
from callcenter.core.settings import Settings
from callcenter.entry.app import create_app
from callcenter.people.auth import actor_of
from callcenter.store.db import Database
from callcenter.store.models import SlaRule, Status, User
from tests.console_people import seed_console_people, sign_in
from tests.integration.test_callbacks import People, cst, new_case, resolve


class ConsolePeople(People):
    def __init__(self, users: dict[str, User]) -> None:  # the console's people (with passwords)
        self.lina, self.zhangwei, self.chenjing = (actor_of(users[u]) for u in ("lina", "zhangwei", "chenjing"))


@pytest.fixture
async def people(database: Database) -> People:
    await seed_console_people(database)
    async with database.session() as s:
        users = {u.username: u for u in (await s.scalars(select(User))).all()}
    return ConsolePeople(users)


@pytest.fixture
async def app(database: Database, people: People, tmp_path):  # type: ignore[no-untyped-def]
    return create_app(Settings(data_dir=tmp_path, database_url=database.url), db=database)


def client(app) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://console.test")


async def build(db: Database, p: People) -> dict[str, str]:
    n: dict[str, str] = {}
    a = await new_case(db, p, cst(2026, 3, 16, 9, 0), content="路灯不亮")  # 待派
    b = await new_case(db, p, cst(2026, 3, 16, 8, 0), content="井盖缺失")  # 待派, older
    n["a"], n["b"] = a.number, b.number
    c = await new_case(db, p, cst(2026, 3, 16, 10, 0), content="噪音扰民")  # returned once
    await services.act(db, p.lina, c.number, "dispatch", None, {"department": "zjj"}, cst(2026, 3, 16, 10, 5))
    await services.act(db, p.zhangwei, c.number, "return", None, {"reason": "属环保局职责"}, cst(2026, 3, 16, 11, 0))
    n["c"] = c.number
    d = await new_case(db, p, cst(2026, 3, 16, 10, 0), content="违章搭建")  # returned, refused, returned again
    await services.act(db, p.lina, d.number, "dispatch", None, {"department": "zjj"}, cst(2026, 3, 16, 10, 5))
    await services.act(db, p.zhangwei, d.number, "return", None, {"reason": "非本单位"}, cst(2026, 3, 16, 11, 0))
    await services.act(db, p.chenjing, d.number, "redispatch", None, {"note": "不同意退单：属住建职责"},
                       cst(2026, 3, 16, 12, 0))
    await services.act(db, p.zhangwei, d.number, "return", None, {"reason": "仍非本单位"}, cst(2026, 3, 16, 14, 0))
    n["d"] = d.number
    e = await new_case(db, p, cst(2026, 3, 2, 9, 0), kind="consultation", content="公积金提取")  # 重办待派
    await services.act(db, p.lina, e.number, "answer", None, {"answer": "已告知"}, cst(2026, 3, 2, 9, 5))
    await services.act(db, p.lina, e.number, "callback", None, {"outcome": "dissatisfied"}, cst(2026, 3, 3, 9, 0))
    n["e"] = e.number
    f = await new_case(db, p, cst(2026, 3, 2, 9, 0), content="电梯故障")  # reopened at a department: not here
    await resolve(db, p, f.number, cst(2026, 3, 3, 9, 0))
    await services.act(db, p.lina, f.number, "callback", None, {"outcome": "dissatisfied"}, cst(2026, 3, 4, 9, 0))
    n["f"] = f.number
    return n


async def test_each_queue_holds_its_cases_oldest_first(database: Database, people: People) -> None:
    n = await build(database, people)
    assert await queues.counts(database) == {"dispatch": 2, "returned": 1, "disputed": 1, "reopened": 1}
    items, total = await queues.queue(database, "dispatch")
    assert [i.ticket.number for i in items] == [n["b"], n["a"]] and total == 2
    # 待派: by the end of working hours of its registration day (Monday 16 March, 17:30 Beijing)
    assert items[0].due == datetime(2026, 3, 16, 9, 30, tzinfo=UTC)
    [ret] = (await queues.queue(database, "returned"))[0]
    assert ret.ticket.number == n["c"] and ret.returns == 1 and ret.return_reason == "属环保局职责"
    assert ret.entered_at == cst(2026, 3, 16, 11, 0) and ret.due == cst(2026, 3, 16, 17, 30)
    [dis] = (await queues.queue(database, "disputed"))[0]
    assert dis.ticket.number == n["d"] and dis.returns == 2
    [re] = (await queues.queue(database, "reopened"))[0]
    assert re.ticket.number == n["e"] and re.due == cst(2026, 3, 6, 17, 30)  # 政策咨询: 3 working days


async def test_the_dispatch_deadline_follows_the_rule_and_the_calendar(database: Database, people: People) -> None:
    p = people
    late = await new_case(database, p, cst(2026, 3, 20, 19, 0), content="路面塌陷")  # Friday evening
    lunch = await new_case(database, p, cst(2026, 3, 23, 12, 30), content="占道经营")  # Monday, lunch break
    holiday = await new_case(database, p, cst(2026, 10, 1, 10, 0), content="噪音扰民")  # 国庆 holiday
    due = {i.ticket.number: i.due for i in (await queues.queue(database, "dispatch"))[0]}
    assert due[late.number] == cst(2026, 3, 23, 17, 30)  # the next working day
    assert due[lunch.number] == cst(2026, 3, 23, 17, 30)  # the same working day
    assert due[holiday.number] == cst(2026, 10, 8, 17, 30)  # the first working day after 国庆 (1–7 October)
    # an admin gives one more working day: the countdown follows the rule
    await set_dispatch_days(database, 1)
    try:
        due = {i.ticket.number: i.due for i in (await queues.queue(database, "dispatch"))[0]}
        assert due[late.number] == cst(2026, 3, 24, 17, 30) and due[lunch.number] == cst(2026, 3, 24, 17, 30)
    finally:
        await set_dispatch_days(database, 0)  # the reference data outlives the test on PostgreSQL


async def set_dispatch_days(db: Database, n: int) -> None:
    async with db.transaction() as s:
        await s.execute(update(SlaRule).values(dispatch_working_days=n))
    db.refcache.invalidate()  # as the admin page's write does in its process


async def test_a_return_after_signing_or_past_the_window_is_a_dispatch_dispute(database: Database,
                                                                                people: People) -> None:
    p = people
    ok = await new_case(database, p, cst(2026, 3, 16, 9, 0), content="噪音扰民")
    await services.act(database, p.lina, ok.number, "dispatch", None, {"department": "zjj"}, cst(2026, 3, 16, 9, 5))
    # within the window (2 working days: to Wednesday 17:30), not signed for: an ordinary 退单
    await services.act(database, p.zhangwei, ok.number, "return", None, {"reason": "属环保局职责"},
                       cst(2026, 3, 18, 17, 0))
    signed = await new_case(database, p, cst(2026, 3, 16, 9, 0), content="违章搭建")
    await services.act(database, p.lina, signed.number, "dispatch", None, {"department": "zjj"},
                       cst(2026, 3, 16, 9, 5))
    await services.act(database, p.zhangwei, signed.number, "accept", None, {}, cst(2026, 3, 16, 10, 0))
    await services.act(database, p.zhangwei, signed.number, "return", None, {"reason": "经核实非本单位职责"},
                       cst(2026, 3, 16, 15, 0))
    late = await new_case(database, p, cst(2026, 3, 16, 9, 0), content="占道经营")
    await services.act(database, p.lina, late.number, "dispatch", None, {"department": "zjj"}, cst(2026, 3, 16, 9, 5))
    await services.act(database, p.zhangwei, late.number, "return", None, {"reason": "属城管职责"},
                       cst(2026, 3, 19, 9, 0))  # Thursday: past the window
    assert await queues.counts(database) == {"dispatch": 0, "returned": 1, "disputed": 2, "reopened": 0}
    assert [i.ticket.number for i in (await queues.queue(database, "returned"))[0]] == [ok.number]
    disputed = (await queues.queue(database, "disputed"))[0]
    assert [i.ticket.number for i in disputed] == [signed.number, late.number]  # oldest return first
    assert disputed[0].due == cst(2026, 3, 16, 17, 30) and disputed[1].due == cst(2026, 3, 19, 17, 30)
    assert [i.dispute for i in disputed] == ["签收后退单", "超过退单时限（2 个工作日）"]




async def test_the_queues_page_redispatches_and_refuses_a_return_with_its_reason(
    database: Database, people: People, app
) -> None:  # type: ignore[no-untyped-def]
    n = await build(database, people)
    async with client(app) as c:
        s = await sign_in(c, "chenjing")
        r = await c.get("/queues/count")
        assert r.json() == {"total": 5, "dispatch": 2, "returned": 1, "disputed": 1, "reopened": 1}
        page = (await c.get("/queues?q=returned")).text
        assert n["c"] in page and "属环保局职责" in page and n["a"] not in page
        # refusing without a reason: a clear message, nothing changed
        r = await c.post(f"/queues/{n['c']}/act", data={"csrf_token": s.csrf, "queue": "returned",
                                                         "decision": "refuse", "reason": " "})
        assert r.status_code == 400 and "不同意退单须填写理由" in r.text
        r = await c.post(f"/queues/{n['c']}/act", data={"csrf_token": s.csrf, "queue": "returned",
                                                         "decision": "refuse", "reason": "噪音源在小区内，属物业管理"})
        assert r.status_code == 303
        t = await services.get(database, people.lina, n["c"])
        assert t.status is Status.dispatched and t.department_id is not None
        ev = await services.events(database, people.chenjing, n["c"])
        assert ev[-1].action == "redispatch" and ev[-1].note == "不同意退单：噪音源在小区内，属物业管理"
        # re-dispatch the disputed one elsewhere; dispatch a waiting one
        r = await c.post(f"/queues/{n['d']}/act", data={"csrf_token": s.csrf, "queue": "disputed",
                                                         "decision": "redispatch", "department": "cgj"})
        assert r.status_code == 303
        assert (await services.get(database, people.lina, n["d"])).status is Status.dispatched
        r = await c.post(f"/queues/{n['b']}/act", data={"csrf_token": s.csrf, "queue": "dispatch",
                                                         "decision": "dispatch", "department": ""})
        assert r.status_code == 400 and "请选择承办单位" in r.text
        assert (await c.get("/queues/count")).json()["total"] == 3
        # a clerk has no queue
        c2 = client(app)
        await sign_in(c2, "zhangwei")
        assert (await c2.get("/queues")).status_code == 403
        await c2.aclose()


async def test_cases_are_filtered_by_status_kind_department_date_and_overdue(
    database: Database, people: People, app
) -> None:  # type: ignore[no-untyped-def]
    n = await build(database, people)
    async with client(app) as c:
        await sign_in(c, "lina")

        async def numbers(query: str) -> set[str]:
            r = await c.get("/cases?" + query)
            assert r.status_code == 200, r.text[:300]
            return {v for v in n.values() if f">{v}<" in r.text}

        assert await numbers("status=returned") == {n["c"], n["d"]}
        assert await numbers("kind=consultation") == {n["e"]}
        assert await numbers("department=zjj") == {n["c"], n["d"], n["f"]}
        assert await numbers("from=2026-03-16&to=2026-03-16") == {n["a"], n["b"], n["c"], n["d"]}
        assert await numbers("from=2026-03-01&to=2026-03-02") == {n["e"], n["f"]}
        # 超期: open past the deadline now (the 2 March cases' new 重办 deadlines passed long ago)
        assert {n["e"], n["f"]} <= await numbers("overdue=1")
        r = await c.get("/cases?from=2026-13-01&status=nonsense")
        assert r.status_code == 400 and "不是日期" in r.text and "状态“nonsense”不存在" in r.text
        assert 'value="2026-13-01"' in r.text  # what was typed stays
