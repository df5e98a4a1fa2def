"""The pure call tracker against every recorded Asterisk 22 session (tests/fixtures/ami)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest

from telephony.ports import CallFact
from telephony.tracker import CallTracker
from tests.ami_capture import CAPTURES, inbound_messages

# (direction, outcome) counts per capture, from the captures' README
OUTCOMES = {
    "01_answered_call": {("in", "answered"): 1},
    "02_queue_abandon": {("in", "abandoned"): 1},
    "02b_abandon_while_ringing": {("in", "abandoned"): 1},
    "03_line_limit": {("in", "answered"): 10, ("in", "refused"): 1},
    "04a_redirect": {("in", "answered"): 1},
    "04b_blindtransfer": {("in", "answered"): 1},
    "04c_atxfer": {("in", "answered"): 1},
    "05a_callback_citizen_first": {("out", "callback_answered"): 1, ("out", "callback_unanswered"): 2},
    "05b_callback_operator_first": {("out", "callback_answered"): 1, ("out", "callback_unanswered"): 1},
    "06a_login_failure": {},
    "06b_actions": {("in", "answered"): 2},
    "06c_restricted_user": {("in", "answered"): 1},
    "07a_restart_before": {("in", "answered"): 1},
    "07b_restart_after": {},
    "08_ring_no_answer": {("in", "answered"): 1},
    "09_callback_refused_by_line_limit": {("in", "answered"): 10, ("out", "callback_failed"): 1},
    "10_mini_load": {("in", "answered"): 30, ("in", "abandoned"): 2, ("in", "refused"): 8,
                     ("out", "callback_answered"): 1, ("out", "callback_unanswered"): 2},
}
DROPS = [pytest.param((), id="as-recorded"), pytest.param(("OriginateResponse",), id="no-OriginateResponse")]


def replay(name: str, drop: tuple[str, ...] = (), tracker: CallTracker | None = None) -> tuple[CallTracker, list[CallFact]]:
    tracker = tracker or CallTracker()
    finals: list[CallFact] = []
    for now, msg in inbound_messages(name, drop):
        for u in tracker.feed(msg, now):
            if u.fact.is_final:
                finals.append(u.fact)
    return tracker, finals


def one(name: str, drop: tuple[str, ...] = ()) -> CallFact:
    _, finals = replay(name, drop)
    assert len(finals) == 1
    return finals[0]


@pytest.mark.parametrize("drop", DROPS)
@pytest.mark.parametrize("name", sorted(OUTCOMES))
def test_it_finds_every_call_of_the_capture_with_its_outcome(name: str, drop: tuple[str, ...]) -> None:
    tracker, finals = replay(name, drop)
    assert Counter((f.direction, f.outcome) for f in finals) == Counter(OUTCOMES[name])
    assert len({f.linkedid for f in finals}) == len(finals)
    assert tracker.open_calls() == []
    assert tracker.lines.in_use == 0


@pytest.mark.parametrize("drop", DROPS)
def test_it_records_an_answered_call_with_its_operator_wait_and_talk(drop: tuple[str, ...]) -> None:
    f = one("01_answered_call", drop)
    assert (f.caller_number, f.seat, f.operator_name, f.queue) == ("13812345678", "8001", "operator 8001", "hotline")
    assert (f.wait_s, f.talk_s, f.line) == (2.0, 7.0, 1)
    assert f.linkedid == "1795721429.0" and f.uniqueid == "1795721429.1"
    assert f.answered_at == f.offered_at + timedelta(seconds=2)
    assert f.ended_at == f.answered_at + timedelta(seconds=7)
    assert f.offered_at.isoformat() == "2026-11-26T19:30:29+00:00"


@pytest.mark.parametrize(("name", "wait"), [("02_queue_abandon", 11.0), ("02b_abandon_while_ringing", 5.0)])
def test_it_records_an_abandon_with_the_wait_the_pbx_measured(name: str, wait: float) -> None:
    f = one(name, ("OriginateResponse",))
    assert (f.outcome, f.wait_s, f.seat, f.answered_at, f.line) == ("abandoned", wait, None, None, 1)
    assert f.ended_at == f.offered_at + timedelta(seconds=wait)


def test_it_refuses_the_eleventh_call_without_a_line() -> None:
    tracker, finals = replay("03_line_limit", ("OriginateResponse",))
    refused = [f for f in finals if f.outcome == "refused"]
    assert [(f.caller_number, f.line, f.wait_s) for f in refused] == [("13548967012", None, None)]
    assert sorted(f.line for f in finals if f.outcome == "answered") == list(range(1, 11))
    assert (tracker.lines.peak, tracker.lines.refused, tracker.lines.limit) == (10, 1, 10)


@pytest.mark.parametrize("name", ["04a_redirect", "04b_blindtransfer", "04c_atxfer"])
def test_it_records_the_transfer_on_the_call(name: str) -> None:
    f = one(name, ("OriginateResponse",))
    assert (f.outcome, f.seat, f.transferred_to) == ("answered", "8001", "8005")


def test_a_redirect_keeps_app_queues_talk_time_which_includes_the_second_operator() -> None:
    assert one("04a_redirect").talk_s == 12.0


def test_a_blind_transfer_adds_the_time_after_the_transfer_to_the_talk() -> None:
    # AgentComplete says TalkTime 2 at the transfer; the citizen talks on until the hang-up 10.5 s later
    assert one("04b_blindtransfer").talk_s == pytest.approx(12.51, abs=0.01)


def test_a_ring_no_answer_is_not_an_abandon() -> None:
    f = one("08_ring_no_answer")
    assert (f.outcome, f.seat, f.wait_s, f.talk_s) == ("answered", "8002", 19.0, 6.0)
    assert f.data["ring_no_answer"] == ["8001"]


def test_a_call_cut_by_a_pbx_restart_is_answered_and_ended() -> None:
    f = one("07a_restart_before")
    assert (f.outcome, f.seat, f.talk_s) == ("answered", "8001", 4.0)


def test_agent_complete_without_channel_fields_during_shutdown_still_closes_talk() -> None:
    # capture 07a's race: AgentComplete came with only Queue/Interface/MemberName/… fields
    msgs = inbound_messages("07a_restart_before")
    stripped = []
    for now, m in msgs:
        if m.get("Event") == "AgentComplete":
            m = {k: v for k, v in m.items() if k in ("Event", "Queue", "Interface", "MemberName", "HoldTime",
                                                     "TalkTime", "Reason")}
        stripped.append((now, m))
    tracker = CallTracker()
    finals = [u.fact for now, m in stripped for u in tracker.feed(m, now) if u.fact.is_final]
    assert [(f.outcome, f.talk_s) for f in finals] == [("answered", 4.0)]


@pytest.mark.parametrize("drop", DROPS)
def test_callbacks_read_from_the_channels_when_we_did_not_originate_them(drop: tuple[str, ...]) -> None:
    _, finals = replay("05a_callback_citizen_first", drop)
    got = [(f.caller_number, f.outcome, f.ticket_ref, f.line is not None) for f in finals]
    assert got == [
        ("13812345678", "callback_answered", "GD20261126-0001", True),
        ("15907311234", "callback_unanswered", "GD20261126-0002", False),
        ("18673125566", "callback_unanswered", "GD20261126-0003", False),
    ]
    assert finals[0].seat == "8002"


def test_a_citizen_first_callback_we_originated_takes_its_outcome_from_the_originate_response() -> None:
    tracker = CallTracker()
    tracker.expect_originate("cb-02", number="15907311234", seat="8002", ticket_ref="GD20261126-0002")
    tracker.expect_originate("cb-03", number="18673125566", seat="8003", ticket_ref="GD20261126-0003")
    _, finals = replay("05a_callback_citizen_first", tracker=tracker)
    by_number = {f.caller_number: f for f in finals}
    assert by_number["15907311234"].data["originate_reason"] == "3"
    assert by_number["18673125566"].data["originate_reason"] == "5"
    assert by_number["18673125566"].seat == "8003"
    assert by_number["18673125566"].outcome == "callback_unanswered"


def test_an_originate_refused_before_any_channel_is_a_failed_callback() -> None:
    tracker = CallTracker()
    tracker.expect_originate("cb-x", number="17579061252", ticket_ref="GD20261126-0009")
    ups = tracker.feed({"Event": "OriginateResponse", "ActionID": "cb-x", "Response": "Failure", "Reason": "0",
                        "Channel": "Local/17579061252@trunk-out", "Uniqueid": "<unknown>"}, 1_795_723_500.0)
    assert [(u.fact.outcome, u.fact.caller_number, u.fact.ticket_ref, u.fact.direction) for u in ups] == [
        ("callback_failed", "17579061252", "GD20261126-0009", "out")]


def test_an_originate_response_we_did_not_send_never_makes_an_inbound_call() -> None:
    tracker = CallTracker()
    for now, m in inbound_messages("03_line_limit"):
        if m.get("Event") == "OriginateResponse":
            assert tracker.feed(m, now) == []


@pytest.mark.parametrize("drop", DROPS)
def test_operator_first_callbacks_take_the_citizens_result_from_the_dialend(drop: tuple[str, ...]) -> None:
    _, finals = replay("05b_callback_operator_first", drop)
    assert [(f.caller_number, f.outcome, f.seat, f.ticket_ref) for f in finals] == [
        ("13812345678", "callback_answered", "8002", "GD20261126-0001"),
        ("15907311234", "callback_unanswered", "8002", "GD20261126-0002"),
    ]


def test_a_callback_refused_by_the_line_limit_is_a_failed_callback_not_a_refused_call() -> None:
    tracker, finals = replay("09_callback_refused_by_line_limit", ("OriginateResponse",))
    cb = [f for f in finals if f.direction == "out"]
    assert [(f.caller_number, f.outcome, f.line, f.ticket_ref) for f in cb] == [
        ("17579061252", "callback_failed", None, "GD20261126-0009")]
    assert tracker.lines.refused == 0 and tracker.lines.peak == 10


@pytest.mark.parametrize("drop", DROPS)
def test_mini_load_matches_the_expected_record_of_every_call(drop: tuple[str, ...]) -> None:
    expected = json.loads((CAPTURES / "10_mini_load.expected.json").read_text(encoding="utf-8"))
    tracker, finals = replay("10_mini_load", drop)
    by_linkedid = {f.linkedid: f for f in finals}
    outcome_map = {("inbound", "answered"): "answered", ("inbound", "abandoned"): "abandoned",
                   ("inbound", "refused"): "refused", ("callback", "answered"): "callback_answered",
                   ("callback", "busy"): "callback_unanswered", ("callback", "noanswer"): "callback_unanswered"}
    unmatched = list(finals)
    for rec in expected["calls"]:
        want = outcome_map[(rec["kind"], rec["outcome"])]
        if rec["orig_uniqueid"] != "<unknown>":
            f = by_linkedid[rec["orig_uniqueid"]]
        else:  # refused or failed: no channel name survived; match by number and outcome
            f = next(x for x in unmatched if x.caller_number == rec["number"] and x.outcome == want)
        unmatched.remove(f)
        assert f.outcome == want, rec
        assert f.caller_number == rec["number"]
        assert f.operator_name == rec["operator"]
        if rec["outcome"] in ("answered", "abandoned") and rec["kind"] == "inbound":
            assert f.wait_s == rec["holdtime"], rec
            assert f.line is not None and 1 <= f.line <= 10
    assert unmatched == []
    assert (tracker.lines.peak, tracker.lines.refused) == (expected["cross_check"]["peak_trunk_lines_in_use"], 8)
    assert Counter(f.operator_name for f in finals if f.outcome == "answered") == Counter(
        expected["answered_by_operator"])


def test_a_second_replay_of_the_same_stream_adds_nothing() -> None:
    tracker, first = replay("10_mini_load")
    _, second = replay("10_mini_load", tracker=tracker)
    assert len(first) == 43 and second == []
    assert tracker.open_calls() == []


def test_a_call_in_progress_is_restored_and_closed_when_the_pbx_no_longer_lists_it() -> None:
    msgs = inbound_messages("01_answered_call")
    cut = next(i for i, (_, m) in enumerate(msgs) if m.get("Event") == "AgentConnect") + 1
    first = CallTracker()
    for now, m in msgs[:cut]:
        first.feed(m, now)
    [open_fact] = first.open_calls()
    assert (open_fact.outcome, open_fact.seat) == ("in_progress", "8001")
    now = msgs[cut][0] + 30
    again = CallTracker()  # the adapter was SIGKILLed and restarted
    again.restore(open_fact, now)
    assert again.lines.in_use == 1
    again.begin_listing()
    again.feed({"Event": "CoreShowChannel", "ActionID": "r1", "Uniqueid": "9.9", "Linkedid": "9.9",
                "Channel": "PJSIP/other-1", "Context": "internal"}, now)
    [u] = again.feed({"Event": "CoreShowChannelsComplete", "ActionID": "r1", "ListItems": "1"}, now)
    assert (u.fact.outcome, u.fact.seat, u.fact.data["reconciled"]) == ("answered", "8001", True)
    assert again.lines.in_use == 0


def test_a_call_the_pbx_still_lists_is_kept() -> None:
    msgs = inbound_messages("01_answered_call")
    cut = next(i for i, (_, m) in enumerate(msgs) if m.get("Event") == "AgentConnect") + 1
    tracker = CallTracker()
    for now, m in msgs[:cut]:
        tracker.feed(m, now)
    now = msgs[cut][0]
    tracker.begin_listing()
    tracker.feed({"Event": "CoreShowChannel", "ActionID": "r2", "Uniqueid": "1795721429.1",
                  "Linkedid": "1795721429.0", "Channel": "Local/13812345678@inbound-00000000;2",
                  "Context": "inbound", "ChannelStateDesc": "Up"}, now)
    assert tracker.feed({"Event": "CoreShowChannelsComplete", "ActionID": "r2"}, now) == []
    finals = [u.fact for t, m in msgs[cut:] for u in tracker.feed(m, t) if u.fact.is_final]
    assert [(f.outcome, f.talk_s) for f in finals] == [("answered", 7.0)]


def test_it_announces_offered_answered_ended_and_line_changes_once_each() -> None:
    tracker = CallTracker()
    topics = [t for now, m in inbound_messages("01_answered_call") for u in tracker.feed(m, now) for t in u.topics]
    assert topics == ["call.offered", "lines.changed", "call.answered", "call.ended", "lines.changed"]


def test_it_reads_the_line_limit_from_the_dialplan() -> None:
    tracker = CallTracker()
    tracker.lines.limit = 4
    tracker.feed({"Event": "Newexten", "Application": "NoOp",
                  "AppData": "All 10 trunk lines busy - refusing call from 1"}, 1.0)
    assert tracker.lines.limit == 10
