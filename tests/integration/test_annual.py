"""The annual disclosure report (reports/annual.py, render.py, web.py) on known data.

Every figure is checked against a count made by hand, at the year's boundaries (a case
registered on 31 December and resolved on 2 January, a reopened case, a duplicate, a refused
call), on SQLite and PostgreSQL alike; the HTML's links are followed through the web router
and each list is as long as the figure it came from.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from openpyxl import load_workbook
from sqlalchemy import delete

from callcenter.core.errors import DomainError, Invalid
from callcenter.store.db import Database
from callcenter.store.models import (
    Call,
    CallbackResult,
    CallDirection,
    CallOutcome,
    Category,
    Department,
    DisclosureFigure,
    Kind,
    ReportCallDay,
    ReportCaseDay,
    ReportCaseGroupDay,
    ReportRollupState,
    Satisfaction,
    Status,
    Ticket,
)
from callcenter.web.render import domain_error_json
from reports import annual
from reports.annual import annual_report, check_hotline, month_bounds, quarter_bounds, set_figure, summary
from reports.render import render
from reports.rollup import refresh_rollups
from reports.web import make_router

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SAMPLES = Path(__file__).parent.parent / "fixtures" / "samples"


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)  # type: ignore[misc]


@pytest.fixture(autouse=True)
async def _clean_report_tables(database: Database) -> AsyncIterator[None]:
    # conftest's truncation does not know these tables (PostgreSQL keeps them between tests)
    async def clean() -> None:
        async with database.transaction() as s:
            for t in (DisclosureFigure, ReportCaseDay, ReportCaseGroupDay, ReportCallDay, ReportRollupState):
                await s.execute(delete(t))

    await clean()
    yield
    await clean()


async def build(db: Database) -> None:
    """Cases A–L (hotline) and D1–D6 (依申请公开), calls c1–c5, around the 2025 boundaries."""
    async with db.transaction() as s:
        zjj = Department(code="zjj", name="住房和城乡建设局")
        gkb = Department(code="gkb", name="政务公开办")
        s.add_all([zjj, gkb])
        await s.flush()
        wy = Category(name="物业管理", default_department_id=zjj.id)
        cq = Category(name="拆迁补偿", default_department_id=zjj.id)
        gk = Category(name="信息公开", default_department_id=gkb.id)
        s.add_all([wy, cq, gk])
        await s.flush()

        def t(number: str, kind: Kind, cat: Category, status: Status, at: datetime, **kw: object) -> Ticket:
            return Ticket(number=number, kind=kind, category_id=cat.id, content="…", status=status,
                          registered_at=at, **kw)

        s.add_all([
            # A: 31 December 23:30 → 2025; resolved 2 January, in time; callback 满意
            t("A", Kind.complaint, wy, Status.closed, cst(2025, 12, 31, 23, 30), department_id=zjj.id,
              ever_dispatched=True, resolved_at=cst(2026, 1, 2, 10), due_at=cst(2026, 1, 8, 17, 30),
              callback_result=CallbackResult.reached, satisfaction=Satisfaction.satisfied,
              first_satisfaction=Satisfaction.satisfied),
            # B: 1 January 00:10 → 2026
            t("B", Kind.complaint, wy, Status.registered, cst(2026, 1, 1, 0, 10)),
            # C: answered directly on 1 January 2025 00:00, called back: 基本满意
            t("C", Kind.consultation, cq, Status.closed, cst(2025, 1, 1, 0, 0), resolved_at=cst(2025, 1, 1, 0, 5),
              callback_result=CallbackResult.reached, satisfaction=Satisfaction.basically,
              first_satisfaction=Satisfaction.basically),
            # E: 不满意 → reopened, open: registered, not resolved; its 不满意 stays in 满意率
            t("E", Kind.complaint, cq, Status.reopened, cst(2025, 6, 1, 9), department_id=zjj.id,
              ever_dispatched=True, due_at=cst(2025, 6, 10, 17, 30), reopen_count=1,
              callback_result=CallbackResult.reached, satisfaction=Satisfaction.dissatisfied,
              first_satisfaction=Satisfaction.dissatisfied),
            # F: a duplicate of E
            t("F", Kind.complaint, cq, Status.merged, cst(2025, 6, 2, 9), department_id=zjj.id),
            # G: invalid
            t("G", Kind.complaint, wy, Status.invalid, cst(2025, 7, 1, 9)),
            # H: resolved late, callback unreachable
            t("H", Kind.complaint, cq, Status.closed, cst(2025, 3, 1, 9), department_id=zjj.id,
              ever_dispatched=True, resolved_at=cst(2025, 3, 20, 9), due_at=cst(2025, 3, 10, 17, 30),
              callback_result=CallbackResult.unreachable),
            # J: anonymous report, no callback needed
            t("J", Kind.report, wy, Status.resolved, cst(2025, 5, 1, 9), department_id=zjj.id,
              ever_dispatched=True, resolved_at=cst(2025, 5, 6, 9), callback_result=CallbackResult.not_needed),
            # 依申请公开 applications (Table 3's 总计 column)
            # D1: received 2024-12-20, answered 2025-01-05 → carried into 2025, handled in 2025
            t("D1", Kind.disclosure, gk, Status.closed, cst(2024, 12, 20, 10), department_id=gkb.id,
              ever_dispatched=True, resolved_at=cst(2025, 1, 5, 10), callback_result=CallbackResult.not_needed),
            # D2: received 31 December 2025 23:30, answered 2 January → new in 2025, carried out
            t("D2", Kind.disclosure, gk, Status.resolved, cst(2025, 12, 31, 23, 30), department_id=gkb.id,
              ever_dispatched=True, resolved_at=cst(2026, 1, 2, 10), callback_result=CallbackResult.not_needed),
            # D3: received and answered in March 2025
            t("D3", Kind.disclosure, gk, Status.resolved, cst(2025, 3, 1, 10), department_id=gkb.id,
              ever_dispatched=True, resolved_at=cst(2025, 3, 10, 10), callback_result=CallbackResult.not_needed),
            # D4: a duplicate application → not counted
            t("D4", Kind.disclosure, gk, Status.merged, cst(2025, 5, 1, 10), department_id=gkb.id),
            # D5: answered, then reopened: still open at the end of 2025 → carried out
            t("D5", Kind.disclosure, gk, Status.reopened, cst(2025, 6, 1, 10), department_id=gkb.id,
              ever_dispatched=True, resolved_at=cst(2025, 6, 10, 10), reopen_count=1,
              callback_result=CallbackResult.not_needed),
            # D6: all in 2024
            t("D6", Kind.disclosure, gk, Status.resolved, cst(2024, 11, 1, 10), department_id=gkb.id,
              ever_dispatched=True, resolved_at=cst(2024, 11, 20, 10), callback_result=CallbackResult.not_needed),
        ])
        IN = CallDirection.inbound
        s.add_all([
            Call(linkedid="c1", direction=IN, outcome=CallOutcome.answered, offered_at=cst(2025, 12, 31, 23, 59, 50),
                 answered_at=cst(2025, 12, 31, 23, 59, 59), ended_at=cst(2026, 1, 1, 0, 2), wait_s=9, talk_s=121, line=1),
            Call(linkedid="c2", direction=IN, outcome=CallOutcome.refused, offered_at=cst(2025, 6, 1, 9)),
            Call(linkedid="c3", direction=IN, outcome=CallOutcome.abandoned, offered_at=cst(2025, 6, 1, 9, 1),
                 ended_at=cst(2025, 6, 1, 9, 2), wait_s=60, line=2),
            Call(linkedid="c4", direction=IN, outcome=CallOutcome.answered, offered_at=cst(2026, 1, 1, 0, 0, 1),
                 answered_at=cst(2026, 1, 1, 0, 0, 5), ended_at=cst(2026, 1, 1, 0, 1), wait_s=4, talk_s=55, line=1),
            Call(linkedid="c5", direction=CallDirection.outbound, outcome=CallOutcome.callback_answered,
                 offered_at=cst(2025, 6, 2, 9), answered_at=cst(2025, 6, 2, 9, 0, 10), ended_at=cst(2025, 6, 2, 9, 3),
                 talk_s=170, line=1),
        ])


async def test_every_annual_figure_by_hand(database: Database) -> None:
    await build(database)
    r = await annual_report(database, 2025, now=NOW)
    c = r["hotline"]["metrics"]["cases"]
    # registered in 2025: A C E H J D2 D3 D5 (B is 2026; F, D4 duplicates; G invalid; D1, D6 are 2024)
    assert c["registered"] == 8
    # as of the report date: A and D2 (both resolved on 2 January 2026) C H J D3; E and D5 are reopened
    assert c["resolved"] == 6
    assert c["open"] == 2  # E D5
    assert c["completion_rate"] == 6 / 8
    assert c["answered_directly"] == 1  # C
    assert c["callbacks_required"] == 3  # A C H (J and the applications need none)
    assert c["callbacks_reached"] == 2  # A C (H unreachable; E's 不满意 sent it back)
    assert c["callback_rate"] == 2 / 3
    # 满意率 over the cases with a reached callback (A C E): E's 不满意 stays counted (DOMAIN.md)
    assert c["rated"] == 3 and c["satisfied"] == 2 and c["satisfaction_rate"] == 2 / 3
    assert c["final_satisfaction_rate"] == 2 / 3 and c["reopen_rate"] == 2 / 6
    assert c["reopened"] == 2 and c["merged"] == 2 and c["invalid"] == 1
    assert c["by_category"] == {"物业管理": 2, "拆迁补偿": 3, "信息公开": 3}
    assert c["by_kind"]["disclosure"] == 3 and c["by_kind"]["complaint"] == 3
    k = r["hotline"]["metrics"]["calls"]
    # c1 (23:59:50 on 31 December) c2 (refused) c3 (abandoned); c4 is 2026; c5 is outbound
    assert (k["offered"], k["answered"], k["refused"], k["abandoned"]) == (3, 1, 1, 1)
    para = r["hotline"]["paragraph"]
    assert "受理群众来电诉求8件次" in para and "办结率75%" in para and "回访率66.67%" in para
    assert "满意率66.67%" in para and "最终满意率66.67%" in para and "重办率33.33%" in para and "呼入3次" in para
    assert "主要涉及信息公开、拆迁补偿、物业管理" in para  # by count, ties by name
    # Table 3's 总计 column from the applications: 一 3 (D2 D3 D5) + 二 1 (D1) = 三（七） 2 (D1 D3) + 四 2 (D2 D5)
    t3 = r["tables"]["3"]["cells"]
    assert [t3[f"{row}|total"]["value"] for row in ("new", "carried_in", "handled", "carried_out")] == [3, 1, 2, 2]
    assert all(t3[f"{row}|total"]["source"] == "data" for row in ("new", "carried_in", "handled", "carried_out"))
    assert t3["new|natural"] == {**t3["new|natural"], "value": None, "source": "missing"}
    assert r["sources"]["table3_from_cases"] and r["sources"]["data"] == 4
    assert r["problems"] == [] and r["consistent"]
    # 2024: D1 and D6 received; D6 handled; D1 carried into 2025
    r24 = await annual_report(database, 2024, now=NOW)
    t3 = r24["tables"]["3"]["cells"]
    assert [t3[f"{row}|total"]["value"] for row in ("new", "carried_in", "handled", "carried_out")] == [2, 0, 1, 1]
    # a year without any application: Table 3 is entered, nothing counted
    r23 = await annual_report(database, 2023, now=NOW)
    assert not r23["sources"]["table3_from_cases"] and r23["tables"]["3"]["cells"]["new|total"]["value"] is None


async def test_figures_not_entered_read_as_not_entered_never_zero(database: Database) -> None:
    r = await annual_report(database, 2025, now=NOW)
    assert r["sources"]["missing"] == r["sources"]["cells"] == 10 + 7 * 25 + 15  # Table 2, 3 (25 rows × 7), 4
    for fmt in ("html", "md"):
        out = render(r, fmt).decode()
        assert "未填报" in out
    wb = load_workbook(io.BytesIO(render(r, "xlsx")))
    assert wb["表3 依申请公开"]["B2"].value == "未填报"
    assert json.loads(render(r, "json"))["tables"]["4"]["cells"]["review|total"]["value"] is None


async def test_entered_figures_appear_in_all_four_formats(database: Database) -> None:
    await set_figure(database, 2025, "2", "rules", "issued", "7", entered_by="陈静", source="法制办台账")
    await set_figure(database, 2025, "2", "行政事业性收费", None, "12.5", entered_by="陈静")
    await set_figure(database, 2025, "3", "new", "natural", "41", entered_by="陈静")
    await set_figure(database, 2025, "3", "一、本年新收政府信息公开申请数量", "商业企业", "2", entered_by="陈静")
    await set_figure(database, 2025, "4", "review", "upheld", "3", entered_by="陈静")
    await set_figure(database, 2025, "4", "review", "total", "3", entered_by="陈静")
    await set_figure(database, 2025, "n", "functions", None, "896")
    await set_figure(database, 2025, "2", "rules", "issued", "9", entered_by="陈静")  # corrected
    await set_figure(database, 2025, "text", "problems", None, "主动公开时效性不强。")
    await set_figure(database, 2025, "text", "organisation", None, "湘潭经济技术开发区")
    r = await annual_report(database, 2025, now=NOW)
    cells = r["tables"]
    assert cells["2"]["cells"]["rules|issued"]["value"] == 9
    assert cells["2"]["cells"]["rules|issued"]["source"] == "entered"
    assert cells["2"]["cells"]["rules|issued"]["entered_by"] == "陈静"
    assert cells["2"]["cells"]["fees|amount"]["value"] == 12.5
    assert cells["3"]["cells"]["new|commercial"]["value"] == 2
    html = render(r, "html").decode()
    md = render(r, "md").decode()
    for out in (html, md):
        assert re.search(r">9<|\| 9 \|", out), "Table 2 rules/issued"
        assert re.search(r">41<|\| 41 \|", out)
        assert "12.5" in out and ">3<" in out or "| 3 |" in out
    assert 'data-source="entered"' in html and "填报：陈静" in html
    assert r["title"] == "湘潭经济技术开发区2025年政府信息公开工作年度报告"
    for out in (html, md):
        assert "主动公开时效性不强。" in out and "湘潭经济技术开发区2025年" in out
    js = json.loads(render(r, "json"))
    assert js["tables"]["3"]["cells"]["new|natural"] == {**js["tables"]["3"]["cells"]["new|natural"],
                                                         "value": 41, "source": "entered"}
    wb = load_workbook(io.BytesIO(render(r, "xlsx")))
    assert {"表2 主动公开", "表3 依申请公开", "表4 复议诉讼", "数据来源"} <= set(wb.sheetnames)
    ws2 = wb["表2 主动公开"]
    assert [ws2.cell(3, c).value for c in (1, 2)] == ["规章", 9]
    ws3 = wb["表3 依申请公开"]
    assert [ws3.cell(2, c).value for c in (1, 2, 3)] == ["一、本年新收政府信息公开申请数量", 41, 2]
    assert wb["表4 复议诉讼"]["B2"].value == 3 and wb["表4 复议诉讼"]["F2"].value == 3
    src = [row for row in wb["数据来源"].iter_rows(values_only=True) if row[0] == "2" and row[1] == "规章"]
    assert ("规章", "本年制发件数", 9, "填报", "陈静") == src[0][1:6]
    assert r["problems"] == []


async def test_entering_checks_the_value_and_the_keys(database: Database) -> None:
    for bad in (("3", "new", "natural", "-1"), ("3", "new", "natural", "1.5"), ("3", "nope", "natural", "1"),
                ("3", "new", "nope", "1"), ("9", "new", "natural", "1"), ("2", "rules", None, "1"),
                ("2", "licensing", "issued", "1"), ("3", "new", "natural", "many")):
        with pytest.raises(Invalid):
            await set_figure(database, 2025, *bad)


async def test_table3_that_breaks_the_identity_is_listed(database: Database) -> None:
    for row, v in (("new", 5), ("carried_in", 1), ("handled", 4), ("carried_out", 1), ("granted", 4)):
        await set_figure(database, 2025, "3", row, "natural", str(v))
    r = await annual_report(database, 2025, now=NOW)
    assert any("自然人" in p and "一（5）+ 二（1）≠ 三（七）总计（4）+ 四（1）" in p for p in r["problems"])
    assert not r["consistent"]
    assert "一致性检查未通过" in render(r, "html").decode() and "一致性检查未通过" in render(r, "md").decode()
    # once it adds up, the identity holds; （七） must still be the sum of （一）…（六） when all are entered
    await set_figure(database, 2025, "3", "carried_out", "natural", "2")
    r = await annual_report(database, 2025, now=NOW)
    assert not any("一（5）" in p for p in r["problems"])


async def test_the_other_checks(database: Database) -> None:
    cols = ("natural", "commercial", "research", "nonprofit", "legal", "other")
    for i, c in enumerate(cols):
        await set_figure(database, 2025, "3", "new", c, str(i))
    await set_figure(database, 2025, "3", "new", "total", "99")  # 0+1+2+3+4+5 = 15
    for c in ("upheld", "corrected", "other", "pending"):
        await set_figure(database, 2025, "4", "litigation_direct", c, "1")
    await set_figure(database, 2025, "4", "litigation_direct", "total", "5")
    for key in [r.key for r in annual.TABLEN.rows if r.key != "total"]:
        await set_figure(database, 2025, "n", key, None, "10")
    await set_figure(database, 2025, "n", "total", None, "101")
    # （七） from all sub-rows: entered for one column
    results = annual.RESULT_ROWS
    for row in results:
        await set_figure(database, 2025, "3", row, "research", "1")
    await set_figure(database, 2025, "3", "handled", "research", str(len(results) + 1))
    problems = (await annual_report(database, 2025, now=NOW))["problems"]
    assert any("「一、本年新收政府信息公开申请数量」行：总计（99）≠ 各类申请人之和（15）" in p for p in problems)
    assert any("行政诉讼（未经复议直接起诉）" in p and "总计（5）" in p for p in problems)
    assert any("主动公开信息合计（101）≠ 各类别之和（100）" in p for p in problems)
    n = len(results)  # 21: （一） （二） and the 19 sub-rows of （三）…（六）
    assert n == 21
    assert any(f"「科研机构」列：（七）总计（{n + 1}）≠（一）至（六）之和（{n}）" in p for p in problems)


async def test_an_entered_table3_total_that_contradicts_the_cases_is_listed(database: Database) -> None:
    await build(database)
    await set_figure(database, 2025, "3", "new", "total", "4")  # the cases say 3
    r = await annual_report(database, 2025, now=NOW)
    assert r["tables"]["3"]["cells"]["new|total"]["value"] == 3
    assert any("填报值 4 与数据 3 不一致" in p for p in r["problems"])


def test_hotline_checks_catch_figures_that_cannot_both_be_true() -> None:
    m = {"cases": {"registered": 10, "resolved": 10, "open": 1, "completion_rate": 1.0, "callbacks_required": 11,
                   "callbacks_reached": 12, "satisfied": 13, "rated": 12, "final_satisfied": 1, "final_rated": 1,
                   "by_kind": {"complaint": 9}, "by_category": {"x": 11},
                   "by_department": {}},
         "calls": {"offered": 5, "answered": 1, "abandoned": 1, "refused": 1, "waiting": 1}}
    p = check_hotline(m)
    assert any("办结率 100% 而仍有 1 件在办" in x for x in p)
    assert any("应回访（11）多于办结（10）" in x for x in p)
    assert any("已回访（12）多于应回访（11）" in x for x in p)
    assert any("按诉求类型合计（9）≠ 受理量（10）" in x for x in p)
    assert any("按问题分类合计（11）≠ 受理量（10）" in x for x in p)
    assert any("呼入量（5）" in x for x in p)
    assert len(p) == 8


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href, self._text = dict(attrs).get("href"), ""

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, self._text))
            self._href = None


@pytest.mark.parametrize("form", ["2021", "narrative"])
@pytest.mark.parametrize("rollups", [False, True])
async def test_every_data_figure_in_the_html_links_to_a_list_as_long_as_it(
    database: Database, form: str, rollups: bool
) -> None:
    await build(database)
    if rollups:
        await refresh_rollups(database, datetime.now(UTC))
    app = FastAPI()
    app.state.db = database
    app.include_router(make_router())
    app.add_exception_handler(DomainError, domain_error_json)  # as the app translates domain errors
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        resp = await client.get("/reports/annual", params={"year": 2025, "form": form})
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
        parser = Links()
        parser.feed(resp.text)
        drills = [(h, t) for h, t in parser.links if h.startswith("/reports/drill?")]
        figures = {parse_qs(urlsplit(h).query)["figure"][0] for h, _ in drills}
        assert {"registered", "resolved", "callbacks_reached", "by_category", "by_kind", "offered",
                "disclosure_new", "disclosure_handled"} <= figures or form == "narrative"
        for href, text in drills:
            page = await client.get(href)
            assert page.status_code == 200, href
            assert f"data-count='{int(text)}'" in page.text, (href, text)
            listed = await client.get(href + "&format=json")
            assert len(listed.json()["items"]) == int(text), href
        assert len(drills) > 30
        # all the numbers of the hotline part are links (none printed bare)
        assert resp.text.count("data-drill=") == len(drills)
        # the other formats over HTTP
        x = await client.get("/reports/annual", params={"year": 2025, "format": "xlsx"})
        assert x.status_code == 200 and x.content[:2] == b"PK"
        bad = await client.get("/reports/drill", params={"figure": "nonsense", "from": "2025-01-01", "to": "2025-01-02"})
        assert bad.status_code == 422


async def test_the_registry_sample_gives_the_readme_figures(database: Database) -> None:
    from callcenter.cases import registry_io

    await registry_io.import_file(database, SAMPLES / "registry-sample.csv", create_missing=True)
    want = json.loads((SAMPLES / "registry-sample.expect.json").read_text(encoding="utf-8"))
    r = await annual_report(database, 2012, form="narrative")
    c = r["hotline"]["metrics"]["cases"]
    assert c["registered"] == 60
    from callcenter.store.models import KIND_BY_LABEL

    assert {k: v for k, v in c["by_kind"].items() if v} == {KIND_BY_LABEL[k].value: v for k, v in want["by_kind"].items()}
    assert c["by_category"] == want["by_category"]
    assert (c["answered_directly"], c["dispatched"], c["resolved"]) == (9, 50, 57)
    assert (c["callbacks_required"], c["callbacks_reached"], c["satisfied"]) == (55, 55, 53)
    assert c["completion_rate"] == 0.95 and c["callback_rate"] == 1.0
    assert c["satisfaction_rate"] == pytest.approx(0.9636, abs=0.00005)
    assert r["hotline"]["hot_topics_total"] == want["hot_topics_total"] == 40
    para = r["hotline"]["paragraph"]
    assert "受理群众来电诉求60件次" in para and "办结率95%" in para and "回访率100%" in para
    assert "满意率96.36%" in para and "拆迁补偿17件、物业管理13件、办理证照10件" in para
    html = render(r, "html").decode()
    for heading in ("一、概述", "二、主动公开政府信息情况", "三、依申请公开政府信息情况", "四、政府信息公开相关费用情况",
                    "五、因政府信息公开申请行政复议和诉讼申诉情况", "六、政府信息公开中存在的问题及改进措施"):
        assert heading in html
    assert r["problems"] == []


async def test_the_current_format_has_six_sections_and_every_row(database: Database) -> None:
    r = await annual_report(database, 2025, now=NOW)
    html = render(r, "html").decode()
    md = render(r, "md").decode()
    for out in (html, md):
        pos = [out.index(h) for h in ("一、总体情况", "二、主动公开政府信息情况", "三、收到和处理政府信息公开申请情况",
                                      "四、政府信息公开行政复议、行政诉讼情况", "五、存在的主要问题及改进情况",
                                      "六、其他需要报告的事项")]
        assert pos == sorted(pos)
        for row in annual.TABLE3.rows:
            assert row.label in out, row.label
        for label in ("规章", "行政规范性文件", "行政许可", "行政处罚", "行政强制", "行政事业性收费", "本年收费金额（单位：万元）",
                      "未经复议直接起诉" if out is html else "行政诉讼（未经复议直接起诉）", "尚未审结"):
            assert label in out, label
    assert html.count('data-source="missing"') == r["sources"]["cells"]


async def test_monthly_and_quarterly_summaries(database: Database) -> None:
    await build(database)
    assert month_bounds("2025-12")[:2] == (date(2025, 12, 1), date(2025, 12, 31))
    assert month_bounds("2024-02")[:2] == (date(2024, 2, 1), date(2024, 2, 29))
    assert quarter_bounds("2025Q4") == (date(2025, 10, 1), date(2025, 12, 31), "2025年第四季度")
    assert quarter_bounds("2025q1")[:2] == (date(2025, 1, 1), date(2025, 3, 31))
    for bad in ("2025Q5", "2025-13", "x"):
        with pytest.raises(Invalid):
            (quarter_bounds if "Q" in bad else month_bounds)(bad)
    d0, d1, label = month_bounds("2025-12")
    s = await summary(database, d0, d1, label=label, now=NOW)
    c = s["hotline"]["metrics"]["cases"]
    assert c["registered"] == 2 and c["resolved"] == 2  # A and D2, both resolved on 2 January
    assert s["title"] == "12345热线2025年12月工作情况汇总" and s["problems"] == []
    q = await summary(database, *quarter_bounds("2025Q2")[:2], label="2025年第二季度", now=NOW)
    assert q["hotline"]["metrics"]["cases"]["registered"] == 3  # J E D5 (F D4 are duplicates)
    for fmt in ("html", "md", "json"):
        out = render(q, fmt).decode()
        assert "2025年第二季度" in out
    wb = load_workbook(io.BytesIO(render(q, "xlsx")))
    assert wb.sheetnames == ["概况", "热线分类", "质检"]  # the summary carries the month's 质检 (issue 18)


async def test_the_xlsx_gives_times_in_beijing_time_and_real_links_only_with_a_public_url(database: Database) -> None:
    await build(database)
    r = await annual_report(database, 2025, now=datetime(2026, 12, 2, 4, 7, 6, 504088, tzinfo=UTC))
    wb = load_workbook(io.BytesIO(render(r, "xlsx")))
    head = wb["概况"]["A2"].value
    assert "数据截至 2026-12-02 12:07（北京时间）" in head and "+00:00" not in head and "T04" not in head
    # no public URL configured: no link, and no relative URL posing as one
    rows = list(wb["概况"].iter_rows(min_row=1))
    details = [row[3] for row in rows if row[0].value == "受理量"]
    assert details and details[0].value is None and details[0].hyperlink is None
    wb = load_workbook(io.BytesIO(render(r, "xlsx", "https://12345.example.gov.cn/")))
    [cell] = [row[3] for row in wb["概况"].iter_rows() if row[0].value == "受理量"]
    assert cell.value == "查看明细"
    assert cell.hyperlink.target.startswith("https://12345.example.gov.cn/reports/drill?figure=registered&")
    links = [c.hyperlink.target for row in wb["热线分类"].iter_rows(min_row=2) for c in row if c.hyperlink]
    assert links and all(u.startswith("https://12345.example.gov.cn/reports/drill?") for u in links)
