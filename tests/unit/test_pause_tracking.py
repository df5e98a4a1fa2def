"""The adapter's pause tracking (示忙 whose truth is the PBX), fed by the recorded Asterisk 22
captures: the pure PauseBook frame by frame, then the adapter over TCP through the panoramisk
wrapper (the QueueMemberPause frames reach it, Chinese reasons whole), publishing `agent.paused`
and keeping the map in its heartbeat; and the AMI user of deploy/asterisk may read them."""

from __future__ import annotations

import configparser
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from callcenter.ops.heartbeat import adapter_status
from telephony.adapter import Adapter, AdapterConfig
from telephony.pauses import MEMBER_EVENTS, PauseBook
from telephony.ports import CallFact
from telephony.tracker import _HANDLED
from tests.ami_capture import inbound_messages, parse, records
from tests.livesrv import until
from tests.telephony_replay import ReplayServer

ROOT = Path(__file__).resolve().parents[2]


def feed_all(book: PauseBook, capture: str) -> list[tuple[str, str, bool, str | None]]:
    out = []
    for t, msg in inbound_messages(capture):
        for c in book.feed(msg, t):
            out.append((c.source, c.state.seat, c.state.paused, c.state.reason))
    return out


def test_02_every_operator_paused_for_a_meeting_then_unpaused() -> None:
    book = PauseBook("hotline")
    changes = feed_all(book, "02_queue_abandon")
    seats = ["8001", "8002", "8003", "8004", "8005"]
    assert changes == ([("event", s, True, "会议 meeting") for s in seats]
                       + [("event", s, False, None) for s in seats])
    assert {s: v["paused"] for s, v in book.snapshot().items()} == dict.fromkeys(seats, False)


def test_02_halfway_the_map_has_every_seat_paused_with_its_reason() -> None:
    book = PauseBook("hotline")
    msgs = inbound_messages("02_queue_abandon")
    first_unpause = next(i for i, (_, m) in enumerate(msgs)
                         if m.get("Event") == "QueueMemberPause" and m.get("Paused") == "0")
    for t, m in msgs[:first_unpause]:
        book.feed(m, t)
    snap = book.snapshot()
    assert {s: (v["paused"], v["reason"]) for s, v in snap.items()} == {
        s: (True, "会议 meeting") for s in ("8001", "8002", "8003", "8004", "8005")}
    assert all(v["at"] > 1_795_721_000 for v in snap.values())  # when the adapter received it


def test_06b_listing_rows_pauses_during_a_call_and_a_listing_that_drops_a_gone_member() -> None:
    book = PauseBook("hotline")
    # a seat the adapter knew, which the PBX no longer lists: gone when *our* listing completes
    book.feed({"Event": "QueueMemberPause", "Queue": "hotline", "Interface": "Local/8009@agents",
               "Paused": "1", "PausedReason": "旧"}, 1.0)
    book.begin_listing("hl-00006")  # take the capture's first full listing as if it were ours
    every = feed_all(book, "06b_actions")
    # the member's queue calls: AgentConnect and AgentComplete of 8001 and 8003, in wire order
    assert [c for c in every if c[0] == "call"] == [("call", "8001", False, None), ("call", "8003", False, None),
                                                    ("call", "8001", False, None), ("call", "8003", False, None)]
    changes = [c for c in every if c[0] != "call"]
    assert changes[:5] == [("status", s, False, None) for s in ("8004", "8001", "8005", "8002", "8003")]
    assert changes[5] == ("status", "8009", False, None)  # dropped at QueueStatusComplete hl-00006
    assert "8009" not in book.seats and book.listed_at is not None
    assert changes[6:10] == [("event", s, True, "午休 lunch") for s in ("8002", "8003", "8004", "8005")]
    # 8003 unpaused (takes the waiting call), paused and unpaused again during it
    assert changes[10:13] == [("event", "8003", False, None), ("event", "8003", True, "写工单 ticket paperwork"),
                              ("event", "8003", False, None)]
    assert changes[13:] == [("event", s, False, None) for s in ("8002", "8004", "8005")]
    # the later listings (hl-00013: four paused, hl-00016: 8003 only) agreed: no change, no drop
    assert sorted(book.seats) == ["8001", "8002", "8003", "8004", "8005"]


