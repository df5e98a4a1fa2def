"""One submit, one case over the API (issue 12): `Idempotency-Key` on POST /api/v1/tickets and
on transitions. 20 concurrent POSTs with one key → one case and 20 identical answers, on one
worker and spread over two (two apps, each with its own engine, on one store); the key holds
after a "restart" (a new app); a key reused for another request is refused.
The two-processes version (`hotline serve` ×2 on PostgreSQL) is in test_multiprocess_idempotency."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from callcenter.core.settings import Settings
from callcenter.entry.app import create_app
from callcenter.store.db import Database
from callcenter.store.models import IdempotencyKey, Ticket, TicketEvent
from tests.conftest import Personas

NEW = {"kind": "complaint", "category": "物业管理", "content": "小区物业乱收费，电梯长期故障无人维修",
       "caller_phone": "13812345678", "caller_name": "王小明", "address": "和平街道幸福小区"}


async def count(db: Database, model: type) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


def app_on(db_url: str, tmp_path: Path) -> Any:
    # its own Database (engine, pool, reference cache): a worker of its own
    return create_app(Settings(data_dir=tmp_path, database_url=db_url), db=Database(db_url))


async def test_twenty_concurrent_posts_with_one_key_make_one_case(database: Database, personas: Personas,
                                                                  tmp_path: Path) -> None:
    apps = [app_on(database.url, tmp_path), app_on(database.url, tmp_path)]
    clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://test") for a in apps]
    auth = {"Authorization": f"Bearer {personas.tokens['lina']}"}
    try:
        async def post(i: int, key: str, body: dict[str, Any] = NEW) -> httpx.Response:
            return await clients[i % 2].post("/api/v1/tickets", json=body, headers={**auth, "Idempotency-Key": key})

        rs = await asyncio.gather(*(post(i, "one-key-20") for i in range(20)))
        assert {r.status_code for r in rs} == {201}, [r.text for r in rs if r.status_code != 201]
        bodies = [r.json() for r in rs]
        assert all(b == bodies[0] for b in bodies)
        assert sum(1 for r in rs if r.headers.get("Idempotent-Replayed") == "true") == 19
        assert await count(database, Ticket) == 1
        assert await count(database, TicketEvent) == 1  # one 登记 event: nothing else written
        # after a restart (a new worker): the same answer, still one case
        fresh = app_on(database.url, tmp_path)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fresh), base_url="http://test") as c:
            r = await c.post("/api/v1/tickets", json=NEW, headers={**auth, "Idempotency-Key": "one-key-20"})
        assert r.status_code == 201 and r.json() == bodies[0]
        assert await count(database, Ticket) == 1
        # the same key for another request: refused, in Chinese, nothing written
        r = await post(0, "one-key-20", {**NEW, "content": "另一件事"})
        assert r.status_code == 422 and "幂等键" in r.text
        # without a key: a new case each time (the header is optional)
        await clients[0].post("/api/v1/tickets", json=NEW, headers=auth)
        assert await count(database, Ticket) == 2
        # a transition with a key: applied once, the same answer again
        number, version = bodies[0]["number"], bodies[0]["version"]
        body = {"action": "dispatch", "version": version, "department": "hpjd"}
        rs = await asyncio.gather(*(clients[i % 2].post(f"/api/v1/tickets/{number}/transitions", json=body,
                                                        headers={**auth, "Idempotency-Key": "dispatch-1"})
                                    for i in range(6)))
        assert {r.status_code for r in rs} == {200} and all(r.json() == rs[0].json() for r in rs)
        assert rs[0].json()["status"] == "dispatched"
        # another operator's key of the same name is another key
        r = await clients[1].post("/api/v1/tickets", json=NEW, headers={
            "Authorization": f"Bearer {personas.tokens['chenjing']}", "Idempotency-Key": "one-key-20"})
        assert r.status_code == 201 and r.json()["number"] != number
        assert await count(database, IdempotencyKey) == 3
    finally:
        for c in clients:
            await c.aclose()
