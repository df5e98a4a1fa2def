"""The knowledge base in the operator's console (issue 8): GET /console/kb/suggest (an HTML
fragment of ranked entries, matches in <mark>, expired ones marked 已失效 without a button)
and POST /console/kb/answer (直接答复 with an entry: registers the 来电登记 form first when
the case is new, refuses expired or changed entries before registering anything) — session +
CSRF, on SQLite and PostgreSQL. Also the PostgreSQL candidate choice on term statistics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from callcenter.core.settings import Settings
from callcenter.entry.app import create_app
from callcenter.kb import search as kb_search
from callcenter.kb import services as kb
from callcenter.store.db import Database
from callcenter.store.models import KbEntry, KbUse, Status, Ticket
from tests.conftest import FIXTURES
from tests.console_people import Session, seed_console_people, sign_in

ENTRIES = FIXTURES / "samples" / "kb-entries.csv"
FORM = {"kind": "consultation", "category": "", "caller_phone": "13811112222", "caller_name": "刘先生",
        "content": "电梯三天两头坏 上个礼拜还关了人 物业拖着不修"}


@pytest.fixture
async def console(database: Database, tmp_path: Path) -> AsyncIterator[tuple[Session, Database]]:
    await seed_console_people(database)
    await kb.import_file(database, ENTRIES)
    app = create_app(Settings(data_dir=tmp_path, database_url=database.url), db=database)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://console.test") as c:
        yield await sign_in(c, "lina"), database


async def count(db: Database, model: type) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def test_suggestions_are_a_fragment_with_marks_and_expired_entries(console) -> None:  # type: ignore[no-untyped-def]
    s, _ = console
    r = await s.client.get("/console/kb/suggest", params={"q": "电梯坏了物业不修"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<html" not in r.text  # a fragment, not a page
    assert 'data-code="KB0015"' in r.text and "<mark>电梯</mark>" in r.text
    assert r.text.index('data-code="KB0015"') < r.text.index("</li>")  # ranked first
    assert 'value="KB0015:1"' in r.text and 'formaction="/console/kb/answer"' in r.text
    r = await s.client.get("/console/kb/suggest", params={"q": "拆迁拿现金买商品房的奖励"})
    li = r.text[r.text.index('data-code="KB0012"'):]
    li = li[: li.index("</li>")]
    assert "已失效" in li and "disabled" in li and "KB0012:" not in li
    r = await s.client.get("/console/kb/suggest", params={"q": "<script>alert(1)</script>"})
    assert "<script>alert" not in r.text
    assert "输入诉求内容" in (await s.client.get("/console/kb/suggest")).text


async def test_answer_registers_the_case_then_answers_it_with_the_entry(console) -> None:  # type: ignore[no-untyped-def]
    s, db = console
    r = await s.client.post("/console/kb/answer", data={"csrf_token": s.csrf, "kb_entry": "KB0015:1", **FORM})
    assert r.status_code == 303 and r.headers["location"] == "/operator"
    page = (await s.client.get("/operator")).text
    assert "已登记并直接答复（知识库 KB0015 第 1 版）" in page
    async with db.session() as ses:
        t = (await ses.execute(select(Ticket))).scalar_one()
        e = (await ses.execute(select(KbEntry).where(KbEntry.code == "KB0015"))).scalar_one()
        use = (await ses.execute(select(KbUse))).scalar_one()
    assert t.status is Status.answered and t.resolution == e.answer and t.content == FORM["content"]
    assert t.caller_name == "刘先生"
    assert (use.ticket_id, use.entry_id, use.version) == (t.id, e.id, e.version)
    assert await kb.direct_answer_counts(db) == [{"code": "KB0015", "title": e.title, "answered": 1}]


async def test_answer_refuses_expired_changed_or_unknown_entries_before_registering(console) -> None:  # type: ignore[no-untyped-def]
    s, db = console
    for entry, says in (("KB0012:1", "已失效"), ("KB0015:7", "已更新为第 1 版"), ("NOPE:1", "")):
        r = await s.client.post("/console/kb/answer", data={"csrf_token": s.csrf, "kb_entry": entry, **FORM})
        # refused with the form as typed (issue 12: nothing typed lost) and the reason beside it
        assert r.status_code in (404, 409) and says in r.text and "未答复" in r.text
        assert FORM["content"] in r.text and FORM["caller_phone"] in r.text
    assert await count(db, Ticket) == 0 and await count(db, KbUse) == 0
    # without the CSRF token: refused, nothing registered
    r = await s.client.post("/console/kb/answer", data={"kb_entry": "KB0015:1", **FORM})
    assert r.status_code == 403 and await count(db, Ticket) == 0


async def test_answer_an_already_registered_case(console) -> None:  # type: ignore[no-untyped-def]
    s, db = console
    r = await s.client.post("/operator/register", data={"csrf_token": s.csrf, "then": "save",
                                                        **FORM, "category": "物业管理"})
    assert r.status_code == 303
    async with db.session() as ses:
        number = (await ses.execute(select(Ticket.number))).scalar_one()
    r = await s.client.post("/console/kb/answer", data={"csrf_token": s.csrf, "kb_entry": "KB0015:1",
                                                        "number": number})
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{number}"
    async with db.session() as ses:
        t = (await ses.execute(select(Ticket))).scalar_one()
    assert t.status is Status.answered and await count(db, KbUse) == 1 and await count(db, Ticket) == 1


def test_candidates_are_chosen_by_the_rarest_words() -> None:
    """PostgreSQL: words in many entries do not choose candidates (they still rank them);
    two of them together do; words common in answers are not looked up there."""
    q = kb_search.parse("小区电梯坏了物业不修 申请维修资金")
    stats = kb_search.TermStats(rows=50_000, head={"小区": 0.2, "物业": 0.1, "申请": 0.3, "电梯": 0.01,
                                                   "维修": 0.05, "资金": 0.05},
                                head_floor=0.0005, body={"资金": 0.2}, body_floor=0.0005)
    rank, head, wide = kb_search._tsqueries(q, stats)
    assert all(f"'{t}'" in rank for t in ("小区", "物业", "申请", "电梯"))
    assert "'电梯'" in head and "'小区'" not in head and "'申请'" not in head and "'物业'" not in head
    assert "('维修' & '资金')" in head or "('资金' & '维修')" in head
    assert "资金" not in wide
    # no statistics (a new table): every word chooses
    rank2, head2, _ = kb_search._tsqueries(q, None)
    assert rank2 == head2 == rank


async def test_the_kb_page_shows_direct_answers_the_rate_and_entries_to_review(console) -> None:  # type: ignore[no-untyped-def]
    s, db = console
    from callcenter.cases.services import act
    from callcenter.people.auth import actor_of
    from callcenter.store.models import User

    r = await s.client.post("/console/kb/answer", data={"csrf_token": s.csrf, "kb_entry": "KB0015:1", **FORM})
    assert r.status_code == 303
    async with db.session() as ses:
        number = (await ses.execute(select(Ticket.number))).scalar_one()
        lina = (await ses.execute(select(User).where(User.username == "lina"))).scalar_one()
    await act(db, actor_of(lina), number, "callback", None, {"outcome": "dissatisfied"})
    assert (await s.client.get("/kb")).status_code == 403  # an operator: not this page
    async with httpx.AsyncClient(transport=s.client._transport, base_url="http://console.test") as c:
        sup = await sign_in(c, "chenjing")
        html = (await sup.client.get("/kb?period=year")).text
    row = html[html.index('id="kb-rate-today"'):]
    row = row[: row.index("</tr>")]
    assert "<td>1</td><td>1</td>" in row and "100.0%" in row  # 1 registered, 1 answered directly
    per = html[html.index('id="kb-per-entry"'):html.index('id="kb-flagged"')]
    assert 'data-code="KB0015"' in per and '<td class="n">1</td>' in per
    flagged = html[html.index('id="kb-flagged"'):html.index('id="kb-expiring"')]
    assert 'data-code="KB0015"' in flagged and "第 1 版" in flagged