def test_06b_a_listing_taken_alone_gives_each_seats_state() -> None:
    """The second full listing (hl-00013) of 06b, applied to an empty book: what an adapter
    starting at that moment learns at login."""
    book = PauseBook("hotline")
    book.begin_listing("hl-00013")
    for t, m in inbound_messages("06b_actions"):
        if m.get("ActionID") == "hl-00013":
            book.feed(m, t)
    assert {s: (v["paused"], v["reason"]) for s, v in book.snapshot().items()} == {
        "8001": (False, None), "8002": (True, "午休 lunch"), "8003": (True, "午休 lunch"),
        "8004": (True, "午休 lunch"), "8005": (True, "午休 lunch")}


def test_a_listing_row_that_changes_nothing_is_not_published_but_every_queue_member_pause_is() -> None:
    book = PauseBook("hotline")
    row = {"Event": "QueueMember", "Queue": "hotline", "Location": "Local/8001@agents",
           "StateInterface": "PJSIP/8001", "Paused": "1", "PausedReason": "午休"}
    assert [c.source for c in book.feed(row, 1.0)] == ["status"]
    assert book.feed(row, 2.0) == []
    assert book.seats["8001"].at == 1.0  # kept from when it was learnt
    ev = {"Event": "QueueMemberPause", "Queue": "hotline", "Interface": "Local/8001@agents", "Paused": "1",
          "PausedReason": "午休"}
    assert [(c.source, c.state.paused) for c in book.feed(ev, 3.0)] == [("event", True)]  # answers a QueuePause
    # another queue, a member that is no seat, a message without a member: ignored
    assert book.feed({**ev, "Queue": "other"}, 4.0) == []
    assert book.feed({**ev, "Interface": "Local/transfer@x", "StateInterface": ""}, 4.0) == []
    assert book.feed({"Event": "QueueMemberPause", "Queue": "hotline"}, 4.0) == []
    # the seat from the state interface when the interface is not a seat
    assert book.feed({**ev, "Interface": "Agent/7", "StateInterface": "PJSIP/8002"}, 5.0)[0].state.seat == "8002"
    # a removed member: published as no longer a member, not paused
    (gone,) = book.feed({"Event": "QueueMemberRemoved", "Queue": "hotline", "Interface": "Local/8001@agents"}, 6.0)
    assert (gone.state.seat, gone.state.paused, gone.state.member) == ("8001", False, False)


def test_a_status_event_with_another_pause_state_is_a_change() -> None:
    book = PauseBook("hotline")
    for t, m in inbound_messages("01_answered_call"):  # QueueMemberStatus ×2, all unpaused
        book.feed(m, t)
    assert book.snapshot()["8001"]["paused"] is False
    (c,) = book.feed({"Event": "QueueMemberStatus", "Queue": "hotline", "Interface": "Local/8001@agents",
                      "Paused": "1", "PausedReason": "培训"}, 9.0)
    assert (c.source, c.state.paused, c.state.reason) == ("status", True, "培训")


# ---- the adapter over TCP, through telephony.ami ---------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self.published.append((topic, payload))


class NoSink:
    async def write(self, facts: Sequence[CallFact]) -> None:
        pass


