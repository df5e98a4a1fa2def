"""The operator's call (issue 12) in a real headless Chromium at 1366×768 against a running
server: a second call during typing opens a second card and leaves the form alone; a refused
and an expired submit keep every field; a triple click and back-and-submit make one case; a
hand-picked department survives edits while the 属地 suggestion shows beside it with its rule;
a knowledge-base answer without a phone is refused; the saved number stays on screen, grouped,
with a copy button. No JavaScript error on any of it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import Live, shot, sign_in

pytestmark = pytest.mark.browser
CONTENT = "小区电梯三天两头坏，物业拖着不修"


def _errors(page: Any) -> list[str]:
    errs: list[str] = []
    page.on("pageerror", lambda e: errs.append(str(e)))
    return errs


def _pop(live: Live, linkedid: str, number: str) -> None:
    """call.answered for seat 8001 as the adapter publishes it (a PBX that did not hold the
    seat back: the call reaches the form however busy it is)."""
    from callcenter.store.models import utcnow

    live.run(live.app.state.bus.publish("call.answered", {
        "linkedid": linkedid, "seat": "8001", "caller_number": number, "answered_at": utcnow().isoformat(),
        "line": 1, "queue": "hotline", "direction": "in"}))


async def _count(live: Live) -> int:
    from sqlalchemy import func, select

    from callcenter.store.models import Ticket

    async with live.app.state.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(Ticket))).scalar_one())


async def _kb(live: Live) -> None:
    from callcenter.kb import services as kb
    from tests.conftest import FIXTURES

    await kb.import_file(live.app.state.db, FIXTURES / "samples" / "kb-entries.csv")


def test_a_second_call_during_typing_opens_a_second_card(chromium: Browser, live: Live) -> None:
    lina = sign_in(chromium, live, "lina")
    errs = _errors(lina)
    expect(lina.locator("#conn")).to_have_class(re.compile(r"\bon\b"), timeout=10_000)
    _pop(live, "call-1", "13811112222")
    expect(lina.locator("#f-phone")).to_have_value("13811112222", timeout=10_000)
    lina.fill("#f-name", "刘先生")
    lina.fill("#f-content", CONTENT)
    _pop(live, "call-2", "13933334444")
    card = lina.locator('#waiting-calls [data-linkedid="call-2"]')
    expect(card).to_be_visible(timeout=10_000)
    expect(card).to_contain_text("13933334444")
    # the form being typed is untouched: caller 1's number, name, content, call id
    expect(lina.locator("#f-phone")).to_have_value("13811112222")
    expect(lina.locator("#f-name")).to_have_value("刘先生")
    expect(lina.locator("#f-content")).to_have_value(CONTENT)
    expect(lina.locator("#f-linkedid")).to_have_value("call-1")
    shot(lina, "opcall-second-card")
    card.locator(".cc-take").click()  # refused while the form is busy
    expect(lina.locator("#submit-state")).to_contain_text("请先保存或放弃当前登记")
    lina.select_option("#f-category", "物业管理")
    lina.click("#btn-save")
    lina.wait_for_url(re.compile(r"/operator$"))
    # saved: the waiting call comes into the empty form by itself
    expect(lina.locator("#f-phone")).to_have_value("13933334444", timeout=10_000)
    expect(lina.locator("#f-linkedid")).to_have_value("call-2")
    expect(lina.locator("#f-name")).to_have_value("")
    assert live.run(_count(live)) == 1
    assert not errs, errs


def test_refused_and_expired_submits_keep_every_field(chromium: Browser, live: Live) -> None:
    lina = sign_in(chromium, live, "lina")
    errs = _errors(lina)
    lina.fill("#f-phone", "abc")
    lina.fill("#f-name", "刘先生")
    lina.fill("#f-address", "和平街道幸福小区3栋")
    lina.select_option("#f-category", "物业管理")
    lina.fill("#f-content", CONTENT)
    lina.check("#f-urgent")
    lina.click("#btn-save")
    expect(lina.locator("#err-caller_phone")).to_contain_text("来电号码“abc”不是有效的电话号码")
    for sel, v in (("#f-phone", "abc"), ("#f-name", "刘先生"), ("#f-address", "和平街道幸福小区3栋"),
                   ("#f-content", CONTENT), ("#f-category", "物业管理")):
        expect(lina.locator(sel)).to_have_value(v)
    expect(lina.locator("#f-urgent")).to_be_checked()
    shot(lina, "opcall-refused")
    # the session expires (signed out elsewhere) while the operator fixes the number
    lina.fill("#f-phone", "13811112222")
    lina.wait_for_timeout(3500)  # an autosave passes
    lina.context.clear_cookies()
    lina.click("#btn-save")
    lina.wait_for_url(re.compile(r"/login"))
    expect(lina.locator("body")).to_contain_text("会话已失效")
    lina.fill("input[name=username]", "lina")
    from tests.console_people import PASSWORD

    lina.fill("input[name=password]", PASSWORD)
    lina.click("button[type=submit]")
    lina.wait_for_url(re.compile(r"/operator$"))
    for sel, v in (("#f-phone", "13811112222"), ("#f-name", "刘先生"), ("#f-content", CONTENT),
                   ("#f-category", "物业管理")):
        expect(lina.locator(sel)).to_have_value(v)
    assert live.run(_count(live)) == 0
    lina.click("#btn-save")
    lina.wait_for_url(re.compile(r"/operator$"))
    assert live.run(_count(live)) == 1
    assert not errs, errs


def test_a_triple_click_and_back_and_submit_make_one_case(chromium: Browser, live: Live) -> None:
    lina = sign_in(chromium, live, "lina")
    errs = _errors(lina)
    lina.fill("#f-phone", "13811112222")
    lina.select_option("#f-category", "物业管理")
    lina.fill("#f-content", CONTENT)
    lina.locator("#btn-save").click(click_count=3, delay=20)
    lina.wait_for_url(re.compile(r"/operator$"))
    expect(lina.locator("#last-case")).to_be_visible()
    assert live.run(_count(live)) == 1
    lina.go_back()
    lina.wait_for_load_state("domcontentloaded")
    if lina.locator("#btn-save").is_enabled():
        lina.click("#btn-save")
        lina.wait_for_load_state("domcontentloaded")
    assert live.run(_count(live)) == 1
    assert not errs, errs


def test_the_hand_picked_department_survives_and_the_place_rule_is_shown(chromium: Browser, live: Live) -> None:
    lina = sign_in(chromium, live, "lina")
    errs = _errors(lina)
    lina.select_option("#f-category", "物业管理")
    lina.fill("#f-address", "和平街道幸福小区3栋")
    lina.fill("#f-content", CONTENT)
    expect(lina.locator("#f-department")).to_have_value("hpjd", timeout=10_000)  # 属地 → 和平街道办事处
    expect(lina.locator("#suggest-note")).to_contain_text("和平街道办事处")
    expect(lina.locator("#suggest-note")).to_contain_text("属地 和平街道")
    lina.select_option("#f-department", "zjj")  # the operator knows better
    lina.fill("#f-content", CONTENT + "，楼道也没有灯")
    lina.fill("#f-address", "和平街道幸福小区5栋")
    lina.wait_for_timeout(1200)
    expect(lina.locator("#f-department")).to_have_value("zjj")
    expect(lina.locator("#suggest-note")).to_contain_text("推荐：和平街道办事处")
    shot(lina, "opcall-department")
    lina.fill("#f-phone", "13811112222")
    lina.click("#btn-dispatch")
    lina.wait_for_url(re.compile(r"/operator$"))
    expect(lina.locator(".flash.ok")).to_contain_text("住房和城乡建设局")
    assert not errs, errs


def test_a_kb_answer_without_a_phone_is_refused_and_the_number_is_read_back(chromium: Browser, live: Live) -> None:
    live.run(_kb(live))
    lina = sign_in(chromium, live, "lina")
    errs = _errors(lina)
    lina.fill("#f-name", "刘先生")
    lina.fill("#f-content", "电梯坏了物业不修")
    use = lina.locator(".kb-use.primary").first
    expect(use).to_be_visible(timeout=15_000)
    use.click()
    expect(lina.locator("#err-caller_phone")).to_contain_text("请填写来电号码，或勾选“不需回访”")
    expect(lina.locator("#f-name")).to_have_value("刘先生")
    expect(lina.locator("#f-content")).to_have_value("电梯坏了物业不修")
    assert live.run(_count(live)) == 0
    lina.fill("#f-phone", "13811112222")
    use = lina.locator(".kb-use.primary").first
    expect(use).to_be_visible(timeout=15_000)
    use.click()
    lina.wait_for_url(re.compile(r"/operator$"))
    assert live.run(_count(live)) == 1
    number = lina.locator("#last-case-number")
    expect(number).to_have_text(re.compile(r"^GD \d{8} \d{4}$"))
    lina.context.grant_permissions(["clipboard-read", "clipboard-write"])
    lina.click("#copy-case")
    expect(lina.locator("#copy-note")).to_contain_text("已复制 GD")
    shot(lina, "opcall-number")
    lina.reload()
    expect(lina.locator("#last-case-number")).to_have_text(re.compile(r"^GD \d{8} \d{4}$"))
    # the next call takes its place
    _pop(live, "call-9", "13955556666")
    expect(lina.locator("#f-phone")).to_have_value("13955556666", timeout=10_000)
    expect(lina.locator("#last-case")).to_be_hidden()
    assert not errs, errs
