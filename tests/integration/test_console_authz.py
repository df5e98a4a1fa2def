"""The console's authorisation matrix: every role × every console route → allow or deny,
and the CSRF, login and lock-out rules around it (httpx against the ASGI app)."""

from __future__ import annotations

import asyncio
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
from callcenter.store.models import Call, Category, Department, Kind, Role, RoutingRule, User
from callcenter.web.render import ROUTE_ROLES
from tests.console_people import PASSWORD, ROLE_OF, Session, csrf_of, seed_console_people, sign_in

PUBLIC = {("GET", "/login"), ("POST", "/login")}
STREAMS = {"/operator/stream", "/wall/stream"}


@pytest.fixture
async def world(sqlite_database: Database, tmp_path: Path) -> AsyncIterator[tuple[object, Database, dict[str, object]]]:
    db = sqlite_database
    await seed_console_people(db)
    from sqlalchemy import select

    async with db.session() as s:
        lina = (await s.execute(select(User).where(User.username == "lina"))).scalar_one()
        ids = {
            "dep_id": (await s.execute(select(Department.id).limit(1))).scalar_one(),
            "rule_id": (await s.execute(select(RoutingRule.id).limit(1))).scalar_one(),
            "user_id": lina.id,
            "cat_id": (await s.execute(select(Category.id).limit(1))).scalar_one(),
        }
    t = await services.register(db, actor_of(lina), services.NewTicket(
        kind=Kind.complaint, category="物业管理", content="电梯坏了", caller_phone="13800138000"))
    t = await services.act(db, actor_of(lina), t.number, "dispatch", None, {"department": "zjj"})
    ids["number"] = t.number
    ids["callback_id"] = 1  # 回访/回拨 (issue 5): no task yet → a message and a redirect for the admitted
    # 知识库管理 (issue 8): a draft of 住建局 (王芳 of 城管局 is refused by the data), a synonym group
    from callcenter.cases.workflow import SYSTEM
    from callcenter.kb import services as kb

    await kb.create_draft(db, SYSTEM, "KB0001", kb.EntryFields(title="电梯维修", answer="联系物业", department="zjj"))
    ids["code"] = "KB0001"
    ids["group_id"] = await kb.add_synonyms(db, SYSTEM, ["电梯", "升降梯"])
    ids["phrasing_id"], ids["action"] = 1, "publish"  # 来电问法 (issue 16): none yet → a message
    ids["sid"] = "0" * 64  # 在线会话 (issue 14): no such session → a message and a redirect for the admin
    ids["kind"] = "complaint"  # 办理时限与回访规则 of 民众诉求 (the admin's form)
    # 通话录音 (issue 18): 李娜's callback of the case, recorded and collected
    ids["recording_id"] = await add_collected_recording(db, tmp_path / "recordings", t.number, lina.id)
    ids["inspection_id"] = await add_scored_inspection(db, int(ids["recording_id"]))  # 质检 of that call
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url), db=db)
    yield app, db, ids


async def add_collected_recording(db: Database, store: Path, number: str, operator_id: int) -> int:
    from datetime import timedelta

    from callcenter.store.models import Call, CallDirection, CallOutcome, Recording, RecordingState, utcnow
    from telephony.simulator import write_tone_wav

    at = utcnow() - timedelta(hours=1)
    store.mkdir(parents=True, exist_ok=True)
    write_tone_wav(store / f"cb-{number}.wav", 3)
    async with db.transaction() as s:
        c = Call(pbx="default", linkedid=f"cb-{number}", direction=CallDirection.outbound, caller_number="13800138000",
                 offered_at=at, answered_at=at, ended_at=at + timedelta(seconds=3), outcome=CallOutcome.answered,
                 operator_id=operator_id, ticket_ref=number, updated_at=at)
        s.add(c)
        await s.flush()
        r = Recording(pbx="default", linkedid=c.linkedid, call_id=c.id, ticket_ref=number, state=RecordingState.collected,
                      path=f"cb-{number}.wav", size=(store / f"cb-{number}.wav").stat().st_size, sha256="-",
                      duration_s=3.0, started_at=at, collected_at=at, created_at=at)
        s.add(r)
        await s.flush()
        return r.id


