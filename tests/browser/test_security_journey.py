"""Issue 14 in a real headless Chromium: the Content-Security-Policy holds and the pages still work.

- the wall with a department named `</script><script>…`: the name shows as text, no script of
  it runs, the wall's own scripts run (its clock ticks), and Chromium reports no CSP violation;
- the operator's workspace, a case page (its inline script carries the nonce) and the admin page
  (注销 a session, with its confirmation) run without a CSP violation; 打印 buttons call print.
Screenshots in test-output/browser/: security-wall.png, security-admin-sessions.png.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import update

from tests.browser.conftest import Live, shot, sign_in

pytestmark = pytest.mark.browser
EVIL = '</script><script>document.title="pwned";window.__pwned=1</script>'


def _watch(page) -> list[str]:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    page.on("console", lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: seen.append(f"pageerror: {e}"))
    return seen


async def _name_department(live: Live) -> None:
    from callcenter.cases import services
    from callcenter.cases.workflow import SYSTEM
    from callcenter.store.models import Department, Kind

    db = live.app.state.db
    async with db.transaction() as s:
        await s.execute(update(Department).where(Department.code == "zjj").values(name="住建局" + EVIL))
    db.refcache.invalidate()
    t = await services.register(db, SYSTEM, services.NewTicket(
        kind=Kind.complaint, category="物业管理", content="电梯坏了", caller_phone="13800138000"))
    await services.act(db, SYSTEM, t.number, "dispatch", None, {"department": "zjj"})
    live.app.state.wall_figures.mark_dirty()


def test_the_wall_shows_a_script_name_as_text_under_the_csp(chromium: Browser, live: Live) -> None:
    live.run(_name_department(live))
    page = sign_in(chromium, live, "chenjing")
    problems = _watch(page)
    page.goto(f"{live.base}/wall")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__pwned") is None
    assert page.title() != "pwned"
    assert "住建局</script>" in page.inner_text("body")  # the name, as text
    shot(page, "security-wall")
    assert not problems, problems


def test_the_console_runs_without_a_csp_violation(chromium: Browser, live: Live) -> None:
    page = sign_in(chromium, live, "lina")
    problems = _watch(page)
    for path in ("/operator", "/cases", "/print/day", "/callbacks"):
        page.goto(f"{live.base}{path}")
        page.wait_for_load_state("networkidle")
    # 打印 works without an inline handler
    page.goto(f"{live.base}/print/day")
    page.evaluate("window.__printed = 0; window.print = () => { window.__printed += 1; }")
    page.click("[data-print]")
    assert page.evaluate("window.__printed") >= 1
    assert not problems, problems

    admin = sign_in(chromium, live, "admin")
    problems = _watch(admin)
    admin.goto(f"{live.base}/admin#sessions")
    rows = admin.locator("#sessions tbody tr", has_text="李娜")
    expect(rows).to_have_count(1)
    shot(admin, "security-admin-sessions")
    admin.once("dialog", lambda d: d.accept())
    rows.locator("button", has_text="注销").click()
    admin.wait_for_load_state("domcontentloaded")
    expect(admin.locator(".flash")).to_contain_text("已注销该会话")
    # 李娜's browser is signed out at once
    page.goto(f"{live.base}/operator")
    assert "/login" in page.url
    assert not problems, problems
