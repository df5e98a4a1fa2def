"""Per-day rollups of the figures: what keeps `hotline report metrics` for a year fast.

Three tables hold, per day (Asia/Shanghai) of registration / offer, the group counts that
reports.metrics counts from the base tables: cases by their atoms (`report_case_days`),
registered cases per breakdown key (`report_case_group_days`, categories and departments by id
so a renamed one shows its current name) and calls by their atoms with the sums behind the
averages (`report_call_days`). Nothing on the write path touches them: `refresh_rollups(db,
now)` — one scheduler tick — finds the days whose cases (calls) changed since its watermark
through `tickets.updated_at` (`calls.updated_at`), and replaces those days' rows in one
transaction (DELETE + INSERT … SELECT … GROUP BY). It is idempotent and safe to run from two
processes at once (the state row is locked; SQLite has one writer anyway).

Reading (`counts_from_rollups`, called by reports.metrics.metrics): the period's days come from
the rollups except the days with a row updated after the watermark, which are counted from
the base tables, and `overdue_open` (open past its deadline, which depends on `now`) is always
counted live. The figures are therefore those of the base tables exactly — the counts equal,
the averages up to the order floating-point sums are added in.

The watermark trails the refresh's `now` by LAG, so a write whose transaction was still open
while the refresh ran (its updated_at earlier than its commit) is seen as changed at the next
read and refresh. This assumes writers set updated_at (services.act, registry import and the
call store do), clocks of the writing hosts within LAG of each other, and that tickets and
calls are never deleted nor their registration / offer time changed (rebuild with
`rebuild=True` after such surgery).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Date,
    and_,
    case,
    cast,
    delete,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.core.clock import fixed_offset, sqlite_shift
from callcenter.store.db import Database
from callcenter.store.models import (
    OPEN_STATES_SQL,
    Call,
    Category,
    Department,
    ReportCallDay,
    ReportCaseDay,
    ReportCaseGroupDay,
    ReportRollupState,
    Ticket,
)

from .counting import (
    CALL_ATOMS,
    CASE_FIGURES,
    GROUPS,
    TZ,
    Atoms,
    Scope,
    _registered,
    atom_exprs,
    call_atoms_query,
    call_counts_over,
    case_counts_over,
    period_bounds,
)

LAG = timedelta(minutes=2)
SQLITE_SHIFT = sqlite_shift() if fixed_offset(TZ) else "+0 hours"  # a DST zone: refused on SQLite by Settings
# beyond this many changed days in a period a read counts the base tables alone
MAX_LIVE_DAYS = 62
CASE_ATOMS = ("status", "dispatched", "callback_result", "satisfaction", "first_satisfaction", "solved", "reopened",
              "chases", "in_time", "late")
_EPOCH = Scope(lo=datetime(2000, 1, 1, tzinfo=UTC), hi=datetime(2000, 1, 2, tzinfo=UTC), now=datetime(2000, 1, 1, tzinfo=UTC))


def day_of(dialect: str, col: Any) -> Any:
    """The local calendar day (settings.timezone) of a UTC timestamp column, in SQL."""
    if dialect == "sqlite":  # stored as naive UTC text; the zone's fixed offset (Settings checks it has one)
        return func.date(col, SQLITE_SHIFT, type_=Date)
    return cast(func.timezone(TZ.key, col), Date)


def _day_runs(col: Any, days: Sequence[date], dialect: str = "sqlite") -> list[Any]:
    """Predicates on col covering `days`, one SELECT (UNION ALL) each.

    On SQLite one range per run of consecutive days, each its own SELECT: without range
    statistics it turns an OR of many ranges into a scan of the whole table. PostgreSQL gets
    one OR of the ranges (a BitmapOr: one pass over the heap).
    """
    runs: list[list[date]] = []
    for d in sorted(set(days)):
        if runs and (d - runs[-1][1]).days == 1:
            runs[-1][1] = d
        else:
            runs.append([d, d])
    out = []
    for first, last in runs:
        lo, hi = period_bounds(first, last)
        out.append(and_(col >= lo, col < hi))
    if dialect == "postgresql" and len(out) > 1:
        return [or_(*out)]
    return out


def _period_noindex(dialect: str, col: Any, s: Scope) -> Any:
    """The period as a filter that does not steer SQLite's planner onto `col`'s index.

    SQLite picks one index per table: with the year's range on registered_at it would walk a
    year of rows instead of the few ones the other condition (updated_at, status) selects.
    PostgreSQL weighs both by its statistics and gets the plain comparison.
    """
    c = func.coalesce(col, col, type_=col.type) if dialect == "sqlite" else col
    return and_(c >= s.lo, c < s.hi)


def _dialect(x: Database | AsyncSession) -> str:
    bind: Any = x.engine if isinstance(x, Database) else x.bind
    return str(bind.dialect.name)


# ---------------------------------------------------------------------------------------------
# the grouped SELECTs, shared by the refresh (with a day) and the live part of a read
# ---------------------------------------------------------------------------------------------
def _case_atoms_select(where: Any, day: Any = None) -> Any:
    atoms = {k: v for k, v in atom_exprs(_EPOCH).items() if k in CASE_ATOMS}
    keys = ([day.label("day")] if day is not None else []) + [atoms[k].label(k) for k in CASE_ATOMS]
    if day is None:  # a read: past_due is counted live apart (overdue_open)
        keys.append(false().label("past_due"))
    return (
        select(*keys, func.count().label("n"))
        .select_from(Ticket)
        .where(where)
        .group_by(*([day] if day is not None else []), *(atoms[k] for k in CASE_ATOMS))
    )


# the counts behind a breakdown key's rates kept beside `n` (registered) in report_case_group_days
KEY_FIGURES = ("resolved", "on_time", "callbacks_required", "callbacks_reached", "satisfied", "rated", "overdue_late")


def _group_selects(where: Any, day: Any = None, dims: Sequence[str] | None = None) -> list[Any]:
    """(day?, dim, key_id, key_text, n, KEY_FIGURES…) of registered cases, one SELECT per breakdown.

    Each figure is counted with its CASE_FIGURES predicate (all of them imply `registered`)."""
    a = Atoms(atom_exprs(_EPOCH))
    reg = _registered(a)
    figs = [func.count(case((CASE_FIGURES[k](a), 1))).label(k) for k in KEY_FIGURES]
    out = []
    for dim, g in GROUPS.items():
        if dims is not None and dim not in dims:
            continue
        kid = g.id_col if g.id_col is not None else null()
        ktext = null() if g.id_col is not None else cast(g.key, ReportCaseGroupDay.key_text.type)
        cond = and_(where, reg) if g.id_col is None else and_(where, reg, g.id_col.is_not(None))
        keys = [literal(dim, ReportCaseGroupDay.dim.type).label("dim"), kid.label("key_id"), ktext.label("key_text")]
        grp = [g.id_col if g.id_col is not None else g.key]
        if day is not None:
            keys.insert(0, day.label("day"))
            grp.insert(0, day)
        out.append(select(*keys, func.count().label("n"), *figs).select_from(Ticket).where(cond).group_by(*grp))
    return out


@dataclass(frozen=True)
class _Spec:
    name: str
    ts: Any  # the column whose day a row belongs to
    updated: Any
    tables: tuple[Any, ...]

    def inserts(self, dialect: str, where: Any) -> list[Any]:
        day = day_of(dialect, self.ts)
        if self.name == "cases":
            q = _case_atoms_select(where, day)
            stmts = [insert(ReportCaseDay).from_select(["day", *CASE_ATOMS, "n"], q)]
            cols = ["day", "dim", "key_id", "key_text", "n", *KEY_FIGURES]
            stmts += [insert(ReportCaseGroupDay).from_select(cols, g) for g in _group_selects(where, day)]
            return stmts
        q = call_atoms_query(where, day)
        return [insert(ReportCallDay).from_select(["day", *CALL_ATOMS, "n", "wait", "talk", "line"], q)]


CASES = _Spec("cases", Ticket.registered_at, Ticket.updated_at, (ReportCaseDay, ReportCaseGroupDay))
CALLS = _Spec("calls", Call.offered_at, Call.updated_at, (ReportCallDay,))


def _days(rows: Any) -> list[date]:
    return sorted({v if isinstance(v, date) else date.fromisoformat(str(v)) for v in rows if v is not None})


# ---------------------------------------------------------------------------------------------
# refresh
# ---------------------------------------------------------------------------------------------
async def refresh_rollups(db: Database, now: datetime, *, rebuild: bool = False) -> bool:
    """Bring the rollups up to date with the cases and calls changed since the last refresh.

    One scheduler tick (e.g. every minute): recomputes only the days touched since the
    watermark, each rollup in one transaction. Idempotent. Returns True when any day was
    recomputed. The first call (or `rebuild=True`) builds them from scratch.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    changed = False
    for spec in (CASES, CALLS):
        changed = await _refresh(db, spec, now.astimezone(UTC), rebuild) or changed
    return changed


