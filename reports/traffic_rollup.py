"""The hourly traffic rollup capacity planning reads (issue 19): a year in ≤ 8,784 rows.

`report_call_hours` holds, per hour (its start as whole hours since 1970 UTC), the sums
reports.capacity plans from — offered calls (refused included), refused, answered, abandoned,
answered within 15 s, talk and after-call work (`calls.acw_s`), the waits of answered and
abandoned calls, line holding (inbound and outbound) and the seats that answered. The same
SELECT (`traffic_select`) fills it and counts the base table, so both give the same figures.

Like reports/rollup.py nothing on the write path touches it: `refresh(db, now)` — a
scheduler tick beside the day rollups — finds the hours whose calls changed since its
watermark through `calls.updated_at` and replaces those hours' rows in one transaction; the
first refresh (or `rebuild=True`) builds it from `calls`. A read (`traffic_rows`) takes the
period's hours from the rollup except the hours with a call updated after the watermark,
which it counts from `calls` — so a call written a second ago is in the plan, and the figures
are those of the base table whatever the refresh's lag (tested on random data on both
stores). Before the first refresh, for intervals shorter than an hour, or when too many of
the period's hours changed, it counts `calls` alone.

Assumes, as the day rollups do, that writers set `calls.updated_at` (the call store, the CDR
import and the after-call-work update do), the writing hosts' clocks within LAG, and calls
never deleted nor their offer time changed (rebuild after such surgery).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Float, Integer, and_, case, cast, delete, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.store.db import Database
from callcenter.store.models import Call, CallDirection, CallOutcome, ReportCallHour, ReportRollupState

C = Call
H = ReportCallHour
NAME = "call_hours"  # its row in report_rollup_state
LAG = timedelta(minutes=2)
MAX_LIVE_HOURS = 24 * 62  # beyond this many changed hours in a period a read counts `calls` alone
ANSWER_WITHIN_S = 15.0
FIELDS = ("offered", "refused", "answered", "abandoned", "within_15s", "talked", "talk_sum", "acw_n", "acw_sum",
          "wait_answered_sum", "patience_n", "wait_abandoned_sum", "held_n", "hold_sum", "out_hold_sum", "seats")


def _dialect(x: Database | AsyncSession) -> str:
    bind: Any = x.engine if isinstance(x, Database) else x.bind
    return str(bind.dialect.name)


def _epoch(dialect: str, col: Any) -> Any:
    """Whole seconds since 1970 of a UTC timestamp column."""
    if dialect == "sqlite":  # stored as naive UTC text
        return cast(func.strftime("%s", col), Integer)
    return cast(func.floor(func.extract("epoch", col)), BigInteger)


def bucket(dialect: str, interval_s: int) -> Any:
    """The interval an offered_at falls in, as the store groups fastest.

    An hour on SQLite is the stored text's 'YYYY-MM-DD HH' (the index's order, no date
    parsing), on PostgreSQL date_trunc; other intervals whole seconds since 1970."""
    if interval_s == 3600 and dialect == "sqlite":
        return func.substr(C.offered_at, 1, 13)
    if interval_s == 3600:
        return func.date_trunc("hour", C.offered_at)
    return (_epoch(dialect, C.offered_at) // interval_s) * interval_s


def aggregates() -> list[Any]:
    """FIELDS as SQL aggregates over `calls` (labelled)."""
    inbound = C.direction == CallDirection.inbound
    answered = and_(inbound, C.outcome == CallOutcome.answered)
    abandoned = and_(inbound, C.outcome == CallOutcome.abandoned)
    refused = and_(inbound, C.outcome == CallOutcome.refused)
    talked = and_(answered, C.talk_s.is_not(None))
    worked = and_(answered, C.acw_s.is_not(None))  # 话后整理, recorded since issue 12
    held = and_(inbound, C.outcome.in_([CallOutcome.answered, CallOutcome.abandoned]))

    def n(pred: Any) -> Any:
        return func.count(case((pred, 1)))

    def total(pred: Any, col: Any) -> Any:
        return func.coalesce(func.sum(case((pred, col), else_=0.0)), 0.0)

    hold = func.coalesce(C.wait_s, 0.0) + func.coalesce(C.talk_s, 0.0)
    return [
        n(inbound).label("offered"),
        n(refused).label("refused"),
        n(answered).label("answered"),
        n(abandoned).label("abandoned"),
        n(and_(answered, C.wait_s.is_not(None), C.wait_s <= ANSWER_WITHIN_S)).label("within_15s"),
        n(talked).label("talked"),
        total(talked, cast(C.talk_s, Float)).label("talk_sum"),
        n(worked).label("acw_n"),
        total(worked, cast(C.acw_s, Float)).label("acw_sum"),
        total(answered, func.coalesce(C.wait_s, 0.0)).label("wait_answered_sum"),
        n(and_(abandoned, C.wait_s.is_not(None))).label("patience_n"),
        total(abandoned, func.coalesce(C.wait_s, 0.0)).label("wait_abandoned_sum"),
        n(held).label("held_n"),
        total(held, hold).label("hold_sum"),  # lines held by inbound calls (trunk answer → hangup)
        total(C.direction == CallDirection.outbound, hold).label("out_hold_sum"),
        func.count(func.distinct(case((answered, C.seat)))).label("seats"),
    ]


def traffic_select(dialect: str, where: Any, interval_s: int = 3600) -> Any:
    """One row per interval with calls matching `where`: (bucket, *FIELDS), ordered."""
    b = bucket(dialect, interval_s)
    return select(b.label("bucket"), *aggregates()).where(where).group_by(b).order_by(b)


def bucket_start(v: Any) -> datetime:
    """An interval's start as an aware UTC datetime, from whichever bucket key the store gave."""
    if isinstance(v, datetime):
        return v.astimezone(UTC) if v.tzinfo else v.replace(tzinfo=UTC)
    if isinstance(v, str):  # 'YYYY-MM-DD HH' (strptime costs ten times as much)
        return datetime(int(v[0:4]), int(v[5:7]), int(v[8:10]), int(v[11:13]), tzinfo=UTC)
    return datetime.fromtimestamp(int(v), UTC)


