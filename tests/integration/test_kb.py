"""Knowledge base: review workflow, versions, expiry, import validation, export, the JSON
endpoints (search, answer a case directly), feedback, the CLI — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from callcenter.cases.services import NewTicket, act, register
from callcenter.cases.workflow import Actor
from callcenter.core.errors import Conflict, Forbidden
from callcenter.core.settings import Settings
from callcenter.entry.app import create_app
from callcenter.kb import services as kb
from callcenter.kb.api import router
from callcenter.store.db import Database
from callcenter.store.models import KbUse, Satisfaction, Ticket
from tests.conftest import FIXTURES, Personas

ENTRIES = FIXTURES / "samples" / "kb-entries.csv"
ROOT = Path(__file__).resolve().parents[2]


def actor(p: object) -> Actor:
    return Actor(id=p.id, name=p.display_name, role=p.role, department_id=p.department_id)  # type: ignore[attr-defined]


async def test_review_workflow_and_versions(database: Database, personas: Personas) -> None:
    zw, wf, cj = actor(personas.zhangwei), actor(personas.wangfang), actor(personas.chenjing)
    f = kb.EntryFields(title="小区电梯停运找谁？", answer="先找物业，物业不修拨打住建局电话。",
                       phrasings=["电梯坏了没人修", "电梯停了找哪个"], category="物业管理")
    e = await kb.create_draft(database, zw, "T001", f)
    assert e.status.value == "draft" and e.department_id == personas.zhangwei.department_id  # type: ignore[attr-defined]
    with pytest.raises(Forbidden):  # another department's clerk
        await kb.revise(database, wf, "T001", f)
    with pytest.raises(Forbidden):
        await kb.create_draft(database, wf, "T002", kb.EntryFields(**{**f.__dict__, "department": "zjj"}))
    assert await kb.search(database, "电梯坏了") == []  # drafts are not offered
    await kb.submit(database, zw, "T001")
    with pytest.raises(Forbidden):  # clerks draft, supervisors publish
        await kb.publish(database, zw, "T001")
    e = await kb.publish(database, cj, "T001")
    assert (e.status.value, e.version) == ("published", 1)
    hits = await kb.search(database, "电梯坏了没人修")
    assert hits[0]["id"] == "T001" and hits[0]["version"] == 1 and not hits[0]["expired"]
    assert "<mark>电梯</mark>" in hits[0]["title_html"]
    # a revision: the published text stays searchable until the new version is published
    await kb.revise(database, zw, "T001", kb.EntryFields(**{**f.__dict__, "answer": "新答复：拨打12345。"}))
    assert (await kb.search(database, "电梯坏了"))[0]["answer"].startswith("先找物业")
    await kb.submit(database, zw, "T001")
    e = await kb.publish(database, cj, "T001")
    assert e.version == 2 and e.answer.startswith("新答复")
    hist = await kb.history(database, "T001")
    assert [(v.version, v.status) for v in hist] == [(1, "superseded"), (2, "published")]
    # withdrawn: still found, marked expired
    await kb.expire(database, cj, "T001")
    hits = await kb.search(database, "电梯坏了")
    assert hits[0]["id"] == "T001" and hits[0]["expired"] is True


async def test_expiring_soon_and_expire_due(database: Database, personas: Personas) -> None:
    await kb.import_file(database, ENTRIES)
    today = date(2025, 12, 20)
    soon = await kb.expiring_soon(database, within_days=30, today=today)
    assert soon and all(today <= date.fromisoformat(r["valid_until"]) <= today + timedelta(days=30) for r in soon)
    assert all(r["department"] for r in soon)
    n = await kb.expire_due(database)
    assert n == 0  # the import already marked the 8 past entries expired
    async with database.session() as s:
        expired = (await s.execute(text("SELECT count(*) FROM kb_entries WHERE status = 'expired'"))).scalar()
    assert expired == 8


async def test_import_validation_and_export_round_trip(database: Database, personas: Personas, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "编号,标题,常见问法,答复内容,问题分类,承办单位,生效日期,失效日期,依据\n"
        "KB1,标题一,,答复,物业管理,住房和城乡建设局,2024-13-01,,\n"
        "KB1,,,答复,物业管理,没有这个局,2024-01-01,2023-01-01,\n",
        encoding="utf-8",
    )
    with pytest.raises(kb.KbImportErrors) as ei:
        await kb.import_file(database, bad)
    assert ei.value.errors == [
        'row 2, column 生效日期: "2024-13-01" is not a date (YYYY-MM-DD)',
        "row 3, column 编号: \"KB1\" appears again (first on row 2)",
        "row 3, column 标题: is empty",
        'row 3, column 承办单位: no department "没有这个局" (use --create-missing to create it)',
        "row 3, column 失效日期: 2023-01-01 is before 生效日期 2024-01-01",
    ]
    rep = await kb.import_file(database, ENTRIES)
    assert (rep.created, rep.updated) == (100, 0)
    for fmt in ("csv", "xlsx"):
        out = tmp_path / f"kb.{fmt}"
        assert await kb.export(database, out, fmt) == 100
        again = await kb.import_file(database, out)
        assert (again.created, again.updated, again.unchanged) == (0, 0, 100)


async def _client(database: Database, tmp_path: Path) -> httpx.AsyncClient:
    app: FastAPI = create_app(Settings(data_dir=tmp_path), db=database)
    if not any(getattr(r, "path", "").startswith("/api/v1/kb") for r in app.routes):
        app.include_router(router)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_api_search_and_answer_case(database: Database, personas: Personas, tmp_path: Path) -> None:
    await kb.import_file(database, ENTRIES)
    lina = actor(personas.lina)
    t = await register(database, lina, NewTicket(kind="consultation", category="公积金",  # type: ignore[arg-type]
                                                   content="我租房住 公积金能取出来付房租吗"))
    h = {"Authorization": f"Bearer {personas.tokens['lina']}"}
    async with await _client(database, tmp_path) as c:
        assert (await c.get("/api/v1/kb/search", params={"q": "公积金"})).status_code == 401
        r = await c.get("/api/v1/kb/search", params={"q": "我租房住 公积金能取出来付房租吗", "limit": 3}, headers=h)
        assert r.status_code == 200, r.text
        hits = r.json()
        assert hits[0]["id"] == "KB0091" and len(hits) <= 3 and "<mark>" in hits[0]["snippet_html"]
        # an expired entry cannot answer a case
        r = await c.post("/api/v1/kb/KB0012/answer-case", json={"ticket": t.number}, headers=h)
        assert r.status_code == 409
        r = await c.post("/api/v1/kb/KB0091/answer-case", json={"ticket": t.number, "version": 2}, headers=h)
        assert r.status_code == 409  # not the published version
        r = await c.post("/api/v1/kb/KB0091/answer-case", json={"ticket": t.number, "version": 1}, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "answered"
    async with database.session() as s:
        tk = (await s.execute(select(Ticket).where(Ticket.number == t.number))).scalar_one()
        uses = (await s.execute(select(KbUse))).scalars().all()
    assert [(u.ticket_id, u.version) for u in uses] == [(tk.id, 1)]
    assert (await kb.direct_answer_counts(database))[0] == {"code": "KB0091", "title": hits[0]["title"], "answered": 1}
    # the caller was not satisfied at the callback: the entry is flagged for review
    await act(database, lina, t.number, "callback", None, {"outcome": "dissatisfied"})
    async with database.session() as s:
        sat = (await s.execute(select(Ticket.satisfaction).where(Ticket.number == t.number))).scalar_one()
    assert sat is Satisfaction.dissatisfied
    flagged = await kb.flagged_for_review(database)
    assert flagged == [{"code": "KB0091", "title": hits[0]["title"], "version": 1, "uses": 1, "dissatisfied": 1}]


async def test_answer_needs_operator(database: Database, personas: Personas) -> None:
    await kb.import_file(database, ENTRIES)
    t = await register(database, actor(personas.lina), NewTicket(kind="consultation", category="公积金",  # type: ignore[arg-type]
                                                                   content="公积金提取"))
    with pytest.raises(Forbidden):
        await kb.answer_case(database, actor(personas.zhangwei), "KB0091", t.number)
    async with database.session() as s:
        assert (await s.execute(select(KbUse))).first() is None
    with pytest.raises(Conflict):
        await kb.answer_case(database, actor(personas.lina), "KB0091", t.number, version=7)


async def test_synonyms_expand_queries(database: Database, personas: Personas) -> None:
    await kb.import_file(database, ENTRIES)
    sup = actor(personas.chenjing)
    before = await kb.search(database, "楼道里堆满了杂物没人管", limit=20)
    gid = await kb.add_synonyms(database, sup, ["楼道", "消防通道"], note="test")
    try:
        after = await kb.search(database, "楼道里堆满了杂物没人管", limit=20)
        assert after != before
        assert any(g["id"] == gid for g in await kb.synonym_groups(database))
    finally:
        await kb.remove_synonyms(database, sup, gid)


async def test_propose_from_resolved_case(database: Database, personas: Personas) -> None:
    lina, zw = actor(personas.lina), actor(personas.zhangwei)
    t = await register(database, lina, NewTicket(kind="complaint", category="物业管理",  # type: ignore[arg-type]
                                                   content="小区门禁坏了一个月没人修"))
    await act(database, lina, t.number, "dispatch", None, {"department": "zjj"})
    await act(database, zw, t.number, "accept", None, {})
    await act(database, zw, t.number, "resolve", None, {"resolution": "门禁由物业在三日内修复，费用从公共收益列支。"})
    e = await kb.propose_from_case(database, zw, t.number, "P001", title="小区门禁坏了找谁修？")
    assert e.status.value == "draft" and e.answer.startswith("门禁由物业")
    hist = await kb.history(database, "P001")
    assert hist[0].source_ticket_id is not None


def test_cli_search_json(sqlite_template: Path, tmp_path: Path) -> None:
    db_path = tmp_path / "cli.db"
    shutil.copy(sqlite_template, db_path)
    env = {**os.environ, "HOTLINE_DATABASE_URL": f"sqlite:///{db_path}", "HOTLINE_DATA_DIR": str(tmp_path)}
    prog = "import sys; from callcenter.kb.cli import app; app(prog_name='kb')"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", prog, *args], env=env, capture_output=True, text=True,
                              timeout=120, cwd=ROOT)

    bad = tmp_path / "bad.csv"
    bad.write_text("编号,标题\nX,y\n", encoding="utf-8")
    r = run("import", str(bad))
    assert r.returncode == 1 and "row 1: the header has no column" in r.stderr
    r = run("import", str(ENTRIES), "--create-missing")
    assert r.returncode == 0, r.stderr
    assert "created 100" in r.stdout
    r = run("search", "身份正搞掉了 哪么补", "--limit", "3", "--format", "json")
    assert r.returncode == 0, r.stderr
    hits = json.loads(r.stdout)
    assert hits[0]["id"] == "KB0028" and {"id", "title", "score", "expired"} <= set(hits[0])
    qf = tmp_path / "q.txt"
    qf.write_text("身份正搞掉了 哪么补\n去年买的电车 当时说有补贴 现在还能申请不\n", encoding="utf-8")
    r = run("search", "--file", str(qf), "--format", "json")
    assert r.returncode == 0, r.stderr
    arrays = json.loads(r.stdout)
    assert len(arrays) == 2 and arrays[1][0]["id"] == "KB0065" and arrays[1][0]["expired"] is True
    r = run("export", "--format", "xlsx", "--out", str(tmp_path / "kb.xlsx"))
    assert r.returncode == 0 and (tmp_path / "kb.xlsx").exists()
