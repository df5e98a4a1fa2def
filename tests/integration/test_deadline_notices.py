"""Deadline notices (督办) of every kind written in one tick, on SQLite and PostgreSQL: a batch
mixing case notices (with a department) and callback notices (without one) is one INSERT per key
shape — SQLAlchemy refuses a multi-row VALUES whose rows have different keys (issue 13)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from callbacks import service
from callbacks.deadlines import check_deadlines, open_notices
from callcenter.cases import services
from callcenter.store.db import Database
from callcenter.store.models import CallOutcome, Notification
from tests.integration.test_callbacks import People, add_call, cst, new_case, resolve, scheduler

ALL_KINDS = {"remind_1d", "remind_2h", "overdue", "escalated", "accept_overdue", "extension_waiting",
             "callback_overdue"}


@pytest.fixture
def people(personas):  # type: ignore[no-untyped-def]
    return People(personas)


async def _every_kind(db: Database, people: People) -> dict[str, str]:
    """A case (or callback) behind each notice kind as of Tuesday 17 March 2026, 16:00."""
    lina, zw = people.lina, people.zhangwei
    cases: dict[str, str] = {}
    # due Tuesday 17 March 17:30: one working day and two working hours ahead
    a = await new_case(db, people, cst(2026, 3, 10, 9, 0), content="楼道灯坏了一个月")
    await services.act(db, lina, a.number, "dispatch", None, {"department": "zjj"}, cst(2026, 3, 10, 9, 5))
    await services.act(db, zw, a.number, "accept", None, {}, cst(2026, 3, 10, 9, 30))
    cases["soon"] = a.number
    # due Monday 9 March: overdue and, five working days later, escalated to the supervisors
    b = await new_case(db, people, cst(2026, 3, 2, 9, 0), content="小区垃圾站臭气熏天")
    await services.act(db, lina, b.number, "dispatch", None, {"department": "zjj"}, cst(2026, 3, 2, 9, 5))
    await services.act(db, zw, b.number, "accept", None, {}, cst(2026, 3, 2, 9, 30))
    cases["late"] = b.number
    # dispatched this morning, never signed for (签收 within two working hours)
    c = await new_case(db, people, cst(2026, 3, 17, 8, 40), content="路灯不亮")
    await services.act(db, lina, c.number, "dispatch", None, {"department": "zjj"}, cst(2026, 3, 17, 9, 0))
    cases["unaccepted"] = c.number
    # an extension asked and waiting for a supervisor
    d = await new_case(db, people, cst(2026, 3, 12, 9, 0), content="老旧小区加装电梯")
    await services.act(db, lina, d.number, "dispatch", None, {"department": "zjj"}, cst(2026, 3, 12, 9, 5))
    await services.act(db, zw, d.number, "accept", None, {}, cst(2026, 3, 12, 9, 30))
    await services.act(db, zw, d.number, "request_extension", None,
                       {"until": cst(2026, 3, 26, 17, 30), "reason": "需协调供电部门"}, cst(2026, 3, 16, 10, 0))
    cases["extension"] = d.number
    # resolved on Thursday: its callback was due on Friday
    e = await new_case(db, people, cst(2026, 3, 11, 9, 0), content="噪音扰民")
    await resolve(db, people, e.number, cst(2026, 3, 12, 10, 0))
    cases["callback"] = e.number
    # a citizen who could not get through this morning: a 回拨 task due within a working hour
    await add_call(db, "13912345678", cst(2026, 3, 17, 9, 0), CallOutcome.abandoned)
    await service.sync_missed_calls(db, cst(2026, 3, 17, 9, 1))
    return cases


async def test_every_notice_kind_is_written_in_one_tick(database: Database, people: People,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    cases = await _every_kind(database, people)
    now = cst(2026, 3, 17, 16, 0)
    sched = scheduler(database, "s")
    with caplog.at_level(logging.WARNING):
        await sched.run_steps(now, ("deadlines",))  # guarded exactly as the APScheduler job
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], caplog.text

    async with database.session() as s:
        rows = (await s.scalars(select(Notification).order_by(Notification.id))).all()
    kinds = {n.kind for n in rows}
    assert kinds == ALL_KINDS, kinds
    by_number: dict[str, set[str]] = {}
    for n in rows:
        by_number.setdefault((n.data or {}).get("number", ""), set()).add(n.kind)
    assert by_number[cases["soon"]] == {"remind_1d", "remind_2h"}
    assert {"overdue", "escalated"} <= by_number[cases["late"]]
    assert "accept_overdue" in by_number[cases["unaccepted"]]
    assert "extension_waiting" in by_number[cases["extension"]]
    assert by_number[cases["callback"]] == {"callback_overdue"}
    # a case notice names the department, a callback notice the callback (no department)
    for n in rows:
        if n.kind == "callback_overdue":
            assert n.callback_id is not None and n.department_id is None and n.audience == "operator"
        else:
            assert n.ticket_id is not None and n.department_id is not None
    missed = [n for n in rows if n.kind == "callback_overdue" and n.ticket_id is None]
    assert len(missed) == 1 and "回拨" in missed[0].message

    # who sees what
    sup = {n.kind for n in await open_notices(database, audience="supervisor")}
    assert sup == {"escalated", "extension_waiting"}
    ops = await open_notices(database, audience="operator")
    assert len(ops) == 2
    # a second tick (another scheduler, or a restart) adds nothing
    assert await check_deadlines(database, now + timedelta(minutes=1), "other") is False
    async with database.session() as s:
        assert len((await s.scalars(select(Notification.id))).all()) == len(rows)
