"""Import and export of the 来电登记表 (call registry) as CSV or XLSX.

The format is `../shared/samples/README.md`'s: one row per registered case, a header row of
Chinese column names. An imported row is a closed record of history (DOMAIN.md, "Imported
history"): its columns give its final state, a system actor (系统导入) writes its audit trail
at the row's own times, and import never dispatches anew, merges, invalidates, reopens or
closes.

Import validates the whole file first. Any bad row and no `skip_invalid`: nothing is written
and `RegistryErrors` carries every problem as `row N, column <header>: what is wrong` (rows in
spreadsheet terms: the header is row 1). With `skip_invalid` the good rows are imported and
the bad ones written to a rejects file with an extra 错误 column. The write is one
transaction with bulk inserts; ticket numbers are reserved per day before it (numbering.py).
Re-importing a file adds nothing: rows are keyed by 登记编号, or without one by (来电时间,
normalised number, 诉求内容).

Export writes the import's columns, so an export re-imports to the same figures. Phone numbers
are masked unless `unmask`; import therefore accepts a number masked the way phones.mask
writes it (138****5678, 0731-****9227) and keeps it as it is, with no normalised form. A
confidential case's (干部举报's) caller is exported as （保密） in both columns unless
`include_confidential`; import reads （保密） as no name, no number. Every export is recorded
in the audit log (action registry.export), saying whether it holds full numbers and
confidential callers' identities.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import phonenumbers
from sqlalchemy import String, and_, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.cases import numbering, phones
from callcenter.cases.workflow import Action
from callcenter.core.clock import TZ
from callcenter.core.errors import Conflict, FileErrors, Invalid
from callcenter.core.glossary import KIND_LABELS, SATISFACTION_LABELS
from callcenter.core.settings import get_settings
from callcenter.core.tables import read_table, unescape, write_table
from callcenter.people.admin import local_tool, record
from callcenter.store import refdata as refdata_mod
from callcenter.store.db import Database
from callcenter.store.models import (
    KIND_BY_LABEL,
    CallbackResult,
    Category,
    Department,
    Kind,
    Satisfaction,
    Status,
    Ticket,
    TicketEvent,
    table_of,
    utcnow,
)
from callcenter.store.refdata import RefData

ACTOR_NAME = "系统导入"

# the registry's columns, in the sample's order
C_REF = "登记编号"
C_AT = "来电时间"
C_PHONE = "来电号码"
C_NAME = "来电人姓名"
C_KIND = "诉求类型"
C_CATEGORY = "问题分类"
C_CONTENT = "诉求内容"
C_DEPT = "承办单位"
C_RESOLVED = "办结时间"
C_RESOLUTION = "处理情况"
C_CALLBACK_AT = "回访时间"
C_CALLBACK = "回访结果"
C_ERROR = "错误"
COLUMNS = [C_REF, C_AT, C_PHONE, C_NAME, C_KIND, C_CATEGORY, C_CONTENT, C_DEPT, C_RESOLVED,
           C_RESOLUTION, C_CALLBACK_AT, C_CALLBACK]
REQUIRED = [C_AT, C_PHONE, C_KIND, C_CATEGORY, C_CONTENT]

# 回访结果 → (callback result, satisfaction)
CALLBACK_BY_LABEL: dict[str, tuple[CallbackResult, Satisfaction | None]] = {
    "满意": (CallbackResult.reached, Satisfaction.satisfied),
    "基本满意": (CallbackResult.reached, Satisfaction.basically),
    "不满意": (CallbackResult.reached, Satisfaction.dissatisfied),
    "未接通": (CallbackResult.unreachable, None),
    "不需回访": (CallbackResult.not_needed, None),
}
KIND_CHOICES = "、".join(KIND_LABELS.values())
CALLBACK_CHOICES = "、".join(CALLBACK_BY_LABEL)

# column widths of the store (PostgreSQL enforces them; SQLite would not)
MAX_LEN = {C_REF: 64, C_NAME: 100, C_CATEGORY: 100, C_DEPT: 100}

_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})(?::(\d{2}))?$")
# a confidential caller's name and number in an export without --with-confidential
WITHHELD = "（保密）"
# a number as phones.mask writes it (an export without --unmask): 138****5678, 0731-****9227
_MASKED = re.compile(r"^(?:\+?\d{2,4}\*{3,}\d{4}|0\d{2,3}-\*{3,}\d{4})$")
CHUNK = 2000


class RegistryErrors(FileErrors):
    """The 来电登记表 cannot be imported as it is; `.errors` lists every problem, one per line."""


@dataclass
class ImportReport:
    imported: int = 0
    skipped_existing: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    created_categories: list[str] = field(default_factory=list)
    created_departments: list[str] = field(default_factory=list)
    rejects_path: Path | None = None

    def summary(self) -> str:
        parts = [f"imported {self.imported}", f"already present {self.skipped_existing}",
                 f"rejected {self.rejected}"]
        if self.created_categories:
            parts.append(f"created topics: {', '.join(self.created_categories)}")
        if self.created_departments:
            parts.append(f"created departments: {', '.join(self.created_departments)}")
        if self.rejects_path:
            parts.append(f"rejects in {self.rejects_path}")
        return "; ".join(parts)


@dataclass
class ExportReport:
    path: Path
    rows: int


@dataclass
class _Row:
    line: int  # spreadsheet row number (header = 1)
    raw: list[str]
    problems: list[tuple[str, str]] = field(default_factory=list)  # (column, what is wrong)
    ref: str | None = None
    registered_at: datetime | None = None
    phone: str | None = None
    phone_norm: str | None = None
    name: str | None = None
    kind: Kind | None = None
    category: str | None = None
    content: str | None = None
    department: str | None = None
    resolved_at: datetime | None = None
    resolution: str | None = None
    callback_at: datetime | None = None
    callback: str | None = None

    def error(self, column: str, what: str) -> None:
        self.problems.append((column, what))

    @property
    def errors(self) -> list[str]:
        return [f"row {self.line}, column {c}: {w}" for c, w in self.problems]

    @property
    def key(self) -> tuple[datetime | None, str | None, str | None]:
        return (self.registered_at, self.phone_norm or self.phone, self.content)


# ---------------------------------------------------------------------------------------------
# reading


def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        if v.tzinfo is not None:
            v = v.astimezone(TZ).replace(tzinfo=None)
        return v.strftime("%Y-%m-%d %H:%M:%S") if v.second else v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, time):
        return v.isoformat()
    return str(v)


def _read_rows(path: Path) -> tuple[list[str], Iterator[list[str]]]:
    """(header, rows as lists of text) from a CSV or XLSX file; RegistryErrors if unreadable."""
    return read_table(path, RegistryErrors, lambda v: unescape(_cell_text(v)))


@lru_cache(maxsize=65536)
def _valid_phone(number: str) -> str | None:
    """phones.is_valid and phones.normalize in one parse (the costliest check of a row):
    the E.164 form of a valid Chinese mobile or landline with area code, else None."""
    try:
        p = phonenumbers.parse(number, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(p):
        return None
    return phonenumbers.format_number(p, phonenumbers.PhoneNumberFormat.E164)


def _parse_time(row: _Row, column: str, value: str) -> datetime | None:
    m = _DATETIME.match(value)
    try:
        if m is None:
            raise ValueError
        y, mo, d, h, mi, s = (int(x) if x else 0 for x in m.groups())
        return datetime(y, mo, d, h, mi, s, tzinfo=TZ).astimezone(UTC)
    except ValueError:
        row.error(column, f'"{value}" is not a date and time (YYYY-MM-DD HH:MM or YYYY-MM-DD HH:MM:SS)')
        return None


def _local(dt: datetime) -> str:
    loc = dt.astimezone(TZ)
    return loc.strftime("%Y-%m-%d %H:%M:%S") if loc.second else loc.strftime("%Y-%m-%d %H:%M")


def _check_row(row: _Row, get: dict[str, str], ref: RefData, create_missing: bool) -> None:
    """Fill `row` from its cells, appending one error per problem (column order)."""
    for col in COLUMNS:
        if col in MAX_LEN and len(get.get(col, "")) > MAX_LEN[col]:
            row.error(col, f"longer than {MAX_LEN[col]} characters")
    row.ref = get.get(C_REF) or None

    at = get.get(C_AT, "")
    if not at:
        row.error(C_AT, "a value is required")
    else:
        row.registered_at = _parse_time(row, C_AT, at)

    phone = get.get(C_PHONE, "")
    if not phone:
        row.error(C_PHONE, "a value is required")
    elif phone == WITHHELD:
        row.phone = None  # a confidential caller's number, withheld by the export
    elif _MASKED.match(phone):
        row.phone = phone  # an export's masked number: kept as it is, matches no caller
    elif (norm := _valid_phone(phone)) and len(phone) <= 40:
        row.phone, row.phone_norm = phone, norm
    else:
        row.error(C_PHONE, f'"{phone}" is not a phone number (a mobile number of 11 digits, '
                           "or a landline with its area code such as 0731-52310539)")
    row.name = get.get(C_NAME) if get.get(C_NAME) not in ("", WITHHELD) else None

    kind = get.get(C_KIND, "")
    if not kind:
        row.error(C_KIND, "a value is required")
    else:
        row.kind = KIND_BY_LABEL.get(kind)
        if row.kind is None:
            try:
                row.kind = Kind(kind)
            except ValueError:
                row.error(C_KIND, f'"{kind}" is not a kind of case (one of {KIND_CHOICES})')

    cat = get.get(C_CATEGORY, "")
    if not cat:
        row.error(C_CATEGORY, "a value is required")
    elif cat not in ref.categories_by_name and not create_missing:
        row.error(C_CATEGORY, f'unknown topic "{cat}" (create it with --create-missing)')
    row.category = cat or None

    row.content = get.get(C_CONTENT) or None
    if not row.content:
        row.error(C_CONTENT, "a value is required")

    dept = get.get(C_DEPT, "")
    if dept and ref.department(dept) is None and not create_missing:
        row.error(C_DEPT, f'unknown department "{dept}" (create it with --create-missing)')
    row.department = dept or None

    resolved = get.get(C_RESOLVED, "")
    if resolved:
        row.resolved_at = _parse_time(row, C_RESOLVED, resolved)
        if row.resolved_at and row.registered_at and row.resolved_at < row.registered_at:
            row.error(C_RESOLVED, f'"{resolved}" is before {C_AT} "{at}"')
    row.resolution = get.get(C_RESOLUTION) or None
    if resolved and not row.resolution:
        row.error(C_RESOLUTION, f"a value is required when {C_RESOLVED} is set")

    cb_at = get.get(C_CALLBACK_AT, "")
    if cb_at:
        row.callback_at = _parse_time(row, C_CALLBACK_AT, cb_at)
        if not resolved:
            row.error(C_CALLBACK_AT, f"set, but {C_RESOLVED} is empty (a callback follows the resolution)")
        elif row.callback_at and row.resolved_at and row.callback_at < row.resolved_at:
            row.error(C_CALLBACK_AT, f'"{cb_at}" is before {C_RESOLVED} "{resolved}"')

    cb = get.get(C_CALLBACK, "")
    if cb:
        if cb not in CALLBACK_BY_LABEL:
            row.error(C_CALLBACK, f'"{cb}" is not a callback result (one of {CALLBACK_CHOICES})')
        elif cb != "不需回访" and not resolved:
            row.error(C_CALLBACK, f'"{cb}", but {C_RESOLVED} is empty (a callback follows the resolution)')
        else:
            row.callback = cb
    row.problems.sort(key=lambda p: COLUMNS.index(p[0]))  # in column order, whatever found them


def _validate(
    header: list[str], rows: Iterable[list[str]], ref: RefData, create_missing: bool
) -> tuple[list[_Row], list[str]]:
    """Parse and check every row. Returns (rows, file-level errors)."""
    seen: Counter[str] = Counter(header)
    dup = [h for h in header if h and seen[h] > 1]
    missing = [c for c in REQUIRED if c not in seen]
    problems = []
    if missing:
        problems.append(
            f"row 1: the header has no column {', '.join(missing)} "
            f"(expected columns: {', '.join(COLUMNS)})"
        )
    if dup:
        problems.append(f"row 1: column {', '.join(dict.fromkeys(dup))} appears more than once in the header")
    if problems:
        return [], problems
    index = {h: i for i, h in enumerate(header) if h in COLUMNS}
    out: list[_Row] = []
    first_line: dict[str, int] = {}
    for n, raw in enumerate(rows, start=2):
        if not any(c.strip() for c in raw):
            continue  # blank line (spreadsheets leave them): nothing to import
        get = {col: (raw[i].strip() if i < len(raw) else "") for col, i in index.items()}
        row = _Row(line=n, raw=raw)
        _check_row(row, get, ref, create_missing)
        if row.ref:
            if row.ref in first_line:
                row.error(C_REF, f'"{row.ref}" appears again (first on row {first_line[row.ref]})')
            else:
                first_line[row.ref] = n
        out.append(row)
    return out, []


# ---------------------------------------------------------------------------------------------
# import


def _among(column: Any, values: list[str], postgres: bool) -> Any:
    # PostgreSQL: one array parameter (hashed by the server); a long IN list of separate
    # parameters is compared row by row on a freshly loaded table without statistics
    if postgres:
        return column == any_(bindparam("values", values, type_=ARRAY(String)))
    return column.in_(values)


async def _existing(s: AsyncSession, rows: list[_Row], postgres: bool) -> set[int]:
    """Lines of rows already in the store (or repeating an earlier row of this file)."""
    present: set[int] = set()
    refs = [r.ref for r in rows if r.ref]
    have: set[str] = set()
    size = 10_000 if postgres else 500
    for i in range(0, len(refs), size):
        chunk = refs[i : i + size]
        q = select(Ticket.external_ref).where(_among(Ticket.external_ref, chunk, postgres))
        have.update(x for x in (await s.scalars(q)) if x)
        # an export of cases entered live carries their ticket numbers as 登记编号
        have.update((await s.scalars(select(Ticket.number).where(_among(Ticket.number, chunk, postgres)))).all())
    keyless = [r for r in rows if not r.ref]
    keys: set[tuple[Any, ...]] = set()
    if keyless:
        lo = min(r.registered_at for r in keyless if r.registered_at)
        hi = max(r.registered_at for r in keyless if r.registered_at)
        keyq = select(Ticket.registered_at, Ticket.caller_norm, Ticket.caller_phone, Ticket.content).where(
            and_(Ticket.registered_at >= lo, Ticket.registered_at <= hi)
        )
        for at, norm, phone, content in (await s.execute(keyq)).all():
            keys.add((at, norm or phone, content))
    for r in rows:
        if r.ref:
            if r.ref in have:
                present.add(r.line)
        elif r.key in keys:
            present.add(r.line)
        else:
            keys.add(r.key)  # the same row twice in the file: the second adds nothing
    return present


def _dept_code(name: str, taken: set[str]) -> str:
    digest = hashlib.sha1(name.encode()).hexdigest()
    for n in range(8, 41):
        code = f"imp-{digest[:n]}"
        if code not in taken:
            return code
    raise Conflict(f"cannot find a free department code for {name!r}")


def _state(r: _Row) -> Status:
    if r.resolved_at is not None:
        return Status.resolved if r.department else Status.answered
    return Status.dispatched if r.department else Status.registered


def _write_rejects(path: Path, header: list[str], bad: list[_Row]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    width = len(header)
    lines = [[*(r.raw + [""] * width)[:width], "; ".join(f"column {c}: {w}" for c, w in r.problems)]
             for r in bad]
    _write_table(path, [*header, C_ERROR], lines, "xlsx" if path.suffix.lower() in (".xlsx", ".xlsm") else "csv")


def _write_table(path: Path, header: list[str], rows: Iterable[list[str]], fmt: str) -> int:
    return write_table(path, header, rows, fmt, sheet="来电登记表", encoding="utf-8-sig")


async def import_file(
    db: Database,
    path: Path,
    *,
    create_missing: bool = False,
    skip_invalid: bool = False,
    rejects_path: Path | None = None,
    data_dir: Path | None = None,
) -> ImportReport:
    """Import a 来电登记表 (CSV or XLSX). See the module docstring for the rules.

    Raises RegistryErrors (an Invalid) with every problem when the file cannot be imported:
    a missing column, an unreadable file, or — without `skip_invalid` — any bad row.
    """
    path = Path(path)
    header, raw_rows = _read_rows(path)
    async with db.session() as s:
        ref = await refdata_mod.load(s)
    rows, problems = _validate(header, raw_rows, ref, create_missing)
    if problems:
        raise RegistryErrors(problems)
    bad = [r for r in rows if r.problems]
    good = [r for r in rows if not r.problems]
    if bad and not skip_invalid:
        raise RegistryErrors([e for r in bad for e in r.errors])

    report = ImportReport(rejected=len(bad), errors=[e for r in bad for e in r.errors])
    async with db.session() as s:
        present = await _existing(s, good, not db.is_sqlite)
    new = [r for r in good if r.line not in present]
    report.skipped_existing = len(good) - len(new)

    # ticket numbers per Shanghai day, reserved before the write (numbering.py says why)
    by_day: dict[date, list[_Row]] = defaultdict(list)
    for r in new:
        assert r.registered_at is not None
        by_day[r.registered_at.astimezone(TZ).date()].append(r)
    numbers: dict[int, str] = {}
    # one short transaction per day; PostgreSQL takes a few at once (SQLite has one writer)
    gate = asyncio.Semaphore(1 if db.is_sqlite else 4)

    async def reserve(day_rows: list[_Row]) -> None:
        day_rows.sort(key=lambda r: (r.registered_at, r.line))
        async with gate:
            got = await numbering.allocate(db, day_rows[0].registered_at, len(day_rows))  # type: ignore[arg-type]
        for r, num in zip(day_rows, got, strict=True):
            numbers[r.line] = num

    await asyncio.gather(*(reserve(rows) for rows in by_day.values()))

    if new:
        try:
            async with db.transaction() as s:
                created = await _create_missing(s, new, report)
                if created:
                    ref = await refdata_mod.load(s)
                await _insert(s, new, numbers, ref, path.name, not db.is_sqlite)
        except IntegrityError as e:
            raise Conflict(f"the import conflicts with data written meanwhile (run it again): {e.orig}") from None
        if report.created_categories or report.created_departments:
            db.refcache.invalidate()
    report.imported = len(new)

    if bad:
        if rejects_path is None:
            if data_dir is None:
                data_dir = get_settings().data_dir
            stamp = datetime.now(TZ).strftime("%Y%m%d-%H%M%S")
            rejects_path = Path(data_dir) / "exports" / f"{path.stem}-rejects-{stamp}{path.suffix.lower()}"
        _write_rejects(Path(rejects_path), header, bad)
        report.rejects_path = Path(rejects_path)
    return report


async def _create_missing(s: AsyncSession, rows: list[_Row], report: ImportReport) -> bool:
    deps = {d.name: d for d in (await s.scalars(select(Department))).all()}
    by_code = {d.code: d for d in deps.values()}
    cats = set((await s.scalars(select(Category.name))).all())
    new_deps = [n for n in dict.fromkeys(r.department for r in rows if r.department)
                if n not in deps and n not in by_code]
    taken = set(by_code)
    for name in new_deps:
        code = _dept_code(name, taken)
        taken.add(code)
        deps[name] = Department(code=code, name=name)
        s.add(deps[name])
    await s.flush()
    # a created topic's default department: the one its rows went to most often
    seen_deps: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        if r.category and r.category not in cats and r.department:
            seen_deps[r.category][r.department] += 1
    new_cats = [n for n in dict.fromkeys(r.category for r in rows if r.category) if n not in cats]
    for name in new_cats:
        top = seen_deps[name].most_common(1)
        dep = (deps.get(top[0][0]) or by_code.get(top[0][0])) if top else None
        s.add(Category(name=name, default_department_id=dep.id if dep else None))
    await s.flush()
    report.created_departments = new_deps
    report.created_categories = new_cats
    return bool(new_deps or new_cats)


async def _insert(
    s: AsyncSession, rows: list[_Row], numbers: dict[int, str], ref: RefData, source: str, postgres: bool
) -> None:
    now = utcnow()
    due_cache: dict[tuple[date, int], datetime] = {}  # (Shanghai day, working days) → deadline
    for i in range(0, len(rows), CHUNK):
        chunk = rows[i : i + CHUNK]
        tickets = []
        for r in chunk:
            assert r.registered_at is not None and r.kind is not None and r.category is not None
            cat = ref.categories_by_name[r.category]
            dep = ref.department(r.department) if r.department else None
            status = _state(r)
            # services.resolve_due, memoised: the deadline depends only on the day and the days
            days = ref.resolve_days(r.kind, cat.id, False)
            key = (r.registered_at.astimezone(TZ).date(), days)
            if key not in due_cache:
                due_cache[key] = ref.calendar.add_working_days(r.registered_at, days)
            cb_result, satisfaction = CALLBACK_BY_LABEL[r.callback] if r.callback else (None, None)
            no_callback = r.callback == "不需回访"
            if status in (Status.answered, Status.resolved):
                if cb_result is None:
                    cb_result = CallbackResult.pending if cat.callback_required else CallbackResult.not_needed
            elif cb_result is CallbackResult.not_needed:
                cb_result = None  # declined at registration: no_callback says it until it is resolved
            tickets.append(
                dict(
                    number=numbers[r.line],
                    external_ref=r.ref,
                    source="import",
                    caller_name=r.name,
                    caller_phone=r.phone,
                    caller_norm=r.phone_norm,
                    kind=r.kind,
                    category_id=cat.id,
                    content=r.content,
                    urgent=False,
                    confidential=r.kind is Kind.report,
                    no_callback=no_callback,
                    department_id=dep.id if dep else None,
                    status=status,
                    registered_at=r.registered_at,
                    dispatched_at=r.registered_at if dep else None,
                    ever_dispatched=dep is not None,
                    due_at=due_cache[key],
                    resolution=r.resolution,
                    resolved_at=r.resolved_at,
                    callback_result=cb_result,
                    satisfaction=satisfaction,
                    first_satisfaction=satisfaction,  # one callback a row: the first is the latest
                    callback_at=r.callback_at if cb_result in (CallbackResult.reached, CallbackResult.unreachable)
                    else None,
                    extensions_granted=0,
                    urge_count=0,
                    chase_count=0,
                    reopen_count=0,
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
            )
        # Core executemany (not the ORM's bulk path, which splits rows by their None columns,
        # nor RETURNING in row order, which SQLite can only do one row at a time); the ids come
        # back by the numbers just reserved
        await s.execute(table_of(Ticket).insert(), tickets)
        chunk_numbers = [str(t["number"]) for t in tickets]
        by_number: dict[str, int] = {}
        for j in range(0, len(chunk_numbers), 500):
            q = select(Ticket.number, Ticket.id).where(_among(Ticket.number, chunk_numbers[j : j + 500], postgres))
            by_number.update({number: id_ for number, id_ in (await s.execute(q)).all()})
        ids = [by_number[str(t["number"])] for t in tickets]
        events: list[dict[str, Any]] = []
        for r, t, tid in zip(chunk, tickets, ids, strict=True):
            events.extend(_history(r, t, tid, source))
        await s.execute(table_of(TicketEvent).insert(), events)


def _history(r: _Row, t: dict[str, Any], tid: int, source: str) -> list[dict[str, Any]]:
    """The row's audit trail as the system actor: register, then what its columns say happened."""

    def ev(action: Action, at: datetime, frm: Status | None, to: Status, note: str | None = None,
           data: dict[str, Any] | None = None) -> dict[str, Any]:
        return dict(ticket_id=tid, at=at, actor_id=None, actor_name=ACTOR_NAME, action=action.value,
                    from_status=frm.value if frm else None, to_status=to.value, note=note, data=data)

    reg = r.registered_at
    assert reg is not None
    data: dict[str, Any] = {"source": "import", "file": source, "row": r.line}
    if r.ref:
        data["external_ref"] = r.ref
    if t["no_callback"]:
        data["no_callback"] = True
    out = [ev(Action.register, reg, None, Status.registered, note=f"导入 {source} 第 {r.line} 行", data=data)]
    status: Status = t["status"]
    if t["department_id"] is not None:
        out.append(ev(Action.dispatch, reg, Status.registered, Status.dispatched,
                      data={"department_id": t["department_id"]}))
        if status is Status.resolved:
            out.append(ev(Action.resolve, r.resolved_at, Status.dispatched, Status.resolved,  # type: ignore[arg-type]
                          note=r.resolution))
    elif status is Status.answered:
        out.append(ev(Action.answer, r.resolved_at, Status.registered, Status.answered,  # type: ignore[arg-type]
                      note=r.resolution))
    result: CallbackResult | None = t["callback_result"]
    if result in (CallbackResult.reached, CallbackResult.unreachable):
        outcome = t["satisfaction"].value if t["satisfaction"] else "unreachable"
        # the callback as it stood: recorded, never acted on (import neither closes nor reopens)
        out.append(ev(Action.callback, r.callback_at or r.resolved_at, status, status,  # type: ignore[arg-type]
                      data={"outcome": outcome}))
    return out


