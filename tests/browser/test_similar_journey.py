"""Likely duplicates (并单) during a call, in a real headless Chromium at 1366×768 against a
running server: a citizen calls about a noisy construction site that another caller reported
two days ago; as the operator types the complaint, the open case is proposed beside the
来电登记 form with its reasons (no reload, debounced requests), a whistleblower's case shows
no one's identity, and one click on 并入此单 registers the call and merges it into that case
(then=merge through the form's own POST, CSRF token and all)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import Live, shot, sign_in

pytestmark = pytest.mark.browser
CALLER = "13788889999"
EARLIER = "幸福小区旁边的工地晚上施工噪音很大，凌晨两点还在打桩，严重影响休息"
WORDS = "幸福小区对面那个工地半夜还在打桩施工 吵得睡不着"
ADDRESS = "和平街道幸福小区5栋"


async def _seed(live: Live) -> tuple[str, str]:
    from sqlalchemy import select

    from callcenter.cases import services
    from callcenter.people.auth import actor_of
    from callcenter.store.models import Kind, User, utcnow

    db = live.app.state.db
    async with db.session() as s:
        lina = actor_of((await s.execute(select(User).where(User.username == "lina"))).scalar_one())
    two_days_ago = utcnow() - timedelta(days=2)
    earlier = await services.register(db, lina, services.NewTicket(
        kind=Kind.complaint, category="环境保护", content=EARLIER, caller_phone="13911112222", caller_name="周先生",
        address="和平街道幸福小区3栋", source="phone"), now=two_days_ago)
    earlier = await services.act(db, lina, earlier.number, "dispatch", None, {"department": "hbj"})
    report = await services.register(db, lina, services.NewTicket(
        kind=Kind.report, category="环境保护", content="举报幸福小区工地施工方负责人夜间违规施工，收了好处费",
        caller_phone="13600001111", caller_name="钱女士", source="phone"), now=two_days_ago)
    return earlier.number, report.number


def test_an_operator_merges_a_call_into_the_proposed_open_case(chromium: Browser, live: Live) -> None:
    earlier, report = live.run(_seed(live))

    lina = sign_in(chromium, live, "lina")
    expect(lina).to_have_url(re.compile(r"/operator$"))
    expect(lina.locator("#conn")).to_have_class(re.compile(r"\bon\b"), timeout=10_000)
    expect(lina.locator("#similar h2")).to_contain_text("可能重复的工单")
    lina.evaluate("window.__noReload = 7")
    requests: list[str] = []
    lina.on("request", lambda r: requests.append(r.url) if "/operator/similar" in r.url else None)

    # the call pops; the number alone finds nothing (the caller never called before)
    live.call(live.sim.inbound_call, CALLER)
    expect(lina.locator("#pop")).to_be_visible(timeout=15_000)
    expect(lina.locator("#f-phone")).to_have_value(CALLER)
    expect(lina.locator("#similar-none")).to_be_visible(timeout=10_000)

    # the caller's words, the category and the address: the open case is proposed as they type
    lina.locator("#f-content").press_sequentially(WORDS, delay=40)
    lina.locator("#f-category").select_option("环境保护")
    lina.locator("#f-address").fill(ADDRESS)
    item = lina.locator(f"#similar-results li.sim-item[data-number='{earlier}']")
    expect(item).to_be_visible(timeout=10_000)
    expect(lina.locator("#similar-results li.sim-item").first).to_have_attribute("data-number", earlier)
    reasons = item.locator(".sim-reasons li").all_inner_texts()
    assert any(re.fullmatch(r"内容相似 0\.\d\d", r) for r in reasons), reasons
    assert "地址相近" in reasons and "同一问题分类" in reasons
    expect(item.locator(".st")).to_have_text("已派单")
    expect(item.locator(".sim-excerpt")).to_contain_text("幸福小区旁边的工地")
    expect(lina.locator("#similar-count")).to_be_visible()
    assert lina.evaluate("window.__noReload") == 7  # no page reload
    n_requests = len(requests)
    assert 1 <= n_requests < len(WORDS), f"{n_requests} requests for {len(WORDS)} keystrokes (not debounced?)"

    # the whistleblower's case may be proposed, but shows no one's identity nor its words
    secret = lina.locator(f"#similar-results li.sim-item[data-number='{report}']")
    if secret.count():
        expect(secret.locator(".badge.secret")).to_have_text("保密件")
        text = secret.inner_text()
        assert "钱女士" not in text and "1111" not in text and "好处费" not in text
    assert "钱女士" not in lina.locator("#similar").inner_text()

    # the panel sits beside the form and its button is on screen at 1366×768
    box, form = item.locator("button.sim-merge").bounding_box(), lina.locator("#register-form").bounding_box()
    assert box and form and box["x"] > form["x"] + form["width"] and box["y"] + box["height"] <= 768
    shot(lina, "similar-01-proposed-during-call", full=False)

    # one click: 并入此单 — registered from the form and merged into the earlier case
    item.locator("button.sim-merge").click()
    flash = lina.locator(".flash.ok")
    expect(flash).to_contain_text(f"已登记并并入 {earlier}")
    number = re.search(r"工单 (GD\d{8}-\d{4})", flash.inner_text()).group(1)  # type: ignore[union-attr]
    shot(lina, "similar-02-merged", full=False)

    from sqlalchemy import create_engine, text

    eng = create_engine(live.db_url)
    with eng.connect() as c:
        rows = {r["number"]: r for r in c.execute(text(
            "SELECT id, number, status, merged_into_id, content, caller_phone, address, call_id FROM tickets"
        )).mappings().all()}
    eng.dispose()
    new, old = rows[number], rows[earlier]
    assert new["status"] == "merged" and new["merged_into_id"] == old["id"]
    assert new["content"] == WORDS and new["caller_phone"] == CALLER and new["address"] == ADDRESS
    assert new["call_id"] is not None  # linked to the call that popped
    assert old["status"] == "dispatched"  # the earlier case goes on

    # the case page of the new call says where it went
    lina.goto(f"{live.base}/cases/{number}")
    expect(lina.locator("#case-status")).to_have_text("重复件")
    shot(lina, "similar-03-case-merged", full=False)
    print(f"{n_requests} /operator/similar requests while typing {len(WORDS)} characters")
    lina.context.close()