def _hour(t: datetime) -> int:
    return int(t.timestamp()) // 3600


_TYPES = tuple(float if f.endswith("_sum") else int for f in FIELDS)


def _row(start: datetime, vals: Sequence[Any]) -> dict[str, Any]:
    """An aggregate row (the stores give Decimal / int / float by dialect) as ints and floats."""
    d: dict[str, Any] = dict(zip(FIELDS, map(lambda t, v: t(v), _TYPES, vals), strict=True))
    d["start"] = start
    return d


def _rollup_row(hour: int, vals: Sequence[Any]) -> dict[str, Any]:
    """A report_call_hours row: its columns are typed (INTEGER / FLOAT) already."""
    d: dict[str, Any] = dict(zip(FIELDS, vals, strict=True))
    d["start"] = datetime.fromtimestamp(hour * 3600, UTC)
    return d


def _runs(hours: Iterable[int]) -> list[tuple[datetime, datetime]]:
    """[lo, hi) UTC ranges covering runs of consecutive hours."""
    out: list[list[int]] = []
    for h in sorted(set(hours)):
        if out and h == out[-1][1] + 1:
            out[-1][1] = h
        else:
            out.append([h, h])
    return [(datetime.fromtimestamp(a * 3600, UTC), datetime.fromtimestamp((b + 1) * 3600, UTC)) for a, b in out]


def _period_noindex(dialect: str, lo: datetime, hi: datetime) -> Any:
    """offered_at in [lo, hi) without steering SQLite onto the offered_at index (the changed
    calls are found through updated_at's: a year's range would walk every call)."""
    col = func.coalesce(C.offered_at, C.offered_at, type_=C.offered_at.type) if dialect == "sqlite" else C.offered_at
    return and_(col >= lo, col < hi)


async def _changed_hours(s: AsyncSession, dialect: str, mark: datetime, lo: datetime | None = None,
                         hi: datetime | None = None) -> list[int]:
    b = bucket(dialect, 3600)
    q = select(b).where(C.updated_at > mark).distinct()
    if lo is not None and hi is not None:
        q = q.where(_period_noindex(dialect, lo, hi))
    return sorted({_hour(bucket_start(v)) for v in (await s.execute(q)).scalars() if v is not None})


