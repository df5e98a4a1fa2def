"""Seat states on a real Asterisk 22 (queues and Local channels, deploy/asterisk's dialplan): the
adapter's members and calls, published as the bus would carry them, make the console's board
show 空闲 for the queue's members with no console page open, 示忙 for a member paused from the
CLI, 通话中 from the queue's AgentConnect until AgentComplete, 未登录 for a seat that is no
member (and for one removed from the queue), and a board started from the adapter's map agrees."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from callcenter.floor.agents import SEAT_STATE_LABELS, AgentBoard
from telephony.adapter import Adapter, AdapterConfig
from tests.pbx.asterisk import HOTLINE_SECRET, Asterisk, Driver
from tests.pbx.test_pbx_pauses_callbacks import MemorySink

SEATS = ("8001", "8002", "8003", "8004", "8005", "8006", "8009")


class BoardBus:
    def __init__(self, board: AgentBoard) -> None:
        self.board = board

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self.board.apply(topic, json.loads(json.dumps(payload)))


def states(board: AgentBoard) -> dict[str, str]:
    return {s["seat"]: SEAT_STATE_LABELS[s["state"]] for s in board.snapshot([{"seat": s} for s in SEATS])["seats"]}


async def until_states(board: AgentBoard, check: Any, timeout: float = 20) -> dict[str, str]:
    async with asyncio.timeout(timeout):
        while not check(states(board)):
            await asyncio.sleep(0.05)
    return states(board)


async def test_seat_states_follow_a_real_asterisk_queue(asterisk: Asterisk, driver: Driver, tmp_path: Path) -> None:
    board = AgentBoard()
    adapter = Adapter(AdapterConfig(port=asterisk.port, username="hotline", secret=HOTLINE_SECRET, data_dir=tmp_path,
                                    write_interval=0.01), MemorySink(), publisher=BoardBus(board))
    await adapter.start(connect_timeout=15)
    try:
        got = await until_states(board, lambda s: s["8001"] == "空闲")
        assert got == {"8001": "空闲", "8002": "空闲", "8003": "空闲", "8004": "空闲", "8005": "空闲",
                       "8006": "未登录", "8009": "未登录"}
        asterisk.cli("queue pause member Local/8003@agents queue hotline reason 开会")
        await until_states(board, lambda s: s["8003"] == "示忙")
        # a queue call: 通话中 from AgentConnect, free at AgentComplete
        await driver.setvar_global("AGENT_TALK_MIN", "4")
        await driver.setvar_global("AGENT_TALK_MAX", "4")
        await driver.inbound("13812345678", 30)
        busy = await until_states(board, lambda s: "通话中" in s.values())
        seat = next(k for k, v in busy.items() if v == "通话中")
        assert seat in ("8001", "8002", "8004", "8005") and busy["8003"] == "示忙"
        cold = AgentBoard()  # a web worker starting now, from the adapter's map
        for piece in adapter.pause_maps():
            cold.apply("agent.pause_map", json.loads(json.dumps(piece)))
        assert states(cold) == states(board)
        await until_states(board, lambda s: s[seat] == "空闲", timeout=30)
        # a member added and removed on the PBX
        asterisk.cli("queue add member Local/8006@agents to hotline")
        await until_states(board, lambda s: s["8006"] == "空闲")
        asterisk.cli("queue remove member Local/8006@agents from hotline")
        await until_states(board, lambda s: s["8006"] == "未登录")
        asterisk.cli("queue unpause member Local/8003@agents queue hotline")
        await until_states(board, lambda s: s["8003"] == "空闲")
    finally:
        await adapter.stop()
