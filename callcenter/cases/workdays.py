"""The Chinese official working-day calendar (holidays and 调休 make-up workdays).

Sources, in order: the `calendar_days` table (an admin's `hotline calendar set`, for years the
package does not cover yet, or corrections), then the `chinese_calendar` package (1.11.0 covers
2004–2026), then — for a year neither knows — Monday to Friday, with a warning, so a deadline
that runs into an uncovered year never crashes. `missing_years()` lets the system warn ahead.

Deadlines are computed in Asia/Shanghai local time and returned as aware UTC datetimes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import chinese_calendar

from callcenter.core.clock import TZ

log = logging.getLogger(__name__)
# the years a case, a report or a search can be about (inputs outside are refused with a 422:
# year 1 or 9999 overflows the time-zone arithmetic and the store's date range)
MIN_YEAR, MAX_YEAR = 2000, 2100

# 08:30–12:00 and 14:30–17:30 (DOMAIN.md); the hotline itself runs 7×24
DEFAULT_HOURS: tuple[tuple[time, time], ...] = ((time(8, 30), time(12, 0)), (time(14, 30), time(17, 30)))


def package_covers(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@dataclass
class WorkCalendar:
    overrides: Mapping[date, bool] = field(default_factory=dict)
    hours: tuple[tuple[time, time], ...] = DEFAULT_HOURS
    _warned: set[int] = field(default_factory=set, repr=False)
    _memo: dict[date, bool] = field(default_factory=dict, repr=False)

    def is_workday(self, d: date) -> bool:
        hit = self._memo.get(d)
        if hit is None:
            hit = self._memo[d] = self._is_workday(d)
        return hit

    def _is_workday(self, d: date) -> bool:
        if d in self.overrides:
            return self.overrides[d]
        try:
            return bool(chinese_calendar.is_workday(d))
        except NotImplementedError:
            if d.year not in self._warned:
                self._warned.add(d.year)
                log.warning(
                    "no holiday data for %s: counting Monday–Friday as working days; "
                    "enter the year's holidays with `hotline calendar set`",
                    d.year,
                )
            return d.weekday() < 5

    def year_has_data(self, year: int) -> bool:
        return package_covers(year) or any(d.year == year for d in self.overrides)

    def uncovered_years(self, today: date) -> list[int]:
        """This year and the next, where no holiday data is known (shown on /readyz, the admin
        page and the wall until an admin enters them with `hotline calendar set`)."""
        return [y for y in (today.year, today.year + 1) if not self.year_has_data(y)]

    def missing_years(self, today: date, ahead_days: int = 60) -> list[int]:
        """Years that a deadline set today (plus `ahead_days`) may reach and that have no data."""
        years = {today.year, (today + timedelta(days=ahead_days)).year}
        return sorted(y for y in years if not self.year_has_data(y))

    def next_workday(self, d: date) -> date:
        d = d + timedelta(days=1)
        while not self.is_workday(d):
            d += timedelta(days=1)
        return d

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """End of working hours on the n-th working day after `start`'s local day.

        A case registered on a Friday with 5 working days is due at 17:30 on the next Friday,
        later by one day for each holiday in between (and earlier for a 调休 Saturday).
        """
        local = start.astimezone(TZ).date()
        d = local
        for _ in range(max(n, 0)):
            d = self.next_workday(d)
        if n <= 0 and not self.is_workday(d):
            d = self.next_workday(d)
        return self.day_end(d).astimezone(UTC)

    def day_end(self, d: date) -> datetime:
        """The end of the working hours of local day `d` (17:30 by DOMAIN.md), aware local time:
        the one definition of the working day's end (deadlines, an extension's 延期至 date)."""
        return datetime.combine(d, self.hours[-1][1], TZ)

    def add_working_minutes(self, start: datetime, minutes: int) -> datetime:
        """`start` plus `minutes` counted only inside working hours on working days."""
        remaining = timedelta(minutes=minutes)
        cur = start.astimezone(TZ)
        for _ in range(3660):  # at most ten years of days: a guard, never reached in practice
            day = cur.date()
            if self.is_workday(day):
                for a, b in self.hours:
                    wa = datetime.combine(day, a, TZ)
                    wb = datetime.combine(day, b, TZ)
                    if cur >= wb:
                        continue
                    s = max(cur, wa)
                    avail = wb - s
                    if remaining <= avail:
                        return (s + remaining).astimezone(UTC)
                    remaining -= avail
                    cur = wb
            cur = datetime.combine(day + timedelta(days=1), time(0, 0), TZ)
        raise ValueError("working-minute arithmetic ran past ten years")

    def in_working_hours(self, at: datetime) -> bool:
        local = at.astimezone(TZ)
        if not self.is_workday(local.date()):
            return False
        return any(a <= local.time() < b for a, b in self.hours)

    def next_working_moment(self, at: datetime) -> datetime:
        """`at` itself if inside working hours, else the start of the next working period."""
        return self.add_working_minutes(at, 0) if not self.in_working_hours(at) else at
