"""The console's main journeys in a real headless Chromium against a running server.

A call starts in the PBX simulator, travels as AMI over TCP through the adapter and the bus
to the operator's browser (SSE) — the test never publishes on the bus itself.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Live, shot, sign_in

pytestmark = pytest.mark.browser




def live_tz():  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")


def int_text(page: Page, sel: str) -> int:
    return int(page.locator(sel).inner_text().strip() or 0)


@pytest.mark.parametrize("live", ["sqlite", pytest.param("pg", marks=pytest.mark.pg)], indirect=True)
def test_a_call_pops_is_dispatched_resolved_and_the_wall_follows(chromium: Browser, live: Live) -> None:
    lina = sign_in(chromium, live, "lina")
    expect(lina).to_have_url(re.compile(r"/operator$"))
    expect(lina.locator("#conn")).to_have_class(re.compile(r"\bon\b"), timeout=10_000)  # SSE connected

    wall = sign_in(chromium, live, "chenjing")
    expect(wall).to_have_url(re.compile(r"/wall$"))
    expect(wall.locator("#conn")).to_have_class(re.compile(r"\bon\b"), timeout=10_000)
    wall.evaluate("window.__noReload = 42")
    offered0, registered0 = int_text(wall, "#calls-offered"), int_text(wall, "#today-registered")
    expect(wall.locator("[data-k='board.ready']")).to_have_text("1", timeout=10_000)  # 李娜's page is open

    # the citizen calls: simulator → AMI over TCP → adapter → bus → SSE → the operator's browser
    t0 = time.monotonic()
    live.call(live.sim.inbound_call, "13812345678")
    expect(lina.locator("#pop")).to_be_visible(timeout=15_000)
    pop_s = time.monotonic() - t0
    expect(lina.locator("#pop-number")).to_have_text("13812345678")
    expect(lina.locator("#f-phone")).to_have_value("13812345678")
    expect(lina.locator("#f-time")).not_to_have_value("")
    expect(lina.locator("#history")).to_contain_text("13812345678")
    expect(wall.locator("[data-k='board.busy']")).to_have_text("1", timeout=10_000)

    # 来电登记 and 派单 with the suggested department
    lina.fill("#f-name", "王小明")
    lina.fill("#f-address", "响水路 18 号 3 栋")
    lina.select_option("#f-kind", "complaint")
    lina.select_option("#f-category", "物业管理")
    lina.fill("#f-content", "小区电梯坏了一周，物业公司一直不修，老人上下楼困难。")
    lina.locator("#f-name").click()  # blur the content: routing suggests
    expect(lina.locator("#suggest-note")).to_contain_text("住房和城乡建设局", timeout=5_000)
    expect(lina.locator("#f-department")).to_have_value("zjj")
    shot(lina, "01-operator-screen-pop")
    lina.click("#btn-dispatch")
    flash = lina.locator(".flash.ok")
    expect(flash).to_contain_text("已登记并派单至 住房和城乡建设局")
    number = re.search(r"GD\d{8}-\d{4}", flash.inner_text()).group(0)  # type: ignore[union-attr]

    # the wall moves without a reload
    expect(wall.locator("#today-registered")).to_have_text(str(registered0 + 1), timeout=15_000)
    expect(wall.locator("#calls-offered")).to_have_text(str(offered0 + 1), timeout=15_000)
    assert wall.evaluate("window.__noReload") == 42
    shot(wall, "02-supervisor-wall")

    # the clerk of 住建局 accepts and resolves it
    zhang = sign_in(chromium, live, "zhangwei")
    expect(zhang).to_have_url(re.compile(r"/clerk$"))
    row = zhang.locator(f"tr[data-number='{number}']")
    expect(row).to_contain_text("已派单")
    expect(row.locator(".countdown")).to_contain_text("剩余")
    shot(zhang, "03-clerk-inbox")
    row.locator("a").first.click()
    expect(zhang.locator("#caller-name")).to_have_text("王小明")  # a complaint: the department may contact
    zhang.locator("#act-accept button").click()
    expect(zhang.locator("#case-status")).to_have_text("已签收")
    zhang.fill("#act-resolve textarea[name=resolution]", "已督促物业公司当日修复电梯，并回复市民。")
    zhang.locator("#act-resolve button").click()
    expect(zhang.locator("#case-status")).to_have_text("已办结")
    expect(zhang.locator("#resolution")).to_contain_text("已督促物业公司")
    shot(zhang, "04-case-resolved")
    expect(wall.locator("[data-k='periods.today.resolved']")).to_have_text("1", timeout=15_000)
    assert wall.evaluate("window.__noReload") == 42
    # today's rates per department and per category count the resolved case
    wall.select_option("#chart-period", "today")
    for table, key in (("#tbl-department-rates", "住房和城乡建设局"), ("#tbl-category-rates", "物业管理")):
        cells = wall.locator(f"{table} tr", has_text=key).locator("td")
        expect(cells.nth(2)).to_have_text("1", timeout=15_000)  # 办结
        expect(cells.nth(3)).to_have_text("100.0%")  # 办结率

    # the case is linked to its call (来电 → 工单)
    from sqlalchemy import create_engine, text

    eng = create_engine(live.db_url)
    with eng.connect() as c:
        call_id = c.execute(text("SELECT call_id FROM tickets WHERE number = :n"), {"n": number}).scalar_one()
        assert call_id is not None
    eng.dispose()

    # another department's clerk: 403 for the case URL
    wang = sign_in(chromium, live, "wangfang")
    resp = wang.goto(f"{live.base}/cases/{number}")
    assert resp is not None and resp.status == 403
    expect(wang.locator("h1")).to_contain_text("无权访问")
    shot(wang, "05-other-department-403")

    # a 干部举报 registered by the operator: the department never sees the caller
    lina.select_option("#f-kind", "report")
    expect(lina.locator("#f-confidential")).to_be_checked()
    lina.fill("#f-phone", "13912345678")
    lina.fill("#f-name", "举报人甲")
    lina.select_option("#f-category", "物业管理")
    lina.fill("#f-content", "某科长收受物业公司好处，放任违规收费。")
    lina.select_option("#f-department", "zjj")
    lina.click("#btn-dispatch")
    report = re.search(r"GD\d{8}-\d{4}", lina.locator(".flash.ok").inner_text()).group(0)  # type: ignore[union-attr]
    zhang.goto(f"{live.base}/clerk")
    expect(zhang.locator(f"tr[data-number='{report}']")).to_contain_text("（保密）")
    for url in ("/clerk", f"/cases/{report}", f"/cases/{report}/print", "/cases?q=科长"):
        zhang.goto(live.base + url)
        html = zhang.content()
        assert "举报人甲" not in html and "13912345678" not in html and "139****5678" not in html, url
    zhang.goto(f"{live.base}/cases/{report}")
    expect(zhang.locator("#caller-name")).to_contain_text("保密")
    shot(zhang, "06-clerk-whistleblower-masked")

    # a form without its CSRF token is refused
    zhang.evaluate("document.querySelector('#act-accept input[name=csrf_token]').remove()")
    zhang.locator("#act-accept button").click()
    expect(zhang.locator("h1")).to_contain_text("403")
    expect(zhang.locator("body")).to_contain_text("安全令牌")
    zhang.goto(f"{live.base}/cases/{report}")
    expect(zhang.locator("#case-status")).to_have_text("已派单")  # nothing happened

    # the clerk asks for an extension; the supervisor approves it from the wall
    from datetime import datetime, timedelta

    due = datetime.fromisoformat(zhang.locator(".countdown").last.get_attribute("data-due") or "")
    until = (due.astimezone(live_tz()) + timedelta(days=3)).date().isoformat()
    zhang.fill("#act-request_extension input[name=until]", until)
    zhang.fill("#act-request_extension input[name=reason]", "需调取物业收费账目，时间较长")
    zhang.locator("#act-request_extension button").click()
    expect(zhang.locator(".flash.ok")).to_contain_text("申请延期完成")
    expect(wall.locator("#due")).to_contain_text(report, timeout=15_000)  # the due list follows live
    assert wall.evaluate("window.__noReload") == 42
    shot(wall, "07-supervisor-wall-due")
    wall.locator("#due form:has(input[value=decide_extension]) button[value='1']").first.click()
    expect(wall.locator(".flash.ok")).to_contain_text("延期审批完成")

    # the operator pauses: the request goes out on the bus for telephony (no AMI from the web)
    lina.click("#toggle-ready")
    expect(lina.locator("#seat-state")).to_have_text("示忙")

    # the supervisor's due list, print views and the admin pages
    expect(wall.locator("[data-k='periods.year.registered']")).to_have_text("2", timeout=15_000)
    expect(wall.locator("#due")).to_contain_text("无待审批的延期申请")
    shot(wall, "08-supervisor-wall-after")
    lina.goto(f"{live.base}/print/day")
    expect(lina.locator("table.paper-form")).to_contain_text(number)
    lina.emulate_media(media="print")
    shot(lina, "09-print-day")
    lina.goto(f"{live.base}/cases/{number}/print")
    shot(lina, "10-print-case")
    adm = sign_in(chromium, live, "admin")
    expect(adm).to_have_url(re.compile(r"/admin$"))
    expect(adm.locator("#users")).to_contain_text("lina")
    shot(adm, "11-admin")
    print(f"screen pop after {pop_s * 1000:.0f} ms (placing the call → visible in the browser)")
    for p in (lina, wall, zhang, wang, adm):
        p.context.close()


async def _some_cases(live: Live) -> None:
    """A few cases in two categories and departments, so the wall's charts and tables have rows."""
    from sqlalchemy import select

    from callcenter.cases import services
    from callcenter.people.auth import actor_of
    from callcenter.store.models import Kind, User

    db = live.app.state.db
    async with db.session() as s:
        lina = actor_of((await s.execute(select(User).where(User.username == "lina"))).scalar_one())
    for category, department, n in (("物业管理", "zjj", 3), ("城市管理", "cgj", 2)):
        for i in range(n):
            t = await services.register(db, lina, services.NewTicket(
                kind=Kind.complaint, category=category, content=f"测试诉求 {category} {i}", source="phone"))
            await services.act(db, lina, t.number, "dispatch", None, {"department": department})


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080), (3840, 2160)], ids=["laptop", "full-hd-wall", "4k-wall"])
def test_the_wall_fits_a_laptop_and_wall_screens(chromium: Browser, live: Live, size: tuple[int, int]) -> None:
    width, height = size
    live.run(_some_cases(live))
    wall = sign_in(chromium, live, "chenjing")
    wall.set_viewport_size({"width": width, "height": height})
    expect(wall.locator("#conn")).to_have_class(re.compile(r"\bon\b"), timeout=10_000)
    expect(wall.locator("#today-registered")).to_have_text("5")
    # this year's figures and this month's rates are refreshed behind the wall (at most every
    # 5 / 10 s) and pushed when they land
    expect(wall.locator("[data-k='periods.year.registered']")).to_have_text("5", timeout=12_000)
    expect(wall.locator("#tbl-department-rates")).to_contain_text("住房和城乡建设局", timeout=15_000)
    # nothing sideways: the page is as wide as the screen
    assert wall.evaluate("document.documentElement.scrollWidth") <= width
    # the figures grow with the screen: readable from across the room
    figure_px = float(wall.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('#calls-offered')).fontSize)"))
    assert figure_px >= {1366: 26, 1920: 40, 3840: 70}[width], figure_px
    shot(wall, f"wall-{width}x{height}", full=False)
