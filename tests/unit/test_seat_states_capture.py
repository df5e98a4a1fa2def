"""Seat states on the wall follow the PBX: a real Asterisk 22 run (capture 06b: a QueueStatus
listing, four seats paused for 午休, two calls answered, a pause during a call, the unpauses)
replayed message by message through the telephony adapter's own handling (PauseBook + call
tracker → the bus payloads) into the console's AgentBoard, with no operator page open.

At every queue event of the capture the board's seats equal what the capture's events say
(members from the listing, Paused from the member events, talking from AgentConnect until
AgentComplete); at chosen points they equal hand-written states; a web worker that starts
mid-run from the adapter's map shows the same; a member removed (QueueMemberRemoved, appended
in Asterisk 22's format) shows 未登录 and, added again, its state.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from callcenter.floor.agents import SEAT_STATE_LABELS, AgentBoard
from telephony.adapter import Adapter, AdapterConfig
from telephony.ports import CallFact
from tests.ami_capture import inbound_messages

OPERATORS = [{"name": f"话务员{s}", "username": f"op{s}", "seat": s} for s in ("8001", "8002", "8003", "8004",
                                                                              "8005", "8006")]
QUEUE_EVENTS = {"QueueMember", "QueueMemberPause", "QueueMemberStatus", "QueueMemberAdded", "QueueMemberRemoved",
                "AgentConnect", "AgentComplete", "QueueStatusComplete"}


class BoardBus:
    """The bus as a web worker sees it: every payload (through JSON, as NOTIFY carries it)
    applied to the board in order."""

    def __init__(self, board: AgentBoard) -> None:
        self.board = board
        self.topics: list[str] = []

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self.topics.append(topic)
        self.board.apply(topic, json.loads(json.dumps(payload)))


class NoSink:
    async def write(self, facts: list[CallFact]) -> None:  # the writer is not started here
        raise AssertionError("not used")


def seat_of(interface: str | None) -> str | None:
    if interface and interface.startswith("Local/"):
        return interface[6:].split("@")[0]
    return None


class CaptureReading:
    """What the capture's events say about each seat, read straight from their fields."""

    def __init__(self) -> None:
        self.member: dict[str, bool] = {}
        self.paused: dict[str, bool] = {}
        self.talking: set[str] = set()
        self.listing: set[str] | None = None

    def feed(self, msg: dict[str, str], our_listing: str) -> None:
        ev = msg.get("Event")
        seat = seat_of(msg.get("Interface") or msg.get("Location"))
        if ev == "QueueMember" and seat:
            self.member[seat] = True
            self.paused[seat] = msg.get("Paused") == "1"
            if msg.get("ActionID") == our_listing and self.listing is not None:
                self.listing.add(seat)
        elif ev == "QueueStatusComplete" and msg.get("ActionID") == our_listing and self.listing is not None:
            for s in list(self.member):
                if s not in self.listing:
                    self.member[s] = False
            self.listing = None
        elif ev in ("QueueMemberPause", "QueueMemberStatus", "QueueMemberAdded") and seat:
            self.member[seat] = True
            self.paused[seat] = msg.get("Paused") == "1"
        elif ev == "QueueMemberRemoved" and seat:
            self.member[seat] = False
        elif ev == "AgentConnect" and seat:
            self.talking.add(seat)
        elif ev == "AgentComplete" and seat:
            self.talking.discard(seat)

    def states(self) -> dict[str, str]:
        out = {}
        for o in OPERATORS:
            s = o["seat"]
            if s in self.talking:
                out[s] = "通话中"
            elif not self.member.get(s):
                out[s] = "未登录"
            else:
                out[s] = "示忙" if self.paused.get(s) else "空闲"
        return out


def board_states(board: AgentBoard) -> dict[str, str]:
    return {s["seat"]: SEAT_STATE_LABELS[s["state"]] for s in board.snapshot(OPERATORS)["seats"]}


def member_frame(event: str, seat: str, paused: bool = False, reason: str = "") -> dict[str, str]:
    """A QueueMemberAdded / QueueMemberRemoved as Asterisk 22 sends it (app_queue's member blob)."""
    return {"Event": event, "Privilege": "agent,all", "Queue": "hotline", "MemberName": f"operator {seat}",
            "Interface": f"Local/{seat}@agents", "StateInterface": f"Local/{seat}@agents",
            "Membership": "dynamic", "Penalty": "0", "CallsTaken": "0", "LastCall": "0", "LastPause": "0",
            "LoginTime": "1795721600", "InCall": "0", "Status": "1", "Paused": "1" if paused else "0",
            "PausedReason": reason, "Ringinuse": "0", "Wrapuptime": "0"}


