"""HTTP pages of the reports: the drill-down lists the figures link to, and the annual report.

    from reports.web import make_router
    app.include_router(make_router(require_role("supervisor")))   # the lead's auth dependency

`make_router(*dependencies)` takes the dependencies the console wants in front of every route
(the supervisor role check); this module makes no auth decision itself, and there is no
module-level router to include by mistake without one. The Database is
read from `request.app.state.db`, as callcenter.web.deps does. Bad input and unknown figures or
departments are raised as domain errors (Invalid 422, NotFound 404); the app translates them
once (an error page on the console, JSON on the API). Routes:

- GET /reports/drill?figure=…&from=YYYY-MM-DD&to=YYYY-MM-DD[&key=…][&department=CODE][&as_of=ISO]
  → an HTML list of the case numbers (or call ids) the figure counts: as many as the figure.
- GET /reports/annual?year=YYYY[&form=2021|narrative][&format=html|md|json|xlsx]
- GET /reports/summary?month=YYYY-MM | quarter=YYYYQn [&format=…]
- GET /reports/capacity[?from=…&to=…&lines=N][&format=html|json|xlsx] → 容量规划 (issue 19):
  the console page (default: the 28 days up to the latest call, the configured lines).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import ChoiceLoader, FileSystemLoader
from markupsafe import escape

from callcenter.cases.workdays import MAX_YEAR, MIN_YEAR
from callcenter.core.errors import DomainError, Invalid
from callcenter.web.render import page, templates

from . import annual as annual_mod
from . import drill_list
from .capacity import WEEKDAYS, cached_capacity, last_call_day, render_xlsx
from .metrics import CALL_FIGURES, TZ, metrics
from .render import render

MEDIA = {
    "html": "text/html; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

DATE_FIELDS = {"from": "开始日期", "to": "结束日期", "date": "日期"}


def _day(value: str, name: str) -> date:
    try:
        d = date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{DATE_FIELDS.get(name, name)}：“{value}”不是有效的日期（YYYY-MM-DD）", field=name) from None
    if not MIN_YEAR <= d.year <= MAX_YEAR:
        raise Invalid(f"{DATE_FIELDS.get(name, name)}：“{value}”超出 {MIN_YEAR}–{MAX_YEAR} 年的范围", field=name)
    return d


def _as_of(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(f"统计时点：“{value}”不是有效的日期时间（ISO 8601）", field="as_of") from None
    if t.tzinfo is None:
        raise Invalid("统计时点须带时区", field="as_of")
    if not MIN_YEAR <= t.year <= MAX_YEAR:
        raise Invalid(f"统计时点：“{value}”超出 {MIN_YEAR}–{MAX_YEAR} 年的范围", field="as_of")
    return t


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "ol{columns:4;font-family:monospace}</style></head><body>" + body + "</body></html>"
    )


def _file(report: dict[str, Any], fmt: str, stem: str, public_url: str | None = None) -> Response:
    if fmt not in MEDIA:
        raise Invalid(f"格式须为以下之一：{'、'.join(MEDIA)}", field="format")
    data = render(report, fmt, public_url)
    headers = {}
    if fmt in ("xlsx", "md"):
        headers["Content-Disposition"] = f'attachment; filename="{stem}.{fmt}"'
    return Response(data, media_type=MEDIA[fmt], headers=headers)


def make_router(*dependencies: Any) -> APIRouter:
    """The /reports routes, each behind `dependencies` (e.g. the console's supervisor check)."""

    router = APIRouter(prefix="/reports", tags=["reports"], dependencies=[Depends(d) for d in dependencies])

    @router.get("/drill", response_class=HTMLResponse)
    async def drill_page(
        request: Request,
        figure: str,
        date_from: str = Query(alias="from"),
        date_to: str = Query(alias="to"),
        key: str | None = None,
        department: str | None = None,
        as_of: str | None = None,
        format: str = "html",
    ) -> Response:
        d0, d1 = _day(date_from, "from"), _day(date_to, "to")
        # a domain error (an unknown figure or department, a bad date) reaches the app's one
        # handler: an error page on the console, JSON on the API
        items = await annual_mod.drill(request.app.state.db, figure, d0, d1, key=key,
                                       department_code=department, now=_as_of(as_of))
        if format == "json":
            return JSONResponse({"figure": figure, "from": d0.isoformat(), "to": d1.isoformat(), "key": key,
                                 "count": len(items), "items": items})

        heading = drill_list.title(figure, d0, d1, key)
        data = await drill_list.rows(request.app.state.db, figure, items)
        stem = f"drill-{figure}-{d0.isoformat()}-{d1.isoformat()}"
        if format == "csv":
            return Response(drill_list.to_csv(figure, data), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'})
        if format == "xlsx":
            return Response(drill_list.to_xlsx(figure, heading, data, _public_url(request)), media_type=MEDIA["xlsx"],
                            headers={"Content-Disposition": f'attachment; filename="{stem}.xlsx"'})
        if format != "html":
            raise Invalid("格式须为以下之一：html、csv、xlsx、json", field="format")

        if "session" not in request.scope:  # mounted without the console (no session): a bare page
            lis = "".join(f"<li>{escape(r['cells'][0])}</li>" for r in data)
            body = (f"<h1>{escape(heading)}</h1><p data-count='{len(items)}'>共 {len(items)} 件</p>"
                    f"<ol class='drill'>{lis}</ol>")
            return HTMLResponse(_page(heading, body))

        q = {k: v for k, v in {"figure": figure, "from": d0.isoformat(), "to": d1.isoformat(), "key": key,
                                "department": department, "as_of": as_of}.items() if v}
        return page(request, "drill.html", {
            "heading": heading, "count": len(items), "rows": data, "columns": drill_list.columns(figure),
            "is_calls": figure in _call_figures(), "query": urlencode(q), "figure": figure,
        })

    @router.get("", response_class=HTMLResponse)
    async def reports_index(request: Request) -> Response:
        """报表: today's / this month's / this year's figures with their drill-downs, the monthly
        and quarterly summaries and the annual reports."""

        today = datetime.now(TZ).date()  # the hotline's day (Asia/Shanghai)
        periods = [("今日", today, today), ("本月", today.replace(day=1), today),
                   ("本年", today.replace(month=1, day=1), today)]
        figs = []
        for label, d0, d1 in periods:
            m = await metrics(request.app.state.db, d0, d1)
            figs.append({"label": label, "from": d0.isoformat(), "to": d1.isoformat(), "cases": m["cases"],
                         "calls": m["calls"] or {}})
        months = []
        y, mo = today.year, today.month
        for _ in range(12):
            months.append(f"{y}-{mo:02d}")
            y, mo = (y, mo - 1) if mo > 1 else (y - 1, 12)
        q = (today.month - 1) // 3 + 1
        quarters = []
        yq = today.year
        for _ in range(4):
            quarters.append(f"{yq}Q{q}")
            yq, q = (yq, q - 1) if q > 1 else (yq - 1, 4)
        return page(request, "reports.html", {"figs": figs, "months": months, "quarters": quarters,
                                              "years": [today.year, today.year - 1]})

    @router.get("/annual")
    async def annual_page(request: Request, year: int, form: str = "2021", format: str = "html") -> Response:
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise Invalid(f"年份 {year} 超出 {MIN_YEAR}–{MAX_YEAR} 年的范围", field="year")
        report = await annual_mod.annual_report(request.app.state.db, year, form=form)
        return _file(report, format, f"annual-report-{year}", _public_url(request))

    @router.get("/summary")
    async def summary_page(
        request: Request, month: str | None = None, quarter: str | None = None, format: str = "html",
        department: str | None = None,
    ) -> Response:
        if (month is None) == (quarter is None):
            raise Invalid("请指定月份（month=YYYY-MM）或季度（quarter=YYYYQn）中的一个", field="month")
        d0, d1, label = annual_mod.month_bounds(month) if month else annual_mod.quarter_bounds(quarter or "")
        report = await annual_mod.summary(request.app.state.db, d0, d1, label=label, department_code=department)
        return _file(report, format, f"summary-{month or quarter}", _public_url(request))

    @router.get("/capacity")
    async def capacity_page(
        request: Request,
        date_from: str | None = Query(None, alias="from"),
        date_to: str | None = Query(None, alias="to"),
        lines: str | None = None,
        format: str = "html",
    ) -> Response:
        return await _capacity(request, date_from, date_to, lines, format)

    return router


CAPACITY_DEFAULT_DAYS = 28


async def _capacity(request: Request, date_from: str | None, date_to: str | None, lines: str | None,
                    fmt: str) -> Response:
    """The 容量规划 page: bad input is shown on the page in Chinese with what was typed kept."""
    t0 = time.perf_counter()
    db = request.app.state.db
    form = {"from": date_from or "", "to": date_to or "", "lines": lines or ""}
    errors: list[str] = []
    d1 = d0 = None
    if not date_to:
        d1 = await last_call_day(db) or date.today()
        form["to"] = d1.isoformat()
    if not date_from:
        d0 = (d1 or date.today()) - timedelta(days=CAPACITY_DEFAULT_DAYS - 1) if d1 else None
    for key, label in (("from", "起始日期"), ("to", "截止日期")):
        try:
            got = date.fromisoformat(form[key]) if form[key] else None
        except ValueError:
            errors.append(f"{label}「{form[key]}」不是有效日期（格式 YYYY-MM-DD）")
            continue
        if key == "from":
            d0 = got or d0
        else:
            d1 = got or d1
    if d0 is None and d1 is not None:
        d0 = d1 - timedelta(days=CAPACITY_DEFAULT_DAYS - 1)
    if d0 and not form["from"]:
        form["from"] = d0.isoformat()
    n_lines = getattr(getattr(request.app.state, "settings", None), "lines", None) or 10
    if lines:
        try:
            n_lines = int(lines)
            if not 1 <= n_lines <= 1000:
                raise ValueError
        except ValueError:
            errors.append(f"现有线路数「{lines}」应为 1 至 1000 的整数")
    form["lines"] = lines or str(n_lines)
    if d0 and d1 and d1 < d0:
        errors.append(f"截止日期 {d1} 早于起始日期 {d0}")
    if d0 and d1 and (d1 - d0).days > 366:
        errors.append("期间最长一年（366 天）")
    if fmt not in ("html", "json", "xlsx"):
        errors.append(f"格式「{fmt}」应为 html、json 或 xlsx")
    plan = None
    if not errors and d0 and d1:
        try:
            plan = await cached_capacity(db, d0, d1, n_lines, history=fmt != "html")
        except DomainError as e:
            errors.append(e.message)
    t_plan = time.perf_counter() - t0
    if fmt == "json":
        if errors:
            return JSONResponse({"errors": errors}, status_code=422)
        return JSONResponse(plan)
    if fmt == "xlsx" and plan is not None:
        return Response(render_xlsx(plan), media_type=MEDIA["xlsx"],
                        headers={"Content-Disposition": f'attachment; filename="capacity-{d0}-{d1}.xlsx"'})

    _use_report_templates()
    ctx: dict[str, Any] = {"form": form, "error": "；".join(errors) or None, "plan": plan, "weekdays": WEEKDAYS}
    if plan is not None:
        ctx["cells"] = {(h["weekday"], h["hour"]): h for h in plan["hours"]}
        ctx["worst"] = plan["validation"].pop("worst", [])
        ctx["heat"] = [
            heat_map("heat-offered", "平均每小时呼入量（次）", plan["hours"], "offered", WEEKDAYS,
                     lambda v: f"{v:.1f}", "平均呼入 {} 次"),
            heat_map("heat-blocking", f"阻塞率（%，现有 {plan['lines']} 条线路，Erlang B）", plan["hours"], "blocking",
                     WEEKDAYS, lambda v: f"{v * 100:.1f}", "阻塞率 {}%"),
        ]
    t1 = time.perf_counter()
    response = page(request, "capacity.html", ctx, status_code=422 if errors else 200)
    # where the server's time went, for the browser's navigation timing (and bench/capacity_page.py)
    response.headers["Server-Timing"] = f"plan;dur={t_plan * 1000:.1f}, page;dur={(time.perf_counter() - t1) * 1000:.1f}"
    return response


HEAT_LEVELS = 8  # colour steps of a heat map above zero (console.css .heat .l1 … .l8)


def heat_map(id: str, title: str, hours: list[dict[str, Any]], field: str, weekdays: tuple[str, ...],
             fmt: Callable[[float], str], tip: str) -> dict[str, Any]:
    """A heat map of hour × weekday as a table the server draws: each cell's value, and a colour
    step (0 = none, 1 … HEAT_LEVELS in equal steps up to the period's highest value), with the
    legend of the steps. 168 cells read at once, printed as they are, no chart library to load."""
    values = {(h["weekday"], h["hour"]): h[field] or 0.0 for h in hours}
    top = max(values.values(), default=0.0)

    def level(v: float) -> int:
        return 0 if v <= 0 or top <= 0 else 1 + min(HEAT_LEVELS - 1, int(v / top * HEAT_LEVELS))

    rows = []
    for d, day in enumerate(weekdays):
        cells = []
        for hour in range(24):
            v = values.get((d, hour), 0.0)
            cells.append({"text": fmt(v), "level": level(v), "title": f"{day} {hour:02d}:00 " + tip.format(fmt(v))})
        rows.append({"day": day, "cells": cells})
    legend = [{"level": 0, "text": "0"}, {"level": 1, "text": "> 0"}] + [
        {"level": k, "text": "≥ " + fmt(top * (k - 1) / HEAT_LEVELS)} for k in range(2, HEAT_LEVELS + 1)]
    return {"id": id, "title": title, "rows": rows, "legend": legend, "top": fmt(top)}


_templates_added = False


def _use_report_templates() -> None:
    """Let the console's Jinja environment find reports/templates/capacity.html (once)."""
    global _templates_added
    if _templates_added:
        return



    here = Path(__file__).parent / "templates"
    loader = templates.env.loader
    templates.env.loader = ChoiceLoader([loader, FileSystemLoader(here)] if loader else [FileSystemLoader(here)])
    _templates_added = True

def _public_url(request: Request) -> str | None:
    settings = getattr(request.app.state, "settings", None)
    return getattr(settings, "public_url", None) or None


def _call_figures() -> set[str]:
    return set(CALL_FIGURES)

