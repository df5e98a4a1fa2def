"""HTTP pages of the reports: the drill-down lists the figures link to, and the annual report.

    from reports.web import make_router
    app.include_router(make_router(require_role("supervisor")))   # the lead's auth dependency

`make_router(*dependencies)` takes the dependencies the console wants in front of every route
(the supervisor role check); this module makes no auth decision itself, and there is no
module-level router to include by mistake without one. The Database is
read from `request.app.state.db`, as callcenter.web.deps does. Routes:

- GET /reports/drill?figure=…&from=YYYY-MM-DD&to=YYYY-MM-DD[&key=…][&department=CODE][&as_of=ISO]
  → an HTML list of the case numbers (or call ids) the figure counts: as many as the figure.
- GET /reports/annual?year=YYYY[&form=2021|narrative][&format=html|md|json|xlsx]
- GET /reports/summary?month=YYYY-MM | quarter=YYYYQn [&format=…]
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from markupsafe import escape

from callcenter.core.errors import DomainError

from . import annual as annual_mod
from .metrics import UnknownDepartment, UnknownFigure

MEDIA = {
    "html": "text/html; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

DATE_FIELDS = {"from": "开始日期", "to": "结束日期", "date": "日期"}


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, f"{DATE_FIELDS.get(name, name)}：“{value}”不是有效的日期（YYYY-MM-DD）") from None


def _as_of(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, f"统计时点：“{value}”不是有效的日期时间（ISO 8601）") from None
    if t.tzinfo is None:
        raise HTTPException(422, "统计时点须带时区")
    return t


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "ol{columns:4;font-family:monospace}</style></head><body>" + body + "</body></html>"
    )


def _file(report: dict[str, Any], fmt: str, stem: str) -> Response:
    from .render import render

    if fmt not in MEDIA:
        raise HTTPException(422, f"格式须为以下之一：{'、'.join(MEDIA)}")
    data = render(report, fmt)
    headers = {}
    if fmt in ("xlsx", "md"):
        headers["Content-Disposition"] = f'attachment; filename="{stem}.{fmt}"'
    return Response(data, media_type=MEDIA[fmt], headers=headers)


def make_router(*dependencies: Any) -> APIRouter:
    """The /reports routes, each behind `dependencies` (e.g. the console's supervisor check)."""
    from fastapi import Depends

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
        try:
            items = await annual_mod.drill(request.app.state.db, figure, d0, d1, key=key,
                                           department_code=department, now=_as_of(as_of))
        except (UnknownFigure, UnknownDepartment) as e:
            raise HTTPException(422 if isinstance(e, UnknownFigure) else 404, e.message) from None
        except DomainError as e:
            raise HTTPException(e.status_code, e.message) from None
        if format == "json":
            return JSONResponse({"figure": figure, "from": d0.isoformat(), "to": d1.isoformat(), "key": key,
                                 "count": len(items), "items": items})
        what = "来电" if figure in _call_figures() else "工单"
        title = f"{figure}{'（' + key + '）' if key else ''} {d0} 至 {d1}：{len(items)} 件{what}"
        lis = "".join(
            f"<li>{escape(i)}</li>"
            for i in items
        )
        body = f"<h1>{escape(title)}</h1><p data-count='{len(items)}'>共 {len(items)} 件</p><ol class='drill'>{lis}</ol>"
        return HTMLResponse(_page(title, body))

    @router.get("/annual")
    async def annual_page(request: Request, year: int, form: str = "2021", format: str = "html") -> Response:
        try:
            report = await annual_mod.annual_report(request.app.state.db, year, form=form)
        except DomainError as e:
            raise HTTPException(e.status_code, e.message) from None
        return _file(report, format, f"annual-report-{year}")

    @router.get("/summary")
    async def summary_page(
        request: Request, month: str | None = None, quarter: str | None = None, format: str = "html",
        department: str | None = None,
    ) -> Response:
        if (month is None) == (quarter is None):
            raise HTTPException(422, "请指定月份（month=YYYY-MM）或季度（quarter=YYYYQn）中的一个")
        try:
            d0, d1, label = annual_mod.month_bounds(month) if month else annual_mod.quarter_bounds(quarter or "")
            report = await annual_mod.summary(request.app.state.db, d0, d1, label=label, department_code=department)
        except DomainError as e:
            raise HTTPException(e.status_code, e.message) from None
        return _file(report, format, f"summary-{month or quarter}")

    return router


def _call_figures() -> set[str]:
    from .metrics import CALL_FIGURES

    return set(CALL_FIGURES)

