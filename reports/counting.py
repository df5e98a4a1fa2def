"""The figures' definitions as SQL: the period scope, a case's atoms, one predicate per figure
(`CASE_FIGURES`, `CASE_SUMS`, `GROUPS`, `CALL_FIGURES`) and the counting queries over them.

`metrics.metrics()` counts them, `metrics.drill()` lists them, `rollup` keeps them per day: all
three read this module, which reads neither (no import circle).

Every figure has exactly one definition: a SQLAlchemy boolean expression in `CASE_FIGURES`
(over a case's few "atoms", see `atom_exprs`) or `CALL_FIGURES` (over `calls`). `metrics()`
counts it — for cases by grouping the period's cases by their atoms and summing the group
sizes where the predicate holds, for calls with `COUNT(CASE WHEN <predicate> THEN 1 END)` —
and `drill()` lists the rows matching the very same predicate, so the length of a drill-down
list is always the figure it came from. The
breakdowns (`by_kind`, `by_category`, …) are the `registered` predicate grouped by one
expression in `GROUPS`, and drill down the same way with `key`.

Periods are calendar days in the hotline's zone (settings.timezone, Asia/Shanghai), both ends inclusive, whatever the server's zone:
2025-01-01..2025-12-31 is [2024-12-31 16:00 UTC, 2025-12-31 16:00 UTC). They are range
predicates on `registered_at` (cases) and `offered_at` (calls) so their indexes serve them.
Case figures are "as of" `now`: a case registered in the period and resolved later counts as
resolved; `overdue` compares open cases' deadlines with `now`.

The same SQL runs on SQLite and PostgreSQL; rows are never loaded into Python to be counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    case,
    cast,
    func,
    literal_column,
    not_,
    or_,
    select,
    union_all,
)
from sqlalchemy.sql import Select

from callcenter.core.clock import TZ
from callcenter.core.errors import Invalid, NotFound
from callcenter.store.models import (
    OPEN_STATES,
    Call,
    CallbackResult,
    CallDirection,
    CallOutcome,
    Category,
    Department,
    Satisfaction,
    Status,
    Ticket,
)

AREA_UNSET = "未填写"  # the by_area key of cases registered without an area


class UnknownDepartment(NotFound):
    """The department code given to scope the figures does not exist."""


class UnknownFigure(Invalid):
    """drill() was asked for a figure that is not defined here."""


@dataclass(frozen=True)
class Scope:
    """What every predicate may depend on: the period's UTC bounds, the department and `now`."""

    lo: datetime  # inclusive, UTC
    hi: datetime  # exclusive, UTC
    now: datetime
    department_id: int | None = None