# ---------------------------------------------------------------------------------------------
# refresh
# ---------------------------------------------------------------------------------------------
def _insert(dialect: str, where: Any) -> Any:
    sub = traffic_select(dialect, where).order_by(None).subquery("t")
    if dialect == "sqlite":
        hour: Any = cast(func.strftime("%s", sub.c.bucket.concat(":00:00")), Integer) / 3600
    else:
        hour = cast(func.floor(func.extract("epoch", sub.c.bucket) / 3600), BigInteger)
    return insert(H).from_select(["hour", *FIELDS], select(hour, *(sub.c[f] for f in FIELDS)))


async def refresh(db: Database, now: datetime, *, rebuild: bool = False) -> bool:
    """Bring report_call_hours up to date with the calls changed since the last refresh.

    Idempotent; safe from two processes at once (the state row is locked). Returns True when
    any hour was recomputed. The first call (or `rebuild=True`) builds it from scratch.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    now = now.astimezone(UTC)
    dialect = _dialect(db)
    async with db.transaction() as s:
        ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(ReportRollupState)
        await s.execute(ins.values(name=NAME, watermark=None).on_conflict_do_nothing())
        state = (await s.execute(select(ReportRollupState).where(ReportRollupState.name == NAME)
                                 .with_for_update())).scalar_one()
        if state.watermark is None or rebuild:
            await s.execute(delete(H))
            await s.execute(_insert(dialect, text("1 = 1")))
            if dialect == "postgresql":
                await s.execute(text("ANALYZE report_call_hours"))
            changed = True
        else:
            hours = await _changed_hours(s, dialect, state.watermark)
            for i in range(0, len(hours), 500):
                chunk = hours[i:i + 500]
                await s.execute(delete(H).where(H.hour.in_(chunk)))
                for lo, hi in _runs(chunk):
                    await s.execute(_insert(dialect, and_(C.offered_at >= lo, C.offered_at < hi)))
            changed = bool(hours)
        mark = now - LAG
        if state.watermark is None or rebuild or mark > state.watermark:
            state.watermark = mark
        state.refreshed_at = now
    return changed


# ---------------------------------------------------------------------------------------------
# read
# ---------------------------------------------------------------------------------------------
async def live_rows(s: AsyncSession, dialect: str, lo: datetime, hi: datetime,
                    interval_s: int = 3600) -> list[dict[str, Any]]:
    """The intervals with calls in [lo, hi) counted from `calls`, each a dict with `start` and FIELDS."""
    q = traffic_select(dialect, and_(C.offered_at >= lo, C.offered_at < hi), interval_s)
    return [_row(bucket_start(r[0]), r[1:]) for r in (await s.execute(q)).all()]


async def traffic_rows(db: Database, lo: datetime, hi: datetime, interval_s: int = 3600, *,
                       use_rollup: bool = True) -> list[dict[str, Any]]:
    """The intervals with calls in [lo, hi) (whole hours), oldest first, each a dict with
    `start` (aware UTC) and FIELDS: from report_call_hours where it is current, else `calls`."""
    dialect = _dialect(db)
    async with db.session() as s:
        if dialect == "postgresql":  # one snapshot for the watermark, the rollup and the live hours
            await s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            # asyncpg prepares statements: a generic plan for a year's range walks every call
            await s.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        mark = None
        if use_rollup and interval_s == 3600:
            mark = (await s.execute(select(ReportRollupState.watermark)
                                    .where(ReportRollupState.name == NAME))).scalar_one_or_none()
        if mark is None:
            return await live_rows(s, dialect, lo, hi, interval_s)
        changed = await _changed_hours(s, dialect, mark, lo, hi)
        if len(changed) > MAX_LIVE_HOURS:
            return await live_rows(s, dialect, lo, hi, interval_s)
        skip = set(changed)
        q = select(H.hour, *(getattr(H, f) for f in FIELDS)).where(H.hour >= _hour(lo), H.hour < _hour(hi))
        rows = [_rollup_row(r[0], r[1:]) for r in (await s.execute(q)).all() if r[0] not in skip]
        for a, b in _runs(changed):
            rows += await live_rows(s, dialect, a, b)
    rows.sort(key=lambda r: r["start"])
    return rows
