"""示忙/置闲 and callbacks on a real Asterisk 22: from the console path (the adapter's QueuePause),
from the Asterisk CLI and from the phones' *21/*22 (deploy/asterisk's [phone-features], seat
from the caller ID or HOTLINE_SEAT); callbacks of each outcome against Asterisk's CDR."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from telephony.adapter import Adapter, AdapterConfig
from telephony.ports import CallFact
from tests.pbx.asterisk import HOTLINE_SECRET, Asterisk, Driver


class MemorySink:
    def __init__(self) -> None:
        self.facts: dict[str, CallFact] = {}

    async def write(self, facts: Sequence[CallFact]) -> None:
        for f in facts:
            self.facts[f.linkedid] = f


class Published:
    def __init__(self) -> None:
        self.items: list[tuple[str, dict]] = []  # type: ignore[type-arg]

    async def publish(self, topic: str, payload: dict) -> None:  # type: ignore[type-arg]
        self.items.append((topic, payload))


def make_adapter(ast: Asterisk, tmp: Path, sink: MemorySink, pub: Published) -> Adapter:
    return Adapter(AdapterConfig(port=ast.port, username="hotline", secret=HOTLINE_SECRET, data_dir=tmp,
                                 write_interval=0.01, pause_confirm_s=3.0), sink, publisher=pub)


async def paused(adapter: Adapter, seat: str, want: bool, timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while seat not in adapter.pauses.seats or adapter.pauses.seats[seat].paused is not want:
            await asyncio.sleep(0.05)


def feature_apps(driver: Driver, code: str) -> list[str]:
    return [e.get("Application", "") for e in driver.events
            if e.get("Event") == "Newexten" and e.get("Exten") == code]


async def test_pause_and_unpause_from_the_console_the_cli_and_the_phones(
        asterisk: Asterisk, driver: Driver, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sink, pub = MemorySink(), Published()
    adapter = make_adapter(asterisk, tmp_path, sink, pub)
    await adapter.start(connect_timeout=15)
    try:
        await paused(adapter, "8001", False)
        # the console: agent.pause → QueuePause, confirmed by the PBX's QueueMemberPause
        assert await adapter.carry_out_pause({"seat": "8002", "paused": True, "reason": "培训", "rid": "r1"}) is None
        await paused(adapter, "8002", True)
        assert adapter.pauses.seats["8002"].reason == "培训"
        assert await adapter.carry_out_pause({"seat": "8002", "paused": False, "rid": "r2"}) is None
        await paused(adapter, "8002", False)
        # a seat that is not a queue member: the console is told so (agent.pause_failed)
        failed = await adapter.carry_out_pause({"seat": "8009", "paused": True, "rid": "r3"})
        assert failed is not None and failed["code"] == "not_in_queue", failed
        # the Asterisk CLI
        out = asterisk.cli("queue pause member Local/8003@agents queue hotline reason 开会")
        assert "paused" in out.lower() or out.strip() == "", out
        await paused(adapter, "8003", True)
        asterisk.cli("queue unpause member Local/8003@agents queue hotline")
        await paused(adapter, "8003", False)
        # the phones: *21 with the seat from the caller ID, *22 with the seat from HOTLINE_SEAT
        await driver.feature_code("*21", caller="8004")
        await paused(adapter, "8004", True)
        assert adapter.pauses.seats["8004"].reason == "话机示忙"
        await driver.feature_code("*22", seat_var="8004")
        await paused(adapter, "8004", False)
        await asyncio.sleep(1.0)
        assert feature_apps(driver, "*21").count("Playback") == 1 and "Congestion" not in feature_apps(driver, "*21")
        # a phone whose seat is not a member: no beep, a congestion tone, a warning in the PBX log
        driver.events.clear()
        await driver.feature_code("*21", caller="8009")
        await asyncio.sleep(1.5)
        apps = feature_apps(driver, "*21")
        assert "Congestion" in apps and "Playback" not in apps, apps
        assert "示忙 failed for seat 8009: PQMSTATUS=NOTFOUND" in asterisk.messages()
        topics = [t for t, _ in pub.items if t == "agent.paused"]
        assert len(topics) >= 8
        assert "HOTLINE_CDR_DATABASE_URL is not set" in caplog.text  # no backfill: said at start
    finally:
        await adapter.stop()


async def test_a_callback_of_each_outcome_matches_asterisks_cdr(
        asterisk: Asterisk, driver: Driver, tmp_path: Path) -> None:
    await driver.action({"Action": "DBPut", "Family": "pstnsim", "Key": "15907311234", "Val": "noanswer"})
    await driver.action({"Action": "DBPut", "Family": "pstnsim", "Key": "18673125566", "Val": "busy"})
    await driver.setvar_global("CITIZEN_TALK", "2")
    sink, pub = MemorySink(), Published()
    adapter = make_adapter(asterisk, tmp_path, sink, pub)
    await adapter.start(connect_timeout=15)
    try:
        await adapter.originate_callback("13812345678", "8001", ticket_ref="GD1", style="citizen_first",
                                         timeout_ms=8000)
        await adapter.originate_callback("15907311234", "8002", ticket_ref="GD2", style="citizen_first",
                                         timeout_ms=5000)
        await adapter.originate_callback("18673125566", "8003", ticket_ref="GD3", style="citizen_first",
                                         timeout_ms=8000)
        async with asyncio.timeout(60):
            while len([f for f in sink.facts.values() if f.is_final and f.direction == "out"]) < 3:
                await asyncio.sleep(0.2)
        # all lines busy: fill the 10 lines with citizens, then a callback is refused by the limit
        await driver.setvar_global("AGENT_TALK_MIN", "12")
        await driver.setvar_global("AGENT_TALK_MAX", "12")
        for i in range(10):
            await driver.inbound(f"1370000{i:04d}", 12)
        await asyncio.sleep(1.5)
        await adapter.originate_callback("13912345678", "8004", ticket_ref="GD4", style="citizen_first",
                                         timeout_ms=8000)
        async with asyncio.timeout(40):
            while len([f for f in sink.facts.values() if f.is_final and f.direction == "out"]) < 4:
                await asyncio.sleep(0.2)
        await adapter.flushed()
    finally:
        await adapter.stop()
    out = {f.ticket_ref: f.outcome for f in sink.facts.values() if f.direction == "out"}
    print("\ncallbacks (store):", out)
    assert out == {"GD1": "callback_answered", "GD2": "callback_unanswered", "GD3": "callback_unanswered",
                   "GD4": "callback_failed"}
    import psycopg

    with psycopg.connect(asterisk.cdr_admin_url) as c:
        rows = c.execute("SELECT dst, disposition, userfield FROM cdr WHERE dcontext = 'trunk-out' "
                         "OR userfield = 'hotline-callback' ORDER BY start").fetchall()
    print("callbacks (Asterisk CDR):", rows)
    by_number: dict[str, set[str]] = {}
    for dst, disposition, _ in rows:
        by_number.setdefault(dst, set()).add(disposition)
    assert "ANSWERED" in by_number.get("13812345678", set())
    assert by_number.get("15907311234", set()) & {"NO ANSWER"}
    assert by_number.get("18673125566", set()) & {"BUSY"}
    assert by_number.get("13912345678", set()) & {"CONGESTION", "NO ANSWER", "FAILED"}
