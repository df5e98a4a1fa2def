"""Render a report (reports.annual's dict) as HTML (A4 print), Markdown, XLSX or JSON.

HTML and Markdown come from the Jinja2 templates in reports/templates/; XLSX is written with
openpyxl, one sheet per table; JSON is the dict itself. A figure counted from the data links
to its drill-down list; an entered one says who entered it; one nobody entered reads 未填报.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from callcenter.core.clock import DEFAULT_TIMEZONE, TZ
from callcenter.core.tables import xlsx_clean

from .annual import APPLICANT_COLUMNS, NOT_ENTERED, TABLE2, TABLE3, TABLE4

TEMPLATES = Path(__file__).parent / "templates"
FORMATS = ("html", "md", "xlsx", "json")
SOURCE_LABELS = {"data": "热线数据", "entered": "填报", "missing": NOT_ENTERED}


def show(cell: dict[str, Any]) -> str:
    v = cell["value"]
    if v is None:
        return NOT_ENTERED
    if isinstance(v, float):
        return f"{v:,.4f}".rstrip("0").rstrip(".")
    return str(v)


def pct(r: float | None) -> str:
    return "—" if r is None else f"{r * 100:.2f}%"


def _env(html: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html.j2"]) if html else False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["show"] = show
    env.filters["pct"] = pct
    env.globals["SOURCE_LABELS"] = SOURCE_LABELS
    env.globals["NOT_ENTERED"] = NOT_ENTERED
    return env


# ---------------------------------------------------------------------------------------------
# table layouts (label cells with their spans, then the data cells) shared by HTML and Markdown
# ---------------------------------------------------------------------------------------------
def table2_layout(t: dict[str, Any]) -> list[dict[str, Any]]:
    """Blocks of Table 2: title, the block's column labels, its rows."""
    blocks: list[dict[str, Any]] = []
    for r in TABLE2.rows:
        cols = list((TABLE2.row_columns or {})[r.key])
        if not blocks or blocks[-1]["title"] != r.block:
            blocks.append({"title": r.block, "columns": [TABLE2.column(c).label for c in cols], "rows": []})
        blocks[-1]["rows"].append({"label": r.label, "cells": [t["cells"][f"{r.key}|{c}"] for c in cols]})
    return blocks