# ---------------------------------------------------------------------------------------------
# export


def _bound(v: date | datetime | None, end: bool) -> datetime | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return (v if v.tzinfo else v.replace(tzinfo=TZ)).astimezone(UTC)
    d = v + timedelta(days=1) if end else v  # --to is inclusive: up to the end of that day
    return datetime.combine(d, time(0), TZ).astimezone(UTC)


def _callback_label(t: Ticket) -> str:
    if t.callback_result is CallbackResult.reached and t.satisfaction:
        return SATISFACTION_LABELS[t.satisfaction]
    if t.callback_result is CallbackResult.unreachable:
        return "未接通"
    if t.callback_result is CallbackResult.not_needed or t.no_callback:
        return "不需回访"
    return ""


def _export_row(t: Ticket, ref: RefData, unmask: bool, include_confidential: bool) -> list[str]:
    cat = ref.categories.get(t.category_id)
    dep = ref.departments.get(t.department_id) if t.department_id else None
    resolved = t.resolved_at if t.status in (Status.answered, Status.resolved, Status.closed) else None
    if resolved:
        callback = _callback_label(t)
    else:
        callback = "不需回访" if t.no_callback else ""
    called = callback in ("满意", "基本满意", "不满意", "未接通")
    name = t.caller_name or ""
    phone = t.caller_phone or ""
    if (t.kind is Kind.report or t.confidential) and not include_confidential:
        # 举报人信息保密: an export leaves the hotline's screens, so it never names the caller
        name = phone = WITHHELD
    elif not unmask:
        phone = phones.mask(phone)
    return [
        t.external_ref or t.number,
        _local(t.registered_at),
        phone,
        name,
        KIND_LABELS[t.kind],
        cat.name if cat else "",
        t.content,
        dep.name if dep else "",
        _local(resolved) if resolved else "",
        t.resolution or "",
        _local(t.callback_at) if called and t.callback_at else "",
        callback,
    ]


