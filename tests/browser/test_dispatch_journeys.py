"""Dispatch, supervision and callbacks in a real headless Chromium (issue 13): a supervisor sees
notices of every kind and works the 退单待审核 queue; an operator records a 催办 from a screen
pop and the department sees it; a reopened case shows its new deadline; the callbacks page's
tabs and paging; the wall full-screen at 1920×1080 without a scrollbar, a figure → its drill
list → a case."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from tests.browser.conftest import Live, shot, sign_in

pytestmark = pytest.mark.browser
CST = timezone(timedelta(hours=8))


def people(live: Live) -> dict[str, Any]:
    from callcenter.people.auth import actor_of
    from callcenter.store.models import User

    async def go() -> dict[str, Any]:
        async with live.app.state.db.session() as s:
            return {u.username: actor_of(u) for u in (await s.scalars(select(User))).all()}

    return live.run(go())  # type: ignore[no-any-return]


def new_case(live: Live, at: datetime | None = None, **kw: Any) -> str:
    from callcenter.cases import services

    p = people(live)
    data = dict(kind="complaint", category="物业管理", content="小区电梯长期故障无人维修", caller_phone="13812345678",
                caller_name="王小明") | kw
    t = live.run(services.register(live.app.state.db, p["lina"], services.NewTicket(**data), now=at))  # type: ignore[arg-type]
    return str(t.number)


def act(live: Live, who: str, number: str, action: str, params: dict[str, Any] | None = None,
        at: datetime | None = None) -> Any:
    from callcenter.cases import services

    return live.run(services.act(live.app.state.db, people(live)[who], number, action, None, params or {}, at))


def test_a_supervisor_sees_notices_of_every_kind_and_works_the_return_queue(chromium: Browser, live: Live) -> None:
    from callbacks import deadlines

    def cst(*a: int) -> datetime:
        return datetime(*a, tzinfo=CST)  # type: ignore[misc]

    soon = new_case(live, cst(2026, 3, 10, 9, 0), content="楼道灯坏了")
    act(live, "lina", soon, "dispatch", {"department": "zjj"}, cst(2026, 3, 10, 9, 5))
    act(live, "zhangwei", soon, "accept", {}, cst(2026, 3, 10, 9, 30))
    late = new_case(live, cst(2026, 3, 2, 9, 0), content="垃圾站臭气")
    act(live, "lina", late, "dispatch", {"department": "zjj"}, cst(2026, 3, 2, 9, 5))
    unaccepted = new_case(live, cst(2026, 3, 17, 8, 40), content="路灯不亮")
    act(live, "lina", unaccepted, "dispatch", {"department": "zjj"}, cst(2026, 3, 17, 9, 0))
    ext = new_case(live, cst(2026, 3, 12, 9, 0), content="加装电梯")
    act(live, "lina", ext, "dispatch", {"department": "zjj"}, cst(2026, 3, 12, 9, 5))
    act(live, "zhangwei", ext, "accept", {}, cst(2026, 3, 12, 9, 30))
    act(live, "zhangwei", ext, "request_extension", {"until": cst(2026, 3, 26, 17, 30), "reason": "需协调供电部门"},
        cst(2026, 3, 16, 10, 0))
    done = new_case(live, cst(2026, 3, 11, 9, 0), content="噪音扰民")
    act(live, "lina", done, "dispatch", {"department": "zjj"}, cst(2026, 3, 11, 9, 5))
    act(live, "zhangwei", done, "accept", {}, cst(2026, 3, 11, 9, 30))
    act(live, "zhangwei", done, "resolve", {"resolution": "已处理"}, cst(2026, 3, 12, 10, 0))
    chased = new_case(live, cst(2026, 3, 16, 9, 0), content="占道经营")
    act(live, "lina", chased, "dispatch", {"department": "zjj"}, cst(2026, 3, 16, 9, 5))
    act(live, "lina", chased, "chase", {"note": "市民称没人联系"}, cst(2026, 3, 17, 9, 0))
    act(live, "lina", chased, "chase", {}, cst(2026, 3, 17, 11, 0))
    returned = new_case(live, cst(2026, 3, 17, 10, 0), content="河道垃圾")
    act(live, "lina", returned, "dispatch", {"department": "zjj"}, cst(2026, 3, 17, 10, 5))
    act(live, "zhangwei", returned, "return", {"reason": "属水务局职责"}, cst(2026, 3, 17, 11, 0))
    assert live.run(deadlines.check_deadlines(live.app.state.db, cst(2026, 3, 17, 16, 0))) is True

    sup = sign_in(chromium, live, "chenjing")
    expect(sup.locator("#notice-badge")).to_be_visible(timeout=5_000)
    sup.click("#nav-notices")
    main = sup.locator("main")
    for label in ("到期提醒", "超期", "督办", "签收超期", "延期待批", "回访超期", "催办"):
        expect(main.locator(".notice-row .badge", has_text=label).first).to_be_visible()
    for number in (soon, late, unaccepted, ext, done, chased):
        expect(main).to_contain_text(number)
    shot(sup, "notices-supervisor-every-kind")

    # 调度: the badge counts the queues; 退单待审核 holds the returned case
    expect(sup.locator("#queue-badge")).to_be_visible(timeout=5_000)
    sup.click("#nav-queues")
    sup.click("#queue-tabs >> text=退单待审核")
    row = sup.locator(f"tr[data-number='{returned}']")
    expect(row).to_contain_text("属水务局职责")
    expect(row.locator(".countdown")).to_be_visible()
    shot(sup, "queue-returned")
    row.locator("button:has-text('不同意退单')").click()  # no reason: the browser asks for none, the server does
    expect(sup.locator("#queue-error")).to_contain_text("不同意退单须填写理由")
    row = sup.locator(f"tr[data-number='{returned}']")
    row.locator("input[name=reason]").fill("河道保洁属住建局市政维护范围")
    row.locator("button:has-text('不同意退单')").click()
    expect(sup.locator(".flash")).to_contain_text("已退回原承办单位")
    expect(sup.locator(f"tr[data-number='{returned}']")).to_have_count(0)
    sup.goto(f"{live.base}/cases/{returned}")
    expect(sup.locator("#case-status")).to_have_text("已派单")
    expect(sup.locator("main")).to_contain_text("不同意退单：河道保洁属住建局市政维护范围")


def test_an_operator_records_a_chase_from_the_screen_pop_and_the_department_sees_it(
    chromium: Browser, live: Live
) -> None:
    number = new_case(live, caller_phone="13912345678", content="小区门口路灯坏了两周")
    act(live, "lina", number, "dispatch", {"department": "zjj"})
    lina = sign_in(chromium, live, "lina")
    expect(lina.locator("#conn")).to_have_class(re.compile(r"\bon\b"), timeout=10_000)
    live.call(live.sim.inbound_call, "13912345678")
    expect(lina.locator("#pop")).to_be_visible(timeout=15_000)
    hist = lina.locator("#history")
    row = hist.locator(f"tr[data-number='{number}']")
    expect(row).to_be_visible(timeout=10_000)
    typed = "市民再次来电"
    lina.fill("#f-name", typed)  # the registration form keeps what was typed: 催办 reloads only the history
    row.locator("button.chase").click()
    expect(hist.locator("#chase-done")).to_contain_text(f"已记录催办：工单 {number}（第 1 次）")
    expect(hist.locator(f"tr[data-number='{number}'] .badge.chase")).to_have_text("催 1")
    expect(lina.locator("#f-name")).to_have_value(typed)
    shot(lina, "chase-from-screen-pop")

    clerk = sign_in(chromium, live, "zhangwei")
    expect(clerk.locator(f"tr[data-number='{number}'] .badge.chase")).to_contain_text("催 1")
    expect(clerk.locator("#notice-badge")).to_be_visible(timeout=5_000)
    clerk.click("#nav-notices")
    expect(clerk.locator("main")).to_contain_text(f"催办：市民再次来电催问工单 {number}（第 1 次）")
    clerk.goto(f"{live.base}/cases/{number}")
    expect(clerk.locator("#chase-count")).to_have_text("催办 1 次")
    shot(clerk, "chase-seen-by-department")


def test_a_reopened_case_shows_its_new_deadline(chromium: Browser, live: Live) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=40)
    number = new_case(live, long_ago, content="楼上漏水")
    act(live, "lina", number, "dispatch", {"department": "zjj"}, long_ago + timedelta(minutes=5))
    act(live, "zhangwei", number, "accept", {}, long_ago + timedelta(minutes=30))
    act(live, "zhangwei", number, "resolve", {"resolution": "已维修"}, long_ago + timedelta(days=1))
    act(live, "lina", number, "callback", {"outcome": "dissatisfied", "words": "还在漏"})
    clerk = sign_in(chromium, live, "zhangwei")
    clerk.goto(f"{live.base}/cases/{number}")
    expect(clerk.locator("#case-status")).to_have_text("重办")
    head = clerk.locator("tr", has=clerk.locator("#due-at"))
    expect(head).to_contain_text("办结期限（重办）")
    expect(clerk.locator("#due-at .countdown")).to_contain_text("剩余")
    expect(clerk.locator("#due-at .countdown")).not_to_contain_text("超期")
    shot(clerk, "reopened-new-deadline")


def test_the_callbacks_page_has_tabs_and_pages(chromium: Browser, live: Live) -> None:
    from callcenter.store.models import Callback, CallbackKind, CallbackTaskStatus

    now = datetime.now(UTC)

    async def tasks() -> None:
        async with live.app.state.db.transaction() as s:
            for i in range(60):  # 60 overdue 回拨, 3 more due later today, 2 tomorrow or later
                s.add(Callback(kind=CallbackKind.missed, phone=f"1590731{i:04d}", phone_norm=f"+861590731{i:04d}",
                               status=CallbackTaskStatus.pending, due_at=now - timedelta(hours=1, minutes=i),
                               attempts=0, idempotency_key=f"b-over-{i}", created_at=now))
            end_of_day = datetime.combine((now + timedelta(hours=8)).date() + timedelta(days=1), datetime.min.time(),
                                          CST)
            for i in range(3):
                due = min(now + timedelta(minutes=10 + i), end_of_day - timedelta(minutes=1 + i))
                s.add(Callback(kind=CallbackKind.missed, phone=f"1370731{i:04d}", phone_norm=f"+861370731{i:04d}",
                               status=CallbackTaskStatus.pending, due_at=due, attempts=0,
                               idempotency_key=f"b-today-{i}", created_at=now))
            for i in range(2):
                s.add(Callback(kind=CallbackKind.missed, phone=f"1350731{i:04d}", phone_norm=f"+861350731{i:04d}",
                               status=CallbackTaskStatus.pending, due_at=end_of_day + timedelta(hours=2 + i),
                               attempts=0, idempotency_key=f"b-later-{i}", created_at=now))

    live.run(tasks())
    lina = sign_in(chromium, live, "lina")
    lina.click("nav >> text=回访/回拨")
    expect(lina.locator("#cb-tabs .tab.active")).to_contain_text("今日到期")  # today's first
    expect(lina.locator("#cb-count-today")).to_have_text("3")
    expect(lina.locator("#cb-count-overdue")).to_have_text("60")
    expect(lina.locator("#cb-count-all")).to_have_text("65")
    expect(lina.locator("tr.cb-row")).to_have_count(3)
    lina.click("#cb-tabs >> text=超期")
    expect(lina.locator("tr.cb-row")).to_have_count(50)
    # newest due first within the tab: the task due an hour ago before the one due two hours ago
    phones = lina.locator("tr.cb-row td:nth-child(3)").all_inner_texts()
    assert phones[0].startswith("159****") and len(phones) == 50
    expect(lina.locator("#cb-pager")).to_contain_text("第 1 / 2 页")
    shot(lina, "callbacks-overdue-page-1")
    lina.click("#cb-next")
    expect(lina.locator("tr.cb-row")).to_have_count(10)
    expect(lina.locator("#cb-pager")).to_contain_text("第 2 / 2 页")
    # the outcome form is opened per task
    assert lina.locator("form.cb-outcome").count() == 0
    lina.locator("tr.cb-row a.cb-open").first.click()
    expect(lina.locator("form.cb-outcome")).to_have_count(1)
    expect(lina.locator("#cb-script")).to_contain_text("12345")
    shot(lina, "callbacks-task")


def test_the_wall_full_screen_fits_1920x1080_and_a_figure_leads_to_a_case(chromium: Browser, live: Live) -> None:
    numbers = [new_case(live, content=f"诉求 {i}", category=("物业管理", "城市管理", "环境保护")[i % 3]) for i in range(7)]
    act(live, "lina", numbers[0], "answer", {"answer": "已当场答复"})
    sup = sign_in(chromium, live, "chenjing")
    sup.goto(f"{live.base}/wall")
    sup.click("#screen-link")
    expect(sup).to_have_url(re.compile(r"/wall/screen$"))
    for size in ((1920, 1080), (3840, 2160)):
        sup.set_viewport_size({"width": size[0], "height": size[1]})
        sup.wait_for_timeout(300)
        dims = sup.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight,"
                            " window.innerWidth, window.innerHeight]")
        assert dims[0] <= dims[2] and dims[1] <= dims[3], dims  # no scrollbar
        assert sup.locator("header.top").count() == 0  # no console menu
        for sel in ("#fig-answer-rate", "#fig-15s", "#fig-completion", "#fig-callback", "#fig-satisfaction",
                    "#fig-overdue", "#curve", "#top-categories", "#seats"):
            box = sup.locator(sel).bounding_box()
            assert box and box["y"] + box["height"] <= size[1] + 1 and box["x"] + box["width"] <= size[0] + 1, sel
        shot(sup, f"wall-screen-{size[0]}x{size[1]}", full=False)
    expect(sup.locator("#fig-registered b")).to_have_text("7", timeout=10_000)
    sup.set_viewport_size({"width": 1920, "height": 1080})
    sup.click("#fig-registered")
    expect(sup.locator("#drill-title")).to_contain_text("受理量")
    expect(sup.locator("#drill-count")).to_contain_text("共 7 件工单")
    expect(sup.locator("header.top")).to_be_visible()  # styled like the console
    shot(sup, "drill-registered")
    sup.locator(f"table.drill a:has-text('{numbers[3]}')").click()
    expect(sup).to_have_url(re.compile(rf"/cases/{numbers[3]}$"))
    expect(sup.locator("h1")).to_contain_text(numbers[3])
