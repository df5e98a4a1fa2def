"""The admin's audit log (audit_log) and the append-only trails, on SQLite and PostgreSQL:

- every admin change (callcenter/people/admin.py) writes exactly one audit_log row with the values
  old → new, in the change's own transaction: a refused change writes none, a change that
  changes nothing writes none, and a password (or its hash) is never written;
- the database refuses UPDATE and DELETE of audit_log and ticket_events rows (triggers), while
  the test set-up still empties them (TRUNCATE on PostgreSQL, a fresh template copy on SQLite);
- the 审计日志 page: newest first, filters (dates, who, action), pages, the admin only.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, event, select, text, update
from sqlalchemy.exc import IntegrityError

from callcenter.cases import services
from callcenter.core.errors import Conflict, Forbidden, Invalid
from callcenter.core.settings import Settings
from callcenter.entry.app import create_app
from callcenter.people import admin
from callcenter.people.auth import actor_of, issue_token
from callcenter.store.db import Database
from callcenter.store.models import (
    AuditEntry,
    Category,
    Department,
    Kind,
    Role,
    RoutingRule,
    TicketEvent,
    User,
    utcnow,
)
from tests.conftest import _truncate
from tests.console_people import seed_console_people, sign_in

PASSWORD = "a-new-secret-42"


@pytest.fixture
async def world(database: Database, tmp_path: Path) -> AsyncIterator[tuple[Any, Database, dict[str, Any]]]:
    db = database
    await seed_console_people(db)
    async with db.session() as s:
        people = {u.username: u for u in (await s.scalars(select(User))).all()}
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url), db=db)
    yield app, db, people


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://console.test")


async def entries(db: Database) -> list[AuditEntry]:
    async with db.session() as s:
        return list((await s.scalars(select(AuditEntry).order_by(AuditEntry.id))).all())


async def new_entry(db: Database, before: int) -> AuditEntry:
    """The one entry written since there were `before` (exactly one)."""
    rows = await entries(db)
    assert len(rows) == before + 1, [(e.action, e.changes) for e in rows[before:]]
    return rows[-1]


# ---- every admin change: one row, old → new -------------------------------------------------------


async def test_each_admin_change_writes_exactly_one_entry_with_old_and_new(world) -> None:  # type: ignore[no-untyped-def]
    _, db, people = world
    a = actor_of(people["admin"])
    assert await entries(db) == []  # the set-up emptied the log (TRUNCATE / a fresh template copy)
    n = 0

    async def one() -> AuditEntry:
        nonlocal n
        e = await new_entry(db, n)
        n += 1
        assert (e.actor_id, e.actor_name, e.actor_role) == (people["admin"].id, "管理员", "admin")
        assert e.at <= utcnow() and e.at > utcnow() - timedelta(minutes=1)
        return e

    await admin.add_department(db, a, "sjj", "市水务局", "0731-1234567")
    e = await one()
    async with db.session() as s:
        dep = (await s.execute(select(Department).where(Department.code == "sjj"))).scalar_one()
    assert (e.action, e.target_type, e.target_id, e.target_label) == ("department.create", "department", str(dep.id),
                                                                       "市水务局")
    assert e.changes == {"code": [None, "sjj"], "name": [None, "市水务局"], "phone": [None, "0731-1234567"],
                         "active": [None, True]}

    await admin.set_department_active(db, a, dep.id, False)
    e = await one()
    assert (e.action, e.target_id, e.changes) == ("department.update", str(dep.id), {"active": [True, False]})
    await admin.set_department_active(db, a, dep.id, False)  # no change: nothing written
    assert len(await entries(db)) == n

    await admin.save_category(db, a, None, "供水", dep.id, 7, True)
    e = await one()
    async with db.session() as s:
        cat = (await s.execute(select(Category).where(Category.name == "供水"))).scalar_one()
    assert (e.action, e.target_type, e.target_id, e.target_label) == ("category.create", "category", str(cat.id), "供水")
    assert e.changes == {"name": [None, "供水"], "default_department": [None, "sjj"],
                         "resolve_working_days": [None, 7], "callback_required": [None, True], "active": [None, True]}
    await admin.save_category(db, a, cat.id, "供水问题", None, 7, False)
    e = await one()
    assert (e.action, e.target_label) == ("category.update", "供水问题")
    assert e.changes == {"name": ["供水", "供水问题"], "default_department": ["sjj", None],
                         "callback_required": [True, False]}
    await admin.save_category(db, a, cat.id, "供水问题", None, 7, False)
    assert len(await entries(db)) == n

    await admin.add_rule(db, a, dep.id, cat.id, "停水 水压", 9)
    e = await one()
    async with db.session() as s:
        rule = (await s.execute(select(RoutingRule).where(RoutingRule.keywords == "停水 水压"))).scalar_one()
    assert (e.action, e.target_type, e.target_id, e.target_label) == (
        "routing_rule.create", "routing_rule", str(rule.id), "供水问题 → 市水务局")
    assert e.changes == {"category": [None, "供水问题"], "keywords": [None, "停水 水压"], "department": [None, "sjj"],
                         "priority": [None, 9], "active": [None, True]}
    await admin.set_rule_active(db, a, rule.id, False)
    e = await one()
    assert (e.action, e.changes) == ("routing_rule.update", {"active": [True, False]})

    await admin.add_user(db, a, "zhaolei", "赵磊", Role.operator, None, "8009", PASSWORD)
    e = await one()
    async with db.session() as s:
        zl = (await s.execute(select(User).where(User.username == "zhaolei"))).scalar_one()
    assert (e.action, e.target_type, e.target_id, e.target_label) == ("user.create", "user", str(zl.id), "zhaolei")
    assert e.changes == {"username": [None, "zhaolei"], "display_name": [None, "赵磊"], "role": [None, "operator"],
                         "seat": [None, "8009"], "active": [None, True], "password": "password set"}

    await issue_token(db, "zhaolei")
    await admin.update_user(db, a, zl.id, role=Role.clerk, department_id=dep.id, seat=None, active=False,
                            password=PASSWORD + "-2")
    e = await one()
    assert (e.action, e.target_id) == ("user.update", str(zl.id))
    assert e.changes == {"role": ["operator", "clerk"], "department": [None, "sjj"], "seat": ["8009", None],
                         "active": [True, False], "password": "password changed", "api_token": "token revoked"}
    await admin.update_user(db, a, zl.id, role=Role.clerk, department_id=dep.id, seat=None, active=False)
    assert len(await entries(db)) == n  # nothing changed

    await admin.save_sla_rule(db, a, Kind.help, {f.name: str(v) for f, v in zip(
        admin.SLA_FIELDS, admin.sla_values(next(r for r in await admin.sla_rules(db) if r.kind is Kind.help)).values(),
        strict=True)} | {"callback_max_attempts": "4"})
    e = await one()
    assert (e.action, e.target_type, e.target_id, e.target_label) == ("sla.update", "sla_rule", "help", "求助")
    assert e.changes == {"callback_max_attempts": [3, 4]}
    await restore_sla(db, a, Kind.help, {"callback_max_attempts": "3"})

    # no password, no hash, anywhere in the log
    async with db.session() as s:
        hash_ = (await s.execute(select(User.password_hash).where(User.username == "zhaolei"))).scalar_one()
        raw = json.dumps([e.changes for e in (await s.scalars(select(AuditEntry))).all()], ensure_ascii=False)
    assert PASSWORD not in raw and hash_ and hash_ not in raw and "$argon2" not in raw


async def restore_sla(db: Database, a: Any, kind: Kind, values: dict[str, str]) -> None:
    """sla_rules outlives a test on PostgreSQL (not a data table): put the value back."""
    rule = next(r for r in await admin.sla_rules(db) if r.kind is kind)
    await admin.save_sla_rule(db, a, kind, {k: str(v) for k, v in admin.sla_values(rule).items()} | values)


async def test_the_local_user_commands_are_in_the_log_too(world) -> None:  # type: ignore[no-untyped-def]
    """`hotline users add` / `users token` act as 命令行 <os user>@<host>: one entry each, never
    the password nor the token."""
    _, db, _ = world
    before = len(await entries(db))
    u = await admin.cli_add_user(db, "zhouli", Role.operator, display_name="周丽", password=PASSWORD, seat="8009")
    e = await new_entry(db, before)
    assert (e.action, e.target_id, e.actor_id) == ("user.create", str(u.id), None)
    assert e.actor_name.startswith("命令行 ") and "@" in e.actor_name
    assert e.changes["seat"] == [None, "8009"] and e.changes["password"] == admin.PASSWORD_SET  # type: ignore[index]
    token = await admin.cli_issue_token(db, "zhouli")
    e = await new_entry(db, before + 1)
    assert (e.action, e.changes) == ("user.token", {"api_token": admin.TOKEN_ISSUED})
    dumped = json.dumps([x.changes for x in await entries(db)], ensure_ascii=False)
    assert PASSWORD not in dumped and token not in dumped
    with pytest.raises(Conflict):
        await admin.cli_add_user(db, "zhouli", Role.operator)
    assert len(await entries(db)) == before + 2


async def test_a_refused_change_writes_no_entry(world) -> None:  # type: ignore[no-untyped-def]
    _, db, people = world
    a = actor_of(people["admin"])
    with pytest.raises(Conflict):
        await admin.add_department(db, a, "zjj", "另一个住建局")
    with pytest.raises(Conflict):
        await admin.add_user(db, a, "someone", "某人", Role.operator, None, "8001", PASSWORD)  # 李娜's seat
    with pytest.raises(Invalid):
        await admin.update_user(db, a, people["lina"].id, role=Role.operator, department_id=None, seat="8001",
                                active=True, password="short")
    with pytest.raises(Forbidden):
        await admin.set_department_active(db, actor_of(people["chenjing"]), 1, False)
    assert await entries(db) == []
    async with db.session() as s:  # and nothing of the change either
        assert (await s.execute(select(User).where(User.username == "someone"))).first() is None


async def test_a_change_and_its_entry_are_one_transaction(world) -> None:  # type: ignore[no-untyped-def]
    """The entry cannot be written (a failing INSERT into audit_log): the change is not kept."""
    _, db, people = world
    a = actor_of(people["admin"])

    def fail_audit(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_LOG"):
            raise RuntimeError("the audit log is unavailable")

    event.listen(db.engine.sync_engine, "before_cursor_execute", fail_audit)
    try:
        with pytest.raises(RuntimeError):
            await admin.add_department(db, a, "sjj", "市水务局")
        with pytest.raises(RuntimeError):
            await admin.update_user(db, a, people["lina"].id, role=Role.supervisor, department_id=None, seat="8001",
                                    active=True)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", fail_audit)
    async with db.session() as s:
        assert (await s.execute(select(Department).where(Department.code == "sjj"))).first() is None
        assert (await s.get(User, people["lina"].id)).role is Role.operator  # type: ignore[union-attr]
    assert await entries(db) == []


async def test_a_change_through_the_console_records_the_request(world) -> None:  # type: ignore[no-untyped-def]
    app, db, people = world
    async with client(app) as c:
        s = await sign_in(c, "admin")
        r = await c.post(f"/admin/users/{people['lina'].id}", data={
            "csrf_token": s.csrf, "role": "supervisor", "seat": "8001", "active": "1", "password": PASSWORD})
        assert r.status_code == 303
    [e] = await entries(db)
    assert (e.action, e.target_label, e.changes) == ("user.update", "lina", {"role": ["operator", "supervisor"],
                                                                             "password": "password changed"})
    assert re.fullmatch(r"[0-9a-f]{12}", e.request_id or "") and e.ip == "127.0.0.1"


# ---- append-only, enforced by the database ---------------------------------------------------------


async def a_trail(db: Database, people: dict[str, Any]) -> None:
    """A case with its events, and an audit entry."""
    lina = actor_of(people["lina"])
    t = await services.register(db, lina, services.NewTicket(kind=Kind.complaint, category="物业管理",
                                                             content="电梯坏了", caller_phone="13800138000"))
    await services.act(db, lina, t.number, "dispatch", None, {"department": "zjj"})
    await admin.add_department(db, actor_of(people["admin"]), "sjj", "市水务局")


@pytest.mark.parametrize("table", [AuditEntry, TicketEvent])
async def test_the_database_refuses_to_update_or_delete_a_trail_row(world, table: Any) -> None:  # type: ignore[no-untyped-def]
    _, db, people = world
    await a_trail(db, people)
    name = table.__tablename__
    async with db.session() as s:
        before = [tuple(r) for r in (await s.execute(select(table.__table__))).all()]
    assert before
    attempts = [
        update(table).values(actor_name="someone else"),
        update(table).where(table.id == 1).values(at=utcnow()),
        delete(table).where(table.id == 1),
        delete(table),
        text(f"UPDATE {name} SET actor_id = NULL"),
        text(f"DELETE FROM {name}"),
    ]
    for stmt in attempts:
        with pytest.raises(IntegrityError, match=f"{name} is append-only"):
            async with db.transaction() as s:
                await s.execute(stmt)
    # through the ORM too
    with pytest.raises(IntegrityError, match="append-only"):
        async with db.transaction() as s:
            row = (await s.scalars(select(table).limit(1))).one()
            row.actor_name = "someone else"
    with pytest.raises(IntegrityError, match="append-only"):
        async with db.transaction() as s:
            await s.delete((await s.scalars(select(table).limit(1))).one())
    async with db.session() as s:
        assert [tuple(r) for r in (await s.execute(select(table.__table__))).all()] == before
    # appending stays possible
    await admin.add_department(db, actor_of(people["admin"]), "gaj", "市公安局")


async def test_the_test_set_up_still_empties_the_trails(world) -> None:  # type: ignore[no-untyped-def]
    _, db, people = world
    await a_trail(db, people)
    if db.is_sqlite:
        # SQLite: no TRUNCATE, and DELETE is refused; each test gets a fresh copy of the template
        with pytest.raises(RuntimeError, match="template"):
            await _truncate(db)
        return
    await _truncate(db)  # PostgreSQL: TRUNCATE fires no row trigger
    async with db.session() as s:
        for t in ("audit_log", "ticket_events", "tickets"):
            assert (await s.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one() == 0, t


async def test_the_identity_views_list_reads_its_partial_index(world) -> None:  # type: ignore[no-untyped-def]
    """The cross-case list of identity views is served by ix_ticket_events_views (the query
    states the index's predicate with the value inline)."""
    _, db, people = world
    lina = actor_of(people["lina"])
    t = await services.register(db, lina, services.NewTicket(kind=Kind.report, category="物业管理", content="举报",
                                                             caller_phone="13912345678", caller_name="举报人甲"))
    await services.get(db, lina, t.number, via="case")
    seen: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "ticket_events" in statement and "count(" not in statement.lower():
            seen.append((statement, parameters))

    engine = db.read_engine
    event.listen(engine.sync_engine, "before_cursor_execute", grab)
    try:
        rows, total = await admin.identity_views(db, actor_of(people["chenjing"]), since=utcnow() - timedelta(days=1))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", grab)
    assert total == 1 and rows[0].number == t.number
    [(statement, params)] = seen
    async with engine.connect() as conn:
        if db.is_sqlite:
            plan = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)).all()
        else:
            await conn.exec_driver_sql("SET enable_seqscan = off")  # a tiny table: ask whether it can
            plan = (await conn.exec_driver_sql(f"EXPLAIN {statement}", params)).all()
            await conn.exec_driver_sql("RESET enable_seqscan")
    assert "ix_ticket_events_views" in " ".join(str(r) for r in plan), plan