async def _refresh(db: Database, spec: _Spec, now: datetime, rebuild: bool) -> bool:
    dialect = _dialect(db)
    async with db.transaction() as s:
        ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(ReportRollupState)
        await s.execute(ins.values(name=spec.name, watermark=None).on_conflict_do_nothing())
        state = (
            await s.execute(select(ReportRollupState).where(ReportRollupState.name == spec.name).with_for_update())
        ).scalar_one()
        if state.watermark is None or rebuild:
            for table in spec.tables:
                await s.execute(delete(table))
            for stmt in spec.inserts(dialect, true()):
                await s.execute(stmt)
            if dialect == "postgresql":  # fresh statistics for the planner of the reads
                for table in spec.tables:
                    await s.execute(text(f"ANALYZE {table.__tablename__}"))
            changed = True
        else:
            q = select(day_of(dialect, spec.ts)).where(spec.updated > state.watermark).distinct()
            days = _days((await s.execute(q)).scalars())
            for i in range(0, len(days), 500):
                chunk = days[i:i + 500]
                for table in spec.tables:
                    await s.execute(delete(table).where(table.day.in_(chunk)))
                for run in _day_runs(spec.ts, chunk, dialect):
                    for stmt in spec.inserts(dialect, run):
                        await s.execute(stmt)
            changed = bool(days)
        mark = now - LAG
        if state.watermark is None or rebuild or mark > state.watermark:
            state.watermark = mark
        state.refreshed_at = now
    return changed