async def add_scored_inspection(db: Database, recording_id: int) -> int:
    """A 质检 of the recording's call, scored by the supervisor (its operator may see and appeal it)."""
    from datetime import date

    from callcenter.cases.workflow import SYSTEM
    from callcenter.qa import services as qa
    from callcenter.store.models import QaInspection, QaState, Recording

    await qa.create_checklist(db, SYSTEM, "话务质检表", "规范开头语 | 40\n准确记录诉求 | 60\n泄露举报人信息 | 致命")
    async with db.transaction() as s:
        rec = (await s.execute(select(Recording).where(Recording.id == recording_id))).scalar_one()
        op = (await s.execute(select(Call.operator_id).where(Call.id == rec.call_id))).scalar_one()
        i = QaInspection(call_id=rec.call_id, recording_id=rec.id, operator_id=op, week=date(2026, 11, 30),
                         reason="sample", state=QaState.pending)
        s.add(i)
        await s.flush()
        iid = i.id
    sup = (await _user(db, "chenjing"))
    cl = await qa.checklist(db, None)
    assert cl is not None
    await qa.score(db, actor_of(sup), iid, {x.id for x in cl.items})
    return iid


async def _user(db: Database, username: str) -> User:
    async with db.session() as s:
        return (await s.execute(select(User).where(User.username == username))).scalar_one()


def client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://console.test")  # type: ignore[arg-type]


def fill(path: str, ids: dict[str, object]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)


# a plausible body per POST route: a denied role must be refused before the body matters
BODIES: dict[str, dict[str, str]] = {
    "/operator/status": {"paused": "1"},
    "/operator/register": {"kind": "consultation", "category": "办理证照", "content": "办证要带什么", "then": "save"},
    "/cases/{number}/act": {"action": "urge", "note": "请加快"},
    "/admin/departments": {"code": "x1", "name": "测试单位"},
    "/admin/departments/{dep_id}/active": {"active": "1"},
    "/admin/categories": {"name": "测试分类"},
    "/admin/rules": {"department_id": "1", "keywords": "测试"},
    "/admin/rules/{rule_id}/active": {"active": "1"},
    "/admin/users": {"username": "newbie", "role": "operator", "password": "long-enough-pw"},
    "/admin/users/{user_id}": {"role": "operator", "seat": "8001", "active": "1"},
    # sla_rules of 民众诉求 as migrated (saved unchanged: 303 with a message)
    "/admin/sla/{kind}": {"resolve_working_days": "5", "urgent_resolve_working_days": "1",
                          "max_extension_working_days": "10", "accept_working_minutes": "120",
                          "urgent_accept_working_minutes": "30", "return_working_days": "2", "dispatch_working_days": "0",
                          "callback_working_days": "1", "callback_max_attempts": "3",
                          "callback_attempt_gap_minutes": "120", "missed_callback_working_minutes": "60",
                          "remind_before_working_days": "1", "remind_before_working_minutes": "120",
                          "escalate_after_working_days": "5"},
    # 知识库 直接答复 (issue 8): no published entry in this world → a message and a redirect for the admitted
    "/console/kb/answer": {"kb_entry": "KB0001:1", "kind": "consultation", "category": "办理证照",
                           "content": "办证要带什么"},
    # 知识库管理 (issue 8): an admitted role gets 303 (saved, or a message when the state refuses)
    "/kb/entries": {"code": "KB0002", "title": "测试条目", "answer": "测试答复"},
    "/kb/entries/{code}": {"title": "电梯维修", "answer": "联系物业或街道"},
    "/kb/entries/{code}/reject": {"reason": "依据不全"},
    "/kb/synonyms": {"words": "电梯 升降梯"},
    # 回访/回拨 (issue 5): the task does not exist → a message and a redirect for the admitted
    "/callbacks/{callback_id}/call": {},
    "/callbacks/{callback_id}/outcome": {"result": "not_reached"},
    # 调度 (issue 13): the case is dispatched already → a message and a redirect for the admitted
    "/queues/{number}/act": {"queue": "dispatch", "decision": "dispatch", "department": "zjj"},
    # 催办 from the caller history (issue 13): recorded, back to the operator's page
    "/operator/chase/{number}": {"phone": "13800138000"},
    # 回访话术 (issue 13)
    "/admin/scripts/{kind}": {"script": "您好，这里是 12345 市民热线。"},
    # 质检 (issue 18): the inspection is scored — the operator appeals it; a supervisor's score or
    # decision is refused by its state (a message and a redirect), a comment is added
    "/qa/checklists": {"name": "测试质检表", "items": "规范开头语 | 10"},
    "/qa/{inspection_id}/score": {"met": "1"},
    "/qa/{inspection_id}/comment": {"at": "0:01", "text": "开头语规范"},
    "/qa/{inspection_id}/appeal": {"reason": "已按规范告知"},
    "/qa/{inspection_id}/decide": {"decision": "rejected", "note": "维持原分"},
}

