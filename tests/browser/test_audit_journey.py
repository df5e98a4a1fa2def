"""The audit log and the masked lists in a real headless Chromium against a running server:

- 审计日志: the admin changes an operator's seat and password on 系统管理, opens 审计日志 from
  there, finds the change (old → new seat, 密码：已修改, never the password), filters by action;
- a 干部举报 in the lists: the supervisor's /cases search and the day's 来电登记表 (/print/day)
  show （保密） for its caller, the other numbers masked; the case page shows the caller.

Screenshots in test-output/browser/: admin-audit.png, cases-masked.png, print-day-masked.png
(and print-day-masked.pdf) — look at them.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from tests.browser.conftest import OUT, Live, shot, sign_in

pytestmark = pytest.mark.browser
NEW_PASSWORD = "a-fresh-password-7"


async def _lina_id(live: Live) -> int:
    from callcenter.store.models import User

    async with live.app.state.db.session() as s:
        return int((await s.execute(select(User.id).where(User.username == "lina"))).scalar_one())


def test_the_admin_finds_a_change_in_the_audit_log(chromium: Browser, live: Live) -> None:
    lina_id = live.run(_lina_id(live))
    page = sign_in(chromium, live, "admin")
    expect(page).to_have_url(re.compile(r"/admin$"))
    form = f"user-{lina_id}"
    page.fill(f"input[form='{form}'][name=seat]", "8010")
    page.fill(f"input[form='{form}'][name=password]", NEW_PASSWORD)
    page.click(f"button[form='{form}']")
    expect(page.locator(".flash.ok")).to_contain_text("已保存用户")

    page.click("#link-audit")
    expect(page).to_have_url(re.compile(r"/admin/audit$"))
    row = page.locator("#audit-table tbody tr").first
    expect(row).to_contain_text("修改用户")
    expect(row).to_contain_text("lina")
    expect(row).to_contain_text("坐席：8001 → 8010")
    expect(row).to_contain_text("密码：已修改")
    expect(row).to_contain_text("管理员")
    assert NEW_PASSWORD not in page.content()
    page.select_option("select[name=action]", label="修改用户")
    page.click("#audit-filter button[type=submit]")
    expect(page.locator("#audit-summary")).to_contain_text("修改用户 · 共 1 条")
    shot(page, "admin-audit")
    page.select_option("select[name=action]", label="新增承办单位")
    page.click("#audit-filter button[type=submit]")
    expect(page.locator("#audit-summary")).to_contain_text("共 0 条")
    # printable: the filter form is not printed, the table is
    page.emulate_media(media="print")
    expect(page.locator("#audit-filter")).to_be_hidden()
    expect(page.locator("#audit-table")).to_be_visible()


async def _cases(live: Live) -> tuple[str, str]:
    from callcenter.cases import services
    from callcenter.people.auth import actor_of
    from callcenter.store.models import Kind, User

    db = live.app.state.db
    async with db.session() as s:
        lina = actor_of((await s.execute(select(User).where(User.username == "lina"))).scalar_one())
    report = await services.register(db, lina, services.NewTicket(
        kind=Kind.report, category="物业管理", content="某干部收受物业公司好处，要求调查。", caller_phone="13912345678",
        caller_name="举报人甲"))
    plain = await services.register(db, lina, services.NewTicket(
        kind=Kind.complaint, category="物业管理", content="物业公司不修电梯。", caller_phone="13800138000",
        caller_name="王五"))
    return report.number, plain.number


def test_a_whistleblower_is_withheld_in_the_lists_and_shown_on_the_case(chromium: Browser, live: Live) -> None:
    report, plain = live.run(_cases(live))
    sup = sign_in(chromium, live, "chenjing")
    sup.goto(f"{live.base}/cases")
    sup.fill("input[name=q]", "物业公司")
    sup.press("input[name=q]", "Enter")
    rows = sup.locator("#search-results tbody tr")
    expect(rows).to_have_count(2)
    whistle = rows.filter(has_text=report)
    expect(whistle.locator("td").nth(2)).to_have_text("（保密）")
    expect(whistle.locator("td").nth(3)).to_have_text("（保密）")
    other = rows.filter(has_text=plain)
    expect(other.locator("td").nth(2)).to_have_text("王五")
    expect(other.locator("td").nth(3)).to_have_text("138****8000")
    assert "举报人甲" not in sup.content() and "13912345678" not in sup.content()
    shot(sup, "cases-masked")

    sup.goto(f"{live.base}/print/day")
    paper = sup.locator("table.paper-form.day tbody tr")
    expect(paper).to_have_count(2)
    line = paper.filter(has_text=report)
    expect(line.locator("td").nth(2)).to_have_text("（保密）")
    expect(line.locator("td").nth(3)).to_have_text("（保密）")
    expect(paper.filter(has_text=plain).locator("td").nth(2)).to_have_text("138****8000")
    assert "举报人甲" not in sup.content() and "13912345678" not in sup.content()
    shot(sup, "print-day-masked")
    sup.emulate_media(media="print")
    (OUT / "print-day-masked.pdf").write_bytes(sup.pdf(format="A4", landscape=True))

    # the case page is the one place the hotline sees who called (and the view is recorded)
    sup.emulate_media(media="screen")
    sup.goto(f"{live.base}/cases/{report}")
    expect(sup.locator("#caller-name")).to_have_text("举报人甲")
    expect(sup.locator("#identity-views-table tbody tr").first).to_contain_text("陈静")
