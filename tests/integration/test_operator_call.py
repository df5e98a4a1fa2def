"""The operator's call (issue 12) over HTTP, session + CSRF, on SQLite and PostgreSQL:

- a refused 来电登记 comes back with every field as typed and each problem beside its field,
  in Chinese; nothing registered;
- the same form key twice (a double click, back and submit again) → one case, the same number;
- a bad 并单 target refuses the whole submit;
- 直接答复 from a knowledge-base entry is validated like a registration (phone or 不需回访),
  and is a 政策咨询 unless the operator chose the kind;
- routing by place (属地): 物业管理 at 和平街道 → 和平街道办事处, with the rule that matched;
- drafts: saved, brought back on the next page, deleted once saved;
- an expired session / stale token: the form is kept (signed in) or the login leads back;
- the case number is read back grouped (GD 20261202 0005) after saving.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from callcenter.calls import drafts
from callcenter.calls.web import spoken_number
from callcenter.core.settings import Settings
from callcenter.entry.app import create_app
from callcenter.kb import services as kb
from callcenter.store.db import Database
from callcenter.store.models import FormDraft, Kind, Status, Ticket, utcnow
from tests.conftest import FIXTURES
from tests.console_people import Session, seed_console_people, sign_in

ENTRIES = FIXTURES / "samples" / "kb-entries.csv"
FORM = {"kind": "complaint", "category": "物业管理", "caller_phone": "13811112222", "caller_name": "刘先生",
        "address": "和平街道幸福小区3栋", "content": "小区电梯三天两头坏，物业拖着不修"}


@pytest.fixture
async def console(database: Database, tmp_path: Path) -> AsyncIterator[tuple[Session, Database, httpx.AsyncClient]]:
    await seed_console_people(database)
    await kb.import_file(database, ENTRIES)
    app = create_app(Settings(data_dir=tmp_path, database_url=database.url), db=database)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://console.test") as c:
        yield await sign_in(c, "lina"), database, c


async def count(db: Database, model: type = Ticket) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


def field_value(html: str, name: str) -> str:
    m = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html)
    return m.group(1) if m else ""


async def test_a_refused_form_keeps_every_field_and_says_why_in_chinese(console) -> None:  # type: ignore[no-untyped-def]
    s, db, _ = console
    form = {**FORM, "caller_phone": "abc", "category": "", "then": "dispatch", "form_key": "k-refused-1",
            "urgent": "1", "answer": "先记下"}
    r = await s.client.post("/operator/register", data={"csrf_token": s.csrf, **form})
    assert r.status_code == 422
    html = r.text
    assert "来电号码“abc”不是有效的电话号码" in html and "请选择问题分类" in html and "请选择承办单位" in html
    for name in ("caller_phone", "caller_name", "address", "form_key", "answer"):
        assert field_value(html, name) == form[name], name
    assert FORM["content"] in html and 'id="f-urgent" checked' in html
    assert "is not a phone number" not in html
    assert await count(db) == 0
    # the refused form is the operator's draft too: a reload brings it back
    html = (await s.client.get("/operator")).text
    assert field_value(html, "caller_phone") == "abc" and field_value(html, "form_key") == "k-refused-1"
    assert FORM["content"] in html and "已恢复草稿" in html


async def test_one_form_key_one_case(console) -> None:  # type: ignore[no-untyped-def]
    s, db, _ = console
    data = {"csrf_token": s.csrf, **FORM, "then": "save", "form_key": "k-once"}
    first = await s.client.post("/operator/register", data=data)
    again = await s.client.post("/operator/register", data=data)  # back, and submit again
    assert first.status_code == again.status_code == 303
    assert await count(db) == 1
    number = (await s.client.get("/operator")).text
    async with db.session() as ses:
        t = (await ses.scalars(select(Ticket))).one()
    assert "此来电已登记，未重复登记" in number and t.number in number
    # the number read back, grouped, with a copy button
    html = (await s.client.get("/operator")).text
    assert spoken_number(t.number) in html and 'id="copy-case"' in html and f'data-number="{t.number}"' in html
    assert re.fullmatch(r"GD \d{8} \d{4}", spoken_number(t.number))
    # a new form gets a new key
    assert field_value(html, "form_key") != "k-once"


async def test_a_bad_merge_target_refuses_the_whole_submit(console) -> None:  # type: ignore[no-untyped-def]
    s, db, _ = console
    r = await s.client.post("/operator/register", data={"csrf_token": s.csrf, **FORM, "then": "merge",
                                                         "into": "GD00000000-9999", "form_key": "k-merge"})
    assert r.status_code == 422 and "工单 GD00000000-9999 不存在" in r.text and "未登记" in r.text
    assert field_value(r.text, "into") == "GD00000000-9999"
    assert await count(db) == 0


async def test_kb_answer_is_validated_like_any_registration(console) -> None:  # type: ignore[no-untyped-def]
    s, db, _ = console
    base = {"csrf_token": s.csrf, "kb_entry": "KB0015:1", "kind": "complaint", "category": "",
            "caller_name": "刘先生", "content": "电梯坏了物业不修", "form_key": "k-kb"}
    r = await s.client.post("/console/kb/answer", data=base)  # no phone, no 不需回访
    assert r.status_code == 422 and "请填写来电号码，或勾选“不需回访”" in r.text
    assert await count(db) == 0
    r = await s.client.post("/console/kb/answer", data={**base, "content": "", "kb_q": ""})
    assert r.status_code == 422 and "请填写诉求内容" in r.text
    r = await s.client.post("/console/kb/answer", data={**base, "no_callback": "1"})
    assert r.status_code == 303
    async with db.session() as ses:
        t = (await ses.scalars(select(Ticket))).one()
    assert t.kind is Kind.consultation and t.status is Status.answered  # 政策咨询: kind not chosen
    r = await s.client.post("/console/kb/answer", data={**base, "caller_phone": "13811112222",
                                                        "kind_manual": "1", "form_key": "k-kb-2"})
    assert r.status_code == 303
    async with db.session() as ses:
        kinds = {x.kind for x in (await ses.scalars(select(Ticket))).all()}
    assert kinds == {Kind.consultation, Kind.complaint}


async def test_routing_by_place(console) -> None:  # type: ignore[no-untyped-def]
    s, db, _ = console
    r = await s.client.get("/operator/suggest", params={"category": "物业管理", "content": "电梯坏了物业不修",
                                                         "address": "和平街幸福小区3栋"})
    got = r.json()
    assert got["department"] == "和平街道办事处" and "属地 和平街道" in got["reason"], got
    r = await s.client.get("/operator/suggest", params={"category": "物业管理", "content": "电梯坏了物业不修",
                                                         "address": "步步高大道18号"})
    assert r.json()["department"] == "住房和城乡建设局" and "默认承办单位" in r.json()["reason"]
    # the registration records the same suggestion
    await s.client.post("/operator/register", data={"csrf_token": s.csrf, **FORM, "then": "save",
                                                    "form_key": "k-route"})
    ref = await db.ref()
    async with db.session() as ses:
        t = (await ses.scalars(select(Ticket))).one()
    assert ref.departments[t.suggested_department_id].name == "和平街道办事处"


async def test_the_hand_picked_department_is_the_one_dispatched(console) -> None:  # type: ignore[no-untyped-def]
    s, db, _ = console
    r = await s.client.post("/operator/register", data={"csrf_token": s.csrf, **FORM, "then": "dispatch",
                                                         "department": "cgj", "department_manual": "1",
                                                         "form_key": "k-pick"})
    assert r.status_code == 303
    ref = await db.ref()
    async with db.session() as ses:
        t = (await ses.scalars(select(Ticket))).one()
    assert ref.departments[t.department_id].code == "cgj"
    assert ref.departments[t.suggested_department_id].code == "hpjd"


async def test_drafts_are_saved_restored_and_dropped(console) -> None:  # type: ignore[no-untyped-def]
    s, db, _ = console
    r = await s.client.post("/operator/draft", data={**FORM, "form_key": "k-draft", "department": "hpjd"},
                            headers={"X-CSRF-Token": s.csrf})
    assert r.status_code == 200 and r.json()["form_key"] == "k-draft"
    html = (await s.client.get("/operator")).text  # a reload, a crashed tab, back
    assert field_value(html, "form_key") == "k-draft" and field_value(html, "address") == FORM["address"]
    assert FORM["content"] in html and 'value="hpjd" selected' in html
    r = await s.client.post("/operator/register", data={"csrf_token": s.csrf, **FORM, "then": "save",
                                                         "form_key": "k-draft"})
    assert r.status_code == 303 and await count(db, FormDraft) == 0
    # the scheduler drops drafts older than a day
    await drafts.save(db, 1, "old", {"content": "昨天的"})
    await drafts.save(db, 1, "new", {"content": "刚才的"})
    async with db.transaction() as ses:
        await ses.execute(update(FormDraft).where(FormDraft.form_key == "old")
                          .values(updated_at=utcnow() - timedelta(hours=25)))
    assert await drafts.purge(db) == 1
    async with db.session() as ses:
        assert [d.form_key for d in (await ses.scalars(select(FormDraft))).all()] == ["new"]


async def test_an_expired_session_keeps_the_form(console) -> None:  # type: ignore[no-untyped-def]
    s, db, c = console
    # a stale token while signed in: the form comes back as typed, with a fresh token
    r = await c.post("/operator/register", data={"csrf_token": "stale", **FORM, "then": "save", "form_key": "k-x"})
    assert r.status_code == 403 and "表单已失效" in r.text and "已保留填写内容" in r.text
    assert field_value(r.text, "caller_name") == FORM["caller_name"] and FORM["content"] in r.text
    assert await count(db) == 0
    # signed out (the session expired): to the login, then back to the 话务台 with the draft
    c.cookies.clear()
    r = await c.post("/operator/register", data={"csrf_token": "stale", **FORM, "then": "save", "form_key": "k-x"})
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/operator"
    s2 = await sign_in(c, "lina")
    html = (await s2.client.get("/operator")).text
    assert field_value(html, "form_key") == "k-x" and FORM["content"] in html
