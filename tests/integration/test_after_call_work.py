"""After-call work (话后整理, issue 12) on real parts: the PBX simulator over TCP, the telephony
adapter, the web app under uvicorn with the operator's page stream.

An answered call ends while its 来电登记 is not saved → the queue member is paused on the PBX
with reason 话后整理 (a QueuePause through the adapter, as 示忙); the board and the wall show the
seat as 话后整理; saving the form unpauses it; a second call whose form is never saved is
unpaused when the seat group's maximum runs out; a call registered before it ends causes no
pause; the calls record how long their after-call work lasted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from callcenter.store.db import Database
from callcenter.store.models import Call, SeatGroup
from telephony.simulator import PBXSimulator, SimConfig
from tests.console_people import csrf_of, seed_console_people
from tests.integration.test_pause_state import Telephony, Web
from tests.livesrv import until

FORM = {"kind": "complaint", "category": "物业管理", "caller_name": "刘先生", "address": "和平街道幸福小区",
        "content": "楼道灯坏了一个月", "then": "save"}


@pytest.fixture
async def pbx() -> AsyncIterator[PBXSimulator]:
    sim = PBXSimulator(SimConfig(operators=1, talk_min_s=1.0, talk_max_s=1.2, wrapup_s=0.0, seed=5))
    sim.generating = False
    sim.port = await sim.start("127.0.0.1", 0)  # type: ignore[attr-defined]
    yield sim
    await sim.stop()


async def acw_of(db: Database, linkedid: str) -> int | None:
    async with db.session() as s:
        return (await s.scalars(select(Call.acw_s).where(Call.linkedid == linkedid))).first()


async def test_after_call_work_pauses_the_seat_until_saved_or_the_maximum(database: Database, tmp_path: Path,
                                                                          pbx: PBXSimulator) -> None:
    db, sim = database, pbx
    await seed_console_people(db)  # lina: seat 8001, the simulator's one queue member
    async with db.transaction() as s:
        await s.execute(update(SeatGroup).where(SeatGroup.queue == "default").values(acw_max_s=3))
    web = await Web(db, tmp_path).start()
    tel = await Telephony(db, web.app.state.bus, sim.port, tmp_path / "tel").start()  # type: ignore[attr-defined]
    member = sim.members[0]
    try:
        lina, csrf = await web.client("lina")
        boss, _ = await web.client("chenjing")
        pop = web.stream(lina)
        await pop.next("hello")

        # -- call 1 ends with the form unsaved: 话后整理 on the PBX ---------------------------------
        sim.inbound_call("13800001111", patience=30, impatient=False)
        call = await pop.next("call")
        ended = await pop.next("ended", lambda d: d["linkedid"] == call["linkedid"], timeout=15)
        assert ended["acw_max_s"] == 3
        await until(lambda: member.paused and member.reason == "话后整理", 5, "the member paused for 话后整理")
        view = await pop.next("pause", lambda d: d["paused"] and not d["pending"])
        assert view["label"] == "话后整理" and view["acw"] is True
        wall = (await boss.get("/wall/data")).json()["board"]
        assert {s["seat"]: s["state"] for s in wall["seats"]}["8001"] == "acw" and wall["acw"] == 1
        assert "话后整理" in (await lina.get("/operator")).text

        # -- saved: unpaused at once, the call records its after-call work -------------------------
        csrf = csrf_of((await lina.get("/operator")).text)
        r = await lina.post("/operator/register", data={"csrf_token": csrf, **FORM, "form_key": "acw-1",
                                                        "linkedid": call["linkedid"],
                                                        "caller_phone": "13800001111"})
        assert r.status_code == 303, r.text[:500]
        await until(lambda: not member.paused, 5, "the member unpaused on save")
        assert (await acw_of(db, call["linkedid"])) is not None

        # -- call 2: nothing saved → unpaused when the maximum (3 s) runs out ----------------------
        sim.inbound_call("13800002222", patience=30, impatient=False)
        call2 = await pop.next("call", timeout=15)
        await pop.next("ended", lambda d: d["linkedid"] == call2["linkedid"], timeout=15)
        await until(lambda: member.paused and member.reason == "话后整理", 5, "paused again")
        await until(lambda: not member.paused, 8, "the member unpaused after the maximum")
        acw = await acw_of(db, call2["linkedid"])
        assert acw is not None and 2 <= acw <= 6, acw

        # -- call 3: registered while it is on → no after-call work --------------------------------
        sim.inbound_call("13800003333", patience=30, impatient=False)
        call3 = await pop.next("call", timeout=15)
        await until(lambda: _has_call(db, call3["linkedid"]), 5, "the call stored")
        csrf = csrf_of((await lina.get("/operator")).text)
        r = await lina.post("/operator/register", data={"csrf_token": csrf, **FORM, "form_key": "acw-3",
                                                        "linkedid": call3["linkedid"],
                                                        "caller_phone": "13800003333"})
        assert r.status_code == 303
        ended3 = await pop.next("ended", lambda d: d["linkedid"] == call3["linkedid"], timeout=15)
        assert "acw_max_s" not in ended3
        assert not member.paused

        # -- the figures: average after-call work over the calls that had some ----------------------
        from callcenter.floor.agents import local_today
        from reports.metrics import metrics

        today = local_today()
        k = (await metrics(db, today, today))["calls"]
        first = await acw_of(db, call["linkedid"])
        assert k["acw_calls"] == 2 and k["avg_acw_s"] == pytest.approx(((first or 0) + acw) / 2)
    finally:
        await tel.stop()
        await web.stop()


async def _has_call(db: Database, linkedid: str) -> bool:
    async with db.session() as s:
        return (await s.scalars(select(Call.id).where(Call.linkedid == linkedid))).first() is not None
