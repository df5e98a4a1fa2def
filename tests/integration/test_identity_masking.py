"""A confidential caller's identity in lists, prints, the API's lists and the export, on SQLite
and PostgreSQL (DOMAIN.md, Privacy):

- /cases (search results), /print/day (the day's 来电登记表), the API's case list and a
  caller's history never show a confidential case's (干部举报's) caller name or number, for any
  role — （保密） in the console, null with identity_hidden in the API; other numbers are masked;
- a confidential case is never found by its caller's name or number;
- listing records no view; opening the case is the one way to the identity, and it is recorded;
- `hotline export registry` withholds confidential callers unless --with-confidential, and the
  audit log says which export held them.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from callcenter.cases import services
from callcenter.core.settings import Settings
from callcenter.entry.app import create_app
from callcenter.people.auth import actor_of, issue_token
from callcenter.store.db import Database
from callcenter.store.migrate import upgrade
from callcenter.store.models import AuditEntry, Kind, TicketEvent, User
from tests.console_people import seed_console_people, sign_in

WHISTLE_NAME, WHISTLE_PHONE = "举报人甲", "13912345678"
WHISTLE_MASKED = "139****5678"
PLAIN_NAME, PLAIN_PHONE, PLAIN_MASKED = "王五", "13800138000", "138****8000"
HOTLINE = Path(sys.executable).parent / "hotline"


@pytest.fixture
async def world(database: Database, tmp_path: Path) -> AsyncIterator[tuple[Any, Database, dict[str, Any]]]:
    db = database
    await seed_console_people(db)
    async with db.session() as s:
        people = {u.username: u for u in (await s.scalars(select(User))).all()}
    lina = actor_of(people["lina"])
    report = await services.register(db, lina, services.NewTicket(
        kind=Kind.report, category="物业管理", content="某干部收受物业公司好处", caller_phone=WHISTLE_PHONE,
        caller_name=WHISTLE_NAME))
    await services.act(db, lina, report.number, "dispatch", None, {"department": "zjj"})
    marked = await services.register(db, lina, services.NewTicket(  # a complaint marked confidential
        kind=Kind.complaint, category="物业管理", content="物业公司威胁业主，请为我保密", caller_phone="13700137000",
        caller_name="赵六", confidential=True))
    await services.act(db, lina, marked.number, "dispatch", None, {"department": "zjj"})
    plain = await services.register(db, lina, services.NewTicket(
        kind=Kind.complaint, category="物业管理", content="物业公司电梯坏了", caller_phone=PLAIN_PHONE,
        caller_name=PLAIN_NAME))
    await services.act(db, lina, plain.number, "dispatch", None, {"department": "zjj"})
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url), db=db)
    yield app, db, {"people": people, "report": report.number, "marked": marked.number, "plain": plain.number}


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://console.test")


async def views(db: Database) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(TicketEvent)
                                .where(TicketEvent.action == services.VIEW))).scalar_one()


def no_identity(html: str, where: str) -> None:
    for leak in (WHISTLE_NAME, WHISTLE_PHONE, WHISTLE_MASKED, "赵六", "13700137000", "137****7000"):
        assert leak not in html, (where, leak)


@pytest.mark.parametrize("who", ["lina", "chenjing", "zhangwei"])
async def test_the_case_list_shows_no_confidential_identity_and_masks_numbers(world, who: str) -> None:  # type: ignore[no-untyped-def]
    app, db, w = world
    async with client(app) as c:
        await sign_in(c, who)
        r = await c.get("/cases?q=物业公司")
        assert r.status_code == 200
        for n in (w["report"], w["marked"], w["plain"]):
            assert n in r.text, n
        no_identity(r.text, "/cases")
        assert r.text.count("（保密）") == 4  # name and number of both confidential cases
        assert PLAIN_NAME in r.text and PLAIN_MASKED in r.text and PLAIN_PHONE not in r.text
        # the htmx fragment is the same rows
        frag = await c.get("/cases?q=物业公司", headers={"HX-Request": "true"})
        no_identity(frag.text, "/cases (htmx)")
        assert frag.text.count("（保密）") == 4
    assert await views(db) == 0  # a list is no view


@pytest.mark.parametrize("who", ["lina", "chenjing"])
async def test_a_confidential_case_is_not_found_by_its_callers_name_or_number(world, who: str) -> None:  # type: ignore[no-untyped-def]
    app, _, w = world
    async with client(app) as c:
        await sign_in(c, who)
        for q in (WHISTLE_NAME, WHISTLE_PHONE, "+8613912345678", "赵六", "13700137000"):
            r = await c.get(f"/cases?q={q}")
            assert "共 0 件" in r.text and w["report"] not in r.text and w["marked"] not in r.text, q
        # by its number or its content it is found (without the identity)
        r = await c.get(f"/cases?q={w['report']}")
        assert "共 1 件" in r.text and w["report"] in r.text
        no_identity(r.text, "by number")
        # a plain case is found by its caller's number and name
        assert w["plain"] in (await c.get(f"/cases?q={PLAIN_PHONE}")).text
        assert w["plain"] in (await c.get(f"/cases?q={PLAIN_NAME}")).text


@pytest.mark.parametrize("who", ["lina", "chenjing"])
async def test_the_days_registry_print_shows_no_confidential_identity(world, who: str) -> None:  # type: ignore[no-untyped-def]
    app, db, w = world
    async with client(app) as c:
        await sign_in(c, who)
        r = await c.get("/print/day")
        assert r.status_code == 200
        for n in (w["report"], w["marked"], w["plain"]):
            assert n in r.text, n
        no_identity(r.text, "/print/day")
        assert r.text.count('<td class="secret">（保密）</td>') == 4
        assert PLAIN_NAME in r.text and PLAIN_MASKED in r.text and PLAIN_PHONE not in r.text
    assert await views(db) == 0


async def test_opening_the_case_is_the_one_way_to_the_identity_and_it_is_recorded(world) -> None:  # type: ignore[no-untyped-def]
    app, db, w = world
    async with client(app) as c:
        await sign_in(c, "lina")
        html = (await c.get(f"/cases/{w['report']}")).text
        assert WHISTLE_NAME in html and WHISTLE_PHONE in html
    async with db.session() as s:
        [e] = (await s.scalars(select(TicketEvent).where(TicketEvent.action == services.VIEW))).all()
    assert (e.actor_name, e.data) == ("李娜", {"role": "operator", "via": "case"})


async def test_the_apis_lists_show_no_confidential_identity(world) -> None:  # type: ignore[no-untyped-def]
    app, db, w = world
    for who in ("lina", "chenjing"):
        token = await issue_token(db, who)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api.test",
                                     headers={"Authorization": f"Bearer {token}"}) as api:
            items = (await api.get("/api/v1/tickets", params={"q": "物业公司"})).json()["items"]
            by_number = {i["number"]: i for i in items}
            for n in (w["report"], w["marked"]):
                i = by_number[n]
                assert (i["caller_name"], i["caller_phone"], i["identity_hidden"]) == (None, None, True), (who, i)
            plain = by_number[w["plain"]]
            assert (plain["caller_name"], plain["caller_phone"], plain["identity_hidden"]) == (
                PLAIN_NAME, PLAIN_MASKED, False)
            for params in ({"q": WHISTLE_PHONE}, {"q": WHISTLE_NAME}, {"phone": WHISTLE_PHONE}):
                assert (await api.get("/api/v1/tickets", params=params)).json() == {"items": [], "total": 0}, params
            hist = (await api.get(f"/api/v1/callers/{WHISTLE_PHONE}/history")).json()
            assert [t["number"] for t in hist["tickets"]] == [w["report"]]
            assert (hist["tickets"][0]["caller_name"], hist["tickets"][0]["caller_phone"]) == (None, None)
            no_identity(str(items) + str(hist["tickets"]), f"API lists ({who})")
    assert await views(db) == 0
    # the case itself shows it to the hotline, and records the view
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api.test",
                                 headers={"Authorization": f"Bearer {token}"}) as api:
        one = (await api.get(f"/api/v1/tickets/{w['report']}")).json()
    assert (one["caller_name"], one["caller_phone"]) == (WHISTLE_NAME, WHISTLE_PHONE)
    assert await views(db) == 1


# ---- the registry export by the CLI ---------------------------------------------------------------


def test_the_cli_export_withholds_confidential_callers_unless_asked_and_logs_each_export(
        sqlite_template: Path, tmp_path: Path) -> None:
    if not HOTLINE.exists():
        pytest.skip("the hotline console script is not installed")
    path = tmp_path / "hotline.db"
    path.write_bytes(sqlite_template.read_bytes())
    url = f"sqlite:///{path}"
    upgrade(url)  # at head already: nothing to do

    async def fill() -> dict[str, str]:
        db = Database(url)
        try:
            await seed_console_people(db)
            async with db.session() as s:
                lina = actor_of((await s.execute(select(User).where(User.username == "lina"))).scalar_one())
            t = await services.register(db, lina, services.NewTicket(
                kind=Kind.report, category="物业管理", content="某干部收受好处", caller_phone=WHISTLE_PHONE,
                caller_name=WHISTLE_NAME))
            p = await services.register(db, lina, services.NewTicket(
                kind=Kind.complaint, category="物业管理", content="电梯坏了", caller_phone=PLAIN_PHONE,
                caller_name=PLAIN_NAME))
            return {"report": t.number, "plain": p.number}
        finally:
            await db.dispose()

    import asyncio

    numbers = asyncio.run(fill())
    env = {**os.environ, "HOTLINE_DATABASE_URL": url, "HOTLINE_DATA_DIR": str(tmp_path)}

    def export(name: str, *flags: str) -> dict[str, dict[str, str]]:
        out = tmp_path / name
        r = subprocess.run([str(HOTLINE), "export", "registry", "--out", str(out), *flags], env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return {row["登记编号"]: row for row in csv.DictReader(out.open(encoding="utf-8-sig"))}

    plain_rows = export("plain.csv")
    assert (plain_rows[numbers["report"]]["来电人姓名"], plain_rows[numbers["report"]]["来电号码"]) == ("（保密）", "（保密）")
    assert plain_rows[numbers["plain"]]["来电号码"] == PLAIN_MASKED
    full = export("full.csv", "--unmask")
    assert full[numbers["report"]]["来电号码"] == "（保密）" and full[numbers["plain"]]["来电号码"] == PLAIN_PHONE
    everything = export("everything.csv", "--unmask", "--with-confidential")
    assert (everything[numbers["report"]]["来电人姓名"], everything[numbers["report"]]["来电号码"]) == (
        WHISTLE_NAME, WHISTLE_PHONE)

    async def log() -> list[AuditEntry]:
        db = Database(url)
        try:
            async with db.session() as s:
                return list((await s.scalars(select(AuditEntry).order_by(AuditEntry.id))).all())
        finally:
            await db.dispose()

    entries = asyncio.run(log())
    assert [(e.action, e.target_label, e.changes["full_numbers"], e.changes["confidential_identities"])  # type: ignore[index]
            for e in entries] == [("registry.export", "plain.csv", False, False),
                                  ("registry.export", "full.csv", True, False),
                                  ("registry.export", "everything.csv", True, True)]
    assert all(e.actor_id is None and e.actor_name.startswith("命令行 ") and e.changes["rows"] == 2  # type: ignore[index]
               for e in entries)
