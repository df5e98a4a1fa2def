"""The event bus: in-process, and across processes through PostgreSQL LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio

import pytest

from callcenter.core.bus import InProcessBus, PgBus, make_bus
from tests import pgserver
from tests.conftest import IN_CI


async def test_an_in_process_subscriber_gets_only_its_topics() -> None:
    bus = InProcessBus()
    async with bus.subscribe("call.") as q:
        await bus.publish("ticket.changed", {"number": "x"})
        await bus.publish("call.answered", {"seat": "8001"})
        assert await asyncio.wait_for(q.get(), 1) == ("call.answered", {"seat": "8001"})
        assert q.empty()


async def test_a_slow_subscriber_loses_its_oldest_messages_not_the_publisher() -> None:
    bus = InProcessBus(max_queue=3)
    async with bus.subscribe("") as q:
        for i in range(5):
            await bus.publish("lines.changed", {"i": i})
        got = [q.get_nowait()[1]["i"] for _ in range(q.qsize())]
    assert got == [2, 3, 4]


@pytest.fixture
def pg_only() -> str:
    if pgserver.admin_url() is None:
        if IN_CI:
            pytest.fail("CI=true but no PostgreSQL")
        pytest.skip("no PostgreSQL server")
    return pgserver.admin_url()  # type: ignore[return-value]


@pytest.mark.pg
async def test_a_message_published_in_one_process_reaches_subscribers_of_another(pg_only: str) -> None:
    # two buses on two connections stand for two processes (the multi-process test of the
    # production issue runs real processes)
    a, b = PgBus(pg_only), PgBus(pg_only)
    await a.start()
    await b.start()
    try:
        msg = {"seat": "8001", "number": "13812345678", "name": "王小明"}
        async with b.subscribe("call.") as qb, a.subscribe("call.") as qa:
            await a.publish("call.answered", msg)
            assert await asyncio.wait_for(qb.get(), 5) == ("call.answered", msg)
            # the publisher's own subscribers get it once, through the same path
            assert await asyncio.wait_for(qa.get(), 5) == ("call.answered", msg)
            await asyncio.sleep(0.2)
            assert qa.empty() and qb.empty()
    finally:
        await a.close()
        await b.close()


@pytest.mark.pg
async def test_an_oversized_payload_is_delivered_locally_and_does_not_raise(pg_only: str) -> None:
    a = PgBus(pg_only)
    await a.start()
    try:
        async with a.subscribe("big") as q:
            await a.publish("big.thing", {"x": "字" * 5000})
            topic, _ = await asyncio.wait_for(q.get(), 2)
            assert topic == "big.thing"
    finally:
        await a.close()


def test_make_bus_picks_listen_notify_only_for_postgresql() -> None:
    assert type(make_bus("sqlite:///x.db")) is InProcessBus
    assert type(make_bus("postgresql://u@h/db")) is PgBus


@pytest.mark.pg
async def test_a_burst_of_messages_arrives_complete_and_in_order(pg_only: str) -> None:
    a, b = PgBus(pg_only), PgBus(pg_only)
    await a.start()
    await b.start()
    try:
        async with b.subscribe("ticket.") as q:
            for i in range(300):
                await a.publish("ticket.changed", {"i": i})
            got = [(await asyncio.wait_for(q.get(), 5))[1]["i"] for _ in range(300)]
        assert got == list(range(300))
    finally:
        await a.close()
        await b.close()
