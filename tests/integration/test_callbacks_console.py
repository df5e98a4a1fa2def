"""The console's 回访/回拨 work list and deadline notices (issue 5), httpx against the ASGI app
on SQLite and PostgreSQL: the list → 拨打 (a request row for the dialer) → the outcome → the
case's state; clerks see their department's notices only, supervisors the 督办 list."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from callbacks import deadlines
from callcenter.cases import services
from callcenter.core.settings import Settings
from callcenter.entry.app import create_app
from callcenter.people.auth import actor_of
from callcenter.store.db import Database
from callcenter.store.models import (
    Callback,
    CallbackKind,
    CallbackRequest,
    CallbackTaskStatus,
    Kind,
    Satisfaction,
    Status,
    User,
    utcnow,
)
from tests.console_people import seed_console_people, sign_in

PHONE = "13800138000"


@pytest.fixture
async def world(database: Database, tmp_path: Path) -> AsyncIterator[tuple[Any, Database, dict[str, Any]]]:
    db = database
    await seed_console_people(db)
    async with db.session() as s:
        people = {u.username: actor_of(u) for u in (await s.scalars(select(User))).all()}
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url), db=db)
    yield app, db, people


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://console.test")


async def resolved_case(db: Database, people: dict[str, Any], content: str = "小区路灯不亮",
                        **kw: Any) -> tuple[str, Callback]:
    lina, zhangwei = people["lina"], people["zhangwei"]
    now = utcnow()
    t = await services.register(db, lina, services.NewTicket(kind=Kind.complaint, category="物业管理", content=content,
                                                             caller_phone=PHONE, caller_name="赵先生", **kw),
                                now=now - timedelta(hours=3))
    await services.act(db, lina, t.number, "dispatch", None, {"department": "zjj"}, now - timedelta(hours=3))
    await services.act(db, zhangwei, t.number, "accept", None, {}, now - timedelta(hours=2))
    await services.act(db, zhangwei, t.number, "resolve", None, {"resolution": "已更换灯泡"}, now - timedelta(hours=1))
    async with db.session() as s:
        cb = (await s.scalars(select(Callback).where(Callback.ticket_id == t.id,
                                                     Callback.status == CallbackTaskStatus.pending))).one()
    return t.number, cb


async def get_cb(db: Database, cb_id: int) -> Callback:
    async with db.session() as s:
        cb = await s.get(Callback, cb_id)
    assert cb is not None
    return cb


async def test_work_list_call_and_outcomes_drive_the_case(world) -> None:  # type: ignore[no-untyped-def]
    app, db, people = world
    number, cb = await resolved_case(db, people)
    async with client(app) as c:
        s = await sign_in(c, "lina")
        html = (await c.get("/callbacks")).text
        assert number in html and "赵先生" in html and "138****8000" in html
        assert PHONE not in html  # the list shows the number masked
        assert f'action="/callbacks/{cb.id}/call"' in html and "满意" in html and "未接通" in html

        # 拨打: a request row for the telephony process's dialer, from lina's seat
        r = await c.post(f"/callbacks/{cb.id}/call", data={"csrf_token": s.csrf})
        assert r.status_code == 303
        async with db.session() as ses:
            req = (await ses.scalars(select(CallbackRequest).where(CallbackRequest.callback_id == cb.id))).one()
        assert req.status == "requested" and req.seat == "8001" and req.phone == PHONE and req.ticket_ref == number
        st = (await c.get(f"/callbacks/state?ids={cb.id}")).json()["rows"][str(cb.id)]
        assert st["state"] == "calling" and st["label"] == "呼叫中"
        # without the CSRF token: refused
        assert (await c.post(f"/callbacks/{cb.id}/call", data={})).status_code == 403

        # not reached: one attempt, the case stays resolved
        r = await c.post(f"/callbacks/{cb.id}/outcome", data={"csrf_token": s.csrf, "result": "not_reached"})
        assert r.status_code == 303
        got = await get_cb(db, cb.id)
        assert got.attempts == 1 and got.status is CallbackTaskStatus.pending
        assert "第 1 次" in (await c.get("/callbacks")).text

        # reached without a satisfaction: refused with a message, nothing recorded
        await c.post(f"/callbacks/{cb.id}/outcome", data={"csrf_token": s.csrf, "result": "reached", "words": "x"})
        html = (await c.get("/callbacks")).text
        assert "请选择市民的满意度" in html and (await get_cb(db, cb.id)).attempts == 1

        # 满意, solved → the case is closed
        r = await c.post(f"/callbacks/{cb.id}/outcome", data={
            "csrf_token": s.csrf, "result": "reached", "satisfaction": "satisfied", "words": "路灯亮了，谢谢",
            "solved": "1"})
        assert r.status_code == 303
    got = await get_cb(db, cb.id)
    assert got.status is CallbackTaskStatus.done and got.satisfaction is Satisfaction.satisfied and got.solved is True
    assert got.words == "路灯亮了，谢谢"
    t = await services.get(db, people["lina"], number)
    assert t.status is Status.closed
    async with db.session() as ses:
        req = (await ses.scalars(select(CallbackRequest).where(CallbackRequest.callback_id == cb.id))).one()
    assert req.status == "done"  # the open click-to-call is closed with the outcome


async def test_dissatisfied_reopens_and_missed_call_is_called_back(world) -> None:  # type: ignore[no-untyped-def]
    app, db, people = world
    number, cb = await resolved_case(db, people, "噪音扰民")
    now = utcnow()
    async with db.transaction() as ses:
        miss = Callback(kind=CallbackKind.missed, phone="15907311234", phone_norm="15907311234",
                        status=CallbackTaskStatus.pending, due_at=now - timedelta(minutes=5), attempts=0,
                        next_attempt_at=now - timedelta(minutes=65), idempotency_key="missed:test", created_at=now)
        ses.add(miss)
    async with client(app) as c:
        s = await sign_in(c, "lina")
        html = (await c.get("/callbacks")).text
        assert "回拨" in html and "159****1234" in html and "已回拨" in html
        # the overdue 回拨 comes first (ordered by due time) and is marked
        assert html.index(f'id="cb-{miss.id}"') < html.index(f'id="cb-{cb.id}"')
        assert 'class="cb-row overdue"' in html
        r = await c.post(f"/callbacks/{cb.id}/outcome", data={
            "csrf_token": s.csrf, "result": "reached", "satisfaction": "dissatisfied", "words": "还是很吵",
            "solved": "0"})
        assert r.status_code == 303
        assert (await services.get(db, people["lina"], number)).status is Status.reopened
        # a missed call's outcome is 已回拨 (reached)
        r = await c.post(f"/callbacks/{miss.id}/outcome", data={"csrf_token": s.csrf, "result": "reached",
                                                                 "words": "已说明情况"})
        assert r.status_code == 303
        got = await get_cb(db, miss.id)
        assert got.status is CallbackTaskStatus.done and got.attempts == 1
        html = (await c.get("/callbacks")).text
        assert f'id="cb-{miss.id}"' not in html and f'id="cb-{cb.id}"' not in html
        # a clerk has no work list
        async with client(app) as c2:
            await sign_in(c2, "zhangwei")
            assert (await c2.get("/callbacks")).status_code == 403


async def test_notices_by_role_and_the_badge(world) -> None:  # type: ignore[no-untyped-def]
    app, db, people = world
    lina = people["lina"]
    t = await services.register(db, lina, services.NewTicket(kind=Kind.complaint, category="物业管理",
                                                             content="电梯坏了", caller_phone=PHONE))
    t = await services.act(db, lina, t.number, "dispatch", None, {"department": "zjj"})
    assert t.due_at is not None
    # long past the deadline: overdue for the department, escalated (督办) for the supervisors
    assert await deadlines.check_deadlines(db, t.due_at + timedelta(days=30)) is True
    async with client(app) as c:
        await sign_in(c, "zhangwei")
        assert (await c.get("/notices/count")).json()["unread"] >= 1
        html = (await c.get("/notices")).text
        assert t.number in html and "已超期" in html and "本单位提醒" in html
        assert (await c.get("/notices/count")).json()["unread"] == 0  # opened: read
    async with client(app) as c:
        await sign_in(c, "wangfang")  # 城管局: none of 住建局's notices
        assert (await c.get("/notices/count")).json()["unread"] == 0
        assert t.number not in (await c.get("/notices")).text
    async with client(app) as c:
        await sign_in(c, "chenjing")
        html = (await c.get("/notices")).text
        assert "督办" in html and t.number in html and "超期五个工作日" in html
    async with client(app) as c:
        await sign_in(c, "admin")
        assert (await c.get("/notices")).status_code == 403
