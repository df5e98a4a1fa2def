"""The knowledge base's management pages (issue 8, callcenter/kb/web.py): a clerk drafts
for their own department and submits, a supervisor publishes (then search finds it) or rejects
with a reason, a clerk of another department is refused (403), synonyms kept on a page change
what search finds, the scheduler's expiry reminder is written once however often it runs, a
resolved case is proposed as a draft, and the case page shows the entry and version that
answered it — httpx against the ASGI app, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from callbacks.scheduler import CallbackScheduler, SchedulerConfig
from callcenter.cases import services
from callcenter.cases.workdays import TZ
from callcenter.core.settings import Settings
from callcenter.entry.app import create_app
from callcenter.kb import services as kb
from callcenter.people.auth import actor_of
from callcenter.store.db import Database
from callcenter.store.models import KbEntry, KbEntryVersion, KbStatus, Kind, Notification, User
from tests.console_people import Session, seed_console_people, sign_in

ENTRY = {"code": "KB9001", "title": "蜂窝煤炉具报废补贴怎么申请", "phrasings": "蜂窝煤炉子换掉有没有补贴\n炉具报废补贴",
         "answer": "持身份证和炉具报废回执到所在街道便民服务中心申请，补贴每户三百元。",
         "category": "办理证照", "valid_from": "", "valid_until": "", "basis": "区政府2026年第3号通知"}


class World:
    def __init__(self, app: object, db: Database) -> None:
        self.app, self.db = app, db
        self._clients: list[httpx.AsyncClient] = []

    async def as_(self, username: str) -> Session:
        c = httpx.AsyncClient(transport=httpx.ASGITransport(self.app), base_url="http://console.test")  # type: ignore[arg-type]
        self._clients.append(c)
        return await sign_in(c, username)

    async def actor(self, username: str):  # type: ignore[no-untyped-def]
        async with self.db.session() as s:
            return actor_of((await s.execute(select(User).where(User.username == username))).scalar_one())

    async def close(self) -> None:
        for c in self._clients:
            await c.aclose()


@pytest.fixture
async def world(database: Database, tmp_path: Path) -> AsyncIterator[World]:
    await seed_console_people(database)
    kb_search_reset()
    w = World(create_app(Settings(data_dir=tmp_path, database_url=database.url), db=database), database)
    try:
        yield w
    finally:
        await w.close()


def kb_search_reset() -> None:
    from callcenter.kb import search as kb_search

    kb_search.forget_synonyms()
    kb_search.forget_term_stats()


async def post(s: Session, url: str, **data: str) -> httpx.Response:
    return await s.client.post(url, data={"csrf_token": s.csrf, **data})


async def flash_of(s: Session, r: httpx.Response) -> str:
    assert r.status_code == 303, (r.status_code, r.text[:400])
    page = (await s.client.get(r.headers["location"])).text
    m = re.search(r'<div class="flash[^"]*"[^>]*>([^<]*)</div>', page)
    return m.group(1) if m else ""


async def test_draft_review_publish_then_searchable(world: World) -> None:
    clerk, sup = await world.as_("zhangwei"), await world.as_("chenjing")
    assert "知识库条目" in (await clerk.client.get("/kb/entries")).text  # the nav and the page
    assert (await clerk.client.get("/kb/entries/new")).status_code == 200
    r = await post(clerk, "/kb/entries", **ENTRY, then="submit")
    assert "已保存草稿 KB9001，已提交审核" in await flash_of(clerk, r)
    assert all(h["id"] != "KB9001" for h in await kb.search(world.db, "蜂窝煤炉具报废补贴"))  # not yet published
    e = await kb.get(world.db, "KB9001")
    assert e.status is KbStatus.in_review and e.department_id == (await world.actor("zhangwei")).department_id

    listing = (await sup.client.get("/kb/entries", params={"status": "in_review"})).text
    assert 'data-code="KB9001"' in listing and "待审核" in listing
    page = (await sup.client.get("/kb/entries/KB9001")).text
    assert 'id="kb-publish"' in page and 'id="kb-reject"' in page and "蜂窝煤炉子换掉有没有补贴" in page
    r = await post(sup, "/kb/entries/KB9001/publish", version="1")
    assert "已发布第 1 版" in await flash_of(sup, r)
    hits = await kb.search(world.db, "蜂窝煤炉子报废有补贴吗")
    assert hits and hits[0]["id"] == "KB9001" and hits[0]["version"] == 1 and not hits[0]["expired"]
    listing = (await clerk.client.get("/kb/entries", params={"status": "published", "department": str(e.department_id)})).text
    assert 'data-code="KB9001"' in listing

    # a revision: a new draft version while version 1 stays searchable; the page shows the change
    r = await post(clerk, "/kb/entries/KB9001", **{**ENTRY, "answer": ENTRY["answer"].replace("三百", "五百")},
                   then="save", note="补贴标准调整")
    assert "已保存第 2 版草稿" in await flash_of(clerk, r)
    assert (await kb.search(world.db, "蜂窝煤炉子报废有补贴吗"))[0]["version"] == 1
    page = (await clerk.client.get("/kb/entries/KB9001")).text
    assert "<del>三</del><ins>五</ins>" in page and "补贴标准调整" in page and "提交审核" in page
    assert "/kb/entries/KB9001/publish" not in page  # a clerk never publishes
    assert (await post(clerk, "/kb/entries/KB9001/publish")).status_code == 403
    await post(clerk, "/kb/entries/KB9001/submit")
    await post(sup, "/kb/entries/KB9001/publish")
    hit = (await kb.search(world.db, "蜂窝煤炉子报废有补贴吗"))[0]
    assert hit["version"] == 2 and "五百元" in hit["answer"]

    # withdrawn: still found, marked expired
    r = await post(sup, "/kb/entries/KB9001/expire")
    assert "已失效" in await flash_of(sup, r)
    assert (await kb.search(world.db, "蜂窝煤炉子报废有补贴吗"))[0]["expired"] is True


async def test_a_clerk_of_another_department_is_refused(world: World) -> None:
    mine, other = await world.as_("zhangwei"), await world.as_("wangfang")
    await flash_of(mine, await post(mine, "/kb/entries", **ENTRY, then="save"))
    for url in ("/kb/entries/KB9001", "/kb/entries/KB9001/edit"):
        r = await other.client.get(url)
        assert r.status_code == 403 and "无权访问" in r.text, url
    assert 'data-code="KB9001"' not in (await other.client.get("/kb/entries")).text  # another's draft
    assert (await post(other, "/kb/entries/KB9001", title="改", answer="改")).status_code == 403
    assert (await post(other, "/kb/entries/KB9001/submit")).status_code == 403
    # published, the other department reads it but never edits it
    await kb.submit(world.db, await world.actor("zhangwei"), "KB9001")
    await kb.publish(world.db, await world.actor("chenjing"), "KB9001")
    page = (await other.client.get("/kb/entries/KB9001")).text
    assert "只能查看" in page and 'id="kb-edit-link"' not in page
    assert (await other.client.get("/kb/entries/KB9001/edit")).status_code == 403
    assert (await post(other, "/kb/entries/KB9001", title="改", answer="改")).status_code == 403
    # a clerk's new entry is always their own department's, whatever the form says
    await flash_of(other, await post(other, "/kb/entries", **{**ENTRY, "code": "KB9002"}, department="zjj"))
    assert (await kb.get(world.db, "KB9002")).department_id == (await world.actor("wangfang")).department_id
    async with world.db.session() as s:
        assert (await s.execute(select(func.count()).select_from(KbEntryVersion)
                                .where(KbEntryVersion.title == "改"))).scalar_one() == 0


async def test_reject_needs_and_shows_a_reason(world: World) -> None:
    clerk, sup = await world.as_("zhangwei"), await world.as_("chenjing")
    await flash_of(clerk, await post(clerk, "/kb/entries", **ENTRY, then="submit"))
    assert "请填写退回理由" in await flash_of(sup, await post(sup, "/kb/entries/KB9001/reject", reason=" "))
    assert (await kb.get(world.db, "KB9001")).status is KbStatus.in_review
    assert "已退回修改" in await flash_of(sup, await post(sup, "/kb/entries/KB9001/reject", reason="补贴标准请附文号"))
    e = await kb.get(world.db, "KB9001")
    assert e.status is KbStatus.draft and e.draft_version is None and e.version == 0
    page = (await clerk.client.get("/kb/entries/KB9001")).text
    assert "退回理由：补贴标准请附文号" in page and "已退回" in page
    assert all(h["id"] != "KB9001" for h in await kb.search(world.db, "蜂窝煤炉具报废补贴"))


async def test_synonyms_kept_on_the_page_widen_search(world: World) -> None:
    sup, clerk = await world.as_("chenjing"), await world.as_("zhangwei")
    assert (await clerk.client.get("/kb/synonyms")).status_code == 403
    await kb.create_draft(world.db, await world.actor("chenjing"), "KB9001",
                          kb.EntryFields(title=ENTRY["title"], answer=ENTRY["answer"], department="zjj"))
    await kb.publish(world.db, await world.actor("chenjing"), "KB9001")
    assert all(h["id"] != "KB9001" for h in await kb.search(world.db, "煤球炉子"))
    assert "两个" in await flash_of(sup, await post(sup, "/kb/synonyms", words="煤球"))
    assert "已添加同义词组" in await flash_of(sup, await post(sup, "/kb/synonyms", words="煤球，蜂窝煤", note="方言"))
    page = (await sup.client.get("/kb/synonyms")).text
    assert "煤球 / 蜂窝煤" in page
    hits = await kb.search(world.db, "煤球炉子")
    assert hits and hits[0]["id"] == "KB9001"
    gid = next(g["id"] for g in await kb.synonym_groups(world.db) if "煤球" in g["words"])
    assert "已删除同义词组" in await flash_of(sup, await post(sup, f"/kb/synonyms/{gid}/delete"))
    assert all(h["id"] != "KB9001" for h in await kb.search(world.db, "煤球炉子"))


async def test_expiry_reminder_is_written_once_and_shown_to_the_department(world: World) -> None:
    sup = await world.actor("chenjing")
    now = datetime.now(UTC)
    today = now.astimezone(TZ).date()
    until = today + timedelta(days=5)
    for code, dep, vu in (("KB9001", "zjj", until), ("KB9002", "cgj", until), ("KB9003", "zjj", today + timedelta(days=90))):
        await kb.create_draft(world.db, sup, code, kb.EntryFields(title=f"{code} 条目", answer="答复", department=dep,
                                                                  valid_until=vu))
        await kb.publish(world.db, sup, code)
    sched = CallbackScheduler(world.db, SchedulerConfig(worker_id="t1", kb_remind_days=30))
    assert await sched.step_kb(now) is True
    assert await sched.step_kb(now + timedelta(minutes=10)) is False  # a second run (or scheduler): nothing new
    other = CallbackScheduler(world.db, SchedulerConfig(worker_id="t2"))
    assert await other.step_kb(now) is False
    async with world.db.session() as s:
        rows = (await s.scalars(select(Notification).where(Notification.kind == "kb_expiring"))).all()
    assert sorted((n.data or {})["code"] for n in rows) == ["KB9001", "KB9002"]
    assert all(n.status == "open" and n.audience == "department" for n in rows)
    assert f"将于 {until.isoformat()} 到期" in rows[0].message

    clerk = await world.as_("zhangwei")
    page = (await clerk.client.get("/kb/entries")).text
    notices = page[page.index('id="kb-notices"'):page.index("</section>", page.index('id="kb-notices"'))]
    assert "KB9001" in notices and "KB9002" not in notices  # only the clerk's department
    listing = (await clerk.client.get("/kb/entries", params={"expiring": "30"})).text
    assert 'data-code="KB9001"' in listing and 'data-code="KB9003"' not in listing

    # past its end: the step expires it and closes its reminder
    later = datetime.combine(until + timedelta(days=1), time(9), TZ)
    await sched.step_kb(later)
    assert (await kb.get(world.db, "KB9001")).status is KbStatus.expired
    async with world.db.session() as s:
        assert (await s.execute(select(func.count()).select_from(Notification).where(
            Notification.kind == "kb_expiring", Notification.status == "open"))).scalar_one() == 0


async def test_case_page_shows_the_entry_used_and_a_resolved_case_is_proposed(world: World) -> None:
    lina, sup, zw = await world.actor("lina"), await world.actor("chenjing"), await world.actor("zhangwei")
    await kb.create_draft(world.db, sup, "KB9001", kb.EntryFields(title=ENTRY["title"], answer=ENTRY["answer"],
                                                                  department="zjj"))
    await kb.publish(world.db, sup, "KB9001")
    t = await services.register(world.db, lina, services.NewTicket(kind=Kind.consultation, category="办理证照",
                                                                   content="蜂窝煤炉子报废有补贴吗"))
    await kb.answer_case(world.db, lina, "KB9001", t.number, version=1)
    op = await world.as_("lina")
    page = (await op.client.get(f"/cases/{t.number}")).text
    assert f'data-src="/cases/{t.number}/kb"' in page and "kb-propose-link" not in page
    frag = (await op.client.get(f"/cases/{t.number}/kb")).text
    assert "<html" not in frag and 'data-code="KB9001"' in frag and "第 1 版" in frag
    # a newer version published later: the case still says which one answered it
    await kb.revise(world.db, sup, "KB9001", kb.EntryFields(title=ENTRY["title"], answer="新答复", department="zjj"))
    await kb.publish(world.db, sup, "KB9001")
    frag = (await op.client.get(f"/cases/{t.number}/kb")).text
    assert 'data-version="1"' in frag and "现行第 2 版" in frag

    # a resolved case of 住建局 → proposed by its clerk as a draft from its 处理情况
    t2 = await services.register(world.db, lina, services.NewTicket(kind=Kind.consultation, category="物业管理",
                                                                    content="小区加装电梯补贴怎么申请\n具体流程"))
    await services.act(world.db, lina, t2.number, "dispatch", None, {"department": "zjj"})
    await services.act(world.db, zw, t2.number, "accept", None, {})
    await services.act(world.db, zw, t2.number, "resolve", None, {"resolution": "经核实，加装电梯补贴向街道申请，每台补贴二十万元。"})
    clerk, other = await world.as_("zhangwei"), await world.as_("wangfang")
    assert "kb-propose-link" in (await clerk.client.get(f"/cases/{t2.number}")).text
    assert (await other.client.get(f"/kb/propose/{t2.number}")).status_code == 403
    assert (await post(other, f"/kb/propose/{t2.number}", code="KB9100")).status_code == 403
    form = (await clerk.client.get(f"/kb/propose/{t2.number}")).text
    assert "每台补贴二十万元" in form and 'value="小区加装电梯补贴怎么申请"' in form
    r = await post(clerk, f"/kb/propose/{t2.number}", code="KB9100", title="加装电梯补贴申请")
    assert r.status_code == 303 and r.headers["location"] == "/kb/entries/KB9100/edit"
    assert "每台补贴二十万元" in (await clerk.client.get("/kb/entries/KB9100/edit")).text
    e = await kb.get(world.db, "KB9100")
    assert e.status is KbStatus.draft and e.department_id == zw.department_id and e.title == "加装电梯补贴申请"
    # an open case is not proposed: a message, back to the case
    r = await clerk.client.get(f"/kb/propose/{t.number}")
    assert r.status_code in (303, 403)
    async with world.db.session() as s:
        assert (await s.execute(select(func.count()).select_from(KbEntry))).scalar_one() == 2

