"""The annual government information disclosure report (政府信息公开工作年度报告) and summaries.

`annual_report(db, year)` gathers every figure of a year into one plain dict (the JSON format
as it stands; reports/render.py turns it into HTML, Markdown and XLSX):

- the hotline paragraph from reports.metrics (calls received by topic, 办结率, 回访率, 满意率 …),
  each count with its drill-down (figure, from, to, key, as_of);
- Tables 2, 3 and 4 of DISCLOSURE.md with every row and column: Table 3 counted from
  `disclosure` cases where the year has any (its 总计 column: new, carried in, handled, carried
  out — the case holds no applicant type or outcome yet, see the report to the lead), every
  other cell from the figures entered per year (`disclosure_figures`, `hotline disclosure
  set`); a cell nobody entered is None, shown as 未填报, never as 0;
- the narrative form's figures (proactive items by category, fees, paragraphs);
- `problems`: the consistency checks of DISCLOSURE.md and the figures that cannot both be true.

`summary(db, d0, d1)` is the supervisor's monthly / quarterly summary: the metrics with their
drill-downs and the hotline checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import and_, case, delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from callcenter.cases.workdays import MAX_YEAR, MIN_YEAR
from callcenter.core.errors import Invalid
from callcenter.core.glossary import KIND_LABELS
from callcenter.core.settings import get_settings
from callcenter.store.db import Database
from callcenter.store.models import DisclosureFigure, Kind, Status, Ticket

from .capacity import capacity, capacity_paragraph
from .figures import FIGURE, FIGURE_LABELS
from .metrics import RESOLVED_STATES, TZ, UnknownFigure, metrics, period_bounds
from .metrics import drill as metrics_drill
from .quality import qa_figures

NOT_ENTERED = "未填报"


# ---------------------------------------------------------------------------------------------
# the tables and their keys (what `hotline disclosure keys` lists)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Line:
    key: str
    label: str
    block: str = ""  # the group a row belongs to (Table 2 block, Table 3 （三）…（六）)
    header: bool = False  # a label row without cells


@dataclass(frozen=True)
class TableDef:
    key: str
    title: str
    rows: tuple[Line, ...]
    columns: tuple[Line, ...]
    # the columns each row has (default: all)
    row_columns: dict[str, tuple[str, ...]] | None = None
    decimal: frozenset[tuple[str, str]] = frozenset()  # cells that take a decimal (amounts)
    text: bool = False

    def cells(self) -> list[tuple[str, str]]:
        out = []
        for r in self.rows:
            if r.header:
                continue
            cols = (self.row_columns or {}).get(r.key) or tuple(c.key for c in self.columns)
            out += [(r.key, c) for c in cols]
        return out

    def row(self, key: str) -> Line:
        return next(r for r in self.rows if r.key == key)

    def column(self, key: str) -> Line:
        return next(c for c in self.columns if c.key == key)


B1, B5, B6, B8 = "第二十条第（一）项", "第二十条第（五）项", "第二十条第（六）项", "第二十条第（八）项"
TABLE2 = TableDef(
    "2", "二、主动公开政府信息情况",
    rows=(
        Line("rules", "规章", B1), Line("normative_docs", "行政规范性文件", B1),
        Line("licensing", "行政许可", B5),
        Line("penalty", "行政处罚", B6), Line("coercion", "行政强制", B6),
        Line("fees", "行政事业性收费", B8),
    ),
    columns=(
        Line("issued", "本年制发件数"), Line("repealed", "本年废止件数"), Line("in_force", "现行有效件数"),
        Line("decisions", "本年处理决定数量"), Line("amount", "本年收费金额（单位：万元）"),
    ),
    row_columns={
        "rules": ("issued", "repealed", "in_force"), "normative_docs": ("issued", "repealed", "in_force"),
        "licensing": ("decisions",), "penalty": ("decisions",), "coercion": ("decisions",), "fees": ("amount",),
    },
    decimal=frozenset({("fees", "amount")}),
)

G3, G4, G5, G6 = "（三）不予公开", "（四）无法提供", "（五）不予处理", "（六）其他处理"
TABLE3 = TableDef(
    "3", "三、收到和处理政府信息公开申请情况",
    rows=(
        Line("new", "一、本年新收政府信息公开申请数量"),
        Line("carried_in", "二、上年结转政府信息公开申请数量"),
        Line("results", "三、本年度办理结果", header=True),
        Line("granted", "（一）予以公开"),
        Line("partial", "（二）部分公开（区分处理的，只计这一情形，不计其他情形）"),
        Line("refused_1", "1.属于国家秘密", G3),
        Line("refused_2", "2.其他法律行政法规禁止公开", G3),
        Line("refused_3", "3.危及“三安全一稳定”", G3),
        Line("refused_4", "4.保护第三方合法权益", G3),
        Line("refused_5", "5.属于三类内部事务信息", G3),
        Line("refused_6", "6.属于四类过程性信息", G3),
        Line("refused_7", "7.属于行政执法案卷", G3),
        Line("refused_8", "8.属于行政查询事项", G3),
        Line("unavailable_1", "1.本机关不掌握相关政府信息", G4),
        Line("unavailable_2", "2.没有现成信息需要另行制作", G4),
        Line("unavailable_3", "3.补正后申请内容仍不明确", G4),
        Line("not_processed_1", "1.信访举报投诉类申请", G5),
        Line("not_processed_2", "2.重复申请", G5),
        Line("not_processed_3", "3.要求提供公开出版物", G5),
        Line("not_processed_4", "4.无正当理由大量反复申请", G5),
        Line("not_processed_5", "5.要求行政机关确认或重新出具已获取信息", G5),
        Line("other_1", "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请", G6),
        Line("other_2", "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请", G6),
        Line("other_3", "3.其他", G6),
        Line("handled", "（七）总计"),
        Line("carried_out", "四、结转下年度继续办理"),
    ),
    columns=(
        Line("natural", "自然人"),
        Line("commercial", "商业企业", "法人或其他组织"),
        Line("research", "科研机构", "法人或其他组织"),
        Line("nonprofit", "社会公益组织", "法人或其他组织"),
        Line("legal", "法律服务机构", "法人或其他组织"),
        Line("other", "其他", "法人或其他组织"),
        Line("total", "总计"),
    ),
)
RESULT_ROWS = tuple(r.key for r in TABLE3.rows if r.key not in ("new", "carried_in", "results", "handled", "carried_out"))
APPLICANT_COLUMNS = tuple(c.key for c in TABLE3.columns if c.key != "total")

TABLE4 = TableDef(
    "4", "四、政府信息公开行政复议、行政诉讼情况",
    rows=(
        Line("review", "行政复议"),
        Line("litigation_direct", "行政诉讼（未经复议直接起诉）"),
        Line("litigation_after_review", "行政诉讼（复议后起诉）"),
    ),
    columns=(
        Line("upheld", "结果维持"), Line("corrected", "结果纠正"), Line("other", "其他结果"),
        Line("pending", "尚未审结"), Line("total", "总计"),
    ),
)

# the six-part narrative (2013 sample): items proactively published by category
TABLEN = TableDef(
    "n", "主动公开政府信息（按类别）",
    rows=(
        Line("functions", "机构职能类"), Line("normative", "规范性文件类"), Line("planning", "规划信息类"),
        Line("work", "工作动态类"), Line("statistics", "统计信息类"), Line("finance", "财政报告类"),
        Line("emergencies", "突发事件处置类"), Line("safety", "安全生产监管类"), Line("appointments", "人事任免类"),
        Line("other", "其他公开信息类"), Line("total", "合计"),
    ),
    columns=(Line("items", "条数"),),
)
TABLE6 = TableDef(
    "6", "其他需要报告的事项",
    rows=(Line("processing_fees", "收取信息处理费"), Line("fee_cases", "收取信息处理费的申请件数")),
    columns=(Line("amount", "金额（元）"), Line("count", "件数")),
    row_columns={"processing_fees": ("amount",), "fee_cases": ("count",)},
    decimal=frozenset({("processing_fees", "amount")}),
)
TABLETEXT = TableDef(
    "text", "报告文字",
    rows=(
        Line("organisation", "发布机构"),
        Line("overview", "总体情况（概述）"),
        Line("problems", "存在的主要问题及改进情况"),
        Line("other_matters", "其他需要报告的事项"),
    ),
    columns=(Line("text", "文字"),),
    text=True,
)
TABLES: dict[str, TableDef] = {t.key: t for t in (TABLE2, TABLE3, TABLE4, TABLEN, TABLE6, TABLETEXT)}


def resolve_key(table: TableDef, kind: str, given: str) -> str:
    """A row or column key from its key or its label (as `hotline disclosure keys` lists them)."""
    lines = table.rows if kind == "row" else table.columns
    for ln in lines:
        if given in (ln.key, ln.label) and not ln.header:
            return ln.key
    known = ", ".join(f"{ln.key} ({ln.label})" for ln in lines if not ln.header)
    raise Invalid(f"表 {table.key} 没有{'行' if kind == 'row' else '列'}“{given}”；可选：{known}", field=kind)


def parse_value(table: TableDef, row: str, column: str, value: str) -> str:
    """Validate an entered value: a whole number ≥ 0 (a decimal amount where the cell is one)."""
    if table.text:
        if not value.strip():
            raise Invalid("内容为空", field="value")
        return value
    try:
        d = Decimal(value.strip().replace(",", ""))
    except InvalidOperation:
        raise Invalid(f"“{value}”不是数字", field="value") from None
    if not d.is_finite() or d < 0:
        raise Invalid(f"“{value}”：数值须 ≥ 0", field="value")
    if (row, column) not in table.decimal and d != d.to_integral_value():
        raise Invalid(f"“{value}”：该项须为整数", field="value")
    return str(d if (row, column) in table.decimal else int(d))


async def set_figure(
    db: Database, year: int, table: str, row: str, column: str | None, value: str,
    *, entered_by: str | None = None, source: str | None = None, now: datetime | None = None,
) -> DisclosureFigure:
    """Store (or replace) one entered figure of a year's report."""
    t = TABLES.get(table)
    if t is None:
        raise Invalid(f"没有表“{table}”；可选：{'、'.join(TABLES)}", field="table")
    if not 1900 <= year <= 2999:
        raise Invalid(f"“{year}”不是有效的年份", field="year")
    rk = resolve_key(t, "row", row)
    cols = [c for r, c in t.cells() if r == rk]
    if column:
        ck = resolve_key(t, "column", column)
    elif len(cols) == 1:
        ck = cols[0]
    else:
        raise Invalid(f"表 {t.key} 第 {rk} 行：请指定列（{'、'.join(cols)}）", field="column")
    if ck not in cols:
        raise Invalid(f"表 {table}：第 {rk} 行没有列“{ck}”", field="column")
    v = parse_value(t, rk, ck, value)
    values = dict(year=year, report_table=t.key, row_key=rk, column_key=ck, value=v, source=source,
                  entered_by=entered_by, entered_at=(now or datetime.now(UTC)))
    ins = (pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert)(DisclosureFigure).values(**values)
    keys = ["year", "report_table", "row_key", "column_key"]
    stmt = ins.on_conflict_do_update(index_elements=keys, set_={k: ins.excluded[k] for k in values if k not in keys})
    async with db.transaction() as s:
        await s.execute(stmt)
    return DisclosureFigure(**values)


