"""Listening to recordings in the console (issue 18): who may hear which call, range requests,
and each listen in the case's audit trail (httpx against the ASGI app)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from callcenter.cases import services
from callcenter.core.settings import Settings
from callcenter.entry.app import create_app
from callcenter.people.auth import actor_of, add_user
from callcenter.store.db import Database
from callcenter.store.models import Kind, Role, TicketEvent, User
from tests.console_people import PASSWORD, seed_console_people, sign_in
from tests.integration.test_console_authz import add_collected_recording


@pytest.fixture
async def world(sqlite_database: Database, tmp_path: Path) -> AsyncIterator[tuple[object, Database, dict[str, object]]]:
    db = sqlite_database
    await seed_console_people(db)
    await add_user(db, "zhaolei", Role.operator, display_name="赵磊", password=PASSWORD, seat="8002")
    async with db.session() as s:
        lina = (await s.execute(select(User).where(User.username == "lina"))).scalar_one()
    plain = await services.register(db, actor_of(lina), services.NewTicket(
        kind=Kind.complaint, category="物业管理", content="电梯坏了", caller_phone="13800138000"))
    plain = await services.act(db, actor_of(lina), plain.number, "dispatch", None, {"department": "zjj"})
    secret = await services.register(db, actor_of(lina), services.NewTicket(
        kind=Kind.complaint, category="物业管理", content="物业经理收受好处", caller_phone="13900139000",
        confidential=True))
    secret = await services.act(db, actor_of(lina), secret.number, "dispatch", None, {"department": "zjj"})
    store = tmp_path / "recordings"
    ids = {
        "plain": plain.number, "plain_rec": await add_collected_recording(db, store, plain.number, lina.id),
        "secret": secret.number, "secret_rec": await add_collected_recording(db, store, secret.number, lina.id),
    }
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url), db=db)
    yield app, db, ids


def client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://console.test")  # type: ignore[arg-type]


async def listens(db: Database) -> list[tuple[str, int]]:
    async with db.session() as s:
        rows = (await s.execute(select(TicketEvent.actor_name, TicketEvent.data)
                                .where(TicketEvent.action == "listen").order_by(TicketEvent.id))).all()
    return [(n, d["recording_id"]) for n, d in rows]


# who hears which: 李娜 took both calls; 赵磊 is another operator; a confidential case is the
# supervisors' only; clerks (of the case's department too) and the admin never
MATRIX = {
    "chenjing": {"plain": 200, "secret": 200},
    "lina": {"plain": 200, "secret": 403},
    "zhaolei": {"plain": 403, "secret": 403},
    "zhangwei": {"plain": 403, "secret": 403},
    "wangfang": {"plain": 403, "secret": 403},
    "admin": {"plain": 403, "secret": 403},
}


@pytest.mark.parametrize("username", sorted(MATRIX))
async def test_who_may_listen(world, username: str) -> None:  # type: ignore[no-untyped-def]
    app, db, ids = world
    async with client(app) as c:
        await sign_in(c, username)
        for case, want in MATRIX[username].items():
            url = f"/cases/{ids[case]}/recordings/{ids[case + '_rec']}.wav"
            r = await c.get(url)
            assert r.status_code == want, (username, case, r.status_code)
            if want == 200:
                assert r.headers["content-type"] == "audio/wav" and r.content[:4] == b"RIFF"
            page = await c.get(f"/cases/{ids[case]}")
            if page.status_code == 200:  # the player only for those who may hear it
                assert (url in page.text) == (want == 200), (username, case)
    allowed = sum(1 for v in MATRIX[username].values() if v == 200)
    assert len(await listens(db)) == allowed  # refused fetches record nothing


async def test_range_requests_and_one_listen_per_play(world) -> None:  # type: ignore[no-untyped-def]
    app, db, ids = world
    url = f"/cases/{ids['plain']}/recordings/{ids['plain_rec']}.wav"
    async with client(app) as c:
        await sign_in(c, "chenjing")
        whole = await c.get(url)
        assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
        size = len(whole.content)
        r = await c.get(url, headers={"Range": "bytes=1000-1999"})  # seeking
        assert r.status_code == 206 and r.headers["content-range"] == f"bytes 1000-1999/{size}"
        assert r.content == whole.content[1000:2000]
        r = await c.get(url, headers={"Range": "bytes=0-"})  # the player reloads
        assert r.status_code == 206
        r = await c.get(url, headers={"Range": f"bytes={size + 10}-"})
        assert r.status_code == 416
        assert await listens(db) == [("陈静", ids["plain_rec"])]  # one listen, not one per request
        # the case page shows supervisors who listened
        page = await c.get(f"/cases/{ids['plain']}")
        assert 'id="listens-table"' in page.text and "陈静" in page.text.split('id="listens-table"')[1]
        assert '<audio controls preload="none"' in page.text  # a page open fetches nothing: no listen
        # another of the case's recordings, or a missing one
        assert (await c.get(f"/cases/{ids['plain']}/recordings/{ids['secret_rec']}.wav")).status_code == 404
        assert (await c.get(f"/cases/{ids['plain']}/recordings/999.wav")).status_code == 404
    async with client(app) as c:
        await sign_in(c, "lina")
        assert (await c.get(url)).status_code == 200
        page = await c.get(f"/cases/{ids['plain']}")
        assert 'id="listens-table"' not in page.text  # who listened is for auditors only
    assert await listens(db) == [("陈静", ids["plain_rec"]), ("李娜", ids["plain_rec"])]


async def test_a_removed_recording_is_not_served(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, db, ids = world
    (tmp_path / "recordings" / f"cb-{ids['plain']}.wav").unlink()
    async with client(app) as c:
        await sign_in(c, "chenjing")
        r = await c.get(f"/cases/{ids['plain']}/recordings/{ids['plain_rec']}.wav")
        assert r.status_code == 404
    assert await listens(db) == []