# ---------------------------------------------------------------------------------------------
# read
# ---------------------------------------------------------------------------------------------
async def _custom_plans(session: AsyncSession) -> None:
    """PostgreSQL: plan each of this transaction's statements for its own values. asyncpg
    prepares statements, and from the sixth run on PostgreSQL may reuse a generic plan made
    without the parameters' values: for a year's range of `registered_at` it walks a million
    rows (seen: the open-cases count 6 ms with its values, 190 ms generic)."""
    await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


async def _changed_days(session: AsyncSession, s: Scope) -> tuple[list[date], list[date]] | None:
    """The period's days whose cases / calls changed since the rollups' watermarks (counted live
    by a read); None when the rollups are not built or too many days changed."""
    dialect = _dialect(session)
    if dialect == "postgresql":  # one snapshot for the state, the rollups and the live part
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        await _custom_plans(session)
    marks = dict((await session.execute(select(ReportRollupState.name, ReportRollupState.watermark))).all())
    if marks.get("cases") is None or marks.get("calls") is None:
        return None

    async def changed(spec: _Spec) -> list[date] | None:
        q = (select(day_of(dialect, spec.ts))
             .where(spec.updated > marks[spec.name], _period_noindex(dialect, spec.ts, s)).distinct())
        days = _days((await session.execute(q)).scalars())
        return None if len(days) > MAX_LIVE_DAYS else days

    case_days = await changed(CASES)
    call_days = await changed(CALLS)
    if case_days is None or call_days is None:
        return None
    return case_days, call_days