async def clear_figure(db: Database, year: int, table: str, row: str, column: str) -> bool:
    async with db.transaction() as s:
        r = await s.execute(delete(DisclosureFigure).where(
            DisclosureFigure.year == year, DisclosureFigure.report_table == table,
            DisclosureFigure.row_key == row, DisclosureFigure.column_key == column))
    return bool(getattr(r, "rowcount", 0))


async def entered_figures(db: Database, year: int) -> dict[tuple[str, str, str], DisclosureFigure]:
    async with db.session() as s:
        rows = (await s.execute(select(DisclosureFigure).where(DisclosureFigure.year == year))).scalars().all()
    return {(f.report_table, f.row_key, f.column_key): f for f in rows}


# ---------------------------------------------------------------------------------------------
# Table 3 from `disclosure` cases (依申请公开 applications run as cases)
# ---------------------------------------------------------------------------------------------
def _done_at() -> Any:
    """When a disclosure case was handled: its resolution time while it stands resolved."""
    return and_(Ticket.status.in_(RESOLVED_STATES), Ticket.resolved_at.is_not(None))


def disclosure_predicates(lo: datetime, hi: datetime) -> dict[str, Any]:
    """Table 3's 总计 column over [lo, hi): 一 + 二 = 三（七） + 四 holds by construction."""
    app = and_(Ticket.kind == Kind.disclosure, Ticket.status.not_in([Status.merged, Status.invalid]))
    done = _done_at()
    pending_at = lambda t: or_(~done, Ticket.resolved_at >= t)  # noqa: E731 — not handled before t
    return {
        "disclosure_new": and_(app, Ticket.registered_at >= lo, Ticket.registered_at < hi),
        "disclosure_carried_in": and_(app, Ticket.registered_at < lo, pending_at(lo)),
        "disclosure_handled": and_(app, Ticket.registered_at < hi, done, Ticket.resolved_at >= lo,
                                   Ticket.resolved_at < hi),
        "disclosure_carried_out": and_(app, Ticket.registered_at < hi, pending_at(hi)),
    }


