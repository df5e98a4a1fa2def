"""`hotline report …` (figures, drill-downs, the annual report, summaries) and `hotline disclosure …`.

Mounted by callcenter/entry/cli.py as `app.add_typer(reports.cli.app, name="report")` and
`app.add_typer(reports.cli.disclosure_app, name="disclosure")`.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
from collections.abc import Mapping
from datetime import date
from enum import Enum
from typing import Annotated, Any

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from callcenter.core.errors import DomainError
from callcenter.core.glossary import CASE_SOURCE_LABELS, KIND_LABELS

from .figures import FIGURE
from .metrics import UnknownDepartment, drill, metrics

app = typer.Typer(help="报表: figures and the annual disclosure report", no_args_is_help=True)
disclosure_app = typer.Typer(
    help="政府信息公开年报: figures the hotline data does not hold, entered per year", no_args_is_help=True
)


class Format(str, Enum):
    json = "json"
    table = "table"


def _date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        typer.echo(f"{option}: {value!r} is not a date (YYYY-MM-DD)", err=True)
        raise typer.Exit(2) from None


@app.command("metrics")
def metrics_cmd(
    date_from: Annotated[str, typer.Option("--from", help="first day, YYYY-MM-DD (Asia/Shanghai)")],
    date_to: Annotated[str, typer.Option("--to", help="last day, YYYY-MM-DD, inclusive")],
    department: Annotated[str | None, typer.Option("--department", help="a department code")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="json or table")] = Format.table,
) -> None:
    """The figures of a period: calls, cases, rates (DOMAIN.md "Figures")."""
    d_from, d_to = _date(date_from, "--from"), _date(date_to, "--to")
    if d_to < d_from:
        typer.echo(f"--to {d_to} is before --from {d_from}", err=True)
        raise typer.Exit(2)

    async def run() -> dict[str, Any]:
        db = _reporting_database()
        try:
            return await _known_department(db, metrics(db, d_from, d_to, department_code=department))
        finally:
            await db.dispose()

    m = _run(run)
    if fmt is Format.json:
        sys.stdout.write(json.dumps(m, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(render_table(m))


class CapacityFormat(str, Enum):
    json = "json"
    table = "table"
    xlsx = "xlsx"


@app.command("capacity")
def capacity_cmd(
    date_from: Annotated[str, typer.Option("--from", help="first day, YYYY-MM-DD (Asia/Shanghai)")],
    date_to: Annotated[str, typer.Option("--to", help="last day, YYYY-MM-DD, inclusive")],
    lines: Annotated[int | None, typer.Option("--lines", help="trunk lines (default: HOTLINE_LINES)")] = None,
    interval: Annotated[int, typer.Option("--interval", help="minutes per validation interval (divides 60)")] = 60,
    fmt: Annotated[CapacityFormat, typer.Option("--format", help="json, table or xlsx")] = CapacityFormat.table,
    out: Annotated[str | None, typer.Option("--out", help="write to this file (xlsx: required)")] = None,
) -> None:
    """容量规划: lines and seats needed per hour of week, and the models checked against what happened."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from .capacity import capacity, render_table, render_xlsx

    d_from, d_to = _date(date_from, "--from"), _date(date_to, "--to")
    if d_to < d_from:
        typer.echo(f"--to {d_to} is before --from {d_from}", err=True)
        raise typer.Exit(2)
    if fmt is CapacityFormat.xlsx and not out:
        typer.echo("--format xlsx needs --out FILE.xlsx", err=True)
        raise typer.Exit(2)
    if lines is None:
        # lazy: a command loads only what it runs (`hotline --help` stays fast)
        from callcenter.core.settings import get_settings

        lines = get_settings().lines

    async def run() -> dict[str, Any]:
        db = _reporting_database()
        try:
            return await capacity(db, d_from, d_to, lines, interval_minutes=interval)
        finally:
            await db.dispose()

    plan = _run(run)
    if fmt is CapacityFormat.xlsx:
        # lazy: a command loads only what it runs (`hotline --help` stays fast)
        from pathlib import Path

        Path(out or "").write_bytes(render_xlsx(plan))
        typer.echo(f"written {out}")
        return
    text = json.dumps(plan, ensure_ascii=False, indent=2) + "\n" if fmt is CapacityFormat.json else render_table(plan)
    if out:
        # lazy: a command loads only what it runs (`hotline --help` stays fast)
        from pathlib import Path

        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