@pytest.mark.parametrize("split_utf8", [False, True], ids=["whole", "utf8-split-across-reads"])
async def test_the_adapter_publishes_each_pause_of_capture_02_and_keeps_the_map(tmp_path: Path,
                                                                                split_utf8: bool) -> None:
    # the replay's QueueStatus is left unanswered: the recording is the PBX's only word here
    async with ReplayServer("02_queue_abandon", split_utf8=split_utf8, silent_actions=("queuestatus",)) as server:
        bus = Recorder()
        adapter = Adapter(AdapterConfig(port=server.port, secret="hotline-secret", data_dir=tmp_path,
                                        action_timeout=0.5, pbx="pbx-a"), NoSink(), publisher=bus)
        await adapter.start(connect_timeout=5)
        try:
            def paused() -> list[dict[str, Any]]:
                return [p for t, p in bus.published if t == "agent.paused"]

            await until(lambda: len(paused()) == 10)
            got = paused()
            assert [(p["seat"], p["paused"], p["reason"]) for p in got[:5]] == [
                (s, True, "会议 meeting") for s in ("8001", "8002", "8003", "8004", "8005")]
            assert all(p["pbx"] == "pbx-a" and p["source"] == "event" and p["member"] for p in got)
            assert not any(p["paused"] for p in got[5:])
            status = adapter_status(adapter)
            assert status["pauses"]["8003"] == {"paused": False, "reason": None, "at": got[7]["at"], "in_call": False}
            assert adapter.pause_map()["seats"] == status["pauses"]
            def size(seats: dict[str, Any]) -> int:
                return sum(len(json.dumps({k: v}, ensure_ascii=False).encode()) for k, v in seats.items())

            # room for two seats of the largest kind a piece (a NOTIFY holds ≤ 8000 bytes)
            limit = 2 * max(size({k: v}) for k, v in status["pauses"].items()) + 1
            pieces = adapter.pause_maps(max_bytes=limit)
            assert len(pieces) >= 3 and all(p["pbx"] == "pbx-a" for p in pieces)
            assert all(1 <= len(p["seats"]) <= 2 and size(p["seats"]) <= limit for p in pieces)
            assert {k: v for p in pieces for k, v in p["seats"].items()} == status["pauses"]
        finally:
            await adapter.stop()


async def test_a_queue_pause_the_pbx_refuses_is_reported_with_its_reason(tmp_path: Path) -> None:
    async with ReplayServer("06b_actions", silent_actions=("queuestatus",)) as server:
        adapter = Adapter(AdapterConfig(port=server.port, secret="hotline-secret", data_dir=tmp_path,
                                        action_timeout=0.5), NoSink(), publisher=Recorder())
        await adapter.start(connect_timeout=5)
        try:
            bad = await adapter.carry_out_pause({"seat": "8001\r\nAction: Originate", "paused": True, "rid": "x"})
            assert bad is not None and bad["code"] == "invalid_seat" and bad["rid"] == "x"
            assert not any(a.get("Action") == "QueuePause" for a in server.actions)  # nothing went to the PBX
        finally:
            await adapter.stop()


def test_the_deployed_ami_user_reads_the_agent_class_and_filters_no_member_event() -> None:
    cfg = configparser.ConfigParser(strict=False, inline_comment_prefixes=(";",), interpolation=None)
    text = (ROOT / "deploy" / "asterisk" / "manager.conf").read_text(encoding="utf-8")
    # Asterisk allows repeated keys (eventfilter): keep them all
    filters = [line for line in text.splitlines() if line.startswith("eventfilter")]
    cfg.read_string("\n".join(line for line in text.splitlines() if not line.startswith("eventfilter")))
    read = {c.strip() for c in cfg["hotline"]["read"].split(",")}
    write = {c.strip() for c in cfg["hotline"]["write"].split(",")}
    assert "agent" in read and "agent" in write  # QueueMemberPause / QueueMember; QueuePause / QueueStatus
    # include-only filters (eventfilter(action(include),name(X)…)): every event the pause book and
    # the tracker read must be named; list replies (QueueMember rows, CoreShowChannel) are not events
    named = set(re.findall(r"^eventfilter\(action\(include\),name\((\w+)\)", text, re.M))
    assert filters and all(f.startswith("eventfilter(action(include)") for f in
                           (line for line in text.splitlines() if line.startswith("eventfilter")))
    assert MEMBER_EVENTS - {"QueueMember", "QueueStatusComplete"} <= named, named
    assert _HANDLED - {"CoreShowChannel", "CoreShowChannelsComplete"} <= named, named
    assert {"FullyBooted", "Shutdown"} <= named
    assert "system" not in write  # GetConfig (other users' secrets), reloads
    # the frames the adapter needs are of class agent, as captured
    pause = next(parse(r.raw) for r in records("02_queue_abandon") if r.raw.startswith("Event: QueueMemberPause"))
    assert pause["Privilege"] == "agent,all"