DISCLOSURE_CELLS = {
    "disclosure_new": "new", "disclosure_carried_in": "carried_in",
    "disclosure_handled": "handled", "disclosure_carried_out": "carried_out",
}


async def disclosure_counts(db: Database, d0: date, d1: date) -> dict[str, int]:
    lo, hi = period_bounds(d0, d1)
    preds = disclosure_predicates(lo, hi)
    cols = [func.sum(case((p, 1), else_=0)).label(k) for k, p in preds.items()]
    async with db.session() as s:
        row = (await s.execute(select(*cols).select_from(Ticket).where(Ticket.kind == Kind.disclosure))).mappings().one()
    return {k: int(v or 0) for k, v in row.items()}


async def drill(
    db: Database, figure: str, d0: date, d1: date, *, key: str | None = None,
    department_code: str | None = None, now: datetime | None = None,
) -> list[str]:
    """What a report figure counts: reports.metrics.drill, plus Table 3's disclosure figures."""
    if figure in DISCLOSURE_CELLS:
        lo, hi = period_bounds(d0, d1)
        q = select(Ticket.number).where(disclosure_predicates(lo, hi)[figure]).order_by(Ticket.registered_at, Ticket.id)
        async with db.session() as s:
            return list((await s.execute(q)).scalars())
    return await metrics_drill(db, figure, d0, d1, department_code=department_code, key=key, now=now)


