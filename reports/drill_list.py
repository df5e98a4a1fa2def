"""A drill-down list as rows people read (issue 13): the cases (or calls) a figure counts with
what identifies them — never a caller's identity (the list is for counting, the case page for
the person) — a Chinese title (the figure's name and period), and CSV / XLSX of the same rows."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from callcenter.core.glossary import CALL_OUTCOME_LABELS, CASE_STATE_LABELS, KIND_LABELS
from callcenter.store.db import Database
from callcenter.store.models import Call, Category, Department, Kind, Ticket

from .figures import FIGURE_LABELS
from .metrics import TZ, is_call_figure

CASE_COLUMNS = ("工单号", "登记时间", "诉求类型", "问题分类", "承办单位", "状态", "办结期限", "诉求内容")
CALL_COLUMNS = ("来电编号", "呼入时间", "方向", "结果", "坐席", "等待（秒）", "通话（秒）")


def period_label(d0: date, d1: date) -> str:
    if d0 == d1:
        return f"{d0.year}年{d0.month}月{d0.day}日"
    if d0.day == 1 and d0.month == 1 and d1.month == 12 and d1.day == 31 and d0.year == d1.year:
        return f"{d0.year}年"
    if d0.day == 1 and d0.year == d1.year and d0.month == d1.month:
        last = (d1.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        return f"{d0.year}年{d0.month}月" + ("" if d1 == last else f"1日至{d1.day}日")
    return f"{d0.isoformat()} 至 {d1.isoformat()}"


def title(figure: str, d0: date, d1: date, key: str | None = None) -> str:
    name = FIGURE_LABELS.get(figure, figure)
    if key is not None:
        k = key
        if figure == "by_kind":
            try:
                k = KIND_LABELS[Kind(key)]
            except ValueError:
                pass
        name = f"{name}：{k}"
    return f"{name}（{period_label(d0, d1)}）"


def _local(at: Any) -> str:
    return at.astimezone(TZ).strftime("%Y-%m-%d %H:%M") if at else ""


async def rows(db: Database, figure: str, items: list[str]) -> list[dict[str, Any]]:
    """The listed cases (ticket numbers) or calls (ids) in the drill's order."""
    if not items:
        return []
    out: list[dict[str, Any]] = []
    async with db.session() as s:
        if is_call_figure(figure):
            ids = [int(i) for i in items]
            got: dict[int, Call] = {}
            for i in range(0, len(ids), 900):
                for one in (await s.scalars(select(Call).where(Call.id.in_(ids[i:i + 900])))).all():
                    got[one.id] = one
            for i in ids:
                c = got.get(i)
                if c is None:
                    continue
                out.append({"id": c.id, "cells": [str(c.id), _local(c.offered_at),
                                                  "呼入" if c.direction.value == "in" else "外呼",
                                                  CALL_OUTCOME_LABELS.get(c.outcome.value, c.outcome.value), c.seat or "",
                                                  "" if c.wait_s is None else f"{c.wait_s:.0f}",
                                                  "" if c.talk_s is None else f"{c.talk_s:.0f}"]})
            return out
        found: dict[str, Any] = {}
        for i in range(0, len(items), 900):
            q = (select(Ticket.number, Ticket.registered_at, Ticket.kind, Category.name, Department.name, Ticket.status,
                        Ticket.due_at, Ticket.content)
                 .join(Category, Category.id == Ticket.category_id)
                 .outerjoin(Department, Department.id == Ticket.department_id)
                 .where(Ticket.number.in_(items[i:i + 900])))
            for row in (await s.execute(q)).all():
                found[row[0]] = row
    for n in items:
        hit = found.get(n)
        if hit is None:
            continue
        number, at, kind, cat, dep, status, due, content = hit
        text = content if len(content) <= 60 else content[:60] + "…"
        out.append({"number": number, "cells": [number, _local(at), KIND_LABELS[kind], cat, dep or "",
                                                CASE_STATE_LABELS[status], _local(due), text]})
    return out


def columns(figure: str) -> tuple[str, ...]:
    return CALL_COLUMNS if is_call_figure(figure) else CASE_COLUMNS


def to_csv(figure: str, data: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(columns(figure))
    for r in data:
        w.writerow(r["cells"])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 CSV as such


def to_xlsx(figure: str, heading: str, data: list[dict[str, Any]], public_url: str | None = None) -> bytes:
    """One sheet; with a public base URL each case number links to the case page."""
    from openpyxl import Workbook  # lazy: openpyxl only for XLSX output (a heavy import)
    from openpyxl.styles import Font  # lazy: openpyxl only for XLSX

    wb = Workbook()
    ws = wb.active
    ws.title = "明细"
    ws.append([heading])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append(list(columns(figure)))
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for r in data:
        ws.append(r["cells"])
        if public_url and r.get("number"):
            c = ws.cell(row=ws.max_row, column=1)
            c.hyperlink = f"{public_url.rstrip('/')}/cases/{r['number']}"
            c.font = Font(color="0563C1", underline="single")
    for col, width in zip("ABCDEFGH", (20, 17, 10, 14, 18, 8, 17, 60), strict=False):
        ws.column_dimensions[col].width = width
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
