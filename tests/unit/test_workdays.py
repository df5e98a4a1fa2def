"""Deadlines in Chinese working days: holidays, 调休 make-up Saturdays, uncovered years."""

from __future__ import annotations

from datetime import date, datetime, time

from callcenter.cases.workdays import TZ, WorkCalendar


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


def local(dt: datetime) -> datetime:
    return dt.astimezone(TZ).replace(tzinfo=None)


def test_five_working_days_skip_the_weekend() -> None:
    # Monday 2026-11-23 → the following Monday, end of working hours
    assert local(WorkCalendar().add_working_days(at(2026, 11, 23), 5)) == datetime(2026, 11, 30, 17, 30)


def test_the_spring_festival_holiday_is_skipped_and_the_make_up_saturday_counts() -> None:
    cal = WorkCalendar()
    # Friday 13 Feb 2026: +1 is Saturday 14 Feb, a 调休 working day
    assert local(cal.add_working_days(at(2026, 2, 13), 1)) == datetime(2026, 2, 14, 17, 30)
    # +2 jumps the whole holiday (15–23 Feb) to Tuesday 24 Feb
    assert local(cal.add_working_days(at(2026, 2, 13), 2)) == datetime(2026, 2, 24, 17, 30)
    # 5 working days from Thursday 12 Feb: 13, 14(Sat), 24, 25, 26
    assert local(cal.add_working_days(at(2026, 2, 12), 5)) == datetime(2026, 2, 26, 17, 30)


def test_national_day_with_its_make_up_saturday() -> None:
    # 30 Sep 2026 + 5: 8 Oct, 9 Oct, 10 Oct (Saturday, 调休), 12 Oct, 13 Oct
    assert local(WorkCalendar().add_working_days(at(2026, 9, 30), 5)) == datetime(2026, 10, 13, 17, 30)


def test_a_case_registered_on_a_holiday_counts_from_the_next_working_day() -> None:
    assert local(WorkCalendar().add_working_days(at(2026, 10, 3), 1)) == datetime(2026, 10, 8, 17, 30)


def test_working_minutes_stop_over_lunch_and_overnight() -> None:
    cal = WorkCalendar()
    # 11:30 + 2 h: 30 min before lunch, 90 after 14:30 → 16:00
    assert local(cal.add_working_minutes(at(2026, 11, 26, 11, 30), 120)) == datetime(2026, 11, 26, 16, 0)
    # Friday 17:00 + 2 h: 30 min on Friday, 90 on Monday morning → 10:00 Monday
    assert local(cal.add_working_minutes(at(2026, 11, 27, 17, 0), 120)) == datetime(2026, 11, 30, 10, 0)
    # registered at night: the clock starts at 08:30
    assert local(cal.add_working_minutes(at(2026, 11, 26, 22, 0), 30)) == datetime(2026, 11, 27, 9, 0)


def test_a_deadline_in_a_year_without_data_does_not_crash_and_counts_weekdays(caplog) -> None:  # type: ignore[no-untyped-def]
    cal = WorkCalendar()
    # Monday 28 Dec 2026 + 5 runs into 2027, which chinese-calendar 1.11 does not cover
    assert local(cal.add_working_days(at(2026, 12, 28), 5)) == datetime(2027, 1, 4, 17, 30)
    assert "no holiday data for 2027" in caplog.text
    assert cal.missing_years(date(2026, 11, 26)) == [2027]


def test_days_an_admin_entered_for_an_uncovered_year_are_used() -> None:
    # 1 Jan 2027 a holiday (entered), and a made-up working Sunday 3 Jan 2027
    cal = WorkCalendar(overrides={date(2027, 1, 1): False, date(2027, 1, 3): True})
    assert local(cal.add_working_days(at(2026, 12, 31), 1)) == datetime(2027, 1, 3, 17, 30)
    assert cal.missing_years(date(2026, 11, 26)) == []


def test_the_working_day_ends_where_the_calendar_says_for_deadlines_and_extensions() -> None:
    cal = WorkCalendar()
    assert cal.day_end(date(2026, 3, 2)) == datetime(2026, 3, 2, 17, 30, tzinfo=TZ)
    due = cal.add_working_days(datetime(2026, 3, 2, 10, 0, tzinfo=TZ), 1)
    assert due == cal.day_end(date(2026, 3, 3))
    # a hotline whose afternoon ends at 18:00: both the deadline and an extension's date follow
    late = WorkCalendar(hours=((time(9, 0), time(12, 0)), (time(13, 30), time(18, 0))))
    assert late.day_end(date(2026, 3, 3)) == datetime(2026, 3, 3, 18, 0, tzinfo=TZ)
    assert late.add_working_days(datetime(2026, 3, 2, 10, 0, tzinfo=TZ), 1) == late.day_end(date(2026, 3, 3))
