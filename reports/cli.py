"""`hotline report …`: the hotline's figures (and, later, the annual disclosure report).

Mounted by callcenter/cli.py as `app.add_typer(reports.cli.app, name="report")`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import unicodedata
from datetime import date
from enum import Enum
from typing import Annotated, Any

import typer

from callcenter.errors import DomainError

from .metrics import UnknownDepartment, drill, metrics

app = typer.Typer(help="报表: figures and the annual disclosure report", no_args_is_help=True)


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
        from callcenter.db import Database
        from callcenter.settings import get_settings

        db = Database(get_settings().effective_database_url, pool_size=2)
        try:
            return await _known_department(db, metrics(db, d_from, d_to, department_code=department))
        finally:
            await db.dispose()

    m = _run(run)
    if fmt is Format.json:
        sys.stdout.write(json.dumps(m, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(render_table(m))


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
        from callcenter.db import Database
        from callcenter.settings import get_settings

        db = Database(get_settings().effective_database_url, pool_size=2)
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
        from sqlalchemy import select

        from callcenter.models import Department

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
CALL_ROWS = [
    ("呼入量", "offered", "n"),
    ("接通", "answered", "n"),
    ("放弃", "abandoned", "n"),
    ("占线未接入", "refused", "n"),
    ("排队中", "waiting", "n"),
    ("接通率", "answer_rate", "%"),
    ("15秒接通率", "answered_within_15s_rate", "%"),
    ("平均等待（秒）", "avg_wait_s", "s"),
    ("平均通话（秒）", "avg_talk_s", "s"),
    ("最高占用线路", "peak_lines", "n"),
    ("外呼回访/回拨", "callbacks_placed", "n"),
    ("外呼接通", "callbacks_answered", "n"),
    ("外呼失败（线路满）", "callbacks_failed", "n"),
]
CASE_ROWS = [
    ("受理量", "registered", "n"),
    ("直接答复", "answered_directly", "n"),
    ("直接办结率", "direct_resolution_rate", "%"),
    ("派单量", "dispatched", "n"),
    ("在办", "open", "n"),
    ("办结", "resolved", "n"),
    ("办结率", "completion_rate", "%"),
    ("按时办结", "on_time", "n"),
    ("按时办结率", "on_time_rate", "%"),
    ("应回访", "callbacks_required", "n"),
    ("已回访", "callbacks_reached", "n"),
    ("回访未接通", "callbacks_unreachable", "n"),
    ("待回访", "callbacks_pending", "n"),
    ("回访率", "callback_rate", "%"),
    ("满意+基本满意", "satisfied", "n"),
    ("满意率", "satisfaction_rate", "%"),
    ("解决率", "solved_rate", "%"),
    ("重办", "reopened", "n"),
    ("超期", "overdue", "n"),
    ("重复件", "merged", "n"),
    ("无效", "invalid", "n"),
]
GROUP_TITLES = [
    ("by_kind", "按诉求类型"),
    ("by_category", "按问题分类"),
    ("by_department", "按承办单位"),
    ("by_area", "按区域"),
    ("by_source", "按来源"),
]
KIND_NAMES = {
    "complaint": "民众诉求",
    "consultation": "政策咨询",
    "report": "干部举报",
    "suggestion": "建议意见",
    "help": "求助",
    "praise": "表扬",
    "disclosure": "依申请公开",
}
SOURCE_NAMES = {"phone": "电话", "web": "网站", "api": "接口", "import": "导入"}


def _fmt(v: Any, how: str) -> str:
    if v is None:
        return "—"
    if how == "%":
        return f"{v * 100:.2f}%"
    if how == "s":
        return f"{v:.1f}"
    return str(v)


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _pad(s: str, width: int) -> str:
    return s + " " * max(width - _width(s), 0)


def _block(title: str, rows: list[tuple[str, str]]) -> list[str]:
    w = max([_width(label) for label, _ in rows] + [8]) + 2
    out = [title]
    out += [f"  {_pad(label, w)}{value:>10}" for label, value in rows]
    return out


def render_table(m: dict[str, Any]) -> str:
    p = m["period"]
    head = f"热线统计 {p['from']} 至 {p['to']}（{p['timezone']}）"
    if m.get("department"):
        head += f" · 承办单位 {m['department']['name']}"
    lines = [head, f"截至 {m['as_of']}", ""]
    if m.get("calls") is not None:
        lines += _block("话务", [(label, _fmt(m["calls"][k], how)) for label, k, how in CALL_ROWS]) + [""]
    c = m["cases"]
    lines += _block("工单", [(label, _fmt(c[k], how)) for label, k, how in CASE_ROWS])
    for key, title in GROUP_TITLES:
        items = sorted(c[key].items(), key=lambda kv: (-kv[1], kv[0]))
        names = KIND_NAMES if key == "by_kind" else SOURCE_NAMES if key == "by_source" else {}
        rows = [(names.get(k, k), str(n)) for k, n in items if n]
        if rows:
            lines += [""] + _block(title, rows)
    return "\n".join(lines) + "\n"