@app.command("drill")
def drill_cmd(
    figure: Annotated[str, typer.Argument(help="a figure: registered, resolved, overdue, refused, by_category …")],
    date_from: Annotated[str, typer.Option("--from", help="first day, YYYY-MM-DD (Asia/Shanghai)")],
    date_to: Annotated[str, typer.Option("--to", help="last day, YYYY-MM-DD, inclusive")],
    key: Annotated[str | None, typer.Option("--key", help="for by_*: a kind, category, department …")] = None,
    department: Annotated[str | None, typer.Option("--department", help="a department code")] = None,
) -> None:
    """The case numbers (or call ids) a figure counts, one a line: as many as the figure."""
    d_from, d_to = _date(date_from, "--from"), _date(date_to, "--to")

    async def run() -> list[str]:
        db = _reporting_database()
        try:
            return await _known_department(
                db, drill(db, figure, d_from, d_to, department_code=department, key=key)
            )
        finally:
            await db.dispose()

    for ref in _run(run):
        sys.stdout.write(ref + "\n")


async def _known_department(db: Any, work: Any) -> Any:
    """Await `work`; on an unknown department code, say which codes exist (exit 2)."""
    try:
        return await work
    except UnknownDepartment as e:
        # lazy: a command loads only what it runs (`hotline --help` stays fast)
        from sqlalchemy import select

        from callcenter.store.models import Department

        async with db.session() as s:
            codes = list((await s.execute(select(Department.code).order_by(Department.code))).scalars())
        known = ", ".join(codes[:30]) + (" …" if len(codes) > 30 else "") if codes else "none yet"
        typer.echo(f"{e.message}; known codes: {known}", err=True)
        raise typer.Exit(2) from None


def _run(fn: Any) -> Any:
    try:
        return asyncio.run(fn())
    except DomainError as e:
        typer.echo(e.message, err=True)
        raise typer.Exit(2 if e.status_code == 422 else 1) from None


# ---------------------------------------------------------------------------------------------
# the table: Chinese labels, rates as percentages with two decimals, "—" for a zero denominator
# ---------------------------------------------------------------------------------------------
# the rows of each block, in order: labels and units from the figures table (reports/figures.py)
CALL_ROWS = ("offered", "answered", "abandoned", "refused", "waiting", "answer_rate",
             "answered_within_15s_rate", "avg_wait_s", "avg_talk_s", "avg_acw_s", "peak_lines",
             "callbacks_placed", "callbacks_answered", "callbacks_failed")
CASE_ROWS = ("registered", "answered_directly", "direct_resolution_rate", "dispatched", "open", "resolved",
             "completion_rate", "on_time", "on_time_rate", "callbacks_required", "callbacks_reached",
             "callbacks_unreachable", "callbacks_pending", "callback_rate", "satisfied",
             "satisfaction_rate", "final_satisfaction_rate", "solved_rate", "reopened", "reopen_rate",
             "chases", "chased", "overdue", "merged", "invalid")
GROUP_TITLES = [
    ("by_kind", "按诉求类型"),
    ("by_category", "按问题分类"),
    ("by_department", "按承办单位"),
    ("by_area", "按区域"),
    ("by_source", "按来源"),
]


def _fmt(v: Any, how: str) -> str:
    if v is None:
        return "—"
    if how == "%":
        return f"{v * 100:.2f}%"
    if how == "s":
        return f"{v:.1f}"
    return str(v)


def _block(title: str, rows: list[tuple[str, str]]) -> list[str]:
    """A titled block of label / value rows, the labels padded by their display width (a CJK
    character takes two columns: rich measures it) and the values right-aligned."""
    table = Table(box=None, show_header=False, padding=(0, 0, 0, 0), pad_edge=False)
    table.add_column(min_width=max([8, *(cell_len(label) for label, _ in rows)]) + 2, no_wrap=True)
    table.add_column(justify="right", min_width=10, no_wrap=True)
    for label, value in rows:
        table.add_row(label, value)
    console = Console(file=io.StringIO(), width=200, color_system=None, highlight=False, emoji=False, markup=False)
    console.print(table, crop=False)
    body = console.file.getvalue()  # type: ignore[attr-defined]
    return [title] + ["  " + line.rstrip() for line in body.splitlines()]


