"""The supervisor wall's per-department rates: one grouped query per period.

`metrics()` (reports/metrics.py) gives the whole hotline's rates and registered cases per
department; the wall also shows each department's rates. Calling metrics() once per department
would be one round trip (and one scan) per department: this groups the period's cases by
department and by the figures' atoms in one query and sums the very same figure predicates
(`CASE_FIGURES`) per department, so a department's figure is what `metrics(department_code=…)`
would give.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, select

from reports.metrics import CASE_FIGURES, Atoms, Scope, Ticket, atom_exprs, period_bounds, ratio

from .db import Database

FIGURES = ("registered", "resolved", "on_time", "callbacks_required", "callbacks_reached", "satisfied", "overdue")


def department_rates_query(s: Scope) -> Any:
    atoms = atom_exprs(s)
    grouped = (
        select(Ticket.department_id.label("dep"), *(e.label(n) for n, e in atoms.items()), func.count().label("n"))
        .where(Ticket.registered_at >= s.lo, Ticket.registered_at < s.hi, Ticket.department_id.is_not(None))
        .group_by(Ticket.department_id, *atoms.values())
        .subquery("dep_atoms")
    )
    a = Atoms(grouped.c)
    cols = [func.coalesce(func.sum(case((CASE_FIGURES[k](a), grouped.c.n), else_=0)), 0).label(k) for k in FIGURES]
    return select(grouped.c.dep, *cols).group_by(grouped.c.dep)


async def department_rates(db: Database, date_from: date, date_to: date, now: datetime) -> dict[str, dict[str, Any]]:
    """{department name: {registered, resolved, completion_rate, on_time_rate, callback_rate,
    satisfaction_rate, overdue}} for the cases registered in [date_from, date_to] (Asia/Shanghai)."""
    lo, hi = period_bounds(date_from, date_to)
    s = Scope(lo=lo, hi=hi, now=now)
    ref = await db.ref()
    async with db.session() as session:
        rows = (await session.execute(department_rates_query(s))).mappings().all()
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        dep = ref.departments.get(r["dep"])
        n = {k: int(r[k]) for k in FIGURES}
        if dep is None or not n["registered"]:
            continue
        out[dep.name] = {
            "registered": n["registered"],
            "resolved": n["resolved"],
            "completion_rate": ratio(n["resolved"], n["registered"]),
            "on_time_rate": ratio(n["on_time"], n["resolved"]),
            "callback_rate": ratio(n["callbacks_reached"], n["callbacks_required"]),
            "satisfaction_rate": ratio(n["satisfied"], n["callbacks_reached"]),
            "overdue": n["overdue"],
        }
    return out
