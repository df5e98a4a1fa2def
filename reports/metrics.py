"""The hotline's figures (DOMAIN.md "Figures"): `metrics()` counts them over a period, `drill()`
lists what one of them counts.

The definitions — the period scope, a case's atoms, one predicate per figure, the counting
queries — are `reports/counting.py`; the figures' labels and rates `reports/figures.py`; the
per-day rollups `reports/rollup.py`. This module composes them (and re-exports the definitions'
names its callers have always imported from here).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import String, cast, false, func, select
from sqlalchemy.sql import ColumnElement

from callcenter.core.errors import Invalid
from callcenter.store.db import Database
from callcenter.store.models import Kind

from .counting import (
    AREA_UNSET,
    CALL_ATOMS,
    CALL_FIGURES,
    CASE_FIGURES,
    CASE_SUMS,
    GROUPS,
    OPEN,
    RESOLVED_STATES,
    TZ,
    Atoms,
    C,
    Group,
    Scope,
    T,
    UnknownDepartment,
    UnknownFigure,
    _avg,
    _call_scope,
    _case_scope,
    _department,
    _registered,
    _scope,
    atom_exprs,
    call_atoms_query,
    call_counts_over,
    call_counts_query,
    case_counts_over,
    case_counts_query,
    groups_query,
    period_bounds,
)
from .figures import CALL_RATES, CASE_RATES, derive_rates, ratio
from .rollup import counts_from_rollups

__all__ = [
    "AREA_UNSET",
    "Atoms",
    "C",
    "CALL_ATOMS",
    "CALL_FIGURES",
    "CASE_FIGURES",
    "CASE_SUMS",
    "FIGURES",
    "GROUPS",
    "Group",
    "OPEN",
    "RESOLVED_STATES",
    "Scope",
    "T",
    "TZ",
    "UnknownDepartment",
    "UnknownFigure",
    "_avg",
    "_call_scope",
    "_case_scope",
    "_department",
    "_registered",
    "_scope",
    "atom_exprs",
    "call_atoms_query",
    "call_counts_over",
    "call_counts_query",
    "case_counts_over",
    "case_counts_query",
    "drill",
    "groups_query",
    "is_call_figure",
    "metrics",
    "period_bounds",
    "ratio",
]


async def metrics(
    db: Database,
    date_from: date,
    date_to: date,
    department_code: str | None = None,
    now: datetime | None = None,
    use_rollups: bool = True,
) -> dict[str, Any]:
    """The figures of a period (dates inclusive, Asia/Shanghai) as issue 6's JSON shape.

    Rates are exact fractions 0–1 (None where the denominator is zero). With a department,
    the case figures count that department's cases and `calls` is None: calls reach the
    hotline, not a department. Raises UnknownDepartment for an unknown code.
    The whole hotline's figures come from the per-day rollups (reports/rollup.py) once they
    have been built, with the days changed since their last refresh counted live; they are
    the base tables' figures exactly (`use_rollups=False` counts the base tables only).
    """
    async with db.session() as session:
        dept = await _department(session, department_code) if department_code else None
        s = _scope(date_from, date_to, now, dept.id if dept else None)
        got = None if dept or not use_rollups else await counts_from_rollups(session, s, date_from, date_to)
        groups: dict[str, dict[str, int]]
        calls: Any
        if got is not None:
            c, groups, calls = got
        else:
            c = (await session.execute(case_counts_query(s))).mappings().one()
            groups = {name: {} for name in GROUPS}
            for g, k, n in (await session.execute(groups_query(s))).all():
                groups[g][k] = int(n)
            calls = None if dept else (await session.execute(call_counts_query(s))).mappings().one()
        # 话后整理 (issue 12): recorded on the call once it ends (the form saved or discarded, or
        # the maximum), so counted live from the calls, not from the rollups
        acw = None if dept else (await session.execute(
            select(func.coalesce(func.sum(C.acw_s), 0), func.count(C.acw_s)).where(_call_scope(s)))).one()

    n = {k: int(v) for k, v in c.items()}
    r = derive_rates(n, CASE_RATES)
    by_kind = {k.value: groups["by_kind"].get(k.value, 0) for k in Kind}
    cases: dict[str, Any] = {
        "registered": n["registered"],
        "answered_directly": n["answered_directly"],
        "dispatched": n["dispatched"],
        "open": n["open"],
        "resolved": n["resolved"],
        "completion_rate": r["completion_rate"],
        "on_time": n["on_time"],
        "on_time_rate": r["on_time_rate"],
        "direct_resolution_rate": r["direct_resolution_rate"],
        "callbacks_required": n["callbacks_required"],
        "callbacks_reached": n["callbacks_reached"],
        "callbacks_unreachable": n["callbacks_unreachable"],
        "callbacks_pending": n["callbacks_pending"],
        "callback_rate": r["callback_rate"],
        # 满意率: the first reached callback of each case; 最终满意率: the latest one
        "rated": n["rated"],
        "satisfied": n["satisfied"],
        "dissatisfied": n["dissatisfied"],
        "satisfaction_rate": r["satisfaction_rate"],
        "final_rated": n["final_rated"],
        "final_satisfied": n["final_satisfied"],
        "final_satisfaction_rate": r["final_satisfaction_rate"],
        "solved": n["solved"],
        "solved_asked": n["solved_asked"],
        "solved_rate": r["solved_rate"],
        "reopened": n["reopened"],
        "reopen_rate": r["reopen_rate"],  # 重办率
        "chases": n["chases"],  # 催办量
        "chased": n["chased"],  # cases chased
        "overdue": n["overdue"],
        "overdue_open": n["overdue_open"],
        "overdue_late": n["overdue_late"],
        "merged": n["merged"],
        "invalid": n["invalid"],
        "by_kind": by_kind,
        "by_category": groups["by_category"],
        "by_department": groups["by_department"],
        "by_area": groups["by_area"],
        "by_source": groups["by_source"],
    }
    out: dict[str, Any] = {
        "period": {"from": date_from.isoformat(), "to": date_to.isoformat(), "timezone": TZ.key},
        "as_of": s.now.isoformat(),
        "department": {"code": dept.code, "name": dept.name} if dept else None,
        "calls": None,
        "cases": cases,
    }
    if calls is not None:
        k = {name: int(calls[name]) for name in CALL_FIGURES}
        kr = derive_rates(k, CALL_RATES)
        out["calls"] = {
            "offered": k["offered"],
            "answered": k["answered"],
            "abandoned": k["abandoned"],
            "refused": k["refused"],
            "waiting": k["waiting"],
            "answer_rate": kr["answer_rate"],
            "answered_within_15s": k["answered_within_15s"],
            "answered_within_15s_rate": kr["answered_within_15s_rate"],
            "avg_wait_s": _avg(calls["wait_sum"], calls["wait_n"]),
            "avg_talk_s": _avg(calls["talk_sum"], k["talked"]),
            "peak_lines": calls["peak_lines"],
            "acw_calls": int(acw[1]) if acw else 0,
            "avg_acw_s": _avg(acw[0], acw[1]) if acw else None,
            "callbacks_placed": k["callbacks_placed"],
            "callbacks_answered": k["callbacks_answered"],
            "callbacks_unanswered": k["callbacks_unanswered"],
            "callbacks_failed": k["callbacks_failed"],
        }
    return out


FIGURES: tuple[str, ...] = (*CASE_FIGURES, *CASE_SUMS, *GROUPS, *CALL_FIGURES)

def is_call_figure(figure: str) -> bool:
    return figure in CALL_FIGURES


async def drill(
    db: Database,
    figure: str,
    date_from: date,
    date_to: date,
    department_code: str | None = None,
    key: str | None = None,
    now: datetime | None = None,
) -> list[str]:
    """What a figure counts: ticket numbers (case figures), or call ids (call figures).

    `figure` is a name of CASE_FIGURES, CALL_FIGURES or GROUPS (with `key`: a kind identifier,
    a category or department name, an area, a source). Built from the predicates `metrics()`
    counts, so `len(drill(...))` equals the figure for the same arguments and `now`.
    Call figures ignore the department (as `metrics()` reports no calls for one).
    """
    if figure not in FIGURES:
        raise UnknownFigure(f"没有指标“{figure}”；可选：{'、'.join(FIGURES)}", field="figure")
    async with db.session() as session:
        dept = await _department(session, department_code) if department_code else None
        s = _scope(date_from, date_to, now, dept.id if dept else None)
        if figure in CALL_FIGURES:
            q: Any = (
                select(C.id).where(_call_scope(s), CALL_FIGURES[figure](Atoms(CALL_ATOMS))).order_by(C.offered_at, C.id)
            )
            return [str(i) for i in (await session.execute(q)).scalars()]
        if figure in GROUPS:
            if key is None:
                raise Invalid(f"指标 {figure} 需要指定分组键", field="key")
            g = GROUPS[figure]
            q = select(T.number).select_from(T)
            for target, on in g.joins:
                q = q.join(target, on)
            match = cast(g.key, String(200)) == key if figure != "by_kind" else _kind_is(key)
            q = q.where(_case_scope(s), _registered(Atoms(atom_exprs(s))), match)
        else:
            pred = CASE_SUMS[figure][0] if figure in CASE_SUMS else CASE_FIGURES[figure]
            q = select(T.number).where(_case_scope(s), pred(Atoms(atom_exprs(s))))
        q = q.order_by(T.registered_at, T.id)
        return list((await session.execute(q)).scalars())


def _kind_is(key: str) -> ColumnElement[bool]:
    try:
        return T.kind == Kind(key)
    except ValueError:
        return false()
