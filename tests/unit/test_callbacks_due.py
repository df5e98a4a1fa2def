"""callbacks.due: due times on the 2026 official calendar (Spring Festival 15–23 Feb with the
make-up Saturdays 14 and 28 Feb; National Day 1–7 Oct with the make-up Saturday 10 Oct)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from callbacks.due import (
    CallbackRules,
    case_callback_due,
    deadline_notices,
    first_attempt_at,
    half_day,
    missed_call_due,
    next_attempt_at,
    notices_due,
    sub_working_minutes,
)
from callcenter.cases.workdays import WorkCalendar
from callcenter.store.refdata import SlaInfo

CST = timezone(timedelta(hours=8))
CAL = WorkCalendar()
SLA = SlaInfo(5, 1, 10, 120, 30, 2, 1)


def cst(*a: int) -> datetime:
    return datetime(*a, tzinfo=CST)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("resolved", "due"),
    [
        (cst(2026, 3, 6, 16, 0), cst(2026, 3, 9, 17, 30)),  # Friday → Monday over a weekend
        (cst(2026, 2, 13, 15, 0), cst(2026, 2, 14, 17, 30)),  # Friday → the make-up Saturday
        (cst(2026, 2, 14, 16, 0), cst(2026, 2, 24, 17, 30)),  # make-up Saturday → after the Spring Festival
        (cst(2026, 2, 17, 10, 0), cst(2026, 2, 24, 17, 30)),  # resolved during the holiday
        (cst(2026, 9, 30, 16, 0), cst(2026, 10, 8, 17, 30)),  # over National Day
        (cst(2026, 10, 9, 10, 0), cst(2026, 10, 10, 17, 30)),  # Friday → the make-up Saturday 10 Oct
        (cst(2026, 10, 10, 23, 0), cst(2026, 10, 12, 17, 30)),  # late on the make-up Saturday
    ],
)
def test_a_resolved_case_is_called_back_by_the_end_of_the_next_working_day(resolved: datetime, due: datetime) -> None:
    assert case_callback_due(CAL, SLA, resolved) == due.astimezone(UTC)


def test_at_most_two_working_days_when_the_rule_says_two() -> None:
    sla2 = SlaInfo(5, 1, 10, 120, 30, 2, 2)
    assert case_callback_due(CAL, sla2, cst(2026, 2, 13, 15, 0)) == cst(2026, 2, 24, 17, 30)


def test_the_first_attempt_of_a_case_resolved_at_night_is_the_next_working_morning() -> None:
    assert first_attempt_at(CAL, cst(2026, 2, 14, 20, 0)) == cst(2026, 2, 24, 8, 30)
    assert first_attempt_at(CAL, cst(2026, 3, 9, 10, 0)) == cst(2026, 3, 9, 10, 0)


@pytest.mark.parametrize(
    ("missed", "due"),
    [
        (cst(2026, 3, 9, 9, 0), cst(2026, 3, 9, 10, 0)),
        (cst(2026, 3, 9, 11, 30), cst(2026, 3, 9, 15, 0)),  # 30 min before lunch, 30 after
        (cst(2026, 3, 9, 22, 0), cst(2026, 3, 10, 9, 30)),  # at night: within the first working hour
        (cst(2026, 2, 13, 17, 0), cst(2026, 2, 14, 9, 0)),  # into the make-up Saturday
        (cst(2026, 2, 14, 17, 10), cst(2026, 2, 24, 9, 10)),  # across the Spring Festival
        (cst(2026, 10, 3, 12, 0), cst(2026, 10, 8, 9, 30)),  # on National Day
    ],
)
def test_a_missed_call_is_due_within_one_working_hour(missed: datetime, due: datetime) -> None:
    assert missed_call_due(CAL, missed) == due.astimezone(UTC)


@pytest.mark.parametrize(
    ("attempt", "nxt"),
    [
        (cst(2026, 3, 9, 9, 0), cst(2026, 3, 9, 14, 30)),  # 11:00 is still the morning
        (cst(2026, 3, 9, 10, 30), cst(2026, 3, 9, 14, 30)),
        (cst(2026, 3, 9, 11, 50), cst(2026, 3, 9, 14, 30)),
        (cst(2026, 3, 9, 14, 40), cst(2026, 3, 10, 8, 30)),  # 16:40 is still the afternoon
        (cst(2026, 3, 9, 15, 40), cst(2026, 3, 10, 8, 30)),  # 17:40 is past working hours
        (cst(2026, 2, 13, 15, 0), cst(2026, 2, 14, 8, 30)),  # the make-up Saturday
        (cst(2026, 2, 14, 15, 0), cst(2026, 2, 24, 8, 30)),  # after the Spring Festival
        (cst(2026, 9, 30, 9, 0), cst(2026, 9, 30, 14, 30)),
        (cst(2026, 9, 30, 15, 0), cst(2026, 10, 8, 8, 30)),  # after National Day
    ],
)
def test_a_retry_is_two_hours_later_on_another_half_day(attempt: datetime, nxt: datetime) -> None:
    got = next_attempt_at(CAL, attempt)
    assert got == nxt.astimezone(UTC)
    assert got - attempt >= timedelta(hours=2)
    assert half_day(CAL, got) != half_day(CAL, attempt)
    assert CAL.in_working_hours(got)


def test_three_attempts_fall_on_three_half_days() -> None:
    a1 = cst(2026, 3, 9, 9, 0)
    a2 = next_attempt_at(CAL, a1)
    a3 = next_attempt_at(CAL, a2)
    assert len({half_day(CAL, a) for a in (a1, a2, a3)}) == 3
    assert a3 == cst(2026, 3, 10, 8, 30)


def test_a_longer_gap_is_a_rule_not_a_constant() -> None:
    rules = CallbackRules(attempt_gap=timedelta(hours=4))
    assert next_attempt_at(CAL, cst(2026, 3, 9, 8, 30), rules) == cst(2026, 3, 9, 14, 30)
    assert next_attempt_at(CAL, cst(2026, 3, 9, 11, 0), rules) == cst(2026, 3, 9, 15, 0)


def test_working_minutes_back_mirror_working_minutes_forward() -> None:
    for start in (cst(2026, 2, 13, 9, 0), cst(2026, 2, 14, 15, 10), cst(2026, 9, 30, 11, 0)):
        for minutes in (1, 60, 209, 390, 1000):
            end = CAL.add_working_minutes(start, minutes)
            back = sub_working_minutes(CAL, end, minutes)
            assert CAL.add_working_minutes(back, minutes) == end


def test_deadline_notices_around_the_spring_festival() -> None:
    due = cst(2026, 2, 24, 17, 30)
    got = {n.kind: n.at for n in deadline_notices(CAL, due)}
    assert got == {
        "remind_1d": cst(2026, 2, 14, 17, 30).astimezone(UTC),  # the working day before is the make-up Saturday
        "remind_2h": cst(2026, 2, 24, 15, 30).astimezone(UTC),
        "overdue": due.astimezone(UTC),
        # 25, 26, 27, the make-up Saturday 28 Feb, Monday 2 March
        "escalated": cst(2026, 3, 2, 17, 30).astimezone(UTC),
    }


def test_after_a_restart_only_the_notices_still_useful_are_due() -> None:
    due = cst(2026, 10, 9, 17, 30)
    assert notices_due(CAL, due, cst(2026, 9, 30, 18, 0)) == []  # National Day lies in between
    assert [n.kind for n in notices_due(CAL, due, cst(2026, 10, 8, 17, 30))] == ["remind_1d"]
    assert [n.kind for n in notices_due(CAL, due, cst(2026, 10, 9, 16, 0))] == ["remind_1d", "remind_2h"]
    # the scheduler was down across the deadline: no stale reminders, the overdue mark at once
    assert [n.kind for n in notices_due(CAL, due, cst(2026, 10, 12, 9, 0))] == ["overdue"]
    assert [n.kind for n in notices_due(CAL, due, cst(2026, 10, 20, 9, 0))] == ["overdue", "escalated"]