__all__ = ["UnknownFigure", "annual_report", "drill", "summary", "set_figure"]


def drill_link(figure: str, d0: date, d1: date, as_of: str, key: str | None = None, base: str = "/reports/drill") -> str:
    q = {"figure": figure, "from": d0.isoformat(), "to": d1.isoformat()}
    if key is not None:
        q["key"] = key
    q["as_of"] = as_of
    return f"{base}?{urlencode(q)}"


# ---------------------------------------------------------------------------------------------
# figures and checks
# ---------------------------------------------------------------------------------------------
def _num(v: str | None) -> Decimal | None:
    return None if v is None else Decimal(v)


def _json_num(v: Decimal | int | None) -> int | float | None:
    if v is None:
        return None
    if isinstance(v, int):
        return v
    return int(v) if v == v.to_integral_value() else float(v)


def _cell(value: Any, source: str, *, drill: str | None = None, figure: str | None = None,
          entered: DisclosureFigure | None = None, note: str | None = None) -> dict[str, Any]:
    return {
        "value": value if isinstance(value, str) else _json_num(value),
        "source": source,  # data | entered | missing
        "figure": figure,
        "drill": drill,
        "entered_by": entered.entered_by if entered else None,
        "entered_at": entered.entered_at.isoformat() if entered else None,
        "entered_source": entered.source if entered else None,
        "note": note,
    }


