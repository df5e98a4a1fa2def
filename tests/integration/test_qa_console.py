"""质检 in the console (issue 18): who sees which inspection and hears which recording, each listen
in the audit, forms refused with what was typed kept (httpx against the ASGI app)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from callcenter.cases import services
from callcenter.core.settings import Settings
from callcenter.entry.app import create_app
from callcenter.people.auth import actor_of, add_user
from callcenter.qa import services as qa
from callcenter.store.db import Database
from callcenter.store.models import (
    AuditEntry,
    Kind,
    QaInspection,
    QaState,
    Recording,
    Role,
    TicketEvent,
    User,
)
from tests.console_people import PASSWORD, seed_console_people, sign_in
from tests.integration.test_console_authz import add_collected_recording


@pytest.fixture
async def world(sqlite_database: Database, tmp_path: Path) -> AsyncIterator[tuple[object, Database, dict[str, int]]]:
    db = sqlite_database
    await seed_console_people(db)
    await add_user(db, "zhaolei", Role.operator, display_name="赵磊", password=PASSWORD, seat="8002")
    async with db.session() as s:
        lina = (await s.execute(select(User).where(User.username == "lina"))).scalar_one()
        sup = (await s.execute(select(User).where(User.username == "chenjing"))).scalar_one()
    ids: dict[str, int] = {}
    store = tmp_path / "recordings"
    for name, confidential in (("plain", False), ("secret", True)):
        t = await services.register(db, actor_of(lina), services.NewTicket(
            kind=Kind.complaint, category="物业管理", content=f"{name} 电梯坏了", caller_phone="13800138000",
            confidential=confidential))
        rid = await add_collected_recording(db, store, t.number, lina.id)
        async with db.transaction() as s:
            rec = (await s.execute(select(Recording).where(Recording.id == rid))).scalar_one()
            i = QaInspection(call_id=rec.call_id, recording_id=rid, operator_id=lina.id, week=date(2026, 11, 23),
                             reason="sample", state=QaState.pending)
            s.add(i)
            await s.flush()
            ids[name] = i.id
    from callcenter.cases.workflow import SYSTEM

    await qa.create_checklist(db, SYSTEM, "话务质检表", "规范开头语 | 40\n准确记录诉求 | 60\n泄露举报人信息 | 致命")
    cl = await qa.checklist(db, None)
    assert cl is not None
    await qa.score(db, actor_of(sup), ids["secret"], {x.id for x in cl.items})
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url), db=db)
    yield app, db, ids


def client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://console.test")  # type: ignore[arg-type]


async def test_who_sees_and_hears_which_inspection(world) -> None:  # type: ignore[no-untyped-def]
    app, db, ids = world
    want = {  # (page of the pending plain one, page of the scored secret one, its recording)
        "chenjing": (200, 200, 200), "lina": (403, 200, 403), "zhaolei": (403, 403, 403),
        "zhangwei": (403, 403, 403), "admin": (403, 403, 403),
    }
    for username, (plain, secret, audio) in want.items():
        async with client(app) as c:
            await sign_in(c, username)
            assert (await c.get(f"/qa/{ids['plain']}")).status_code == plain, username
            r = await c.get(f"/qa/{ids['secret']}")
            assert r.status_code == secret, username
            if secret == 200:
                assert ('id="qa-audio"' in r.text) == (audio == 200), username
            assert (await c.get(f"/qa/{ids['secret']}/recording.wav")).status_code == audio, username
            home = await c.get("/qa")
            assert home.status_code == (403 if username == "zhangwei" else 200), username
            if username == "lina":  # her scored call, not the one still to score
                assert f'href="/qa/{ids["secret"]}"' in home.text and f'href="/qa/{ids["plain"]}"' not in home.text
            if username == "zhaolei":
                assert f'href="/qa/{ids["secret"]}"' not in home.text
            if username == "admin":
                assert 'id="qa-by-operator"' in home.text and 'href="/qa/' not in home.text.replace('href="/qa/checklists"', "")


async def test_a_play_is_a_listen_in_the_cases_trail(world) -> None:  # type: ignore[no-untyped-def]
    app, db, ids = world
    async with client(app) as c:
        await sign_in(c, "chenjing")
        page = await c.get(f"/qa/{ids['plain']}")
        assert '<audio controls preload="none"' in page.text
        r = await c.get(f"/qa/{ids['plain']}/recording.wav", headers={"Range": "bytes=0-"})
        assert r.status_code == 206 and r.content[:4] == b"RIFF"
        await c.get(f"/qa/{ids['plain']}/recording.wav", headers={"Range": "bytes=2000-"})  # a seek
    async with db.session() as s:
        rows = (await s.execute(select(TicketEvent.actor_name, TicketEvent.data).where(TicketEvent.action == "listen"))).all()
    assert [(n, d["role"]) for n, d in rows] == [("陈静", "supervisor")]


async def test_score_and_appeal_forms_keep_what_was_typed(world) -> None:  # type: ignore[no-untyped-def]
    app, db, ids = world
    iid = ids["plain"]
    async with client(app) as c:
        s = await sign_in(c, "chenjing")
        r = await c.post(f"/qa/{iid}/comment", data={"csrf_token": s.csrf, "at": "9:99", "text": "语速过快，需放慢"})
        assert r.status_code == 422 and "时间点" in r.text and 'value="语速过快，需放慢"' in r.text and 'value="9:99"' in r.text
        r = await c.post(f"/qa/{iid}/comment", data={"csrf_token": s.csrf, "at": "0:02", "text": "语速过快"})
        assert r.status_code == 303
        cl = await qa.checklist(db, None)
        assert cl is not None
        r = await c.post(f"/qa/{iid}/score", data={"csrf_token": s.csrf, "met": [str(x.id) for x in cl.items if x.weight == 60 or x.fatal]})
        assert r.status_code == 303
        page = await c.get(r.headers["location"])
        assert "已评分：60 分" in page.text and "0:02" in page.text
        r = await c.post(f"/qa/{iid}/score", data={"csrf_token": s.csrf})
        assert r.status_code == 303 and "不能再次评分" in (await c.get(r.headers["location"])).text
    async with client(app) as c:
        s = await sign_in(c, "lina")
        r = await c.post(f"/qa/{iid}/appeal", data={"csrf_token": s.csrf, "reason": "   "})
        assert r.status_code == 422 and "申诉理由" in r.text
        r = await c.post(f"/qa/{iid}/appeal", data={"csrf_token": s.csrf, "reason": "开头语已说，见 0:01"})
        assert r.status_code == 303
        r = await c.post(f"/qa/{iid}/appeal", data={"csrf_token": s.csrf, "reason": "再次申诉"})
        assert "只能申诉一次" in (await c.get(r.headers["location"])).text
    async with client(app) as c:
        s = await sign_in(c, "admin")
        r = await c.post("/qa/checklists", data={"csrf_token": s.csrf, "name": "新表", "items": "开头语 | 10\n态度 | 好"})
        assert r.status_code == 422 and "第 2 行" in r.text and "态度 | 好" in r.text and 'value="新表"' in r.text
    async with db.session() as ses:
        actions = (await ses.execute(select(AuditEntry.action).where(AuditEntry.target_type == "qa_inspection", AuditEntry.target_id == str(iid))
                                     .order_by(AuditEntry.id))).scalars().all()
    assert actions == ["qa.comment", "qa.score", "qa.appeal"]
