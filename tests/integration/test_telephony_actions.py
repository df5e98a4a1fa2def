"""The adapter's actions against the PBX simulator over TCP: callbacks in both styles, QueuePause,
QueueStatus, Redirect and BlindTransfer — each outcome landing on the call's fact."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from telephony.adapter import Adapter, AdapterConfig
from telephony.ami import AMIError
from telephony.ports import CallFact
from telephony.simulator import PBXSimulator, SimConfig
from tests.livesrv import until


class MemorySink:
    def __init__(self) -> None:
        self.facts: dict[str, CallFact] = {}

    async def write(self, facts: Sequence[CallFact]) -> None:
        for f in facts:
            self.facts[f.linkedid] = f

    def finals(self) -> list[CallFact]:
        return [f for f in self.facts.values() if f.is_final]


@pytest.fixture
async def pbx(tmp_path: Path):  # type: ignore[no-untyped-def]
    sim = PBXSimulator(SimConfig(speed=40, seed=3, abandon_pct=0))
    sim.generating = False
    port = await sim.start("127.0.0.1", 0)
    sink = MemorySink()
    adapter = Adapter(AdapterConfig(port=port, secret="hotline-secret", data_dir=tmp_path, write_interval=0.01), sink)
    await adapter.start(connect_timeout=5)
    yield sim, adapter, sink
    await adapter.stop()
    await sim.stop()


async def settle(sim: PBXSimulator, adapter: Adapter) -> None:
    await until(lambda: sim.idle)
    await asyncio.sleep(0.1)
    await adapter.flushed()


@pytest.mark.parametrize(("number", "outcome"), [("13812345678", "callback_answered"),
                                                 ("15907311234", "callback_unanswered"),
                                                 ("18673125566", "callback_unanswered")])
@pytest.mark.parametrize("style", ["citizen_first", "operator_first"])
async def test_a_callback_records_the_citizens_result(pbx, style: str, number: str, outcome: str) -> None:  # type: ignore[no-untyped-def]
    sim, adapter, sink = pbx
    await adapter.originate_callback(number, "8002", ticket_ref="GD20261126-0001", idempotency_key="k1", style=style)
    await settle(sim, adapter)
    (f,) = sink.finals()
    assert (f.direction, f.caller_number, f.outcome, f.seat, f.ticket_ref) == ("out", number, outcome, "8002",
                                                                             "GD20261126-0001")
    assert f.data["style"] == style and f.data["callback_key"] == "k1"
    assert (f.answered_at is not None) == (outcome == "callback_answered")


async def test_a_callback_refused_by_the_line_limit_is_a_failed_callback(pbx) -> None:  # type: ignore[no-untyped-def]
    sim, adapter, sink = pbx
    for i in range(10):
        sim.inbound_call(f"1380000{i:04d}", impatient=False)
    await until(lambda: len(sim.trunk_in_use) == 10)
    await adapter.originate_callback("17579061252", "8003", style="citizen_first")
    await settle(sim, adapter)
    cb = [f for f in sink.finals() if f.direction == "out"]
    assert [(f.caller_number, f.outcome, f.line) for f in cb] == [("17579061252", "callback_failed", None)]
    assert len([f for f in sink.finals() if f.outcome == "answered"]) == 10


async def test_queue_pause_and_unpause_with_a_chinese_reason_and_queue_status(pbx) -> None:  # type: ignore[no-untyped-def]
    sim, adapter, _ = pbx
    await adapter.queue_pause("8003", True, "午休 lunch")
    status = {m["Location"]: m for m in await adapter.queue_status() if m.get("Event") == "QueueMember"}
    assert (status["Local/8003@agents"]["Paused"], status["Local/8003@agents"]["PausedReason"]) == ("1", "午休 lunch")
    assert status["Local/8001@agents"]["Paused"] == "0"
    await adapter.queue_pause("8003", False)
    assert not sim.members[2].paused
    with pytest.raises(AMIError, match="Interface not found"):
        await adapter.queue_pause("8999", True)


async def test_paused_operators_get_no_calls_and_the_caller_abandons(pbx) -> None:  # type: ignore[no-untyped-def]
    sim, adapter, sink = pbx
    for seat in ("8001", "8002", "8003", "8004", "8005"):
        await adapter.queue_pause(seat, True, "会议 meeting")
    sim.inbound_call("073152310539", patience=12)
    await settle(sim, adapter)
    (f,) = sink.finals()
    assert (f.outcome, f.seat, f.wait_s) == ("abandoned", None, 12.0)


@pytest.mark.parametrize("blind", [False, True], ids=["redirect", "blindtransfer"])
async def test_a_transfer_to_a_department_is_recorded_on_the_call(pbx, blind: bool) -> None:  # type: ignore[no-untyped-def]
    sim, adapter, sink = pbx
    lid = sim.inbound_call("13607315566", impatient=False)
    await until(lambda: len(sim.connected) == 1)
    caller = next(iter(sim.connected.values()))
    assert caller.phones is not None
    channel = caller.phones[0].name if blind else caller.trunk.name
    await adapter.transfer(channel, "8005", blind=blind)
    await settle(sim, adapter)
    (f,) = sink.finals()
    assert (f.linkedid, f.outcome, f.seat, f.transferred_to) == (lid, "answered", "8001", "8005")


async def test_a_transfer_of_an_unknown_channel_fails_loudly(pbx) -> None:  # type: ignore[no-untyped-def]
    _, adapter, _ = pbx
    with pytest.raises(AMIError):
        await adapter.transfer("Local/1@inbound-deadbeef;2", "8005")


async def test_a_pause_requested_on_the_bus_reaches_the_pbx_and_a_failure_is_announced(pbx) -> None:  # type: ignore[no-untyped-def]
    # the console publishes agent.pause; only the telephony process holds AMI and carries it out
    from callcenter.core.bus import InProcessBus

    sim, adapter, _sink = pbx
    bus = InProcessBus()
    follower = asyncio.create_task(adapter.follow_pause_requests(bus))
    try:
        async with bus.subscribe("agent.pause_failed") as failures:
            await asyncio.sleep(0.05)  # the follower has subscribed
            await bus.publish("agent.pause", {"seat": "8004", "paused": True, "reason": "示忙"})
            await until(lambda: sim.members[3].paused)
            await bus.publish("agent.pause", {"seat": "8004", "paused": False})
            await until(lambda: not sim.members[3].paused)
            await bus.publish("agent.pause", {"seat": "8999", "paused": True})
            topic, payload = await asyncio.wait_for(failures.get(), 5)
            assert topic == "agent.pause_failed" and payload["seat"] == "8999"
    finally:
        follower.cancel()