def build_table(
    t: TableDef, entered: dict[tuple[str, str, str], DisclosureFigure],
    data: dict[tuple[str, str], tuple[int, str, str]] | None = None,
) -> dict[str, Any]:
    """Every cell of a table: from the data where given (value, figure, link), else entered, else missing."""
    cells: dict[str, dict[str, Any]] = {}
    for r, c in t.cells():
        e = entered.get((t.key, r, c))
        if data and (r, c) in data:
            v, fig, link = data[(r, c)]
            note = None
            if e is not None and _num(e.value) != v:
                note = f"填报值 {e.value} 与数据 {v} 不一致，按数据"
            cells[f"{r}|{c}"] = _cell(v, "data", drill=link, figure=fig, entered=None, note=note)
        elif e is not None:
            cells[f"{r}|{c}"] = _cell(e.value if t.text else _num(e.value), "entered", entered=e)
        else:
            cells[f"{r}|{c}"] = _cell(None, "missing")
    return {
        "key": t.key,
        "title": t.title,
        "rows": [{"key": r.key, "label": r.label, "block": r.block, "header": r.header,
                  "columns": list((t.row_columns or {}).get(r.key) or [c.key for c in t.columns]) if not r.header else []}
                 for r in t.rows],
        "columns": [{"key": c.key, "label": c.label, "block": c.block} for c in t.columns],
        "cells": cells,
    }


def _v(table: dict[str, Any], r: str, c: str) -> Decimal | None:
    v = table["cells"][f"{r}|{c}"]["value"]
    return None if v is None else Decimal(str(v))


def check_tables(tables: dict[str, dict[str, Any]]) -> list[str]:
    """DISCLOSURE.md's checks on the figures present (a check with a missing figure is skipped)."""
    problems: list[str] = []
    t3 = tables["3"]
    col_label = {c["key"]: c["label"] for c in t3["columns"]}
    row_label = {r["key"]: r["label"] for r in t3["rows"]}
    for c in col_label:
        a, b, h, o = (_v(t3, r, c) for r in ("new", "carried_in", "handled", "carried_out"))
        if a is not None and b is not None and h is not None and o is not None and a + b != h + o:
            problems.append(f"表3「{col_label[c]}」列：一（{a}）+ 二（{b}）≠ 三（七）总计（{h}）+ 四（{o}）")
        parts = [_v(t3, r, c) for r in RESULT_ROWS]
        if h is not None and None not in parts and sum(parts) != h:  # type: ignore[arg-type]
            problems.append(f"表3「{col_label[c]}」列：（七）总计（{h}）≠（一）至（六）之和（{sum(parts)}）")  # type: ignore[arg-type]
    for r in (*("new", "carried_in"), *RESULT_ROWS, "handled", "carried_out"):
        total = _v(t3, r, "total")
        parts = [_v(t3, r, c) for c in APPLICANT_COLUMNS]
        if total is not None and None not in parts and sum(parts) != total:  # type: ignore[arg-type]
            problems.append(f"表3「{row_label[r]}」行：总计（{total}）≠ 各类申请人之和（{sum(parts)}）")  # type: ignore[arg-type]
    t4 = tables["4"]
    for r in t4["rows"]:
        total = _v(t4, r["key"], "total")
        parts = [_v(t4, r["key"], c) for c in ("upheld", "corrected", "other", "pending")]
        if total is not None and None not in parts and sum(parts) != total:  # type: ignore[arg-type]
            problems.append(f"表4「{r['label']}」：总计（{total}）≠ 维持、纠正、其他、尚未审结之和（{sum(parts)}）")  # type: ignore[arg-type]
    tn = tables["n"]
    total = _v(tn, "total", "items")
    parts = [_v(tn, r["key"], "items") for r in tn["rows"] if r["key"] != "total"]
    if total is not None and None not in parts and sum(parts) != total:  # type: ignore[arg-type]
        problems.append(f"主动公开信息合计（{total}）≠ 各类别之和（{sum(parts)}）")  # type: ignore[arg-type]
    for t in tables.values():
        for key, cell in t["cells"].items():
            if cell.get("note"):
                r, c = key.split("|")
                problems.append(f"表{t['key']} {r}/{c}：{cell['note']}")
    return problems