async def export(
    db: Database,
    out: Path,
    fmt: Literal["csv", "xlsx"] = "csv",
    *,
    date_from: date | datetime | None = None,
    date_to: date | datetime | None = None,
    unmask: bool = False,
    include_confidential: bool = False,
    by: str | None = None,
) -> ExportReport:
    """Write the registered cases (by 来电时间, Shanghai days, `date_to` inclusive) as a 来电登记表.

    The columns are the import's, so an export re-imports to the same figures. Merged (重复件)
    and invalid (无效) cases are not registered cases in the figures and are left out. Phone
    numbers are masked unless `unmask` (the hotline's own roles: the CLI's --unmask). A 干部举报
    or confidential case's caller name and number are （保密） unless `include_confidential`
    (the CLI's --with-confidential; then as the other rows: the number masked unless `unmask`).

    The export is recorded in the audit log (registry.export: the file, its rows and range,
    whether it holds full numbers and confidential identities) by `by` (who ran it; default
    the local user, as the CLI is a local admin tool). If that record cannot be written the
    file is removed and the error raised: no export leaves without its entry.
    """
    if fmt not in ("csv", "xlsx"):
        raise Invalid(f"unknown export format {fmt!r}: use csv or xlsx", field="format")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lo, hi = _bound(date_from, False), _bound(date_to, True)
    q = select(Ticket).where(Ticket.status.not_in([Status.merged, Status.invalid]))
    if lo:
        q = q.where(Ticket.registered_at >= lo)
    if hi:
        q = q.where(Ticket.registered_at < hi)
    q = q.order_by(Ticket.registered_at, Ticket.id)
    rows: list[list[str]] = []
    async with db.session() as s:
        ref = await refdata_mod.load(s)
        async for t in await s.stream_scalars(q.execution_options(yield_per=CHUNK)):
            rows.append(_export_row(t, ref, unmask, include_confidential))
    n = _write_table(out, COLUMNS, rows, fmt)
    try:
        await _record_export(db, out, fmt, n, date_from, date_to, unmask, include_confidential, by)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return ExportReport(path=out, rows=n)


async def _record_export(db: Database, out: Path, fmt: str, n: int, date_from: date | datetime | None,
                         date_to: date | datetime | None, unmask: bool, include_confidential: bool,
                         by: str | None) -> None:
    def day(v: date | datetime | None) -> str | None:
        return v.isoformat() if v is not None else None

    async with db.transaction() as s:
        record(s, None, "registry.export", "registry", None, out.name,
               {"file": str(out.resolve()), "format": fmt, "rows": n, "from": day(date_from), "to": day(date_to),
                "full_numbers": unmask, "confidential_identities": include_confidential},
               actor_name=local_tool(by))
