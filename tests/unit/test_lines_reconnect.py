"""Lines never above the limit: at a reconnect the occupancy is rebuilt from the PBX's listing."""

from __future__ import annotations

from datetime import UTC, datetime

from telephony.ports import CallFact
from telephony.tracker import CallTracker, TrackerConfig

T0 = 1_795_721_400.0


def open_call(i: int) -> CallFact:
    return CallFact(pbx="default", linkedid=f"{T0:.0f}.{100 + i}", uniqueid=f"{T0:.0f}.{101 + i}", direction="in",
                    caller_number=f"1381234{i:04d}", offered_at=datetime.fromtimestamp(T0, UTC), line=i + 1,
                    queue="hotline")


def listed(tracker: CallTracker, aid: str, linkedid: str, uid: str, number: str, *, bridged: bool,
           now: float) -> list:
    return tracker.feed({"Event": "CoreShowChannel", "ActionID": aid, "Uniqueid": uid, "Linkedid": linkedid,
                         "Channel": f"Local/{number}@inbound-{uid[-4:]};2", "Context": "inbound",
                         "ChannelStateDesc": "Up", "Application": "Queue", "ApplicationData": "hotline,t,,,600",
                         "BridgeId": "b-" + uid if bridged else "", "CallerIDNum": number}, now)


def test_restored_calls_gone_from_the_listing_free_their_lines_before_adopted_calls_take_one() -> None:
    tracker = CallTracker(TrackerConfig(lines=10))
    now = T0 + 60
    restored = [open_call(i) for i in range(10)]
    for f in restored:
        tracker.restore(f, now)
    assert tracker.lines.in_use == 10
    tracker.begin_listing()
    # the PBX still has 7 of them, and 3 calls that began while the adapter was away
    for f in restored[:7]:
        assert f.uniqueid
        listed(tracker, "r1", f.linkedid, f.uniqueid, f.caller_number or "", bridged=True, now=now)
    adopted = []
    for j in range(3):
        for u in listed(tracker, "r1", f"{T0 + 30:.0f}.{j}", f"{T0 + 30:.0f}.{j + 50}", f"1590000000{j}",
                        bridged=False, now=now):
            adopted.append(u)
    assert tracker.lines.in_use <= 10 and tracker.lines.peak <= 10
    updates = tracker.feed({"Event": "CoreShowChannelsComplete", "ActionID": "r1"}, now + 0.1)
    ended = [u.fact for u in updates if u.fact.is_final]
    taken = [u.fact for u in updates if not u.fact.is_final]
    assert sorted(f.linkedid for f in ended) == sorted(f.linkedid for f in restored[7:])
    assert all(f.data.get("reconciled") for f in ended)
    assert len(taken) == 3 and all(f.data.get("adopted") for f in taken)
    assert sorted(f.line for f in taken) == [8, 9, 10]  # never 11, 12, 13
    assert tracker.lines.in_use == 10
    assert tracker.lines.peak == 10


def test_a_listing_resets_lines_the_pbx_no_longer_has() -> None:
    tracker = CallTracker(TrackerConfig(lines=10))
    now = T0 + 10
    # a stale holder nobody owns any more (e.g. a line left from before a PBX restart)
    tracker.lines.acquire("stale.1", now)
    tracker.begin_listing()
    listed(tracker, "r2", f"{T0:.0f}.7", f"{T0:.0f}.8", "13800000007", bridged=True, now=now)
    [u] = [u for u in tracker.feed({"Event": "CoreShowChannelsComplete", "ActionID": "r2"}, now) if u.fact.line]
    assert u.fact.line == 1 and tracker.lines.in_use == 1


def test_a_listing_someone_else_asked_for_takes_lines_at_once_and_closes_nothing() -> None:
    tracker = CallTracker(TrackerConfig(lines=10))
    [u] = listed(tracker, "other", f"{T0:.0f}.1", f"{T0:.0f}.2", "13800000001", bridged=False, now=T0)
    assert u.fact.line == 1
    assert tracker.feed({"Event": "CoreShowChannelsComplete", "ActionID": "other"}, T0) == []