def _overdue_open_select(dialect: str, s: Scope, key: Any = None) -> Any:
    """COUNT of the period's open cases past their deadline as of s.now (per `key` if given).

    The figure's own predicate, plus the partial index's condition spelled as the index has it
    (literal states) so that both planners can answer from `ix_tickets_open_due` alone."""
    open_late = CASE_FIGURES["overdue_open"](Atoms(atom_exprs(s)))
    where = (_period_noindex(dialect, Ticket.registered_at, s), text(OPEN_STATES_SQL), open_late)
    if key is None:
        return select(func.count()).select_from(Ticket).where(*where)
    return select(key, func.count()).select_from(Ticket).where(*where, key.is_not(None)).group_by(key)


async def key_counts(session: AsyncSession, s: Scope, d0: date, d1: date, dims: Sequence[str],
                     *, use_rollups: bool = True) -> dict[str, dict[Any, dict[str, int]]]:
    """Per breakdown of `dims` (of GROUPS), per key (a department / category id, or the key's
    text): `registered`, KEY_FIGURES and `overdue_open` of the cases registered in [d0, d1] as of
    s.now.

    From the rollups for the days unchanged since their watermark, the base table for the
    others (or for the whole period when the rollups are not built): the base table's counts
    exactly (tested). Keys without a registered case are left out.
    """
    dialect = _dialect(session)
    window = await _changed_days(session, s) if use_rollups else None
    if window is None and dialect == "postgresql":
        await _custom_plans(session)
    if window is not None:
        runs = _day_runs(Ticket.registered_at, window[0], dialect)
    else:
        runs = [and_(Ticket.registered_at >= s.lo, Ticket.registered_at < s.hi)]
    cols = ("n", *KEY_FIGURES)
    G = ReportCaseGroupDay
    out: dict[str, dict[Any, dict[str, int]]] = {}
    for dim in dims:
        parts: list[Any] = []
        if window is not None:
            parts.append(
                select(G.key_id, G.key_text, *(func.sum(getattr(G, c)).label(c) for c in cols))
                .where(G.dim == dim, G.day >= d0, G.day <= d1, G.day.not_in(window[0]))
                .group_by(G.key_id, G.key_text))
        for run in runs:
            q = _group_selects(run, dims=(dim,))[0]
            parts.append(q.with_only_columns(*(q.selected_columns[c] for c in ("key_id", "key_text", *cols))))
        acc: dict[Any, dict[str, int]] = {}
        for kid, ktext, *vals in (await session.execute(union_all(*parts))).all():
            row = acc.setdefault(kid if kid is not None else ktext, dict.fromkeys((*cols, "overdue_open"), 0))
            for c, v in zip(cols, vals, strict=True):
                row[c] += int(v or 0)
        g = GROUPS[dim]
        key_col = g.id_col if g.id_col is not None else g.key
        for key, n in (await session.execute(_overdue_open_select(dialect, s, key_col))).all():
            if key in acc:
                acc[key]["overdue_open"] += int(n)
        for row in acc.values():
            row["registered"] = row.pop("n")
        out[dim] = {k: v for k, v in acc.items() if v["registered"]}
    return out


