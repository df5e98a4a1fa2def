"""AgentBoard's pause rules (callcenter.floor.agents): the console's request shows at once, the PBX's
answer wins, a refusal or no answer reverts it with a message for the operator, and a listing
or map older than what the board knows never undoes a newer state."""

from __future__ import annotations

import asyncio
import time

from callcenter.floor.agents import AgentBoard


def request(board: AgentBoard, seat: str, paused: bool, rid: str) -> None:
    board.apply("agent.pause", {"seat": seat, "paused": paused, "reason": "示忙" if paused else None, "rid": rid})


def pbx(board: AgentBoard, seat: str, paused: bool, at: float, source: str = "event", reason: str | None = None) -> bool:
    return board.apply("agent.paused", {"seat": seat, "paused": paused, "reason": reason, "pbx": "default", "at": at,
                                        "source": source})


def test_a_request_shows_at_once_and_the_pbxs_answer_confirms_it() -> None:
    b = AgentBoard()
    b.apply("agent.online", {"seat": "8001", "worker": b.worker, "n": 1})
    request(b, "8001", True, "r1")
    assert b.seat_state("8001") == "paused"
    assert b.pause_view("8001") | {"seat": None} == {"seat": None, "paused": True, "label": "示忙", "pending": True,
                                                      "reason": "示忙", "confirmed": None, "error": None,
                                                      "acw": False}
    v = b.version
    request(b, "8001", True, "r1")  # our own request, back from the bus
    assert b.version == v
    pbx(b, "8001", True, 100.0, reason="示忙")
    assert b.pause_view("8001")["pending"] is False and b.pause_view("8001")["confirmed"] is True
    request(b, "8001", True, "r1")  # the request coming back from the bus after the PBX answered it
    assert b.pause_view("8001")["pending"] is False


def test_the_pbxs_answer_wins_over_the_request() -> None:
    b = AgentBoard()
    request(b, "8001", True, "r1")
    pbx(b, "8001", False, 100.0)  # e.g. unpaused from the phone meanwhile
    assert not b.is_paused("8001") and "8001" not in b.requests


def test_a_listing_that_may_predate_the_request_does_not_end_it_unless_it_agrees() -> None:
    b = AgentBoard()
    request(b, "8001", True, "r1")
    pbx(b, "8001", False, 100.0, source="status")
    assert b.is_paused("8001") and b.pause_view("8001")["pending"]  # still waiting for the answer
    b.apply("agent.pause_map", {"pbx": "default", "seats": {"8001": {"paused": True, "reason": "示忙", "at": 101.0}}})
    assert b.is_paused("8001") and not b.pause_view("8001")["pending"]


def test_a_refused_pause_reverts_with_the_reason_in_chinese() -> None:
    b = AgentBoard()
    request(b, "8009", True, "r1")
    b.apply("agent.pause_failed", {"seat": "8009", "paused": True, "rid": "r1", "code": "not_in_queue",
                                   "error": "QueuePause failed: Interface not found"})
    v = b.pause_view("8009")
    assert (v["paused"], v["pending"]) == (False, False)
    assert v["error"] == ("示忙未成功：您的分机不在电话系统的队列中（QueuePause failed: Interface not found），"
                          "请联系管理员。当前状态：空闲")
    # the next request clears the message; the PBX's next answer too
    request(b, "8009", False, "r2")
    assert b.pause_view("8009")["error"] is None


def test_an_older_requests_failure_does_not_undo_a_newer_request() -> None:
    b = AgentBoard()
    request(b, "8001", True, "r1")
    request(b, "8001", False, "r2")
    b.apply("agent.pause_failed", {"seat": "8001", "paused": True, "rid": "r1", "code": "timeout", "error": "x"})
    assert b.requests["8001"].rid == "r2" and b.pause_view("8001")["error"] is None


