"""The supervisor wall's rates per department and per category: one read per period.

`metrics()` (reports/metrics.py) gives the whole hotline's rates and the registered cases per
department and category; the wall also shows each department's and each category's rates.
`reports.rollup.key_counts` counts, per key of a breakdown, the registered cases and the
counts behind the rates with the very same CASE_FIGURES predicates — from the per-day rollups
for the days unchanged since their last refresh, from the base table for the others, and
`overdue_open` live from the partial index on open cases — so a department's figure is what
`metrics(department_code=…)` gives (tested), and a year of a large city costs a few
milliseconds instead of a scan of a million cases.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from callcenter.store.db import Database
from reports.figures import CASE_RATES, derive_rates
from reports.metrics import Scope, period_bounds
from reports.rollup import key_counts

BREAKDOWNS = {"department_rates": "by_department", "category_rates": "by_category"}
# the wall's rates of a department or category (the columns of its per-key tables, wall.html)
KEY_RATES = tuple(f for f in CASE_RATES
                  if f.key in ("completion_rate", "on_time_rate", "callback_rate", "satisfaction_rate"))
# the columns of those tables, in order (wall.js fills the rows in the same order)
KEY_COLUMNS = ("registered", "resolved", *(f.key for f in KEY_RATES), "overdue")
# the columns of the wall's table of the periods (today, this month, this year)
PERIOD_COLUMNS = ("registered", "answered_directly", "dispatched", "resolved", "completion_rate", "on_time_rate",
                  "callback_rate", "satisfaction_rate", "final_satisfaction_rate", "reopen_rate", "chases", "overdue")


def rates(n: dict[str, int]) -> dict[str, Any]:
    """The wall's row of a key from its counts (DOMAIN.md's definitions, as metrics())."""
    return {
        "registered": n["registered"],
        "resolved": n["resolved"],
        **derive_rates(n, KEY_RATES),
        "overdue": n["overdue_open"] + n["overdue_late"],
    }


async def key_rates(db: Database, date_from: date, date_to: date, now: datetime,
                    *, use_rollups: bool = True) -> dict[str, dict[str, dict[str, Any]]]:
    """{"department_rates": {department name: row}, "category_rates": {category name: row}} for
    the cases registered in [date_from, date_to] (Asia/Shanghai) as of `now`; a row is
    {registered, resolved, completion_rate, on_time_rate, callback_rate, satisfaction_rate,
    overdue}. Departments and categories without a registered case are left out."""
    lo, hi = period_bounds(date_from, date_to)
    s = Scope(lo=lo, hi=hi, now=now)
    ref = await db.ref()
    names = {"by_department": {k: d.name for k, d in ref.departments.items()},
             "by_category": {k: c.name for k, c in ref.categories.items()}}
    async with db.session() as session:
        counts = await key_counts(session, s, date_from, date_to, tuple(BREAKDOWNS.values()), use_rollups=use_rollups)
    return {field: {names[dim][k]: rates(n) for k, n in counts[dim].items() if k in names[dim]}
            for field, dim in BREAKDOWNS.items()}