def period_bounds(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """[date_from 00:00, date_to + 1 00:00) in Asia/Shanghai, as aware UTC datetimes."""
    if date_to < date_from:
        raise Invalid(f"统计期的结束日期（{date_to}）早于开始日期（{date_from}）", field="to")
    try:
        lo = datetime.combine(date_from, time(0), TZ).astimezone(UTC)
        hi = datetime.combine(date_to + timedelta(days=1), time(0), TZ).astimezone(UTC)
    except (OverflowError, ValueError):
        raise Invalid(f"统计期（{date_from} 至 {date_to}）超出可统计的日期范围", field="from") from None
    return lo, hi


# ---------------------------------------------------------------------------------------------
# Cases (tickets), by registration time
# ---------------------------------------------------------------------------------------------
T = Ticket
Pred = Callable[[Scope], ColumnElement[bool]]

OPEN = OPEN_STATES
RESOLVED_STATES = (Status.answered, Status.resolved, Status.closed)


def atom_exprs(s: Scope) -> dict[str, Any]:
    """The few low-cardinality facts of a case every case figure is built from.

    The figures below see a case only through these. drill() evaluates them on each row;
    metrics() groups the period's cases by them first (a few dozen groups out of a million
    cases) and evaluates the very same figure predicates once per group, weighted by its size.
    """
    return {
        "status": T.status,
        # ever dispatched; a department on the case also means it was sent there (an import may
        # give one without the dispatch action), while answering directly clears the department
        "dispatched": or_(T.ever_dispatched.is_(True), T.department_id.is_not(None)),
        "callback_result": T.callback_result,
        # the latest reached callback's answer (最终满意率) and the first one's (满意率)
        "satisfaction": T.satisfaction,
        "first_satisfaction": T.first_satisfaction,
        "solved": T.solved,
        "reopened": T.reopen_count > 0,
        "chases": func.coalesce(T.chase_count, 0),  # 催办次数 (a small number: grouped like the rest)
        # by the deadline in force (approved extensions move due_at); no deadline cannot be
        # missed. A case closed after an unreachable callback keeps its resolved_at.
        "in_time": and_(T.resolved_at.is_not(None), or_(T.due_at.is_(None), T.resolved_at <= T.due_at)),
        "late": and_(T.due_at.is_not(None), T.resolved_at.is_not(None), T.resolved_at > T.due_at),
        "past_due": and_(T.due_at.is_not(None), T.due_at < s.now),
    }


class Atoms:
    """Attribute access to the atoms: row expressions, or the columns of the grouped subquery."""

    def __init__(self, cols: Any) -> None:
        self._cols = cols

    def __getattr__(self, name: str) -> Any:
        return self._cols[name]


CasePred = Callable[[Atoms], ColumnElement[bool]]


# 受理量: a duplicate (merged into another case) and an invalid call are not cases received
def _registered(a: Atoms) -> ColumnElement[bool]:
    return a.status.not_in([Status.merged, Status.invalid])


# a reopened case is not resolved until it is resolved (or answered) again
def _resolved(a: Atoms) -> ColumnElement[bool]:
    return and_(_registered(a), a.status.in_(RESOLVED_STATES))


# resolved cases whose callback is due: everything not marked 不需回访 (NULL = not decided yet)
def _cb_required(a: Atoms) -> ColumnElement[bool]:
    return and_(
        _resolved(a), or_(a.callback_result.is_(None), a.callback_result != CallbackResult.not_needed)
    )


def _cb_reached(a: Atoms) -> ColumnElement[bool]:
    return and_(_cb_required(a), a.callback_result == CallbackResult.reached)


_CONTENT = (Satisfaction.satisfied, Satisfaction.basically)  # 满意 + 基本满意


def _overdue_open(a: Atoms) -> ColumnElement[bool]:
    return and_(_registered(a), a.status.in_(OPEN), a.past_due)


def _overdue_late(a: Atoms) -> ColumnElement[bool]:
    return and_(_resolved(a), a.late)


CASE_FIGURES: dict[str, CasePred] = {
    "registered": _registered,
    # answered on the call by the operator: left registration without ever being dispatched
    "answered_directly": lambda a: and_(
        _registered(a),
        not_(a.dispatched),
        a.status.in_([Status.answered, Status.resolved, Status.closed, Status.reopened]),
    ),
    "dispatched": lambda a: and_(_registered(a), a.dispatched),
    "open": lambda a: and_(_registered(a), a.status.in_(OPEN)),
    "resolved": _resolved,
    "on_time": lambda a: and_(_resolved(a), a.in_time),
    "callbacks_required": _cb_required,
    "callbacks_reached": _cb_reached,
    "callbacks_unreachable": lambda a: and_(_cb_required(a), a.callback_result == CallbackResult.unreachable),
    "callbacks_pending": lambda a: and_(
        _cb_required(a), or_(a.callback_result.is_(None), a.callback_result == CallbackResult.pending)
    ),
    # 满意率 (DOMAIN.md): over the cases with a reached callback, the *first* reached callback's
    # answer — a 不满意 stays counted after the case is reopened and resolved again
    "rated": lambda a: and_(_registered(a), a.first_satisfaction.is_not(None)),
    "satisfied": lambda a: and_(_registered(a), a.first_satisfaction.in_(_CONTENT)),
    "dissatisfied": lambda a: and_(_registered(a), a.first_satisfaction == Satisfaction.dissatisfied),
    # 最终满意率: the same over the *latest* reached callback
    "final_rated": lambda a: and_(_registered(a), a.satisfaction.is_not(None)),
    "final_satisfied": lambda a: and_(_registered(a), a.satisfaction.in_(_CONTENT)),
    # 解决率: of the reached citizens who answered the question, those who said it is solved
    "solved_asked": lambda a: and_(_cb_reached(a), a.solved.is_not(None)),
    "solved": lambda a: and_(_cb_reached(a), a.solved.is_(True)),
    "reopened": lambda a: and_(_registered(a), a.reopened),
    # 催办: cases the citizen called again about (催办量, the number of 催办, is CASE_SUMS')
    "chased": lambda a: and_(_registered(a), a.chases > 0),
    # 超期: open past its deadline as of `now`, or resolved after it (the two parts are disjoint:
    # the rollups keep the second, the first depends on `now` and is always counted live)
    "overdue": lambda a: or_(_overdue_open(a), _overdue_late(a)),
    "overdue_open": lambda a: _overdue_open(a),
    "overdue_late": lambda a: _overdue_late(a),
    "merged": lambda a: a.status == Status.merged,
    "invalid": lambda a: a.status == Status.invalid,
}


# figures that add up a number per case rather than count cases: name → (predicate, value);
# their drill-down lists the cases the predicate holds for
CASE_SUMS: dict[str, tuple[CasePred, Callable[[Atoms], Any]]] = {
    "chases": (CASE_FIGURES["chased"], lambda a: a.chases),  # 催办量
}


@dataclass(frozen=True)
class Group:
    """A breakdown of `registered` by one expression; inner joins drop cases without the key."""

    key: Any  # the grouping expression (the names users see)
    joins: tuple[tuple[Any, Any], ...] = ()
    # the rollups (reports/rollup.py) keep an id instead of a name: the id column on tickets
    # and the table whose `name` it stands for; None = `key` is a column of tickets itself
    id_col: Any = None
    named: Any = None


GROUPS: dict[str, Group] = {
    "by_kind": Group(T.kind),
    "by_category": Group(Category.name, ((Category, T.category_id == Category.id),), T.category_id, Category),
    # the department the case is (now) dispatched to; cases without one are not in it
    "by_department": Group(
        Department.name, ((Department, T.department_id == Department.id),), T.department_id, Department
    ),
    "by_area": Group(func.coalesce(func.nullif(T.area, ""), AREA_UNSET)),
    "by_source": Group(T.source),
}


def _case_scope(s: Scope) -> ColumnElement[bool]:
    cond = and_(T.registered_at >= s.lo, T.registered_at < s.hi)
    if s.department_id is not None:
        cond = and_(cond, T.department_id == s.department_id)
    return cond


# ---------------------------------------------------------------------------------------------
# Calls, by the time they were offered
# ---------------------------------------------------------------------------------------------
C = Call

# the few facts of a call its figures are built from (grouped first by metrics(), as for cases)
CALL_ATOMS: dict[str, Any] = {
    "direction": C.direction,
    "outcome": C.outcome,
    "was_answered": C.answered_at.is_not(None),
    "ended": C.ended_at.is_not(None),
    "has_wait": C.wait_s.is_not(None),
    "has_talk": C.talk_s.is_not(None),
    "within_15s": and_(C.wait_s.is_not(None), C.wait_s <= 15),
}
CallPred = Callable[[Atoms], ColumnElement[bool]]


def _inbound(a: Atoms) -> ColumnElement[bool]:
    return a.direction == CallDirection.inbound


def _outbound(a: Atoms) -> ColumnElement[bool]:
    return a.direction == CallDirection.outbound


# an answered call still in progress counts as answered (the wall shows the day as it goes)
def _answered(a: Atoms) -> ColumnElement[bool]:
    return and_(
        _inbound(a),
        or_(a.outcome == CallOutcome.answered, and_(a.outcome == CallOutcome.in_progress, a.was_answered)),
    )


def _talked(a: Atoms) -> ColumnElement[bool]:
    return and_(_answered(a), a.ended, a.has_talk)


CALL_FIGURES: dict[str, CallPred] = {
    # 呼入量: every inbound call that reached the PBX, those refused by the line limit included
    "offered": _inbound,
    "answered": _answered,
    "abandoned": lambda a: and_(_inbound(a), a.outcome == CallOutcome.abandoned),
    "refused": lambda a: and_(_inbound(a), a.outcome == CallOutcome.refused),
    "waiting": lambda a: and_(_inbound(a), a.outcome == CallOutcome.in_progress, not_(a.was_answered)),
    "answered_within_15s": lambda a: and_(_answered(a), a.within_15s),
    "talked": _talked,
    # outbound callbacks (回访 / 回拨) are not inbound traffic: counted apart
    "callbacks_placed": _outbound,
    "callbacks_answered": lambda a: and_(_outbound(a), a.outcome == CallOutcome.callback_answered),
    "callbacks_unanswered": lambda a: and_(_outbound(a), a.outcome == CallOutcome.callback_unanswered),
    "callbacks_failed": lambda a: and_(_outbound(a), a.outcome == CallOutcome.callback_failed),
}


def _call_scope(s: Scope) -> ColumnElement[bool]:
    return and_(C.offered_at >= s.lo, C.offered_at < s.hi)


# ---------------------------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------------------------
def _count(pred: ColumnElement[bool]) -> ColumnElement[int]:
    return func.count(case((pred, 1)))


def case_counts_query(s: Scope) -> Select[Any]:
    """One row: every case figure. Groups the period's cases by their atoms, then counts."""
    atoms = atom_exprs(s)
    grouped = (
        select(*(e.label(name) for name, e in atoms.items()), func.count().label("n"))
        .select_from(T)
        .where(_case_scope(s))
        .group_by(*atoms.values())
        .subquery("atoms")
    )
    return case_counts_over(grouped)


def case_counts_over(grouped: Any) -> Select[Any]:
    """Every case figure over a subquery of (atoms…, n) groups (the base table's or the rollups')."""
    a = Atoms(grouped.c)
    cols = [func.coalesce(func.sum(case((p(a), grouped.c.n), else_=0)), 0).label(name)
            for name, p in CASE_FIGURES.items()]
    cols += [func.coalesce(func.sum(case((p(a), grouped.c.n * v(a)), else_=0)), 0).label(name)
             for name, (p, v) in CASE_SUMS.items()]
    return select(*cols).select_from(grouped)


def groups_query(s: Scope) -> Any:
    """All breakdowns in one round trip: (group, key, n) rows, UNION ALL of one GROUP BY each."""
    parts = []
    for name, g in GROUPS.items():
        key = cast(g.key, String(200))
        q = select(literal_column(f"'{name}'", String(20)).label("g"), key.label("k"), func.count().label("n"))
        q = q.select_from(T)
        for target, on in g.joins:
            q = q.join(target, on)
        parts.append(q.where(_case_scope(s), _registered(Atoms(atom_exprs(s)))).group_by(g.key))
    return union_all(*parts)


def call_atoms_query(where: ColumnElement[bool], day: Any = None) -> Select[Any]:
    """(day?, call atoms…, n, wait, talk, line) groups of the calls matching `where`."""
    keys = ([day.label("day")] if day is not None else []) + [e.label(n) for n, e in CALL_ATOMS.items()]
    return (
        select(
            *keys,
            func.count().label("n"),
            func.sum(C.wait_s).label("wait"),
            func.sum(C.talk_s).label("talk"),
            # `line` is the lines in use when the call took one, itself included (inbound and
            # outbound callbacks alike; a refused call holds none)
            func.max(C.line).label("line"),
        )
        .select_from(C)
        .where(where)
        .group_by(*([day] if day is not None else []), *CALL_ATOMS.values())
    )


def call_counts_query(s: Scope) -> Select[Any]:
    """One row: every call figure, the sums behind the averages and the peak of lines."""
    return call_counts_over(call_atoms_query(_call_scope(s)).subquery("call_atoms"))


def call_counts_over(sub: Any) -> Select[Any]:
    """Every call figure over a subquery of (call atoms…, n, wait, talk, line) groups."""
    g = sub.c
    a = Atoms(g)

    def total(pred: ColumnElement[bool], col: Any) -> ColumnElement[Any]:
        return func.coalesce(func.sum(case((pred, col), else_=0)), 0)

    cols: list[Any] = [total(p(a), g.n).label(name) for name, p in CALL_FIGURES.items()]
    cols += [
        # average wait over answered calls that have one; average talk over ended answered calls
        total(_answered(a), g.wait).label("wait_sum"),
        total(and_(_answered(a), a.has_wait), g.n).label("wait_n"),
        total(_talked(a), g.talk).label("talk_sum"),
        func.max(g.line).label("peak_lines"),
    ]
    return select(*cols).select_from(sub)


async def _department(session: Any, code: str) -> Department:
    dept = (await session.execute(select(Department).where(Department.code == code))).scalar_one_or_none()
    if dept is None:
        raise UnknownDepartment(f"代码为“{code}”的承办单位不存在", field="department")
    return dept


def _scope(date_from: date, date_to: date, now: datetime | None, department_id: int | None) -> Scope:
    lo, hi = period_bounds(date_from, date_to)
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return Scope(lo=lo, hi=hi, now=now.astimezone(UTC), department_id=department_id)


def _avg(total: Any, n: Any) -> float | None:
    return float(total) / int(n) if n else None
