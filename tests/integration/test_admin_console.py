"""Two admin-side pages of the console, httpx against the ASGI app on SQLite and PostgreSQL:

- the deadline and callback rules per kind (sla_rules): the table, the edit form, its checks
  (a bad value → 422 with the field's error and nothing written), the audit_log entry (old →
  new, in the change's transaction), and the reference data every process reads;
- who viewed a whistleblower's identity: the case page's 身份信息查阅记录 and the list across
  cases for supervisors and the admin only — operators and clerks never see who looked, on
  the case page, its print form or the API's trail.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from callbacks.due import rules_for
from callcenter.cases import services
from callcenter.core.errors import Forbidden
from callcenter.core.settings import Settings
from callcenter.entry.app import create_app
from callcenter.people import admin
from callcenter.people.auth import actor_of, issue_token
from callcenter.store.db import Database
from callcenter.store.models import AuditEntry, Kind, Notification, SlaRule, TicketEvent, User
from tests.console_people import seed_console_people, sign_in

COMPLAINT = {  # the migration's values for 民众诉求 (DOMAIN.md 'Deadlines')
    "resolve_working_days": "5", "urgent_resolve_working_days": "1", "max_extension_working_days": "10",
    "accept_working_minutes": "120", "urgent_accept_working_minutes": "30", "return_working_days": "2", "dispatch_working_days": "0",
    "callback_working_days": "1", "callback_max_attempts": "3", "callback_attempt_gap_minutes": "120",
    "missed_callback_working_minutes": "60", "remind_before_working_days": "1",
    "remind_before_working_minutes": "120", "escalate_after_working_days": "5",
}


@pytest.fixture
async def world(database: Database, tmp_path: Path) -> AsyncIterator[tuple[Any, Database, dict[str, Any]]]:
    db = database
    await seed_console_people(db)
    async with db.session() as s:
        people = {u.username: u for u in (await s.scalars(select(User))).all()}
        # sla_rules outlives a test on PostgreSQL (conftest truncates data tables only): put it back
        saved = [{c.name: getattr(r, c.name) for c in SlaRule.__table__.columns} for r in
                 (await s.scalars(select(SlaRule))).all()]
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url), db=db)
    try:
        yield app, db, people
    finally:
        async with db.transaction() as s:
            for row in saved:
                await s.execute(update(SlaRule).where(SlaRule.kind == row["kind"]).values(**row))
        db.refcache.invalidate()


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://console.test")


async def complaint_row(db: Database) -> dict[str, int]:
    async with db.session() as s:
        r = (await s.execute(select(SlaRule).where(SlaRule.kind == Kind.complaint))).scalar_one()
        return admin.sla_values(r)


async def audit_rows(db: Database) -> list[AuditEntry]:
    async with db.session() as s:
        return list((await s.scalars(select(AuditEntry).where(AuditEntry.target_type == "sla_rule")
                                     .order_by(AuditEntry.id))).all())


# ---- the rules table and its form ----------------------------------------------------------------


async def test_the_admin_sees_every_kinds_rules_with_their_units(world) -> None:  # type: ignore[no-untyped-def]
    app, _, _ = world
    async with client(app) as c:
        await sign_in(c, "admin")
        assert 'href="/admin/sla"' in (await c.get("/admin")).text
        r = await c.get("/admin/sla")
        assert r.status_code == 200
        for label in ("民众诉求", "政策咨询", "干部举报", "建议意见", "求助", "表扬", "依申请公开"):
            assert label in r.text
        for unit in ("工作日", "分钟（工作时间）", "次", "工作小时"):
            assert unit in r.text
        cell = re.search(r'data-kind="disclosure" data-field="resolve_working_days">(\d+)', r.text)
        assert cell and cell.group(1) == "20"  # 依申请公开: 20 working days
        form = await c.get("/admin/sla/complaint")
        assert form.status_code == 200
        assert 'name="callback_max_attempts" value="3"' in form.text and re.search(r"回访最多拨打</label>\s*<span><input[^>]*> <span class=\"unit\">次</span>", form.text)
        assert (await c.get("/admin/sla/nosuchkind")).status_code == 404


async def test_a_change_is_saved_with_its_audit_entry_and_every_reader_sees_it(world) -> None:  # type: ignore[no-untyped-def]
    app, db, people = world
    # another process (the scheduler, another web worker) with the rules in its cache already
    other = Database(db.url)
    try:
        assert (await other.ref()).sla_for(Kind.complaint).callback_max_attempts == 3
        assert (await db.ref()).sla_for(Kind.complaint).resolve_working_days == 5
        async with client(app) as c:
            s = await sign_in(c, "admin")
            seen = admin.sla_fingerprint({k: int(v) for k, v in COMPLAINT.items()})
            r = await c.post("/admin/sla/complaint", data={
                "csrf_token": s.csrf, "seen": seen, **COMPLAINT, "resolve_working_days": "7",
                "callback_max_attempts": "2", "callback_attempt_gap_minutes": "90"})
            assert r.status_code == 303 and r.headers["location"] == "/admin/sla"
            page = (await c.get("/admin/sla")).text
            assert "已保存民众诉求的办理时限规则（3 项改动）" in page
            assert "办理期限 5 → 7 工作日" in page and "回访最多拨打 3 → 2 次" in page
            assert "两次拨打至少间隔 120 → 90 分钟" in page
        assert await complaint_row(db) == {k: int(v) for k, v in COMPLAINT.items()} | {
            "resolve_working_days": 7, "callback_max_attempts": 2, "callback_attempt_gap_minutes": 90}
        [entry] = await audit_rows(db)
        assert (entry.actor_id, entry.actor_name, entry.actor_role) == (people["admin"].id, "管理员", "admin")
        assert (entry.action, entry.target_type, entry.target_id, entry.target_label) == (
            "sla.update", "sla_rule", "complaint", "民众诉求")
        assert entry.changes == {"resolve_working_days": [5, 7], "callback_max_attempts": [3, 2],
                                 "callback_attempt_gap_minutes": [120, 90]}
        assert entry.request_id and entry.ip  # the web request's id (as in its log lines) and the client
        # no longer a notifications row (the stop-gap before audit_log existed)
        async with db.session() as s:
            assert (await s.scalars(select(Notification))).all() == []
        # this process at once: a new case's deadline and the callback rules follow
        ref = await db.ref()
        assert ref.sla_for(Kind.complaint).resolve_working_days == 7
        assert rules_for(ref, Kind.complaint).max_attempts == 2
        assert rules_for(ref, Kind.complaint).attempt_gap == timedelta(minutes=90)
        # another process when its copy expires (RefCache.ttl): re-read on its next tick after that
        assert (await other.ref()).sla_for(Kind.complaint).callback_max_attempts == 3  # still cached
        other.refcache._data.loaded_at -= other.refcache.ttl + 1  # type: ignore[union-attr]
        assert rules_for(await other.ref(), Kind.complaint).max_attempts == 2
        # nothing changed → nothing written
        assert await admin.save_sla_rule(db, actor_of(people["admin"]), "complaint",
                                         {**COMPLAINT, "resolve_working_days": "7", "callback_max_attempts": "2",
                                          "callback_attempt_gap_minutes": "90"}) == {}
        assert len(await audit_rows(db)) == 1
        # the audit entry is no notice: no notice list shows it
        async with client(app) as c:
            await sign_in(c, "chenjing")
            assert "回访最多拨打" not in (await c.get("/notices")).text
    finally:
        await other.dispose()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("callback_max_attempts", "0", "回访最多拨打应在 1–10 次之间"),
    ("callback_max_attempts", "11", "回访最多拨打应在 1–10 次之间"),
    ("callback_attempt_gap_minutes", "5", "两次拨打至少间隔应在 10–1440 分钟之间"),
    ("resolve_working_days", "五", "办理期限须为整数（工作日），“五”不是"),
    ("resolve_working_days", "3.5", "办理期限须为整数（工作日），“3.5”不是"),
    ("resolve_working_days", "-1", "办理期限须为整数（工作日），“-1”不是"),
    ("escalate_after_working_days", "", "请填写超期后督办（工作日）"),
    ("urgent_resolve_working_days", "6", "紧急件办理期限不能长于办理期限（5 工作日）"),
    ("urgent_accept_working_minutes", "180", "紧急件签收期限不能长于签收期限（120 分钟）"),
    ("remind_before_working_days", "6", "到期前提醒不能超过办理期限（5 工作日）"),
    ("remind_before_working_minutes", "1951", "到期前再次提醒不能超过办理期限（5 工作日 = 1950 工作分钟）"),
])
async def test_a_bad_value_gets_the_form_back_with_its_error_and_nothing_changes(  # type: ignore[no-untyped-def]
        world, field: str, value: str, message: str) -> None:
    app, db, _ = world
    before = await complaint_row(db)
    async with client(app) as c:
        s = await sign_in(c, "admin")
        r = await c.post("/admin/sla/complaint", data={
            "csrf_token": s.csrf, **COMPLAINT, "max_extension_working_days": "12", field: value})
        assert r.status_code == 422
        err = re.search(rf'id="err-{field}">([^<]*)<', r.text)
        assert err and err.group(1) == message, r.text[:3000]
        assert f'name="{field}" value="{value}"' in r.text  # what was typed stays in the form
        assert 'name="max_extension_working_days" value="12"' in r.text  # and the other fields too
        assert len(re.findall(r'class="error field-error"', r.text)) == 1
    assert await complaint_row(db) == before
    assert await audit_rows(db) == []


async def test_every_wrong_field_is_named_at_once(world) -> None:  # type: ignore[no-untyped-def]
    app, db, _ = world
    async with client(app) as c:
        s = await sign_in(c, "admin")
        r = await c.post("/admin/sla/report", data={"csrf_token": s.csrf, **COMPLAINT, "callback_max_attempts": "x",
                                                    "return_working_days": "99", "accept_working_minutes": ""})
        assert r.status_code == 422
        assert set(re.findall(r'id="err-(\w+)"', r.text)) == {
            "callback_max_attempts", "return_working_days", "accept_working_minutes"}
    assert await audit_rows(db) == []


async def test_a_save_over_rules_changed_meanwhile_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    app, db, people = world
    async with client(app) as c:
        s = await sign_in(c, "admin")
        form = (await c.get("/admin/sla/complaint")).text
        seen = re.search(r'name="seen" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
        # another admin saves first
        await admin.save_sla_rule(db, actor_of(people["admin"]), Kind.complaint, {**COMPLAINT, "resolve_working_days": "6"})
        r = await c.post("/admin/sla/complaint", data={"csrf_token": s.csrf, "seen": seen, **COMPLAINT,
                                                       "callback_max_attempts": "5"})
        assert r.status_code == 409 and "已被他人修改" in r.text
        assert 'name="resolve_working_days" value="6"' in r.text  # the form shows the current values
    assert (await complaint_row(db))["resolve_working_days"] == 6
    assert (await complaint_row(db))["callback_max_attempts"] == 3
    assert len(await audit_rows(db)) == 1


async def test_only_the_admin_changes_rules_and_only_with_the_forms_token(world) -> None:  # type: ignore[no-untyped-def]
    app, db, people = world
    before = await complaint_row(db)
    for who in ("chenjing", "lina", "zhangwei"):
        async with client(app) as c:
            s = await sign_in(c, who)
            for path in ("/admin/sla", "/admin/sla/complaint"):
                assert (await c.get(path)).status_code == 403, (who, path)
            r = await c.post("/admin/sla/complaint", data={"csrf_token": s.csrf, **COMPLAINT,
                                                           "resolve_working_days": "9"})
            assert r.status_code == 403, who
    async with client(app) as c:
        await sign_in(c, "admin")
        r = await c.post("/admin/sla/complaint", data={**COMPLAINT, "resolve_working_days": "9"})
        assert r.status_code == 403 and "安全令牌" in r.text
    with pytest.raises(Forbidden):
        await admin.save_sla_rule(db, actor_of(people["chenjing"]), Kind.complaint, COMPLAINT)
    assert await complaint_row(db) == before and await audit_rows(db) == []


# ---- who viewed a whistleblower's identity ---------------------------------------------------------


async def confidential_case(db: Database, people: dict[str, Any]) -> str:
    """A 干部举报 registered and dispatched to 住建局 by 李娜 (陈静 does nothing to it but look)."""
    lina = actor_of(people["lina"])
    t = await services.register(db, lina, services.NewTicket(
        kind=Kind.report, category="物业管理", content="某干部收受物业公司好处", caller_phone="13912345678",
        caller_name="举报人甲"))
    await services.act(db, lina, t.number, "dispatch", None, {"department": "zjj"})
    return t.number


async def test_the_case_page_lists_who_viewed_the_identity_to_supervisors_only(world) -> None:  # type: ignore[no-untyped-def]
    app, db, people = world
    number = await confidential_case(db, people)
    async with client(app) as c:
        await sign_in(c, "lina")
        assert "举报人甲" in (await c.get(f"/cases/{number}")).text  # the operator sees the identity: recorded
    async with client(app) as c:
        await sign_in(c, "chenjing")
        assert (await c.get(f"/cases/{number}/print")).status_code == 200
        html = (await c.get(f"/cases/{number}")).text
    token = await issue_token(db, "chenjing")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://console.test") as api:
        r = await api.get(f"/api/v1/tickets/{number}", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
    section = html[html.index('id="identity-views"'):]
    rows = re.findall(r"<tr><td>[\d\- :]+</td><td>(\S+?)</td><td>(\S+?)</td><td>(\S+?)</td></tr>", section)
    # newest first: 陈静 on this page (recorded before it was drawn), 陈静's print, 李娜's case page
    assert rows == [("陈静", "班长", "工单页"), ("陈静", "班长", "打印登记表"), ("李娜", "话务员", "工单页")]
    async with db.session() as s:
        data = [e.data for e in (await s.scalars(select(TicketEvent).where(TicketEvent.action == "view")
                                                  .order_by(TicketEvent.id))).all()]
    assert data == [{"role": "operator", "via": "case"}, {"role": "supervisor", "via": "print"},
                    {"role": "supervisor", "via": "case"}, {"role": "supervisor", "via": "api"}]
    # the 办理记录 keeps to the workflow's steps
    steps = html[html.index("<h2>办理记录</h2>"):html.index('id="identity-views"')]
    assert "查看保密件" not in steps and "陈静" not in steps


async def test_operators_and_clerks_never_see_who_viewed_it(world) -> None:  # type: ignore[no-untyped-def]
    app, db, people = world
    number = await confidential_case(db, people)
    async with client(app) as c:
        await sign_in(c, "chenjing")
        await c.get(f"/cases/{number}")  # 陈静 looks: who investigates is itself confidential
    for who in ("lina", "zhangwei"):
        async with client(app) as c:
            await sign_in(c, who)
            for path in (f"/cases/{number}", f"/cases/{number}/print"):
                r = await c.get(path)
                assert r.status_code == 200 and number in r.text, (who, path)
                for leak in ("身份信息查阅记录", "查看保密件", "陈静", ">view<"):
                    assert leak not in r.text, (who, path, leak)
            assert (await c.get("/audit/identity-views")).status_code == 403, who
        token = await issue_token(db, who)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://console.test") as api:
            trail = (await api.get(f"/api/v1/tickets/{number}/events",
                                   headers={"Authorization": f"Bearer {token}"})).json()
            assert trail and all(e["action"] != "view" and e["actor"] != "陈静" for e in trail), (who, trail)
    # the supervisor's API trail keeps them (the existing contract of the audit trail)
    events = await services.events(db, actor_of(people["chenjing"]), number)
    assert [e.actor_name for e in events if e.action == "view"] == ["陈静", "李娜", "李娜"]  # clerks record none
    assert [e.action for e in await services.events(db, actor_of(people["zhangwei"]), number)] == ["register", "dispatch"]


async def test_the_list_across_cases_filters_pages_and_is_for_supervisors_and_the_admin(world) -> None:  # type: ignore[no-untyped-def]
    app, db, people = world
    a, b = await confidential_case(db, people), await confidential_case(db, people)
    lina, chenjing = actor_of(people["lina"]), actor_of(people["chenjing"])
    for _ in range(30):
        await services.get(db, lina, a, via="case")
    for _ in range(25):
        await services.get(db, chenjing, b, via="print")
    plain = await services.register(db, lina, services.NewTicket(kind=Kind.complaint, category="物业管理",
                                                                 content="路灯不亮"))
    await services.get(db, chenjing, plain.number, via="case")  # not confidential: not recorded
    async with client(app) as c:
        await sign_in(c, "chenjing")
        r = await c.get("/audit/identity-views")
        assert r.status_code == 200 and "共 55 条" in r.text and "第 1 / 2 页" in r.text
        rows = re.findall(r'<tr><td>([\d\- :]+)</td>\s*<td><a href="/cases/([^"]+)">', r.text)
        assert len(rows) == 50 and rows[0][1] == b  # newest first: 陈静's prints of b came last
        assert [t for t, _ in rows] == sorted((t for t, _ in rows), reverse=True)
        assert 'href="/audit/identity-views?page=2"' in r.text
        r2 = await c.get("/audit/identity-views?page=2")
        assert len(re.findall(r'<a href="/cases/', r2.text)) == 5 and "上一页" in r2.text
        by_lina = await c.get(f"/audit/identity-views?user={people['lina'].id}")
        assert "李娜 · 共 30 条" in by_lina.text and f"/cases/{b}" not in by_lina.text
        today = (await c.get("/audit/identity-views?from=2000-01-01&to=2099-12-31")).text
        assert "共 55 条" in today
        assert "共 0 条" in (await c.get("/audit/identity-views?from=2000-01-01&to=2000-01-31")).text
        bad = await c.get("/audit/identity-views?from=2026-13-01")
        assert bad.status_code == 422 and "2026-13-01" in bad.text
        assert (await c.get("/audit/identity-views?from=2026-02-01&to=2026-01-01")).status_code == 422
        assert (await c.get("/audit/identity-views?user=abc")).status_code == 422
    async with client(app) as c:
        await sign_in(c, "admin")
        assert 'href="/audit/identity-views"' in (await c.get("/admin")).text
        r = await c.get(f"/audit/identity-views?user={people['chenjing'].id}")
        assert r.status_code == 200 and "共 25 条" in r.text and "打印登记表" in r.text
        assert '<a href="/cases/' not in r.text  # the admin opens no cases
    with pytest.raises(Forbidden):
        await admin.identity_views(db, actor_of(people["zhangwei"]))


def test_the_audit_trail_has_no_update_or_delete_path() -> None:
    """ticket_events is append-only by the code too: nothing tries to update or delete its rows
    (the database refuses it: tests/integration/test_audit_log.py)."""
    root = Path(__file__).resolve().parents[2]
    pattern = re.compile(r"(update|delete)\(\s*(TicketEvent|table_of\(TicketEvent\))|"
                         r"(UPDATE|DELETE\s+FROM)\s+ticket_events|session\.delete\(\s*e\b", re.I)
    hits = [f"{p.relative_to(root)}:{n}" for pkg in ("callcenter", "callbacks", "reports", "telephony")
            for p in (root / pkg).rglob("*.py") if "migrations" not in p.parts
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert hits == []