def check_hotline(m: dict[str, Any]) -> list[str]:
    """Hotline figures that cannot both be true (they come from one data set, so any hit is a bug
    or a corrupted record — listed, never printed silently)."""
    c = m["cases"]
    p: list[str] = []
    if c["completion_rate"] == 1 and c["open"] > 0:
        p.append(f"办结率 100% 而仍有 {c['open']} 件在办")
    if c["resolved"] + c["open"] > c["registered"]:
        p.append(f"办结（{c['resolved']}）+ 在办（{c['open']}）> 受理量（{c['registered']}）")
    if c["callbacks_required"] > c["resolved"]:
        p.append(f"应回访（{c['callbacks_required']}）多于办结（{c['resolved']}）")
    if c["callbacks_reached"] > c["callbacks_required"]:
        p.append(f"已回访（{c['callbacks_reached']}）多于应回访（{c['callbacks_required']}）")
    if c["satisfied"] > c["rated"]:
        p.append(f"首次回访满意+基本满意（{c['satisfied']}）多于有回访结果的工单（{c['rated']}）")
    if c["final_satisfied"] > c["final_rated"]:
        p.append(f"最终满意+基本满意（{c['final_satisfied']}）多于有回访结果的工单（{c['final_rated']}）")
    for g, label in (("by_kind", "诉求类型"), ("by_category", "问题分类")):
        total = sum(c[g].values())
        if total != c["registered"]:
            p.append(f"按{label}合计（{total}）≠ 受理量（{c['registered']}）")
    if sum(c["by_department"].values()) > c["registered"]:
        p.append(f"按承办单位合计（{sum(c['by_department'].values())}）> 受理量（{c['registered']}）")
    k = m.get("calls")
    if k and k["answered"] + k["abandoned"] + k["refused"] + k["waiting"] != k["offered"]:
        p.append(f"接通+放弃+占线+排队（…）≠ 呼入量（{k['offered']}）")
    return p


def _pct(r: float | None) -> str:
    return "—" if r is None else f"{r * 100:.2f}".rstrip("0").rstrip(".") + "%"


# the report's figures in its order (labels, numerators, denominators: reports/figures.py)
ANNUAL_COUNTS = ("registered", "answered_directly", "dispatched", "resolved", "open", "on_time",
                 "callbacks_required", "callbacks_reached", "rated", "satisfied", "final_rated",
                 "final_satisfied", "reopened", "chases", "chased", "overdue", "merged")
ANNUAL_RATES = ("completion_rate", "on_time_rate", "callback_rate", "satisfaction_rate", "final_satisfaction_rate",
                "reopen_rate", "direct_resolution_rate")


