"""End to end through the PBX simulator: a click-to-call placed operator first (the operator's
seat rings, then it dials the citizen) by the telephony adapter, the outcome read back from
the tracker's Call row — the citizen's result comes from the DialEnd on the operator's `;1`,
not from the OriginateResponse (which says Success as soon as the operator answers)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from callbacks import service
from callbacks.dialer import place_requested
from callcenter.calls.services import StoreCallSink
from callcenter.cases import services
from callcenter.cases.services import NewTicket
from callcenter.people.auth import actor_of
from callcenter.store.db import Database
from callcenter.store.models import (
    Call,
    Callback,
    CallbackRequest,
    CallbackTaskStatus,
    CallOutcome,
    Status,
    utcnow,
)
from telephony.adapter import Adapter, AdapterConfig
from telephony.simulator import PBXSimulator, SimConfig
from tests.conftest import Personas

pytestmark = pytest.mark.slow
ANSWERS, NO_ANSWER = "13812345678", "15907311234"


@pytest.fixture
async def pbx(database: Database, tmp_path: Path) -> AsyncIterator[Adapter]:
    sim = PBXSimulator(SimConfig(speed=20.0, noanswer_numbers=(NO_ANSWER,), busy_numbers=()))
    sim.generating = False  # no inbound traffic: only the callbacks we place
    port = await sim.start("127.0.0.1", 0)
    adapter = Adapter(AdapterConfig(port=port, secret="hotline-secret", data_dir=tmp_path, reconnect_min=0.05),
                      StoreCallSink(database))
    await adapter.start(connect_timeout=10)
    try:
        yield adapter
    finally:
        await adapter.stop()
        await sim.stop()


async def call_back(db: Database, personas: Personas, adapter: Adapter, phone: str) -> tuple[str, Callback, Call]:
    lina, zhangwei = actor_of(personas.lina), actor_of(personas.zhangwei)  # type: ignore[arg-type]
    now = utcnow()
    t = await services.register(db, lina, NewTicket(kind="complaint", category="物业管理", content="路灯不亮",
                                                     caller_phone=phone), now=now - timedelta(hours=3))
    await services.act(db, lina, t.number, "dispatch", None, {"department": "zjj"}, now - timedelta(hours=3))
    await services.act(db, zhangwei, t.number, "accept", None, {}, now - timedelta(hours=2))
    await services.act(db, zhangwei, t.number, "resolve", None, {"resolution": "已修复"}, now - timedelta(hours=1))
    async with db.session() as s:
        cb = (await s.scalars(select(Callback).where(Callback.ticket_id == t.id))).one()

    req = await service.request_call(db, lina, cb.id, utcnow())
    assert await place_requested(db, adapter.originate_callback, "telephony", utcnow()) is True
    deadline = time.monotonic() + 20
    while True:  # the simulator plays the call (speed 20); the adapter writes its Call row
        await adapter.flushed()
        async with db.session() as s:
            call = (await s.scalars(select(Call).where(Call.data["callback_key"].as_string() == req.key))).first()
        if call is not None and call.outcome is not CallOutcome.in_progress:
            break
        assert time.monotonic() < deadline, "the callback's Call row never ended"
        await asyncio.sleep(0.05)
    assert await service.collect_outcomes(db, "scheduler", utcnow()) is True
    async with db.session() as s:
        cb = await s.get(Callback, cb.id)
        r = await s.get(CallbackRequest, req.id)
    assert cb is not None and r is not None and r.status == "done" and r.call_id == call.id
    return t.number, cb, call


async def test_a_citizen_who_answers_is_left_to_the_operator_to_record(
    database: Database, personas: Personas, pbx: Adapter
) -> None:
    number, cb, call = await call_back(database, personas, pbx, ANSWERS)
    assert call.outcome is CallOutcome.callback_answered and call.ticket_ref == number
    assert call.data and call.data.get("style") == "operator_first" and call.seat == "8001"
    assert cb.attempts == 0 and cb.status is CallbackTaskStatus.pending
    await service.record_attempt(database, actor_of(personas.lina), cb.id, "satisfied", words="很满意",  # type: ignore[arg-type]
                                 now=utcnow())
    assert (await services.get(database, actor_of(personas.lina), number)).status is Status.closed  # type: ignore[arg-type]


async def test_a_citizen_who_does_not_answer_counts_as_a_not_reached_attempt(
    database: Database, personas: Personas, pbx: Adapter
) -> None:
    number, cb, call = await call_back(database, personas, pbx, NO_ANSWER)
    assert call.outcome is CallOutcome.callback_unanswered  # DialEnd NOANSWER, though the Originate succeeded
    assert cb.attempts == 1 and cb.status is CallbackTaskStatus.pending and cb.next_attempt_at is not None
    assert (await services.get(database, actor_of(personas.lina), number)).status is Status.resolved  # type: ignore[arg-type]
