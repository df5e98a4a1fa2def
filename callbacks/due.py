"""When callbacks and deadline notices fall due: pure functions of a WorkCalendar, the SLA
rules and explicit times (DOMAIN.md, 'Deadlines'). No I/O; every time is an aware datetime and
every result is aware UTC.

- a case's callback (回访) is due by the end of working hours on the `callback_working_days`-th
  working day after its resolution (default: the next working day); the first attempt may be
  made at the first working moment after the resolution;
- a missed call's callback (回拨) is due within `missed_working_minutes` working minutes;
- a callback not reached is tried again at least `attempt_gap` later and on another half-day
  (morning / afternoon), up to `max_attempts` attempts;
- deadline notices: reminders one working day and two working hours before a case's deadline,
  the overdue mark at it, escalation (督办) five working days after it.

The counts (attempts, gap, missed-call minutes, reminder offsets, escalation) are columns of
`sla_rules` per kind, which an admin changes; `CallbackRules` is their typed carrier, built from
the kind's SlaInfo by `rules_for` (a missed call has no case yet: it follows the complaint row,
`MISSED_CALL_KIND`). Its field defaults are DOMAIN.md's, used by the pure functions here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from callcenter.cases.workdays import TZ, WorkCalendar
from callcenter.store.models import Kind
from callcenter.store.refdata import RefData, SlaInfo


@dataclass(frozen=True)
class CallbackRules:
    max_attempts: int = 3
    attempt_gap: timedelta = timedelta(hours=2)
    missed_working_minutes: int = 60
    remind_before_working_minutes: tuple[int, ...] = ()  # () = one working day and two working hours
    escalate_after_working_days: int = 5


DEFAULT_RULES = CallbackRules()
# a missed call (回拨) has no case and so no kind: it follows the complaint (民众诉求) row
MISSED_CALL_KIND = Kind.complaint


def working_minutes_per_day(cal: WorkCalendar) -> int:
    return sum(
        (datetime.combine(datetime.min, b) - datetime.combine(datetime.min, a)).seconds // 60 for a, b in cal.hours
    )


def rules_from_sla(sla: SlaInfo, cal: WorkCalendar) -> CallbackRules:
    """The callback rules of one kind's sla_rules row (the reminder in working days counted
    with the calendar's working hours)."""
    return CallbackRules(
        max_attempts=sla.callback_max_attempts,
        attempt_gap=timedelta(minutes=sla.callback_attempt_gap_minutes),
        missed_working_minutes=sla.missed_callback_working_minutes,
        remind_before_working_minutes=(sla.remind_before_working_days * working_minutes_per_day(cal),
                                       sla.remind_before_working_minutes),
        escalate_after_working_days=sla.escalate_after_working_days,
    )


def rules_for(ref: RefData, kind: Kind | None) -> CallbackRules:
    """The callback rules of a case of `kind` (None: a missed call) from the reference data."""
    return rules_from_sla(ref.sla_for(kind or MISSED_CALL_KIND), ref.calendar)


def case_callback_due(cal: WorkCalendar, sla: SlaInfo, resolved_at: datetime) -> datetime:
    """The latest time the callback of a case resolved (or answered) at `resolved_at` is on time."""
    return cal.add_working_days(resolved_at, max(sla.callback_working_days, 1))


def first_attempt_at(cal: WorkCalendar, at: datetime) -> datetime:
    """The first working moment at or after `at` (a case resolved at night is called next morning)."""
    return cal.next_working_moment(at).astimezone(UTC)


def missed_call_due(cal: WorkCalendar, offered_at: datetime, rules: CallbackRules = DEFAULT_RULES) -> datetime:
    """A missed call (abandoned or refused, number known) is called back within one working hour."""
    return cal.add_working_minutes(offered_at, rules.missed_working_minutes)


def half_day(cal: WorkCalendar, at: datetime) -> tuple[object, int]:
    """(local date, 0 for the morning, 1 for the afternoon); the boundary is the end of the
    first working period (12:00 by default), so 12:30 belongs to the afternoon."""
    local = at.astimezone(TZ)
    boundary = cal.hours[0][1] if len(cal.hours) > 1 else time(12, 0)
    return (local.date(), 0 if local.time() < boundary else 1)


def _next_period_start(cal: WorkCalendar, at: datetime) -> datetime:
    """The start of the first working period that begins after `at`'s half-day."""
    local = at.astimezone(TZ)
    day, half = half_day(cal, at)
    if half == 0 and len(cal.hours) > 1:
        probe = datetime.combine(local.date(), cal.hours[0][1], TZ)  # the end of the morning
    else:
        probe = datetime.combine(local.date() + timedelta(days=1), time(0, 0), TZ)
    return cal.next_working_moment(probe).astimezone(UTC)


def next_attempt_at(cal: WorkCalendar, last_attempt: datetime, rules: CallbackRules = DEFAULT_RULES) -> datetime:
    """The earliest working moment at least `attempt_gap` after `last_attempt` on another half-day."""
    slot = cal.next_working_moment(last_attempt + rules.attempt_gap).astimezone(UTC)
    if half_day(cal, slot) == half_day(cal, last_attempt):
        slot = _next_period_start(cal, slot)
    return slot


def sub_working_minutes(cal: WorkCalendar, end: datetime, minutes: int) -> datetime:
    """`end` minus `minutes` counted only inside working hours (the mirror of add_working_minutes)."""
    remaining = timedelta(minutes=minutes)
    cur = end.astimezone(TZ)
    for _ in range(3660):
        day = cur.date()
        if cal.is_workday(day):
            for a, b in reversed(cal.hours):
                wa = datetime.combine(day, a, TZ)
                wb = datetime.combine(day, b, TZ)
                if cur <= wa:
                    continue
                e = min(cur, wb)
                avail = e - wa
                # strictly less: a span that ends exactly at a period's start is the end of the
                # period before (one working day before 17:30 is 17:30 the working day before)
                if remaining < avail:
                    return (e - remaining).astimezone(UTC)
                remaining -= avail
                cur = wa
        cur = datetime.combine(day - timedelta(days=1), time.max, TZ)
    raise ValueError("working-minute arithmetic ran past ten years")


@dataclass(frozen=True)
class Notice:
    kind: str  # remind_1d | remind_2h | overdue | escalated
    at: datetime  # when it falls due


def deadline_notices(cal: WorkCalendar, due_at: datetime, rules: CallbackRules = DEFAULT_RULES) -> list[Notice]:
    """The notices of a case due at `due_at`, in time order."""
    offsets = rules.remind_before_working_minutes or (working_minutes_per_day(cal), 120)
    names = {working_minutes_per_day(cal): "remind_1d", 120: "remind_2h"}
    out = [Notice(names.get(m, f"remind_{m}m"), sub_working_minutes(cal, due_at, m)) for m in offsets]
    out.append(Notice("overdue", due_at.astimezone(UTC)))
    out.append(
        Notice("escalated", cal.add_working_minutes(due_at, rules.escalate_after_working_days * working_minutes_per_day(cal)))
    )
    return sorted(out, key=lambda n: n.at)


def notices_due(cal: WorkCalendar, due_at: datetime, now: datetime, rules: CallbackRules = DEFAULT_RULES) -> list[Notice]:
    """The notices of a case that are due as of `now`. A reminder whose deadline has already
    passed is no longer useful (a scheduler that was down catches up with the overdue mark
    instead), so reminders count only before the deadline."""
    out = []
    for n in deadline_notices(cal, due_at, rules):
        if n.at > now:
            continue
        if n.kind.startswith("remind") and now >= due_at:
            continue
        out.append(n)
    return out