def render_table(m: dict[str, Any]) -> str:
    p = m["period"]
    head = f"热线统计 {p['from']} 至 {p['to']}（{p['timezone']}）"
    if m.get("department"):
        head += f" · 承办单位 {m['department']['name']}"
    lines = [head, f"截至 {m['as_of']}", ""]
    if m.get("calls") is not None:
        lines += _block("话务", [(FIGURE[k].label, _fmt(m["calls"][k], FIGURE[k].unit)) for k in CALL_ROWS]) + [""]
    c = m["cases"]
    lines += _block("工单", [(FIGURE[k].label, _fmt(c[k], FIGURE[k].unit)) for k in CASE_ROWS])
    for key, title in GROUP_TITLES:
        items = sorted(c[key].items(), key=lambda kv: (-kv[1], kv[0]))
        names: Mapping[str, str] = (KIND_LABELS if key == "by_kind" else CASE_SOURCE_LABELS if key == "by_source"
                                    else {})
        rows = [(names.get(k, k), str(n)) for k, n in items if n]
        if rows:
            lines += [""] + _block(title, rows)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# the annual report and the summaries
# ---------------------------------------------------------------------------------------------
class ReportFormat(str, Enum):
    html = "html"
    md = "md"
    xlsx = "xlsx"
    json = "json"


class Form(str, Enum):
    current = "2021"
    narrative = "narrative"


def _database() -> Any:
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.core.settings import get_settings
    from callcenter.store.db import Database

    return Database(get_settings().effective_database_url, pool_size=2)


def _reporting_database() -> Any:
    """For commands that only read: the read replica (HOTLINE_REPORTS_DATABASE_URL) if set.
    The rollups are refreshed on the primary by the scheduler and replicate with the rest."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.core.settings import get_settings
    from callcenter.store.db import Database

    s = get_settings()
    return Database(s.reports_database_url or s.effective_database_url, pool_size=2)


def _link_base(base_url: str) -> str:
    """Drill links: relative, or absolute on --base-url (default HOTLINE_PUBLIC_URL)."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.core.settings import get_settings

    base_url = base_url or get_settings().public_url or ""
    return base_url.rstrip("/") + "/reports/drill"


def _write(report: dict[str, Any], fmt: ReportFormat, out: str | None, allow_inconsistent: bool) -> None:
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from pathlib import Path

    from .render import render

    if report["problems"] and not allow_inconsistent:
        typer.echo("the report is not consistent (use --allow-inconsistent to issue it with the list):", err=True)
        for p in report["problems"]:
            typer.echo(f"  - {p}", err=True)
        raise typer.Exit(1)
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.core.settings import get_settings

    data = render(report, fmt.value, get_settings().public_url)
    if out in (None, "-"):
        if fmt is ReportFormat.xlsx:
            typer.echo("--out FILE is needed for xlsx", err=True)
            raise typer.Exit(2)
        sys.stdout.write(data.decode("utf-8"))
    else:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_bytes(data)
    for p in report["problems"]:
        typer.echo(f"warning: {p}", err=True)
    if out not in (None, "-"):
        typer.echo(f"wrote {out} ({len(data)} bytes; {len(report['problems'])} problems listed)", err=True)


@app.command("annual")
def annual_cmd(
    year: Annotated[int, typer.Option("--year", help="the report's year, e.g. 2025")],
    fmt: Annotated[ReportFormat, typer.Option("--format", help="html, md, xlsx or json")] = ReportFormat.html,
    out: Annotated[str | None, typer.Option("--out", help="the file to write (default: stdout)")] = None,
    form: Annotated[Form, typer.Option("--form", help="2021 (current format) or narrative (2013 six parts)")] = Form.current,
    allow_inconsistent: Annotated[
        bool, typer.Option("--allow-inconsistent", help="issue it anyway, carrying the list of problems")
    ] = False,
    base_url: Annotated[str, typer.Option("--base-url", help="the console's address, for absolute drill links")] = "",
) -> None:
    """The 政府信息公开工作年度报告 of a year; exits 1 listing the problems if its figures disagree."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from .annual import annual_report

    async def run() -> dict[str, Any]:
        db = _reporting_database()
        try:
            return await annual_report(db, year, form=form.value, link_base=_link_base(base_url))
        finally:
            await db.dispose()

    _write(_run(run), fmt, out, allow_inconsistent)


@app.command("summary")
def summary_cmd(
    month: Annotated[str | None, typer.Option("--month", help="YYYY-MM")] = None,
    quarter: Annotated[str | None, typer.Option("--quarter", help="YYYYQn, e.g. 2026Q4")] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="html, md, xlsx or json")] = ReportFormat.html,
    out: Annotated[str | None, typer.Option("--out", help="the file to write (default: stdout)")] = None,
    department: Annotated[str | None, typer.Option("--department", help="a department code")] = None,
    allow_inconsistent: Annotated[bool, typer.Option("--allow-inconsistent")] = False,
    base_url: Annotated[str, typer.Option("--base-url", help="the console's address, for absolute drill links")] = "",
) -> None:
    """The supervisor's monthly or quarterly summary (same formats as the annual report)."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from .annual import month_bounds, quarter_bounds, summary

    if (month is None) == (quarter is None):
        typer.echo("give exactly one of --month YYYY-MM or --quarter YYYYQn", err=True)
        raise typer.Exit(2)

    async def run() -> dict[str, Any]:
        d0, d1, label = month_bounds(month) if month else quarter_bounds(quarter or "")
        db = _reporting_database()
        try:
            return await _known_department(db, summary(db, d0, d1, label=label, department_code=department,
                                                       link_base=_link_base(base_url)))
        finally:
            await db.dispose()

    _write(_run(run), fmt, out, allow_inconsistent)


