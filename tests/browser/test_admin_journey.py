"""The admin's two audit-side pages in a real headless Chromium against a running server:

- 办理时限与回访规则: the admin opens the table from 系统管理, edits 民众诉求's rules, a bad
  value comes back with its error beside the field, a good one is saved and shown with its
  audit entry (old → new);
- 身份信息查阅记录: a supervisor opens a 干部举报 and sees who viewed the caller's identity on
  the case page and in the list across cases; the admin reaches the list from 系统管理.

Screenshots in test-output/browser/: admin-sla-rules.png, admin-sla-edit-error.png,
admin-sla-saved.png, case-identity-views.png, identity-views.png — look at them.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from tests.browser.conftest import OUT, Live, shot, sign_in

pytestmark = pytest.mark.browser




def test_the_admin_edits_a_kinds_rules_and_sees_them_saved(chromium: Browser, live: Live) -> None:
    page = sign_in(chromium, live, "admin")
    expect(page).to_have_url(re.compile(r"/admin$"))
    page.click("#link-sla")
    expect(page).to_have_url(re.compile(r"/admin/sla$"))
    cell = page.locator("td[data-kind='complaint'][data-field='callback_max_attempts']")
    expect(cell).to_have_text("3")
    shot(page, "admin-sla-rules")

    page.click("#edit-complaint")
    expect(page.locator("h1")).to_contain_text("民众诉求")
    page.fill("#f-callback_max_attempts", "12")
    page.fill("#f-remind_before_working_days", "8")
    page.click("#sla-save")
    expect(page.locator("#err-callback_max_attempts")).to_have_text("回访最多拨打应在 1–10 次之间")
    expect(page.locator("#err-remind_before_working_days")).to_have_text("到期前提醒不能超过办理期限（5 工作日）")
    expect(page.locator("#f-callback_max_attempts")).to_have_value("12")  # what was typed stays
    shot(page, "admin-sla-edit-error")

    page.fill("#f-callback_max_attempts", "2")
    page.fill("#f-remind_before_working_days", "2")
    page.click("#sla-save")
    expect(page).to_have_url(re.compile(r"/admin/sla$"))
    expect(page.locator(".flash.ok")).to_contain_text("已保存民众诉求的办理时限规则（2 项改动）")
    expect(cell).to_have_text("2")
    expect(page.locator("#sla-changes")).to_contain_text("回访最多拨打 3 → 2 次")
    expect(page.locator("#sla-changes")).to_contain_text("到期前提醒 1 → 2 工作日")
    shot(page, "admin-sla-saved")
    # saved where the scheduler and the workflow read it
    assert live.run(_attempts(live)) == 2


async def _attempts(live: Live) -> int:
    from callcenter.store.models import Kind

    return (await live.app.state.db.ref()).sla_for(Kind.complaint).callback_max_attempts


async def _report_case(live: Live) -> str:
    from callcenter.cases import services
    from callcenter.people.auth import actor_of
    from callcenter.store.models import Kind, User

    db = live.app.state.db
    async with db.session() as s:
        lina = actor_of((await s.execute(select(User).where(User.username == "lina"))).scalar_one())
    t = await services.register(db, lina, services.NewTicket(
        kind=Kind.report, category="物业管理", content="某干部收受物业公司好处，要求调查。", caller_phone="13912345678",
        caller_name="举报人甲"))
    await services.act(db, lina, t.number, "dispatch", None, {"department": "zjj"})
    await services.get(db, lina, t.number, via="case")  # 李娜 looked at it once
    return t.number


def test_a_supervisor_sees_who_viewed_a_whistleblowers_identity(chromium: Browser, live: Live) -> None:
    number = live.run(_report_case(live))
    sup = sign_in(chromium, live, "chenjing")
    sup.goto(f"{live.base}/cases/{number}")
    expect(sup.locator("#caller-name")).to_have_text("举报人甲")
    rows = sup.locator("#identity-views-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("陈静")
    expect(rows.nth(0)).to_contain_text("班长")
    expect(rows.nth(1)).to_contain_text("李娜")
    expect(rows.nth(1)).to_contain_text("工单页")
    shot(sup, "case-identity-views")

    sup.click("text=全部工单的查阅记录")
    expect(sup).to_have_url(re.compile(r"/audit/identity-views$"))
    expect(sup.locator("#views-summary")).to_contain_text("共 2 条")
    expect(sup.locator("#views-table tbody tr").first).to_contain_text(number)

    # the clerk of 住建局 handles the case but never learns who looked at its caller
    clerk = sign_in(chromium, live, "zhangwei")
    clerk.goto(f"{live.base}/cases/{number}")
    expect(clerk.locator("#caller-name")).to_contain_text("保密")
    expect(clerk.locator("#identity-views")).to_have_count(0)
    assert "陈静" not in clerk.content()

    adm = sign_in(chromium, live, "admin")
    adm.click("#link-identity-views")
    expect(adm).to_have_url(re.compile(r"/audit/identity-views$"))
    adm.select_option("select[name=user]", label="李娜（话务员）")
    adm.click("#views-filter button[type=submit]")
    expect(adm.locator("#views-summary")).to_contain_text("李娜 · 共 1 条")
    expect(adm.locator("#views-table tbody tr")).to_have_count(1)
    shot(adm, "identity-views")
    # printable: the print stylesheet drops the filter form and the navigation
    adm.emulate_media(media="print")
    expect(adm.locator("#views-filter")).to_be_hidden()
    expect(adm.locator("#views-table")).to_be_visible()
    (OUT / "identity-views.pdf").write_bytes(adm.pdf(format="A4"))