def hotline_section(
    m: dict[str, Any], d0: date, d1: date, label: str | None = None, link_base: str = "/reports/drill"
) -> dict[str, Any]:
    """The hotline's figures with drill links, and the paragraph of the report (2013 sample style)."""
    as_of = m["as_of"]
    c = m["cases"]

    def fig(name: str, label: str, value: Any, key: str | None = None) -> dict[str, Any]:
        return {"figure": name, "label": label, "value": value, "key": key, "drill": drill_link(name, d0, d1, as_of, key, base=link_base)}

    counts = [fig(k, FIGURE_LABELS[k], c[k]) for k in ANNUAL_COUNTS]
    # the report's rates in its order; labels, numerators and denominators from the figures table
    rates = [{"name": k, "label": FIGURE[k].label, "value": c[k], "num": FIGURE[k].numerator, "den": FIGURE[k].denominator}
             for k in ANNUAL_RATES]
    by_name = {f["figure"]: f for f in counts}
    for r in rates:
        r["display"] = _pct(r["value"])
        r["num_fig"], r["den_fig"] = by_name[r["num"]], by_name[r["den"]]
    by_category = [fig("by_category", k, n, k) for k, n in sorted(c["by_category"].items(), key=lambda kv: (-kv[1], kv[0]))]
    by_kind = [fig("by_kind", KIND_LABELS[Kind(k)], n, k) for k, n in c["by_kind"].items() if n]
    by_department = [fig("by_department", k, n, k)
                     for k, n in sorted(c["by_department"].items(), key=lambda kv: (-kv[1], kv[0]))]
    calls = []
    k = m.get("calls")
    if k and k["offered"]:
        calls = [fig(f, FIGURE_LABELS[f], k[f]) for f in ("offered", "answered", "abandoned", "refused")]
    top = by_category[:3]
    topics = "、".join(f["label"] for f in top)
    when = label or f"{d0.year}年"
    para = (
        f"{when}，热线共受理群众来电诉求{c['registered']}件次"
        + (f"，主要涉及{topics}等方面（其中" + "、".join(f"{f['label']}{f['value']}件" for f in top) + "）" if top else "")
        + f"；办结{c['resolved']}件，办结率{_pct(c['completion_rate'])}"
        + f"；应回访{c['callbacks_required']}件，已回访{c['callbacks_reached']}件，回访率{_pct(c['callback_rate'])}"
        + f"；满意率{_pct(c['satisfaction_rate'])}，最终满意率{_pct(c['final_satisfaction_rate'])}"
        + f"，重办率{_pct(c['reopen_rate'])}。"
    )
    if calls:
        para = (f"{when}，热线呼入{k['offered']}次，接通{k['answered']}次，接通率{_pct(k['answer_rate'])}。"  # type: ignore[index]
                + para[len(f"{when}，"):])
    return {
        "period": m["period"], "as_of": as_of, "counts": counts, "rates": rates, "calls": calls,
        "by_category": by_category, "by_kind": by_kind, "by_department": by_department,
        "paragraph": para, "hot_topics_total": sum(f["value"] for f in top), "metrics": m,
    }


async def annual_report(
    db: Database, year: int, *, form: str = "2021", now: datetime | None = None, link_base: str = "/reports/drill"
) -> dict[str, Any]:
    """Every figure of a year's report, its source and drill-down, and the problems found."""
    if form not in ("2021", "narrative"):
        raise Invalid(f"没有“{form}”这种格式：可选 2021 或 narrative", field="form")
    d0, d1 = date(year, 1, 1), date(year, 12, 31)
    now = now or datetime.now(UTC)
    m = await metrics(db, d0, d1, now=now)
    hotline = hotline_section(m, d0, d1, link_base=link_base)
    entered = await entered_figures(db, year)
    dc = await disclosure_counts(db, d0, d1)
    data3 = None
    if dc["disclosure_new"] + dc["disclosure_carried_in"] > 0:
        data3 = {(DISCLOSURE_CELLS[f], "total"): (n, f, drill_link(f, d0, d1, m["as_of"], base=link_base))
                 for f, n in dc.items()}
    tables = {
        "2": build_table(TABLE2, entered),
        "3": build_table(TABLE3, entered, data3),
        "4": build_table(TABLE4, entered),
        "n": build_table(TABLEN, entered),
        "6": build_table(TABLE6, entered),
        "text": build_table(TABLETEXT, entered),
    }
    problems = check_hotline(m) + check_tables(tables)
    capacity_note = await _capacity_note(db, d0, d1, m)
    text = {r: tables["text"]["cells"][f"{r}|text"]["value"] for r in ("organisation", "overview", "problems", "other_matters")}
    n_cells = sum(len(tables[k]["cells"]) for k in ("2", "3", "4"))
    sources = {
        "data": sum(1 for k in ("2", "3", "4") for c in tables[k]["cells"].values() if c["source"] == "data"),
        "entered": sum(1 for k in ("2", "3", "4") for c in tables[k]["cells"].values() if c["source"] == "entered"),
        "missing": sum(1 for k in ("2", "3", "4") for c in tables[k]["cells"].values() if c["source"] == "missing"),
        "cells": n_cells,
        "table3_from_cases": data3 is not None,
    }
    org = text["organisation"] or "12345政务服务便民热线"
    return {
        "kind": "annual",
        "title": f"{org}{year}年政府信息公开工作年度报告",
        "organisation": org,
        "year": year,
        "form": form,
        "period": {"from": d0.isoformat(), "to": d1.isoformat(), "timezone": TZ.key},
        "as_of": m["as_of"],
        "as_of_local": _local(m["as_of"]),
        "generated_at": datetime.now(UTC).astimezone(TZ).isoformat(timespec="seconds"),
        "generated_at_local": datetime.now(UTC).astimezone(TZ).strftime("%Y-%m-%d %H:%M") + "（北京时间）",
        "hotline": hotline,
        "tables": tables,
        "text": text,
        "sources": sources,
        "problems": problems,
        "consistent": not problems,
        "not_entered": NOT_ENTERED,
        # 存在的主要问题及改进情况: the line-capacity paragraph when blocking exceeded the target
        "capacity_note": capacity_note,
    }


