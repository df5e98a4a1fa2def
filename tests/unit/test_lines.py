"""Line occupancy: lines in use, peak, time at full capacity, refused calls, the PBX's limit."""

from __future__ import annotations

import pytest

from telephony.lines import LineOccupancy


def test_it_counts_lines_in_use_and_the_peak_idempotently() -> None:
    lines = LineOccupancy(3)
    assert [lines.acquire(k, 0.0) for k in ("a", "b", "a")] == [1, 2, 2]
    assert lines.release("a", 1.0) and not lines.release("a", 1.0) and not lines.release("zz", 1.0)
    lines.acquire("c", 2.0)
    assert (lines.in_use, lines.peak) == (2, 2)


def test_time_at_full_capacity_adds_up_the_spells_and_includes_the_open_one() -> None:
    lines = LineOccupancy(2)
    lines.acquire("a", 0.0)
    lines.acquire("b", 10.0)  # full from 10
    lines.acquire("b", 12.0)  # the same holder again changes nothing
    lines.release("a", 15.0)  # 5 s full
    assert lines.full_seconds(100.0) == 5.0
    lines.acquire("c", 20.0)  # full again from 20
    assert lines.full_seconds(26.0) == 11.0  # the spell in progress counts
    snap = lines.snapshot(26.0)
    assert snap.as_dict() == {"in_use": 2, "limit": 2, "peak": 2, "full_s": 11.0, "refused": 0}


def test_refused_calls_are_counted_and_hold_no_line() -> None:
    lines = LineOccupancy(1)
    lines.acquire("a", 0.0)
    lines.refuse()
    lines.refuse()
    assert (lines.refused, lines.in_use) == (2, 1)


def test_a_limit_read_from_the_pbx_restarts_the_full_capacity_clock() -> None:
    lines = LineOccupancy(10)
    for k in "abc":
        lines.acquire(k, 0.0)
    lines.set_limit(3, 5.0)  # the dialplan says 3 lines: full since now, not since 0
    assert lines.full_seconds(8.0) == 3.0
    lines.set_limit(4, 8.0)
    assert lines.full_seconds(20.0) == 3.0


def test_reset_replaces_the_holders_with_what_the_pbx_lists() -> None:
    lines = LineOccupancy(2)
    lines.acquire("gone", 0.0)
    lines.reset({"x", "y"}, 1.0)
    assert (lines.in_use, lines.holds("gone"), lines.peak) == (2, False, 2)
    assert lines.full_seconds(3.0) == 2.0


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        LineOccupancy(0)
