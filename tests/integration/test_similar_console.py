"""可能重复的工单 in the operator's console: GET /operator/similar (an HTML fragment of likely
duplicates, each with its reasons and a 并入此单 button that submits the 来电登记 form with
then=merge) and the merge it leads to through POST /operator/register — session + CSRF, on
SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from callcenter.cases import services
from callcenter.core.settings import Settings
from callcenter.entry.app import create_app
from callcenter.people.auth import actor_of
from callcenter.store.db import Database
from callcenter.store.models import Kind, Status, Ticket, User
from tests.console_people import Session, seed_console_people, sign_in

NOISE = "幸福小区旁边的工地晚上施工噪音很大，凌晨两点还在打桩，严重影响休息"
DRAFT = "幸福小区对面那个工地半夜还在打桩施工 吵得睡不着"


def item(html: str, number: str) -> str:
    """One candidate's <li class="sim-item"> (its reasons are <li>s too)."""
    i = html.index(f'data-number="{number}"')
    ends = [j for j in (html.find('<li class="sim-item', i), html.find("</ol>", i)) if j >= 0]
    return html[i:min(ends)]


@pytest.fixture
async def console(database: Database, tmp_path: Path) -> AsyncIterator[tuple[Session, Database, str, str]]:
    await seed_console_people(database)
    async with database.session() as s:
        lina = (await s.execute(select(User).where(User.username == "lina"))).scalar_one()
    open_case = await services.register(database, actor_of(lina), services.NewTicket(
        kind=Kind.complaint, category="环境保护", content=NOISE, caller_phone="13911112222", caller_name="周先生",
        address="和平街道幸福小区3栋"))
    report = await services.register(database, actor_of(lina), services.NewTicket(
        kind=Kind.report, category="城市管理", content="举报城管队员收受摊贩好处费<script>x</script>",
        caller_phone="13733334444", caller_name="钱女士"))
    app = create_app(Settings(data_dir=tmp_path, database_url=database.url), db=database)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://console.test") as c:
        yield await sign_in(c, "lina"), database, open_case.number, report.number


async def test_the_fragment_lists_candidates_with_reasons_and_a_merge_button(console) -> None:  # type: ignore[no-untyped-def]
    s, _, number, report = console
    r = await s.client.get("/operator/similar", params={"text": DRAFT, "category": "环境保护",
                                                        "address": "和平街道幸福小区5栋"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<html" not in r.text  # a fragment, not a page
    li = item(r.text, number)
    assert "内容相似 0." in li and "地址相近" in li and "同一问题分类" in li and "已登记" in li
    assert "周先生" in li and "139****2222" in li and "幸福小区旁边的工地" in li  # not confidential
    assert 'name="then" value="merge"' in li and f'data-into="{number}"' in li and 'form="register-form"' in li
    assert "并入此单" in li
    assert report not in r.text

    # a 干部举报 found by its content: number, category, status, time — nothing of who or what
    r = await s.client.get("/operator/similar", params={"text": "城管队员收好处费", "phone": "13733334444"})
    li = item(r.text, report)
    assert "保密件" in li and "城市管理" in li and "已登记" in li
    assert "钱女士" not in r.text and "4444" not in r.text and "好处费" not in r.text and "<script>x" not in r.text
    assert "来电号码" not in li

    assert "没有发现可能重复的工单" in (await s.client.get("/operator/similar", params={"text": "公积金怎么提取"})).text
    assert "填写来电号码" in (await s.client.get("/operator/similar")).text  # nothing typed yet
    r = await s.client.get("/operator/similar", params={"text": "<script>alert(1)</script>"})
    assert r.status_code == 200 and "<script>alert" not in r.text

    # bad input: a clear error saying what and where
    r = await s.client.get("/operator/similar", params={"text": DRAFT, "category": "没有这个分类"})
    assert r.status_code == 422 and "没有这个分类" in r.text and "category" in r.text
    r = await s.client.get("/operator/similar", params={"phone": "1" * 41})
    assert r.status_code == 422


async def test_merge_into_a_proposed_case_goes_through_the_registration(console) -> None:  # type: ignore[no-untyped-def]
    s, db, number, _ = console
    r = await s.client.post("/operator/register", data={
        "csrf_token": s.csrf, "kind": "complaint", "category": "环境保护", "content": DRAFT,
        "caller_phone": "13955556666", "address": "和平街道幸福小区5栋", "then": "merge", "into": number})
    assert r.status_code == 303
    page = (await s.client.get(r.headers["location"])).text
    assert f"已登记并并入 {number}" in page
    new = re.search(r"工单 (GD\d{8}-\d{4})", page).group(1)  # type: ignore[union-attr]
    async with db.session() as ses:
        rows = {t.number: t for t in (await ses.scalars(select(Ticket))).all()}
    assert rows[new].status is Status.merged and rows[new].merged_into_id == rows[number].id
    assert rows[number].status is Status.registered

    # the merged duplicate is never proposed; the case it joined still is
    r = await s.client.get("/operator/similar", params={"text": DRAFT, "category": "环境保护"})
    assert f'data-number="{number}"' in r.text and f'data-number="{new}"' not in r.text


async def test_only_the_operator_desk_may_ask(console, database: Database) -> None:  # type: ignore[no-untyped-def]
    s, *_ = console
    await s.client.post("/logout", data={"csrf_token": s.csrf})
    clerk = await sign_in(s.client, "zhangwei")
    r = await clerk.client.get("/operator/similar", params={"text": DRAFT})
    assert r.status_code == 403 and "幸福小区" not in r.text
