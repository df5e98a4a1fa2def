"""The knowledge base during a call (issue 8), in a real headless Chromium against a running
server: a call from the PBX simulator pops on the operator's screen (AMI over TCP → adapter →
bus → SSE), the operator types the caller's words into 诉求内容, ranked entries appear beside
the 来电登记 form as they type (no reload, matches in <mark>, an expired policy marked
已失效 and not answerable), one click on 直接答复 registers the case and answers it with
that entry's text — the case is answered and records the entry and its version (kb_uses).
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import Live, shot, sign_in
from tests.conftest import FIXTURES

pytestmark = pytest.mark.browser
ENTRIES = FIXTURES / "samples" / "kb-entries.csv"
CALLER = "13787654321"
WORDS = "电梯三天两头坏 上个礼拜还关了人 物业拖着不修"  # kb-queries-sample.csv → KB0015
EXPIRED_WORDS = "拆迁那阵子我拿的现金没要房子 去年买了商品房 那个5%的奖励还能申请吗"  # → KB0012, 已失效


def test_an_operator_answers_a_call_from_the_knowledge_base(chromium: Browser, live: Live) -> None:
    from callcenter.kb import services as kb

    rep = live.run(kb.import_file(live.app.state.db, ENTRIES))
    assert rep.created == 100

    lina = sign_in(chromium, live, "lina")
    expect(lina).to_have_url(re.compile(r"/operator$"))
    expect(lina.locator("#conn")).to_have_class(re.compile(r"\bon\b"), timeout=10_000)
    lina.evaluate("window.__noReload = 8")
    requests: list[str] = []
    lina.on("request", lambda r: requests.append(r.url) if "/console/kb/suggest" in r.url else None)

    # the citizen calls: simulator → AMI → adapter → bus → SSE → the screen pop
    live.call(live.sim.inbound_call, CALLER)
    expect(lina.locator("#pop")).to_be_visible(timeout=15_000)
    expect(lina.locator("#f-phone")).to_have_value(CALLER)
    linkedid = lina.locator("#f-linkedid").input_value()
    assert linkedid

    # an ended policy typed into the search box: found, marked 已失效, no answer button
    lina.locator("#kb-q").press_sequentially("拆迁拿现金买商品房的奖励", delay=30)
    expired = lina.locator("#kb-results li.kb-hit[data-code='KB0012']")
    expect(expired).to_be_visible(timeout=10_000)
    expect(expired.locator(".badge.expired")).to_have_text("已失效")
    expect(expired.locator("button.kb-use")).to_be_disabled()
    lina.locator("#kb-q").fill("")

    # the caller's words, typed into 诉求内容: suggestions follow the typing (debounced)
    t0 = time.monotonic()
    lina.locator("#f-content").press_sequentially(WORDS, delay=40)
    first = lina.locator("#kb-results li.kb-hit").first
    expect(first).to_have_attribute("data-code", "KB0015", timeout=10_000)
    shown_s = time.monotonic() - t0
    expect(first.locator(".kb-title mark").first).to_be_visible()  # the matching part highlighted
    assert "电梯" in first.locator(".kb-title mark").all_inner_texts()
    expect(first.locator(".kb-answer")).to_contain_text("维保")
    assert lina.evaluate("window.__noReload") == 8  # no page reload
    n_requests = len(requests)
    assert 1 <= n_requests < len(WORDS), f"{n_requests} suggest requests for {len(WORDS)} keystrokes (not debounced?)"
    version = first.get_attribute("data-version")
    assert version == "1"
    shot(lina, "kb-01-suggestions-during-call", full=False)

    # one click: 直接答复 — registered from the form (category from the entry) and answered
    first.locator("button.kb-use").click()
    flash = lina.locator(".flash.ok")
    expect(flash).to_contain_text("已登记并直接答复（知识库 KB0015 第 1 版）")
    number = re.search(r"GD\d{8}-\d{4}", flash.inner_text()).group(0)  # type: ignore[union-attr]
    shot(lina, "kb-02-answered-directly", full=False)

    from sqlalchemy import create_engine, text

    eng = create_engine(live.db_url)
    with eng.connect() as c:
        t = c.execute(text("SELECT id, status, resolution, content, caller_phone, call_id, category_id FROM tickets "
                           "WHERE number = :n"), {"n": number}).mappings().one()
        e = c.execute(text("SELECT id, answer, version FROM kb_entries WHERE code = 'KB0015'")).mappings().one()
        uses = c.execute(text("SELECT entry_id, version FROM kb_uses WHERE ticket_id = :t"), {"t": t["id"]}).all()
        cat = c.execute(text("SELECT name FROM categories WHERE id = :i"), {"i": t["category_id"]}).scalar_one()
    eng.dispose()
    assert t["status"] == "answered"
    assert t["resolution"] == e["answer"] and t["content"] == WORDS and t["caller_phone"] == CALLER
    assert t["call_id"] is not None  # linked to the call that popped
    assert cat == "物业管理"
    assert uses == [(e["id"], e["version"])]

    # the case page shows it answered directly
    lina.goto(f"{live.base}/cases/{number}")
    expect(lina.locator("#case-status")).to_have_text("已答复")
    shot(lina, "kb-03-case-answered", full=False)
    # the supervisor's 知识库 page: the direct answer counted for the entry, the 直接办结率
    wall = sign_in(chromium, live, "chenjing")
    wall.goto(f"{live.base}/kb")
    expect(wall.locator("#kb-per-entry tr[data-code='KB0015'] td.n")).to_have_text("1")
    expect(wall.locator("#kb-rate-today .kb-n")).to_have_text("1")
    expect(wall.locator("#kb-rate-today .rate")).to_have_text("100.0%")
    shot(wall, "kb-04-supervisor-kb-page", full=False)
    wall.context.close()
    print(f"KB suggestions shown {shown_s * 1000:.0f} ms after typing began; {n_requests} suggest requests")
    lina.context.close()