# the query a GET route needs to answer 200 for an admitted role
QUERIES: dict[str, str] = {
    "/reports/annual": "?year=2026",
    "/reports/summary": "?month=2026-11",
    "/reports/drill": "?figure=registered&from=2026-11-01&to=2026-11-30",
}

# an action each role may take on the dispatched case (the operator's is refused by the state:
# 409 → a message and a redirect, not a 403)
ACT_BY_ROLE = {Role.operator: "redispatch", Role.clerk: "accept", Role.supervisor: "urge", Role.admin: "urge"}


async def request(s: Session, role: Role, method: str, path: str, ids: dict[str, object]) -> int:
    url = fill(path, ids)
    if method == "GET":
        url += QUERIES.get(path, "")
        if path in STREAMS:
            # ASGITransport buffers whole bodies: an admitted stream never completes, a refused one
            # answers at once
            try:
                r = await asyncio.wait_for(s.client.get(url), 1.5)
            except TimeoutError:
                return 200
            return r.status_code
        return (await s.client.get(url)).status_code
    body = {"csrf_token": s.csrf, **BODIES.get(path, {})}
    if path == "/cases/{number}/act":
        body["action"] = ACT_BY_ROLE[role]
    return (await s.client.post(url, data=body)).status_code


def test_every_console_route_is_in_the_matrix(world) -> None:  # type: ignore[no-untyped-def]
    app, _, _ = world
    routes = set()
    flat = []
    for r in app.routes:
        # FastAPI ≥ 0.16x keeps an included router as one entry: walk into it
        flat.extend(r.original_router.routes if hasattr(r, "original_router") else [r])
    for r in flat:
        path = getattr(r, "path", "")
        if path.startswith(("/api/", "/static", "/docs", "/redoc", "/openapi")) or path in ("/healthz", "/readyz",
                                                                                          "/metrics"):
            continue
        for m in getattr(r, "methods", set()) - {"HEAD"}:
            routes.add((m, path))
    assert routes - PUBLIC == set(ROUTE_ROLES), "a console route without its roles in ROUTE_ROLES"


@pytest.mark.parametrize("username", list(ROLE_OF))
async def test_each_role_reaches_exactly_its_routes(world, username: str) -> None:  # type: ignore[no-untyped-def]
    app, _, ids = world
    role = ROLE_OF[username]
    async with client(app) as c:
        s = await sign_in(c, username)
        got = {}
        for (method, path), roles in sorted(ROUTE_ROLES.items(), key=lambda kv: (kv[0][0] == "POST", kv[0][1])):
            if path == "/logout":
                continue  # would end the session the matrix runs in (checked below)
            status = await request(s, role, method, path, ids)
            # the route admits clerks but the case is 住建局's: 王芳 of 城管局 is refused by the data
            allowed = role in roles and not (username == "wangfang" and path.startswith(
                ("/cases/{number}", "/kb/entries/{code}", "/kb/propose/{number}")))
            got[(method, path)] = status
            if allowed:
                # KB0001 is an unpublished draft: the 直接答复 is refused with the form kept (409)
                ok = (200, 303, 409) if path == "/console/kb/answer" else (200, 303)
                assert status in ok, f"{username} ({role.value}) {method} {path} → {status}"
            else:
                assert status == 403, f"{username} ({role.value}) {method} {path} → {status}, expected 403"
        r = await c.post("/logout", data={"csrf_token": s.csrf})
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert (await c.get("/operator")).status_code == 303  # signed out: back to the login page


async def test_a_clerk_of_another_department_gets_403_for_the_case(world) -> None:  # type: ignore[no-untyped-def]
    app, _, ids = world
    async with client(app) as c:
        s = await sign_in(c, "wangfang")
        for path in ("/cases/{number}", "/cases/{number}/print"):
            r = await c.get(fill(path, ids))
            assert r.status_code == 403 and "无权访问" in r.text
        r = await c.post(fill("/cases/{number}/act", ids), data={"csrf_token": s.csrf, "action": "accept"})
        assert r.status_code == 403


