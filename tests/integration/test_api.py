"""The JSON API over HTTP (ASGI), on SQLite and PostgreSQL, with the named personas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from callcenter.core.settings import Settings
from callcenter.entry.app import create_app
from callcenter.store.db import Database
from callcenter.store.models import Ticket, TicketEvent
from tests.conftest import Personas

NEW = {
    "kind": "complaint",
    "category": "物业管理",
    "content": "小区物业乱收费，电梯长期故障无人维修",
    "caller_phone": "13812345678",
    "caller_name": "王小明",
    "address": "步步高大道18号",
}


class Client:
    def __init__(self, http: httpx.AsyncClient, tokens: dict[str, str]) -> None:
        self.http = http
        self.tokens = tokens

    async def post(self, who: str, url: str, body: dict[str, Any]) -> httpx.Response:
        return await self.http.post(url, json=body, headers={"Authorization": f"Bearer {self.tokens[who]}"})

    async def get(self, who: str, url: str, **params: Any) -> httpx.Response:
        return await self.http.get(url, params=params, headers={"Authorization": f"Bearer {self.tokens[who]}"})

    async def create(self, who: str = "lina", **over: Any) -> dict[str, Any]:
        r = await self.post(who, "/api/v1/tickets", {**NEW, **over})
        assert r.status_code == 201, r.text
        return r.json()

    async def act(self, who: str, t: dict[str, Any], action: str, **fields: Any) -> httpx.Response:
        return await self.post(
            who, f"/api/v1/tickets/{t['number']}/transitions", {"action": action, "version": t["version"], **fields}
        )

    async def ok(self, who: str, t: dict[str, Any], action: str, **fields: Any) -> dict[str, Any]:
        r = await self.act(who, t, action, **fields)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
async def client(database: Database, personas: Personas, tmp_path) -> AsyncIterator[Client]:  # type: ignore[no-untyped-def]
    app = create_app(Settings(data_dir=tmp_path), db=database)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield Client(http, personas.tokens)


async def test_it_registers_a_case_with_number_deadline_and_routing(client: Client) -> None:
    t = await client.create(content="和平街道小区物业乱收费")
    assert t["status"] == "registered"
    assert t["number"].startswith("GD") and len(t["number"]) >= 15
    assert t["version"] == 1
    assert datetime.fromisoformat(t["due_at"]) > datetime.fromisoformat(t["registered_at"])
    # keyword rule (和平街道, 物业管理) wins over the category's default 住建局
    assert t["suggested_department"] == "和平街道办事处"
    t2 = await client.create()
    assert t2["suggested_department"] == "住房和城乡建设局"
    assert t2["number"] != t["number"]


async def test_a_full_case_goes_from_registration_to_closed_with_its_audit_trail(client: Client) -> None:
    t = await client.create()
    t = await client.ok("lina", t, "dispatch", department="zjj")
    assert t["status"] == "dispatched" and t["department"] == "住房和城乡建设局"
    t = await client.ok("zhangwei", t, "accept")
    t = await client.ok("zhangwei", t, "resolve", resolution="已联系物业公司整改，电梯已修复")
    assert t["status"] == "resolved" and t["callback_result"] == "pending"
    t = await client.ok("lina", t, "callback", outcome="satisfied", words="修好了，谢谢", solved=True)
    assert t["status"] == "closed" and t["satisfaction"] == "satisfied"
    r = await client.get("chenjing", f"/api/v1/tickets/{t['number']}/events")
    trail = [(e["action"], e["from_status"], e["to_status"], e["actor"]) for e in r.json()]
    assert trail == [
        ("register", None, "registered", "李娜"),
        ("dispatch", "registered", "dispatched", "李娜"),
        ("accept", "dispatched", "accepted", "张伟"),
        ("resolve", "accepted", "resolved", "张伟"),
        ("callback", "resolved", "closed", "李娜"),
    ]


async def test_dissatisfaction_reopens_and_a_second_resolution_follows(client: Client) -> None:
    t = await client.create()
    t = await client.ok("lina", t, "dispatch", department="zjj")
    t = await client.ok("zhangwei", t, "accept")
    t = await client.ok("zhangwei", t, "resolve", resolution="已处理")
    t = await client.ok("lina", t, "callback", outcome="dissatisfied", words="根本没人来修")
    assert t["status"] == "reopened" and t["reopen_count"] == 1 and t["resolved_at"] is None
    t = await client.ok("zhangwei", t, "resolve", resolution="二次上门，已修复")
    assert t["status"] == "resolved" and t["callback_result"] == "pending"


async def test_return_and_redispatch_to_another_department(client: Client) -> None:
    t = await client.create(category="城市管理", content="路灯不亮")
    t = await client.ok("lina", t, "dispatch", department="zjj")
    t = await client.ok("zhangwei", t, "return", reason="路灯属城管局管理")
    assert t["status"] == "returned" and t["return_reason"] == "路灯属城管局管理"
    t = await client.ok("lina", t, "redispatch", department="cgj")
    assert t["status"] == "dispatched" and t["department_code"] == "cgj"
    t = await client.ok("wangfang", t, "accept")
    assert t["status"] == "accepted"


async def test_extension_request_and_approval_move_the_deadline(client: Client) -> None:
    t = await client.create()
    t = await client.ok("lina", t, "dispatch", department="zjj")
    t = await client.ok("zhangwei", t, "accept")
    due = datetime.fromisoformat(t["due_at"])
    until = (due + timedelta(days=3)).isoformat()
    t = await client.ok("zhangwei", t, "request_extension", until=until, reason="需协调供电公司")
    assert t["extension_requested_until"] is not None
    t = await client.ok("chenjing", t, "decide_extension", approve=True)
    assert datetime.fromisoformat(t["due_at"]) == due + timedelta(days=3)
    assert t["extensions_granted"] == 1


async def test_a_duplicate_is_merged_into_the_earlier_case(client: Client) -> None:
    first = await client.create()
    dup = await client.create(caller_phone="13900001111")
    dup = await client.ok("lina", dup, "merge", into=first["number"])
    assert dup["status"] == "merged"
    r = await client.act("lina", dup, "merge", into=first["number"])
    assert r.status_code == 409
    other = await client.create()
    r = await client.act("lina", other, "merge", into=dup["number"])
    assert r.status_code == 409


async def test_roles_that_may_never_act_get_403_and_wrong_states_get_409(client: Client) -> None:
    t = await client.create()
    assert (await client.act("zhangwei", t, "dispatch", department="zjj")).status_code == 403
    assert (await client.act("admin", t, "dispatch", department="zjj")).status_code == 403
    assert (await client.act("lina", t, "resolve", resolution="x")).status_code == 403
    assert (await client.act("lina", t, "close")).status_code == 403
    assert (await client.act("chenjing", t, "close")).status_code == 409
    assert (await client.post("admin", "/api/v1/tickets", NEW)).status_code == 403
    assert (await client.post("zhangwei", "/api/v1/tickets", NEW)).status_code == 403


async def test_a_clerk_of_another_department_cannot_see_or_touch_the_case(client: Client) -> None:
    t = await client.create()
    t = await client.ok("lina", t, "dispatch", department="zjj")
    assert (await client.get("wangfang", f"/api/v1/tickets/{t['number']}")).status_code == 403
    assert (await client.get("wangfang", f"/api/v1/tickets/{t['number']}/events")).status_code == 403
    assert (await client.act("wangfang", t, "accept")).status_code == 403
    listed = (await client.get("wangfang", "/api/v1/tickets")).json()
    assert listed["total"] == 0 and listed["items"] == []
    mine = (await client.get("zhangwei", "/api/v1/tickets")).json()
    assert [x["number"] for x in mine["items"]] == [t["number"]]


async def test_a_whistleblowers_identity_is_never_shown_to_the_department(client: Client) -> None:
    t = await client.create(kind="report", category="城市管理", content="举报某执法人员收受好处",
                            caller_name="匿名举报人", caller_phone="13700001234")
    assert t["confidential"] is True
    t = await client.ok("chenjing", t, "dispatch", department="cgj")
    seen = (await client.get("wangfang", f"/api/v1/tickets/{t['number']}")).json()
    assert seen["caller_name"] is None and seen["caller_phone"] is None and seen["identity_hidden"] is True
    listed = (await client.get("wangfang", "/api/v1/tickets")).json()["items"][0]
    assert listed["caller_phone"] is None and listed["caller_name"] is None
    hotline = (await client.get("chenjing", f"/api/v1/tickets/{t['number']}")).json()
    assert hotline["caller_name"] == "匿名举报人" and hotline["caller_phone"] == "13700001234"


async def test_lists_mask_phone_numbers(client: Client) -> None:
    await client.create(caller_phone="13812345678")
    items = (await client.get("lina", "/api/v1/tickets")).json()["items"]
    assert items[0]["caller_phone"] == "138****5678"


async def test_it_refuses_a_stale_version(client: Client, database: Database) -> None:
    t = await client.create()
    t2 = await client.ok("lina", t, "dispatch", department="zjj")
    r = await client.act("zhangwei", t, "accept")  # t still says version 1
    assert r.status_code == 409 and "已被他人修改" in r.json()["detail"]
    assert (await client.ok("zhangwei", t2, "accept"))["status"] == "accepted"


async def test_of_two_concurrent_edits_one_wins_and_the_other_gets_409(client: Client, database: Database) -> None:
    t = await client.create()
    t = await client.ok("lina", t, "dispatch", department="zjj")
    results = await asyncio.gather(
        client.act("zhangwei", t, "accept"),
        client.act("zhangwei", t, "return", reason="不属于本单位"),
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409], [r.text for r in results]
    async with database.session() as s:
        row = (await s.execute(select(Ticket).where(Ticket.number == t["number"]))).scalar_one()
        n_events = (await s.execute(select(func.count()).where(TicketEvent.ticket_id == row.id))).scalar_one()
    assert row.version == 3
    assert n_events == 3  # register, dispatch, and exactly one of accept/return: nothing half-written


async def test_concurrent_registrations_get_unique_numbers(client: Client) -> None:
    made = await asyncio.gather(*(client.create() for _ in range(20)))
    numbers = [t["number"] for t in made]
    assert len(set(numbers)) == 20


async def test_validation_errors_name_the_field(client: Client) -> None:
    r = await client.post("lina", "/api/v1/tickets", {**NEW, "kind": "gossip"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "kind"
    r = await client.post("lina", "/api/v1/tickets", {**NEW, "category": "不存在的分类"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "category"
    r = await client.post("lina", "/api/v1/tickets", {**NEW, "caller_phone": "abc"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "caller_phone"
    r = await client.post("lina", "/api/v1/tickets", {k: v for k, v in NEW.items() if k != "content"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "content"
    t = await client.create()
    r = await client.act("lina", t, "dispatch")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "department"


async def test_unknown_cases_are_404_and_missing_tokens_401(client: Client) -> None:
    assert (await client.get("lina", "/api/v1/tickets/GD19990101-0001")).status_code == 404
    r = await client.http.get("/api/v1/tickets")
    assert r.status_code == 401
    r = await client.http.get("/api/v1/tickets", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


async def test_search_finds_cases_by_words_phone_and_number(client: Client) -> None:
    a = await client.create(content="楼下烧烤油烟扰民", caller_phone="0731-51489227")
    await client.create(content="电梯故障")
    by_words = (await client.get("lina", "/api/v1/tickets", q="油烟")).json()
    assert [x["number"] for x in by_words["items"]] == [a["number"]]
    by_phone = (await client.get("lina", "/api/v1/tickets", phone="073151489227")).json()
    assert [x["number"] for x in by_phone["items"]] == [a["number"]]
    by_number = (await client.get("lina", "/api/v1/tickets", q=a["number"])).json()
    assert by_number["total"] == 1


async def test_the_caller_history_finds_earlier_cases_of_the_same_number_written_differently(client: Client) -> None:
    a = await client.create(caller_phone="0731-51489227")
    await client.create(caller_phone="13900001111")
    r = await client.get("lina", "/api/v1/callers/073151489227/history")
    assert r.status_code == 200
    assert [t["number"] for t in r.json()["tickets"]] == [a["number"]]
    assert r.json()["tickets"][0]["caller_phone"] == "0731-****9227"
    assert (await client.get("zhangwei", "/api/v1/callers/073151489227/history")).status_code == 403


async def test_who_viewed_a_confidential_case_is_in_its_audit_trail(client: Client) -> None:
    t = await client.create(kind="report", category="城市管理", content="举报某执法人员", caller_name="举报人")
    t = await client.ok("chenjing", t, "dispatch", department="cgj")
    await client.get("chenjing", f"/api/v1/tickets/{t['number']}")
    await client.get("wangfang", f"/api/v1/tickets/{t['number']}")  # the department: identity hidden
    plain = await client.create()
    await client.get("chenjing", f"/api/v1/tickets/{plain['number']}")
    trail = (await client.get("chenjing", f"/api/v1/tickets/{t['number']}/events")).json()
    assert [(e["action"], e["actor"]) for e in trail if e["action"] == "view"] == [("view", "陈静")]
    assert trail[-1]["to_status"] == "dispatched"
    assert (await client.get("chenjing", f"/api/v1/tickets/{t['number']}")).json()["version"] == t["version"]
    plain_trail = (await client.get("chenjing", f"/api/v1/tickets/{plain['number']}/events")).json()
    assert all(e["action"] != "view" for e in plain_trail)


async def test_registration_answers_alike_on_the_fast_path_and_through_the_full_stack(client: Client) -> None:
    # POST /api/v1/tickets with a bearer token is answered in front of the router (api.py's
    # RegisterFastPath); with an Idempotency-Key it goes through FastAPI. Both answers carry the
    # same fields, the security headers and the audit event; every refusal is the full stack's.
    auth = {"Authorization": f"Bearer {client.tokens['lina']}"}
    fast = await client.http.post("/api/v1/tickets", json=NEW, headers=auth)
    full = await client.http.post("/api/v1/tickets", json=NEW, headers={**auth, "Idempotency-Key": "fast-vs-full-1"})
    assert fast.status_code == full.status_code == 201, (fast.text, full.text)
    a, b = fast.json(), full.json()
    assert a.keys() == b.keys() and a["number"] != b["number"]
    same = {k for k in a if k not in ("number", "registered_at", "due_at")}
    assert {k: a[k] for k in same} == {k: b[k] for k in same}
    for r in (fast, full):
        assert r.headers["content-type"] == "application/json"
        assert "script-src 'self' 'nonce-" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    assert "idempotency-key" not in fast.headers and full.headers["idempotency-key"] == "fast-vs-full-1"
    events = (await client.get("lina", f"/api/v1/tickets/{a['number']}/events")).json()
    assert [e["action"] for e in events] == ["register"]

    # what the fast path hands on: each answered as before, with what and where
    r = await client.http.post("/api/v1/tickets", json={**NEW, "category": "不存在的分类"}, headers=auth)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "category"], r.text
    r = await client.http.post("/api/v1/tickets", json={**NEW, "colour": "red"}, headers=auth)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "colour"], r.text
    r = await client.http.post("/api/v1/tickets", json={**NEW, "content": ""}, headers=auth)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "content"], r.text
    r = await client.http.post("/api/v1/tickets", content=b'{"kind": ', headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert (await client.http.post("/api/v1/tickets", json=NEW)).status_code == 401
    assert (await client.http.post("/api/v1/tickets", json=NEW, headers={"Authorization": "Bearer nope"})).status_code == 401
    r = await client.post("zhangwei", "/api/v1/tickets", NEW)  # a clerk may not register
    assert r.status_code == 403 and "content-security-policy" in r.headers, r.text
    listed = (await client.get("lina", "/api/v1/tickets")).json()
    assert listed["total"] == 2  # the refusals wrote nothing
