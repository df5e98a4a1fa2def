"""The adapter end to end: recorded Asterisk traffic over TCP → panoramisk → tracker → spool →
Call rows, including a double replay, a dropped connection, the database away and garbage."""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import func, select

from callcenter.calls.services import StoreCallSink
from callcenter.store.db import Database
from callcenter.store.models import Call
from telephony.adapter import Adapter, AdapterConfig
from telephony.ports import CallFact
from tests.telephony_replay import ReplayServer
from tests.unit.test_tracker import OUTCOMES

MINI = {("in", "answered"): 30, ("in", "abandoned"): 2, ("in", "refused"): 8,
        ("out", "callback_answered"): 1, ("out", "callback_unanswered"): 2}


@pytest.fixture
async def sqlite_db(sqlite_template: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "calls.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    yield db
    await db.dispose()


class FlakySink:
    """The store, with the database 'away' while `down` is set; records what got through."""

    def __init__(self, inner: StoreCallSink) -> None:
        self.inner = inner
        self.down = False
        self.attempts = 0
        self.written: list[CallFact] = []

    async def write(self, facts: Sequence[CallFact]) -> None:
        self.attempts += 1
        if self.down:
            raise ConnectionRefusedError("database unreachable")
        await self.inner.write(facts)
        self.written.extend(facts)


def adapter_for(server: ReplayServer, sink, data_dir: Path) -> Adapter:  # type: ignore[no-untyped-def]
    return Adapter(AdapterConfig(port=server.port, secret="hotline-secret", data_dir=data_dir, reconnect_min=0.05,
                                 retry_min=0.05, retry_max=0.2, write_interval=0.01), sink)


async def replay_into(db_or_sink, capture: str, data_dir: Path, **server_opts) -> Adapter:  # type: ignore[no-untyped-def]
    sink = db_or_sink if not isinstance(db_or_sink, Database) else StoreCallSink(db_or_sink)
    async with ReplayServer(capture, **server_opts) as server:
        adapter = adapter_for(server, sink, data_dir)
        await adapter.start(connect_timeout=10)
        await settled(adapter, server)
        await adapter.stop()
    return adapter


async def settled(adapter: Adapter, server: ReplayServer) -> None:
    """Wait until the adapter has handled every event the server sent (no fixed sleep)."""
    await asyncio.wait_for(server.finished.wait(), 60)
    async with asyncio.timeout(30):
        while adapter.client.events < server.pos or adapter.client._queue.qsize():
            await asyncio.sleep(0.005)


async def calls(db: Database) -> list[Call]:
    async with db.session() as s:
        return list((await s.scalars(select(Call).order_by(Call.offered_at, Call.id))).all())


def outcomes(rows: list[Call]) -> Counter[tuple[str, str]]:
    return Counter((r.direction.value, r.outcome.value) for r in rows)


@pytest.mark.parametrize("drop", [(), ("OriginateResponse",)], ids=["as-recorded", "no-OriginateResponse"])
@pytest.mark.parametrize("capture", sorted(set(OUTCOMES) - {"06a_login_failure"}))
async def test_every_capture_lands_in_the_store_with_its_outcomes(
        capture: str, drop: tuple[str, ...], sqlite_db: Database, tmp_path: Path) -> None:
    await replay_into(sqlite_db, capture, tmp_path, drop_events=drop)
    rows = await calls(sqlite_db)
    assert outcomes(rows) == Counter(OUTCOMES[capture])


async def test_mini_load_in_the_store_on_both_databases(database: Database, tmp_path: Path) -> None:
    adapter = await replay_into(database, "10_mini_load", tmp_path, drop_events=("OriginateResponse",))
    rows = await calls(database)
    assert outcomes(rows) == Counter(MINI)
    answered = [r for r in rows if r.outcome.value == "answered"]
    assert Counter(r.seat for r in answered) == Counter({"8001": 8, "8002": 4, "8003": 7, "8004": 6, "8005": 5})
    assert all(r.caller_norm and r.caller_norm.startswith("+86") for r in rows)
    assert max(r.line for r in rows if r.line) == 10
    assert all(r.line is None for r in rows if r.outcome.value == "refused")
    assert adapter.written >= 43


async def test_a_double_replay_adds_and_changes_nothing(database: Database, tmp_path: Path) -> None:
    await replay_into(database, "10_mini_load", tmp_path / "one")
    before = [(r.id, r.outcome, r.updated_at, r.talk_s) for r in await calls(database)]
    await replay_into(database, "10_mini_load", tmp_path / "two")  # a fresh adapter, same stream
    after = [(r.id, r.outcome, r.updated_at, r.talk_s) for r in await calls(database)]
    assert len(before) == 43 and after == before


async def test_a_connection_dropped_mid_call_loses_nothing(sqlite_db: Database, tmp_path: Path) -> None:
    # event 3000 of 6432 falls in the middle of the burst, with calls in the queue and talking
    sink = FlakySink(StoreCallSink(sqlite_db))
    async with ReplayServer("10_mini_load", drop_after=3000, drop_events=("OriginateResponse",)) as server:
        adapter = adapter_for(server, sink, tmp_path)
        await adapter.start(connect_timeout=10)
        await settled(adapter, server)
        await adapter.stop()
    assert server.connections == 2 and adapter.client.logins == 2
    assert outcomes(await calls(sqlite_db)) == Counter(MINI)


async def test_with_the_database_away_facts_wait_in_the_spool_then_go_in_order_exactly_once(
        sqlite_db: Database, tmp_path: Path) -> None:
    sink = FlakySink(StoreCallSink(sqlite_db))
    sink.down = True
    async with ReplayServer("10_mini_load", drop_events=("OriginateResponse",)) as server:
        adapter = adapter_for(server, sink, tmp_path)
        await adapter.start(connect_timeout=10)
        await settled(adapter, server)
        spooled = adapter.spool.pending()
        assert spooled > 43 and await calls(sqlite_db) == [] and sink.attempts >= 1
        sink.down = False
        await adapter.flushed(timeout=20)
        await adapter.stop()
    assert len(sink.written) == spooled  # every spooled fact once, none twice
    seen_final: set[tuple[str, str]] = set()
    for f in sink.written:  # in order: nothing for a call comes after its final fact
        assert f.key not in seen_final
        if f.is_final:
            seen_final.add(f.key)
    assert len(seen_final) == 43
    assert outcomes(await calls(sqlite_db)) == Counter(MINI)


async def test_facts_spooled_when_the_adapter_stopped_are_written_at_the_next_start(
        sqlite_db: Database, tmp_path: Path) -> None:
    sink = FlakySink(StoreCallSink(sqlite_db))
    sink.down = True
    async with ReplayServer("01_answered_call") as server:
        adapter = adapter_for(server, sink, tmp_path)
        await adapter.start(connect_timeout=10)
        await settled(adapter, server)
        await adapter.stop(flush_timeout=0.5)
    assert await calls(sqlite_db) == []
    sink.down = False
    await replay_into(sink, "07b_restart_after", tmp_path)  # the next run, against a quiet PBX
    rows = await calls(sqlite_db)
    assert [(r.caller_number, r.outcome.value, r.seat) for r in rows] == [("13812345678", "answered", "8001")]


async def test_a_garbage_frame_mid_stream_is_skipped_and_nothing_else_is_lost(
        sqlite_db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    junk = {2500: "Ceci n'est pas un message\r\n\xe4\xb8\r\n\r\n".encode("latin-1")}
    adapter = await replay_into(sqlite_db, "10_mini_load", tmp_path, garbage_at=junk)
    assert adapter.client.malformed == 1
    assert "Ceci n'est pas un message" in caplog.text
    assert outcomes(await calls(sqlite_db)) == Counter(MINI)


async def test_a_chinese_split_across_reads_reaches_the_tracker_whole(sqlite_db: Database, tmp_path: Path) -> None:
    adapter = await replay_into(sqlite_db, "02_queue_abandon", tmp_path, split_utf8=True)
    assert outcomes(await calls(sqlite_db)) == Counter({("in", "abandoned"): 1})
    assert adapter.client.malformed == 0


async def test_calls_in_the_store_count_once_per_linkedid(database: Database, tmp_path: Path) -> None:
    await replay_into(database, "03_line_limit", tmp_path)
    async with database.session() as s:
        n, distinct = (await s.execute(select(func.count(), func.count(func.distinct(Call.linkedid))))).one()
    assert n == distinct == 11