async def test_a_clerk_never_sees_a_whistleblowers_identity(world) -> None:  # type: ignore[no-untyped-def]
    app, db, ids = world
    from sqlalchemy import select

    async with db.session() as ses:
        lina = (await ses.execute(select(User).where(User.username == "lina"))).scalar_one()
    t = await services.register(db, actor_of(lina), services.NewTicket(
        kind=Kind.report, category="物业管理", content="某干部收受物业公司好处", caller_phone="13912345678",
        caller_name="举报人甲"))
    await services.act(db, actor_of(lina), t.number, "dispatch", None, {"department": "zjj"})
    async with client(app) as c:
        await sign_in(c, "zhangwei")
        for path in ("/clerk", f"/cases/{t.number}", f"/cases/{t.number}/print", "/cases?q=干部"):
            html = (await c.get(path)).text
            assert t.number in html, path
            assert "举报人甲" not in html and "13912345678" not in html, path
    async with client(app) as c:
        await sign_in(c, "lina")
        html = (await c.get(f"/cases/{t.number}")).text
        assert "举报人甲" in html and "13912345678" in html  # the hotline sees it


async def test_a_form_without_its_csrf_token_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    app, _, ids = world
    async with client(app) as c:
        s = await sign_in(c, "chenjing")
        url = fill("/cases/{number}/act", ids)
        for data in ({"action": "urge", "note": "x"}, {"action": "urge", "note": "x", "csrf_token": "forged"}):
            r = await c.post(url, data=data)
            assert r.status_code == 403 and "安全令牌" in r.text
        r = await c.post(url, data={"action": "urge", "note": "请加快", "csrf_token": s.csrf})
        assert r.status_code == 303
        # the token travels as a header too (htmx requests)
        r = await c.post(url, data={"action": "urge", "note": "再催"}, headers={"X-CSRF-Token": s.csrf})
        assert r.status_code == 303


async def test_login_itself_needs_the_token_and_the_api_does_not(world) -> None:  # type: ignore[no-untyped-def]
    app, _, _ = world
    async with client(app) as c:
        r = await c.post("/login", data={"username": "lina", "password": PASSWORD})
        assert r.status_code == 403
        r = await c.get("/api/v1/categories")
        assert r.status_code == 401  # bearer API: no session, no CSRF, its own 401


async def test_it_locks_an_account_after_five_failures_and_says_so(world) -> None:  # type: ignore[no-untyped-def]
    app, _, _ = world
    async with client(app) as c:
        token = csrf_of((await c.get("/login")).text)
        for _ in range(5):
            r = await c.post("/login", data={"username": "lina", "password": "wrong", "csrf_token": token})
            assert r.status_code == 401
        r = await c.post("/login", data={"username": "lina", "password": PASSWORD, "csrf_token": token})
        assert r.status_code == 401 and "锁定" in r.text


async def test_anonymous_pages_redirect_to_login(world) -> None:  # type: ignore[no-untyped-def]
    app, _, ids = world
    async with client(app) as c:
        for (method, path) in ROUTE_ROLES:
            if method == "GET" and path not in STREAMS:
                r = await c.get(fill(path, ids))
                assert r.status_code == 303 and r.headers["location"].startswith("/login"), path


def test_roles_cover_every_role() -> None:
    assert set(ROLE_OF.values()) == set(Role)


def test_the_audit_pages_are_in_the_matrix_with_their_rule() -> None:
    # 审计日志: the admin alone; who viewed an identity: supervisors and the admin
    assert ROUTE_ROLES[("GET", "/admin/audit")] == (Role.admin,)
    assert ROUTE_ROLES[("GET", "/audit/identity-views")] == (Role.supervisor, Role.admin)


# ---- the JSON API (/api/v1): every route × every role (issue 14) -----------------------------------
ALL = tuple(Role)
HOTLINE = (Role.operator, Role.supervisor)
# (method, path) → the roles the route admits (an admitted role may still be refused by the data:
# 王芳 of 城管局 and the 住建局 case); the test below checks this table covers every API route
API_ROLES: dict[tuple[str, str], tuple[Role, ...]] = {
    ("POST", "/api/v1/tickets"): HOTLINE,
    ("GET", "/api/v1/tickets"): ALL,
    ("GET", "/api/v1/tickets/{number}"): ALL,
    ("GET", "/api/v1/tickets/{number}/events"): ALL,
    ("POST", "/api/v1/tickets/{number}/transitions"): (Role.operator, Role.clerk, Role.supervisor),  # admins manage data, not cases
    ("GET", "/api/v1/callers/{phone}/history"): HOTLINE,
    ("GET", "/api/v1/categories"): ALL,
    ("GET", "/api/v1/departments"): ALL,
    ("GET", "/api/v1/routing/suggest"): ALL,
    ("GET", "/api/v1/kb/search"): ALL,
    ("POST", "/api/v1/kb/{code}/answer-case"): HOTLINE,
}
API_QUERIES = {"/api/v1/routing/suggest": "?category=物业管理&content=电梯", "/api/v1/kb/search": "?q=电梯"}