async def _capacity_note(db: Database, d0: date, d1: date, m: dict[str, Any]) -> str | None:
    """The capacity paragraph of the year (reports/capacity.py) when refused calls exceeded the target."""
    k = m.get("calls") or {}
    if not k.get("offered") or not k.get("refused"):
        return None

    plan = await capacity(db, d0, d1, get_settings().lines, history=False)
    return capacity_paragraph(plan)


async def summary(
    db: Database, d0: date, d1: date, *, label: str, now: datetime | None = None, department_code: str | None = None,
    link_base: str = "/reports/drill",
) -> dict[str, Any]:
    """The supervisor's summary of a month or quarter: the metrics with drill-downs and the checks."""
    m = await metrics(db, d0, d1, department_code=department_code, now=now or datetime.now(UTC))
    return {
        "kind": "summary",
        "title": f"12345热线{label}工作情况汇总",
        "label": label,
        "period": m["period"],
        "as_of": m["as_of"],
        "generated_at": datetime.now(UTC).astimezone(TZ).isoformat(timespec="seconds"),
        "generated_at_local": datetime.now(UTC).astimezone(TZ).strftime("%Y-%m-%d %H:%M") + "（北京时间）",
        "as_of_local": _local(m["as_of"]),
        "hotline": hotline_section(m, d0, d1, label, link_base),
        "problems": check_hotline(m),
        "consistent": not check_hotline(m),
        # 质检 (issue 18): the hotline's own work, not a department's
        "quality": None if department_code else await qa_figures(db, d0, d1),
    }


def _local(iso: str) -> str:
    """An ISO instant as Beijing time to the minute, for the reader."""
    return datetime.fromisoformat(iso).astimezone(TZ).strftime("%Y-%m-%d %H:%M") + "（北京时间）"


def month_bounds(value: str) -> tuple[date, date, str]:
    """'2026-11' → (2026-11-01, 2026-11-30, '2026年11月')."""
    try:
        y, mo = (int(x) for x in value.split("-"))
        d0 = date(y, mo, 1)
    except ValueError:
        raise Invalid(f"“{value}”不是有效的月份（YYYY-MM）", field="month") from None
    if not MIN_YEAR <= y <= MAX_YEAR:
        raise Invalid(f"月份“{value}”超出 {MIN_YEAR}–{MAX_YEAR} 年的范围", field="month")
    nxt = date(y + (mo == 12), mo % 12 + 1, 1)
    return d0, date.fromordinal(nxt.toordinal() - 1), f"{y}年{mo}月"


def quarter_bounds(value: str) -> tuple[date, date, str]:
    """'2026Q4' → (2026-10-01, 2026-12-31, '2026年第四季度')."""
    v = value.upper().replace("-", "")
    try:
        y, q = int(v[:4]), int(v[5:]) if v[4] == "Q" else 0
    except (ValueError, IndexError):
        raise Invalid(f"“{value}”不是有效的季度（YYYYQn）", field="quarter") from None
    if q not in (1, 2, 3, 4) or len(v) != 6:
        raise Invalid(f"“{value}”不是有效的季度（YYYYQn）", field="quarter")
    if not MIN_YEAR <= y <= MAX_YEAR:
        raise Invalid(f"季度“{value}”超出 {MIN_YEAR}–{MAX_YEAR} 年的范围", field="quarter")
    d0 = date(y, 3 * q - 2, 1)
    end = date(y + (q == 4), (3 * q) % 12 + 1, 1)
    return d0, date.fromordinal(end.toordinal() - 1), f"{y}年第{'一二三四'[q - 1]}季度"