def test_a_request_nobody_answers_expires_and_says_so() -> None:
    b = AgentBoard()
    pbx(b, "8001", True, 100.0)
    request(b, "8001", False, "r1")
    assert not b.is_paused("8001")
    assert b.expire_requests(time.monotonic()) == []
    assert b.expire_requests(time.monotonic() + b.PENDING_S + 1) == ["8001"]
    v = b.pause_view("8001")
    assert v["paused"] is True and v["pending"] is False
    assert v["error"].startswith("置闲未得到电话系统确认") and v["error"].endswith("当前状态：示忙")


def test_an_older_state_never_undoes_a_newer_one_but_the_pbxs_events_always_apply() -> None:
    b = AgentBoard()
    pbx(b, "8001", True, 200.0)
    b.apply("agent.pause_map", {"pbx": "default", "seats": {"8001": {"paused": False, "reason": None, "at": 150.0}}})
    assert b.is_paused("8001")
    assert not pbx(b, "8001", True, 100.0, source="status")
    pbx(b, "8001", False, 100.0)  # an event: in wire order from the adapter, whatever the clocks say
    assert not b.is_paused("8001")


def test_presence_carries_page_counts_only() -> None:
    a, b = AgentBoard(), AgentBoard()
    request(a, "8001", True, "r1")
    p = a.presence_payload()
    assert "paused" not in p
    b.apply("agent.presence", {**p, "seats": {"8001": 1}, "paused": {"8001": True}})  # an older worker's form
    assert b.online["8001"] == 1 and b.seat_state("8001") == "ready"


async def test_watchers_and_settle_follow_a_seats_changes() -> None:
    b = AgentBoard()
    q: asyncio.Queue[tuple[str, dict]] = asyncio.Queue()  # type: ignore[type-arg]
    with b.watch("8001", q):
        request(b, "8001", True, "r1")
        topic, view = q.get_nowait()
        assert topic == "seat.pause" and view["pending"] is True
        settled = asyncio.create_task(b.settle("8001", 5))
        await asyncio.sleep(0.01)
        assert not settled.done()
        pbx(b, "8001", True, 100.0)
        assert (await settled)["confirmed"] is True
        assert q.get_nowait()[1]["pending"] is False
    assert "8001" not in b.watchers
    request(b, "8002", True, "r2")
    t0 = time.monotonic()
    assert (await b.settle("8002", 0.05))["pending"] is True  # nobody answers: back after the timeout
    assert time.monotonic() - t0 < 1


def test_after_call_work_is_its_own_seat_state() -> None:
    """话后整理 (issue 12): a pause with that reason is the seat state `acw`, not 示忙."""
    b = AgentBoard()
    b.apply("agent.online", {"seat": "8001", "worker": b.worker, "n": 1})
    b.apply("agent.paused", {"seat": "8001", "paused": True, "reason": "话后整理", "at": 1.0, "source": "event"})
    assert b.seat_state("8001") == "acw" and b.in_acw("8001")
    assert b.pause_view("8001")["label"] == "话后整理" and b.pause_view("8001")["acw"] is True
    assert b.snapshot([{"seat": "8001"}])["acw"] == 1
    b.apply("agent.paused", {"seat": "8001", "paused": True, "reason": "示忙", "at": 2.0, "source": "event"})
    assert b.seat_state("8001") == "paused" and not b.in_acw("8001")
    b.apply("call.answered", {"linkedid": "x", "seat": "8001"})
    assert b.seat_state("8001") == "busy"
    b.apply("call.ended", {"linkedid": "x", "seat": "8001"})
    b.apply("agent.paused", {"seat": "8001", "paused": False, "at": 3.0, "source": "event"})
    assert b.seat_state("8001") == "ready"
    b.apply("agent.online", {"seat": "8001", "worker": b.worker, "n": 0})
    # the console closed: still a member of the queue on the PBX, so still 空闲 (console told apart)
    assert b.seat_state("8001") == "ready" and not b.console_open("8001")
    b.apply("agent.paused", {"seat": "8001", "paused": False, "at": 4.0, "source": "status", "member": False})
    assert b.seat_state("8001") == "offline"  # QueueMemberRemoved: logged out of the phone