def api_body(path: str, role: Role, ids: dict[str, object]) -> dict[str, object] | None:
    if path == "/api/v1/tickets":
        return {"kind": "consultation", "category": "办理证照", "content": "办证要带什么", "caller_phone": "13800138000"}
    if path.endswith("/transitions"):
        return {"action": ACT_BY_ROLE[role], "version": 2, "note": "请加快", "department": "cgj"}
    if path.endswith("/answer-case"):
        return {"ticket": ids["number"]}
    return None


def test_every_api_route_is_in_the_matrix(world) -> None:  # type: ignore[no-untyped-def]
    app, _, _ = world
    routes = set()
    for r in app.routes:
        for sub in (r.original_router.routes if hasattr(r, "original_router") else [r]):
            path = getattr(sub, "path", "")
            if path.startswith("/api/"):
                routes |= {(m, path) for m in getattr(sub, "methods", set()) - {"HEAD"}}
    assert routes == set(API_ROLES)


@pytest.mark.parametrize("username", list(ROLE_OF))
async def test_each_role_reaches_exactly_its_api_routes(world, username: str) -> None:  # type: ignore[no-untyped-def]
    from callcenter.people.auth import issue_token

    app, db, ids = world
    ids = dict(ids, phone="13800138000")
    role = ROLE_OF[username]
    token = await issue_token(db, username)
    async with client(app) as c:
        for (method, path), roles in sorted(API_ROLES.items()):
            url = fill(path, ids) + API_QUERIES.get(path, "")
            body = api_body(path, role, ids)
            # no token: 401 on every route
            assert (await c.request(method, url, json=body)).status_code == 401, (method, path)
            r = await c.request(method, url, json=body, headers={"Authorization": f"Bearer {token}"})
            by_data = username == "wangfang" and "{number}" in path and not path.endswith("/answer-case")
            if role in roles and not by_data:
                assert r.status_code not in (401, 403) and r.status_code < 500, (username, method, path, r.text)
            else:
                assert r.status_code == 403, (username, method, path, r.status_code, r.text)


@pytest.mark.parametrize("username", list(ROLE_OF))
async def test_identity_and_caller_history_by_role(world, username: str) -> None:  # type: ignore[no-untyped-def]
    """A 干部举报's caller: shown to the hotline's operators and supervisors only, on every route;
    caller history: the hotline's only, never listing the confidential case."""
    from sqlalchemy import select

    from callcenter.people.auth import issue_token

    app, db, _ = world
    async with db.session() as s:
        lina = (await s.execute(select(User).where(User.username == "lina"))).scalar_one()
    t = await services.register(db, actor_of(lina), services.NewTicket(
        kind=Kind.report, category="物业管理", content="某干部收受好处", caller_phone="13912345678",
        caller_name="举报人甲"))
    await services.act(db, actor_of(lina), t.number, "dispatch", None, {"department": "zjj"})
    role = ROLE_OF[username]
    token = await issue_token(db, username)
    h = {"Authorization": f"Bearer {token}"}
    async with client(app) as c:
        one = await c.get(f"/api/v1/tickets/{t.number}", headers=h)
        lst = await c.get("/api/v1/tickets", params={"q": "干部"}, headers=h)
        hist = await c.get("/api/v1/callers/13912345678/history", headers=h)
        page_html = ""
        if role is not Role.admin:
            await sign_in(c, username)
            page_html = (await c.get(f"/cases/{t.number}")).text
    sees = role in HOTLINE
    if username == "wangfang":
        assert one.status_code == 403
    else:
        assert one.status_code == 200
        assert ("举报人甲" in one.text and "13912345678" in one.text) is sees, username
        assert one.json()["identity_hidden"] is (not sees)
    assert "举报人甲" not in lst.text and "13912345678" not in lst.text
    if page_html:
        assert ("举报人甲" in page_html) is sees, username
    if sees:
        assert hist.status_code == 200 and t.number not in hist.text and hist.json()["tickets"] == []
    else:
        assert hist.status_code == 403