# ---- the 审计日志 page ---------------------------------------------------------------------------------


async def test_the_admin_reads_the_log_newest_first_filtered_and_paged(world) -> None:  # type: ignore[no-untyped-def]
    app, db, people = world
    a = actor_of(people["admin"])
    for i in range(55):
        await admin.add_department(db, a, f"d{i:02}", f"测试单位{i:02}")
    await admin.update_user(db, a, people["lina"].id, role=Role.operator, department_id=None, seat="8002",
                            active=True, password=PASSWORD)
    async with client(app) as c:
        await sign_in(c, "admin")
        assert 'href="/admin/audit"' in (await c.get("/admin")).text
        r = await c.get("/admin/audit")
        assert r.status_code == 200 and "共 56 条" in r.text and "第 1 / 2 页" in r.text
        actions = re.findall(r'<tr data-action="([^"]+)"><td>([\d\- :]+)</td>', r.text)
        assert len(actions) == 50 and actions[0][0] == "user.update"  # newest first
        assert [t for _, t in actions] == sorted((t for _, t in actions), reverse=True)
        assert "坐席：8001 → 8002" in r.text and "密码：已修改" in r.text and PASSWORD not in r.text
        assert "测试单位54" in r.text and "代码：d54" in r.text
        assert 'href="/admin/audit?page=2"' in r.text
        r2 = await c.get("/admin/audit?page=2")
        assert len(re.findall(r"<tr data-action=", r2.text)) == 6 and "上一页" in r2.text
        by_action = await c.get("/admin/audit?action=user.update")
        assert "修改用户 · 共 1 条" in by_action.text
        by_admin = await c.get(f"/admin/audit?actor={people['admin'].id}")
        assert "管理员 · 全部操作 · 共 56 条" in by_admin.text
        assert "共 0 条" in (await c.get("/admin/audit?actor=cli")).text
        assert "共 56 条" in (await c.get("/admin/audit?from=2000-01-01&to=2099-12-31")).text
        assert "共 0 条" in (await c.get("/admin/audit?from=2000-01-01&to=2000-01-31")).text
        for bad in ("from=2026-13-01", "from=2026-02-01&to=2026-01-01", "actor=abc", "action=user.delete"):
            r = await c.get(f"/admin/audit?{bad}")
            assert r.status_code == 422, bad
        assert "2026-13-01" in (await c.get("/admin/audit?from=2026-13-01")).text
    for who in ("chenjing", "lina", "zhangwei"):
        async with client(app) as c:
            if who == "lina":
                await sign_in(c, who, PASSWORD)  # the admin reset it above
            else:
                await sign_in(c, who)
            assert (await c.get("/admin/audit")).status_code == 403, who
    with pytest.raises(Forbidden):
        await admin.audit_log(db, actor_of(people["chenjing"]))