async def counts_from_rollups(
    session: AsyncSession, s: Scope, d0: date, d1: date
) -> tuple[dict[str, int], dict[str, dict[str, int]], dict[str, Any]] | None:
    """The whole hotline's case counts, breakdowns and call counts of [d0, d1] from the rollups.

    None when the rollups have not been built (or too many of the period's days changed since
    the watermark): reports.metrics then counts the base tables.
    """
    if s.department_id is not None:
        return None
    dialect = _dialect(session)
    window = await _changed_days(session, s)
    if window is None:
        return None
    case_days, call_days = window

    # cases: the rollup's groups of the clean days + the changed days' groups from tickets
    R = ReportCaseDay
    clean = and_(R.day >= d0, R.day <= d1, R.day.not_in(case_days))
    parts = [
        select(*(getattr(R, k).label(k) for k in CASE_ATOMS), false().label("past_due"), func.sum(R.n).label("n"))
        .where(clean)
        .group_by(*(getattr(R, k) for k in CASE_ATOMS))
    ]
    # the changed days all lie in the period: their own ranges are the whole condition
    live = _day_runs(Ticket.registered_at, case_days, dialect)
    parts += [_case_atoms_select(run) for run in live]
    row = (await session.execute(case_counts_over(union_all(*parts).subquery("atoms")))).mappings().one()
    c = {k: int(v) for k, v in row.items()}
    # open past the deadline depends on `now`: always from tickets (open cases are few)
    c["overdue_open"] = int((await session.execute(_overdue_open_select(dialect, s))).scalar_one())
    c["overdue"] = c["overdue_open"] + c["overdue_late"]

    # breakdowns
    G = ReportCaseGroupDay
    gclean = and_(G.day >= d0, G.day <= d1, G.day.not_in(case_days))
    q = select(G.dim, G.key_id, G.key_text, func.sum(G.n).label("n")).where(gclean).group_by(G.dim, G.key_id, G.key_text)
    raw: dict[tuple[str, Any, Any], int] = {}
    for dim, kid, ktext, n in (await session.execute(q)).all():
        raw[(dim, kid, ktext)] = raw.get((dim, kid, ktext), 0) + int(n)
    if live:  # one scan of the changed days, grouped by every breakdown key at once
        keys = [g.id_col if g.id_col is not None else g.key for g in GROUPS.values()]
        reg = _registered(Atoms(atom_exprs(_EPOCH)))
        lq = union_all(*(select(*keys, func.count()).select_from(Ticket).where(run, reg).group_by(*keys)
                         for run in live))
        for *vals, n in (await session.execute(lq)).all():
            for (dim, g), v in zip(GROUPS.items(), vals, strict=True):
                if v is None and g.id_col is not None:
                    continue  # no department: not in by_department (as the base query's join)
                text_key = str(getattr(v, "value", v))
                k = (dim, v, None) if g.id_col is not None else (dim, None, text_key)
                raw[k] = raw.get(k, 0) + int(n)
    names = {
        Category: dict((await session.execute(select(Category.id, Category.name))).all()),
        Department: dict((await session.execute(select(Department.id, Department.name))).all()),
    }
    groups: dict[str, dict[str, int]] = {dim: {} for dim in GROUPS}
    for (dim, kid, ktext), n in raw.items():
        g = GROUPS[dim]
        key = names[g.named].get(kid) if g.id_col is not None else ktext
        if key is not None and n:
            groups[dim][key] = groups[dim].get(key, 0) + n

    # calls
    K = ReportCallDay
    kclean = and_(K.day >= d0, K.day <= d1, K.day.not_in(call_days))
    atoms = [getattr(K, k).label(k) for k in CALL_ATOMS]
    kparts = [
        select(*atoms, func.sum(K.n).label("n"), func.sum(K.wait).label("wait"), func.sum(K.talk).label("talk"),
               func.max(K.line).label("line"))
        .where(kclean)
        .group_by(*(getattr(K, k) for k in CALL_ATOMS))
    ]
    kparts += [call_atoms_query(run) for run in _day_runs(Call.offered_at, call_days, dialect)]
    calls = dict((await session.execute(call_counts_over(union_all(*kparts).subquery("call_atoms")))).mappings().one())
    return c, groups, calls
