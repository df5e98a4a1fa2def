"""The knowledge base learns how callers talk (issue 16), in a real headless Chromium against a
running server: the operator searches the caller's own words, finds the entry only after adding
a word of her own, answers the call with it; the search text is proposed to the entry's
department (住建局), whose clerk publishes it on /kb/phrasings (another department's clerk does
not see it); from then on the caller's words alone find the entry first. Near-duplicate
entries in the suggestions show what tells them apart (区别)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import Live, shot, sign_in
from tests.conftest import FIXTURES

pytestmark = pytest.mark.browser
ENTRIES = FIXTURES / "samples" / "kb-entries.csv"
SAID = "老李家楼栋那台三菱又趴窝了"  # the caller's words for KB0015 (小区电梯经常故障没人修怎么办？)


def test_a_callers_phrasing_is_learned_reviewed_and_then_found(chromium: Browser, live: Live) -> None:
    from callcenter.kb import services as kb

    assert live.run(kb.import_file(live.app.state.db, ENTRIES)).created == 100

    lina = sign_in(chromium, live, "lina")
    expect(lina).to_have_url(re.compile(r"/operator$"))
    # the caller's words alone: the elevator entry is not first
    lina.locator("#kb-q").press_sequentially(SAID, delay=20)
    hits = lina.locator("#kb-results li.kb-hit")
    expect(hits.first).to_be_visible(timeout=10_000)
    lina.wait_for_timeout(600)
    assert hits.first.get_attribute("data-code") != "KB0015"
    # she adds a word of her own: found, and answered with it
    lina.locator("#kb-q").press_sequentially(" 电梯", delay=20)
    elevator = lina.locator("#kb-results li.kb-hit[data-code='KB0015']")
    expect(elevator).to_be_visible(timeout=10_000)
    expect(lina.locator("#kb-searched")).to_have_value(f"{SAID} 电梯")
    lina.locator("#f-phone").fill("13787654321")
    lina.locator("#f-content").fill("电梯坏了，来电人说老李家楼栋那台三菱又趴窝了")
    lina.locator("#kb-q").press("Enter")
    elevator.locator("button.kb-use").click()
    expect(lina.locator(".flash.ok")).to_contain_text("直接答复（知识库 KB0015 第 1 版）")
    shot(lina, "kb-learn-01-answered", full=False)

    # another department's clerk has nothing to review
    wangfang = sign_in(chromium, live, "wangfang")
    wangfang.goto(f"{live.base}/kb/phrasings")
    expect(wangfang.locator("#kb-phrasings-none")).to_be_visible()
    wangfang.context.close()

    # 住建局's clerk: the search text proposed for KB0015, published
    zhang = sign_in(chromium, live, "zhangwei")
    zhang.goto(f"{live.base}/kb/phrasings")
    row = zhang.locator("#kb-phrasings tr[data-code='KB0015']")
    expect(row.locator(".kb-phrasing")).to_have_text(f"{SAID} 电梯")
    expect(row).to_contain_text("接线员检索")
    shot(zhang, "kb-learn-02-proposed-to-department", full=False)
    row.locator("button", has_text="发布").click()
    expect(zhang.locator(".flash.ok")).to_contain_text("已发布来电问法")
    expect(zhang.locator("#kb-phrasings-none")).to_be_visible()
    zhang.goto(f"{live.base}/kb/entries/KB0015")
    expect(zhang.locator("#kb-learned")).to_contain_text(SAID)
    zhang.context.close()

    # the next caller says the same: the entry comes first, without the operator's extra word
    lina.goto(f"{live.base}/operator")
    lina.locator("#kb-q").press_sequentially("那台三菱又趴窝了", delay=20)
    expect(lina.locator("#kb-results li.kb-hit").first).to_have_attribute("data-code", "KB0015", timeout=10_000)
    shot(lina, "kb-learn-03-found-first", full=False)

    # near-duplicates tell what sets them apart
    lina.locator("#kb-q").fill("")
    lina.locator("#kb-q").press_sequentially("公积金租房能取吗", delay=20)
    first = lina.locator("#kb-results li.kb-hit").first
    expect(first).to_have_attribute("data-code", "KB0091", timeout=10_000)
    expect(first.locator(".kb-distinct")).to_contain_text("提取")
    expect(lina.locator("#kb-results li.kb-hit[data-code='KB0092'] .kb-distinct")).to_contain_text("贷款")
    shot(lina, "kb-learn-04-near-duplicates", full=False)
    lina.context.close()