def table3_layout(t: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of Table 3 as printed: label cells with rowspan/colspan, then the seven data cells."""
    cols = [c["key"] for c in t["columns"]]
    results = [r for r in TABLE3.rows if r.key not in ("new", "carried_in", "results", "carried_out")]
    out: list[dict[str, Any]] = []

    def cells(key: str) -> list[dict[str, Any]]:
        return [t["cells"][f"{key}|{c}"] for c in cols]

    for r in TABLE3.rows:
        labels: list[dict[str, Any]] = []
        if r.key in ("new", "carried_in", "carried_out"):
            labels.append({"text": r.label, "colspan": 3, "rowspan": 1})
        elif r.key == "results":
            continue
        else:
            if r is results[0]:
                labels.append({"text": "三、本年度办理结果", "colspan": 1, "rowspan": len(results)})
            if r.block:
                group = [x for x in results if x.block == r.block]
                if r is group[0]:
                    labels.append({"text": r.block, "colspan": 1, "rowspan": len(group)})
                labels.append({"text": r.label, "colspan": 1, "rowspan": 1})
            else:
                labels.append({"text": r.label, "colspan": 2, "rowspan": 1})
        flat = r.label if not r.block else f"{r.block} {r.label}"
        out.append({"key": r.key, "labels": labels, "flat": flat, "cells": cells(r.key),
                    "first_result": r is results[0]})
    return out


def table4_cells(t: dict[str, Any]) -> list[dict[str, Any]]:
    return [t["cells"][f"{r.key}|{c.key}"] for r in TABLE4.rows for c in TABLE4.columns]


def _context(report: dict[str, Any]) -> dict[str, Any]:
    ctx: dict[str, Any] = {"r": report}
    if report["kind"] == "annual":
        ctx.update(
            t2=table2_layout(report["tables"]["2"]),
            t3=table3_layout(report["tables"]["3"]),
            t3cols=report["tables"]["3"]["columns"],
            t4=table4_cells(report["tables"]["4"]),
            t4cols=[c.label for c in TABLE4.columns],
            tn=[(row, report["tables"]["n"]["cells"][f"{row['key']}|items"]) for row in report["tables"]["n"]["rows"]],
            t6=report["tables"]["6"]["cells"],
            applicant_columns=APPLICANT_COLUMNS,
        )
    return ctx


def render_html(report: dict[str, Any]) -> str:
    name = "annual.html.j2" if report["kind"] == "annual" else "summary.html.j2"
    return _env(True).get_template(name).render(**_context(report))


def render_md(report: dict[str, Any]) -> str:
    name = "annual.md.j2" if report["kind"] == "annual" else "summary.md.j2"
    return _env(False).get_template(name).render(**_context(report))


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n"


# ---------------------------------------------------------------------------------------------
# XLSX
# ---------------------------------------------------------------------------------------------
def local_time(value: Any) -> Any:
    """An ISO timestamp (or datetime) as Asia/Shanghai `2026-12-02 12:07（北京时间）`; other values as they are."""

    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.strftime("%Y-%m-%d %H:%M")
        return value.astimezone(TZ).strftime("%Y-%m-%d %H:%M") + ("（北京时间）" if TZ.key == DEFAULT_TIMEZONE else f"（{TZ.key}）")
    return value


def render_xlsx(report: dict[str, Any], link_host: str = "") -> bytes:
    """`link_host`: the console's public base URL (HOTLINE_PUBLIC_URL); each 明细 cell is a real
    hyperlink to the drill-down there, and empty when it is not configured (a relative URL in a
    file opened elsewhere leads nowhere)."""
    from openpyxl import Workbook  # lazy: openpyxl only for XLSX output (a heavy import)
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side  # lazy: openpyxl only for XLSX

    link_host = link_host.rstrip("/")
    link_font = Font(color="0563C1", underline="single")

    def detail(ws: Any, col: int, drill: str | None) -> None:
        """The 明细 cell of the row just appended."""
        c = ws.cell(row=ws.max_row, column=col)
        url = absolute(drill)
        c.value = "查看明细" if url else None
        if url:
            c.hyperlink = url
            c.font = link_font

    def absolute(drill: str | None) -> str | None:
        if not drill:
            return None
        if drill.startswith(("http://", "https://")):  # made with the console's address already
            return drill
        return link_host + drill if link_host else None

    thin = Side(style="thin", color="888888")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    fills = {"data": PatternFill("solid", fgColor="DDEBF7"), "missing": PatternFill("solid", fgColor="EEEEEE")}
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="center")

    report = xlsx_clean(report)  # names and notes may hold characters XLSX cannot carry
    wb = Workbook()
    ws = wb.active
    ws.title = "概况"
    ws.append([report["title"]])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([f"统计期间 {report['period']['from']} 至 {report['period']['to']}（{report['period']['timezone']}），"
               f"数据截至 {local_time(report['as_of'])}，生成于 {local_time(report.get('generated_at'))}"])
    h = report["hotline"]
    ws.append([h["paragraph"]])
    ws.append([])
    ws.append(["指标", "数值", "来源", "明细"])
    for f in h["calls"] + h["counts"]:
        ws.append([f["label"], f["value"], "热线数据", None])
        detail(ws, 4, f["drill"])
    for r in h["rates"]:
        ws.append([r["label"], r["value"], "热线数据（比率，0–1）", ""])
    ws.append([])
    ws.append(["图例：蓝底 = 热线数据（可查明细），白底 = 填报，灰底 = 未填报"])
    if report["problems"]:
        ws.append([])
        ws.append(["一致性检查发现的问题"])
        for p in report["problems"]:
            ws.append([p])
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["D"].width = 60

    def put(ws: Any, row: int, col: int, cell: dict[str, Any] | None, text: str | None = None) -> None:
        c = ws.cell(row=row, column=col)
        c.border = box
        c.alignment = wrap
        if cell is None:
            c.value = text
            c.font = bold
            return
        c.value = cell["value"] if cell["value"] is not None else NOT_ENTERED
        if cell["source"] in fills:
            c.fill = fills[cell["source"]]
        if cell["source"] == "data" and absolute(cell.get("drill")):
            c.hyperlink = absolute(cell.get("drill"))

    breakdown = wb.create_sheet("热线分类")
    breakdown.append(["分组", "名称", "件数", "明细"])
    for group, label in (("by_category", "问题分类"), ("by_kind", "诉求类型"), ("by_department", "承办单位")):
        for f in h[group]:
            breakdown.append([label, f["label"], f["value"], None])
            detail(breakdown, 4, f["drill"])
    breakdown.column_dimensions["B"].width = 24
    breakdown.column_dimensions["D"].width = 60

    if report.get("quality"):
        # 质检 (issue 18): per operator, team and month
        wq = wb.create_sheet("质检")
        wq.append(["分组", "名称", "接听（通）", "已质检（通）", "质检比例", "平均分", "致命错误", "申诉", "待评分"])
        q = report["quality"]
        for group, label in (("operators", "话务员"), ("teams", "班组"), ("months", "月份")):
            for r in q[group]:
                wq.append([label, r["label"], r["answered"], r["inspected"], r["share"], r["average"], r["fatal"],
                           r["appeals"], r["pending"]])
                wq.cell(wq.max_row, 5).number_format = "0.00%"
        t = q["total"]
        wq.append(["合计", "", t["answered"], t["inspected"], t["share"], t["average"], t["fatal"], t["appeals"],
                   t["pending"]])
        wq.cell(wq.max_row, 5).number_format = "0.00%"
        wq.column_dimensions["B"].width = 20

    if report["kind"] == "annual":
        tables = report["tables"]
        # 表2
        ws2 = wb.create_sheet("表2 主动公开")
        row = 1
        for b in table2_layout(tables["2"]):
            put(ws2, row, 1, None, b["title"])
            row += 1
            put(ws2, row, 1, None, "信息内容")
            for i, label in enumerate(b["columns"]):
                put(ws2, row, 2 + i, None, label)
            row += 1
            for r in b["rows"]:
                put(ws2, row, 1, None, r["label"])
                for i, cell in enumerate(r["cells"]):
                    put(ws2, row, 2 + i, cell)
                row += 1
        ws2.column_dimensions["A"].width = 22
        # 表3
        ws3 = wb.create_sheet("表3 依申请公开")
        put(ws3, 1, 1, None, "项目")
        for i, c in enumerate(tables["3"]["columns"]):
            put(ws3, 1, 2 + i, None, (c["block"] + " " if c["block"] else "") + c["label"])
        for j, r in enumerate(table3_layout(tables["3"])):
            in_results = r["key"] not in ("new", "carried_in", "carried_out")
            put(ws3, 2 + j, 1, None, ("三、本年度办理结果 " if in_results else "") + r["flat"])
            for i, cell in enumerate(r["cells"]):
                put(ws3, 2 + j, 2 + i, cell)
        ws3.column_dimensions["A"].width = 60
        # 表4
        ws4 = wb.create_sheet("表4 复议诉讼")
        put(ws4, 1, 1, None, "")
        for i, c in enumerate(TABLE4.columns):
            put(ws4, 1, 2 + i, None, c.label)
        for j, r in enumerate(TABLE4.rows):
            put(ws4, 2 + j, 1, None, r.label)
            for i, c in enumerate(TABLE4.columns):
                put(ws4, 2 + j, 2 + i, tables["4"]["cells"][f"{r.key}|{c.key}"])
        ws4.column_dimensions["A"].width = 30
        # the narrative's proactive items by category, and fees
        wsn = wb.create_sheet("主动公开分类")
        put(wsn, 1, 1, None, "类别")
        put(wsn, 1, 2, None, "条数")
        for j, r in enumerate(tables["n"]["rows"]):
            put(wsn, 2 + j, 1, None, r["label"])
            put(wsn, 2 + j, 2, tables["n"]["cells"][f"{r['key']}|items"])
        wsn.column_dimensions["A"].width = 20
        ws6 = wb.create_sheet("其他事项")
        for j, (key, cell) in enumerate(tables["6"]["cells"].items()):
            r, c = key.split("|")
            put(ws6, 1 + j, 1, None, f"{report_label(tables['6'], r)}（{report_col(tables['6'], c)}）")
            put(ws6, 1 + j, 2, cell)
        ws6.column_dimensions["A"].width = 36
        # every cell's source
        src = wb.create_sheet("数据来源")
        src.append(["表", "行", "列", "数值", "来源", "填报人", "填报时间", "填报依据", "明细"])
        for tk in ("2", "3", "4", "n", "6"):
            for key, cell in tables[tk]["cells"].items():
                r, c = key.split("|")
                src.append([tk, report_label(tables[tk], r), report_col(tables[tk], c),
                            cell["value"] if cell["value"] is not None else NOT_ENTERED,
                            SOURCE_LABELS[cell["source"]], cell["entered_by"], local_time(cell["entered_at"]),
                            cell["entered_source"], None])
                detail(src, 9, cell.get("drill"))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def report_label(t: dict[str, Any], key: str) -> str:
    return next(r["label"] for r in t["rows"] if r["key"] == key)


def report_col(t: dict[str, Any], key: str) -> str:
    return next(c["label"] for c in t["columns"] if c["key"] == key)


def render(report: dict[str, Any], fmt: str, public_url: str | None = None) -> bytes:
    if fmt == "html":
        return render_html(report).encode("utf-8")
    if fmt == "md":
        return render_md(report).encode("utf-8")
    if fmt == "xlsx":
        return render_xlsx(report, public_url or "")
    if fmt == "json":
        return render_json(report).encode("utf-8")
    raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