# ---------------------------------------------------------------------------------------------
# hotline disclosure …
# ---------------------------------------------------------------------------------------------
@disclosure_app.command("set")
def disclosure_set(
    year: Annotated[int, typer.Option("--year")],
    table: Annotated[str, typer.Option("--table", help="2, 3, 4; n (narrative items), 6 (fees), text")],
    row: Annotated[str, typer.Option("--row", help="a row key or label (hotline disclosure keys)")],
    value: Annotated[str, typer.Option("--value", help="a number ≥ 0 (text for --table text)")],
    column: Annotated[str | None, typer.Option("--column", help="a column key or label")] = None,
    source: Annotated[str | None, typer.Option("--source", help="where the figure comes from")] = None,
    by: Annotated[str | None, typer.Option("--by", help="who enters it (default: $USER)")] = None,
) -> None:
    """Enter (or correct) one figure of a year's disclosure report."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    import getpass

    from .annual import set_figure

    async def run() -> Any:
        db = _database()
        try:
            return await set_figure(db, year, table, row, column, value, source=source,
                                    entered_by=by or getpass.getuser())
        finally:
            await db.dispose()

    f = _run(run)
    typer.echo(f"{f.year} 表{f.report_table} {f.row_key}/{f.column_key} = {f.value}")


@disclosure_app.command("clear")
def disclosure_clear(
    year: Annotated[int, typer.Option("--year")],
    table: Annotated[str, typer.Option("--table")],
    row: Annotated[str, typer.Option("--row")],
    column: Annotated[str, typer.Option("--column")],
) -> None:
    """Remove an entered figure (it shows as 未填报 again)."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from .annual import TABLES, clear_figure, resolve_key

    async def run() -> bool:
        t = TABLES.get(table)
        if t is None:
            raise typer.BadParameter(f"no table {table!r}")
        db = _database()
        try:
            return await clear_figure(db, year, t.key, resolve_key(t, "row", row), resolve_key(t, "column", column))
        finally:
            await db.dispose()

    typer.echo("cleared" if _run(run) else "nothing was entered there")


@disclosure_app.command("keys")
def disclosure_keys(table: Annotated[str | None, typer.Option("--table")] = None) -> None:
    """The tables, rows and columns figures are entered under."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from .annual import TABLES

    for t in TABLES.values():
        if table and t.key != table:
            continue
        sys.stdout.write(f"table {t.key}: {t.title}\n  rows:\n")
        for r in t.rows:
            if not r.header:
                cols = (t.row_columns or {}).get(r.key)
                extra = f"  [columns: {', '.join(cols)}]" if cols else ""
                sys.stdout.write(f"    {r.key:24s} {(r.block + ' ') if r.block else ''}{r.label}{extra}\n")
        sys.stdout.write("  columns:\n")
        for c in t.columns:
            sys.stdout.write(f"    {c.key:24s} {(c.block + ' ') if c.block else ''}{c.label}\n")


@disclosure_app.command("list")
def disclosure_list(year: Annotated[int, typer.Option("--year")]) -> None:
    """The figures entered for a year."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from .annual import entered_figures

    async def run() -> Any:
        db = _database()
        try:
            return await entered_figures(db, year)
        finally:
            await db.dispose()

    for (t, r, c), f in sorted(_run(run).items()):
        sys.stdout.write(f"{t}\t{r}\t{c}\t{f.value}\t{f.entered_by or ''}\t{f.entered_at.isoformat()}\t{f.source or ''}\n")
