"""A drill-down list's CSV / XLSX export (issue 13): the rows the figure counts, a Chinese title,
case numbers linked to HOTLINE_PUBLIC_URL in the XLSX (no link when it is unset)."""

from __future__ import annotations

import csv
import io
from types import SimpleNamespace

import httpx
from fastapi import FastAPI
from openpyxl import load_workbook

from callcenter.core.errors import DomainError
from callcenter.store.db import Database
from callcenter.web.render import domain_error_json
from reports.drill_list import title
from reports.web import make_router
from tests.integration.test_metrics import NOW, Y2025, build_cases


def app_for(db: Database, public_url: str | None) -> FastAPI:
    app = FastAPI()
    app.state.db = db
    app.state.settings = SimpleNamespace(public_url=public_url)
    app.include_router(make_router())
    app.add_exception_handler(DomainError, domain_error_json)  # as the app translates domain errors
    return app


async def test_csv_and_xlsx_list_what_the_figure_counts(database: Database) -> None:
    await build_cases(database)
    q = {"figure": "dispatched", "from": "2025-01-01", "to": "2025-12-31", "as_of": NOW.isoformat()}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app_for(database, None)), base_url="http://t") as c:
        r = await c.get("/reports/drill", params=q | {"format": "csv"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert rows[0][:3] == ["工单号", "登记时间", "诉求类型"]
        assert sorted(x[0] for x in rows[1:]) == ["A", "E", "H", "I", "J", "K"]  # test_metrics: dispatched
        assert {x[4] for x in rows[1:]} == {"住房和城乡建设局", "城市管理局"}
        r = await c.get("/reports/drill", params=q | {"format": "xlsx"})
        ws = load_workbook(io.BytesIO(r.content))["明细"]
        assert ws["A1"].value == "派单量（2025年）"
        assert [ws.cell(i, 1).value for i in range(3, 9)] and all(ws.cell(i, 1).hyperlink is None for i in range(3, 9))
    app = app_for(database, "https://12345.example.gov.cn")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/reports/drill", params=q | {"format": "xlsx"})
        ws = load_workbook(io.BytesIO(r.content))["明细"]
        links = {ws.cell(i, 1).value: ws.cell(i, 1).hyperlink.target for i in range(3, 9)}
        assert links["H"] == "https://12345.example.gov.cn/cases/H"


def test_titles_name_the_figure_and_its_period() -> None:
    from datetime import date

    assert title("satisfied", *Y2025) == "首次回访满意+基本满意（2025年）"
    assert title("overdue", date(2026, 12, 2), date(2026, 12, 2)) == "超期（2026年12月2日）"
    assert title("by_kind", date(2026, 11, 1), date(2026, 11, 30), "complaint") == "诉求类型：民众诉求（2026年11月）"
    assert title("registered", date(2026, 12, 1), date(2026, 12, 2)) == "受理量（2026年12月1日至2日）"