async def test_06b_seat_states_follow_the_pbx_with_no_console_open(tmp_path: Path) -> None:
    board = AgentBoard()
    bus = BoardBus(board)
    adapter = Adapter(AdapterConfig(port=1, secret="x", data_dir=tmp_path, pbx="pbx-a"), NoSink(), publisher=bus)
    reading = CaptureReading()
    # the adapter lists the queue at its login; in this capture that listing is hl-00006
    adapter.pauses.begin_listing("hl-00006")
    reading.listing = set()
    msgs = inbound_messages("06b_actions")
    end = msgs[-1][0]
    msgs += [(end + 1, member_frame("QueueMemberRemoved", "8005")),
             (end + 2, member_frame("QueueMemberAdded", "8005", paused=True, reason="培训")),
             (end + 3, member_frame("QueueMemberRemoved", "8002"))]

    before_listing = True
    checked = 0
    seen: dict[str, dict[str, str]] = {}  # chosen points → the board's seats there
    restarted: dict[str, str] | None = None
    for t, msg in msgs:
        await adapter._on_event(msg, t)  # the adapter's handling of one received message
        ev = msg.get("Event")
        reading.feed(msg, "hl-00006")
        if ev == "QueueStatusComplete":
            before_listing = False
        if ev in QUEUE_EVENTS and not before_listing:
            assert board_states(board) == reading.states(), (t, msg)
            checked += 1
        if ev == "QueueStatusComplete" and "listed" not in seen:
            seen["listed"] = board_states(board)
        if ev == "QueueMemberPause" and msg.get("Interface") == "Local/8005@agents" and "lunch" not in seen:
            seen["lunch"] = board_states(board)
            # a web worker starting now: its board from the adapter's map (agent.hello's answer)
            fresh = AgentBoard()
            for piece in adapter.pause_maps():
                fresh.apply("agent.pause_map", json.loads(json.dumps(piece)))
            restarted = board_states(fresh)
        if ev == "AgentConnect" and "8001 talks" not in seen:
            seen["8001 talks"] = board_states(board)
        if ev == "QueueMemberPause" and msg.get("PausedReason", "").startswith("写工单"):
            seen["8003 paused while talking"] = board_states(board)
        if ev == "AgentComplete" and msg.get("Interface") == "Local/8001@agents":
            seen["8001 done"] = board_states(board)
        if ev == "QueueMemberAdded":
            seen["8005 added"] = board_states(board)

    assert checked >= 20
    assert seen["listed"] == {"8001": "空闲", "8002": "空闲", "8003": "空闲", "8004": "空闲", "8005": "空闲",
                              "8006": "未登录"}
    assert seen["lunch"] == {"8001": "空闲", "8002": "示忙", "8003": "示忙", "8004": "示忙", "8005": "示忙",
                             "8006": "未登录"}
    assert restarted == seen["lunch"]
    assert seen["8001 talks"]["8001"] == "通话中"
    assert seen["8003 paused while talking"]["8003"] == "通话中"
    assert seen["8001 done"]["8001"] == "空闲" and seen["8001 done"]["8003"] == "通话中"
    assert seen["8005 added"]["8005"] == "示忙"
    assert board_states(board) == {"8001": "空闲", "8002": "未登录", "8003": "空闲", "8004": "空闲",
                                   "8005": "示忙", "8006": "未登录"}
    # the console's presence is told apart: no operator page was open at any point
    assert not any(s["console"] for s in board.snapshot(OPERATORS)["seats"])
    # a board that missed nothing and a cold one from the final map agree
    fresh = AgentBoard()
    for piece in adapter.pause_maps():
        fresh.apply("agent.pause_map", json.loads(json.dumps(piece)))
    assert board_states(fresh) == board_states(board)
    assert "agent.pause_map" in bus.topics  # published when the adapter's listing completed


def test_without_any_word_from_the_pbx_an_open_console_stands_in() -> None:
    board = AgentBoard()
    board.apply("agent.online", board.page_opened("8001", +1))
    assert board.seat_state("8001") == "ready" and board.seat_state("8002") == "offline"
    # once an adapter has listed the queue, the PBX decides: 8001 is not a member
    board.apply("agent.pause_map", {"pbx": "pbx-a", "listed_at": 1.0, "seats": {"8002": {"paused": False,
                                                                                          "at": 1.0}}})
    assert board.seat_state("8001") == "offline" and board.seat_state("8002") == "ready"
    assert board.console_open("8001") and not board.console_open("8002")
