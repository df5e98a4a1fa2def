"""质检 in a real headless Chromium (issue 18): the admin sets up a checklist, the supervisor draws
last week's sample, listens (the listen lands in the case's 录音收听记录), comments at the
player's position and scores; the operator sees the score and appeals once; the supervisor
decides the appeal and the operator sees the new score.

Screenshots in test-output/browser/: qa-score.png, qa-operator.png — look at them.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from tests.browser.conftest import Live, shot, sign_in

pytestmark = pytest.mark.browser
TALK_S = 20.0


async def _last_weeks_call(live: Live, spool: Path, store: Path) -> str:
    """李娜 answered a call last Tuesday (recorded, collected) and registered a case from it."""
    from callcenter.cases import services
    from callcenter.cases.workdays import TZ
    from callcenter.people.auth import actor_of
    from callcenter.qa.services import last_week
    from callcenter.recordings import services as rec
    from callcenter.store.models import Call, CallDirection, CallOutcome, Kind, User, utcnow
    from telephony.simulator import write_tone_wav

    db = live.app.state.db
    at = datetime.combine(last_week(utcnow()) + timedelta(days=1), time(10, 0), tzinfo=TZ)
    async with db.transaction() as s:
        lina = (await s.execute(select(User).where(User.username == "lina"))).scalar_one()
        c = Call(pbx="default", linkedid="1796300000.7", direction=CallDirection.inbound, caller_number="13807310002",
                 caller_norm="+8613807310002", seat="8001", operator_id=lina.id, offered_at=at,
                 answered_at=at + timedelta(seconds=5), ended_at=at + timedelta(seconds=5 + TALK_S),
                 outcome=CallOutcome.answered, wait_s=5, talk_s=TALK_S, queue="hotline", updated_at=at)
        s.add(c)
        await s.flush()
        call_id = c.id
    spool.mkdir(parents=True, exist_ok=True)
    write_tone_wav(spool / "default-1796300000.7.wav", TALK_S)
    assert (await rec.collect(db, spool, store)).collected == ["default-1796300000.7.wav"]
    t = await services.register(db, actor_of(lina), services.NewTicket(
        kind=Kind.complaint, category="物业管理", content="楼道灯坏了一个月", caller_phone="13807310002",
        call_id=call_id, source="phone"))
    return t.number


def test_a_sample_is_scored_the_operator_sees_it_and_appeals(chromium: Browser, live: Live, tmp_path: Path) -> None:
    number = live.run(_last_weeks_call(live, tmp_path / "monitor", tmp_path / "recordings"))

    # the admin sets up the checklist (a typo first: the form keeps what was typed)
    admin = sign_in(chromium, live, "admin")
    admin.goto(f"{live.base}/qa/checklists")
    admin.fill("input[name=name]", "2026年话务质检表")
    admin.fill("textarea[name=items]", "规范开头语 | 20\n准确记录诉求 | 40\n告知办理时限 | 四十\n泄露举报人信息 | 致命")
    admin.click("#qa-checklist-form button[type=submit]")
    expect(admin.locator("#qa-error")).to_contain_text("第 3 行")
    expect(admin.locator("input[name=name]")).to_have_value("2026年话务质检表")
    admin.fill("textarea[name=items]", "规范开头语 | 20\n准确记录诉求 | 40\n告知办理时限 | 40\n泄露举报人信息 | 致命")
    admin.click("#qa-checklist-form button[type=submit]")
    expect(admin.locator(".flash")).to_contain_text("已启用质检表")
    expect(admin.locator(".qa-checklist").first).to_contain_text("满分 100")
    admin.context.close()

    # the supervisor draws last week's sample, opens the call and listens
    sup = sign_in(chromium, live, "chenjing")
    sup.goto(f"{live.base}/qa")
    sup.click("#qa-sample")
    expect(sup.locator(".flash")).to_contain_text("新增 1 通")
    row = sup.locator("#qa-todo tbody tr[data-inspection]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("李娜")
    expect(row).to_contain_text("随机抽检")
    row.locator("a").click()
    audio = sup.locator("#qa-audio")
    expect(audio).to_have_attribute("preload", "none")
    audio.evaluate("el => { el.muted = true; return el.play().then(() => el.pause()); }")
    sup.wait_for_function("el => el.readyState >= 1 && isFinite(el.duration)", arg=audio.element_handle())
    assert audio.evaluate("el => el.duration") == pytest.approx(TALK_S, abs=0.05)
    assert audio.evaluate("""async (el) => {
      const seeked = new Promise(r => el.addEventListener("seeked", () => r(el.currentTime), {once: true}));
      el.currentTime = 12.4;
      return await seeked;
    }""") == pytest.approx(12.4, abs=0.5)
    # a comment at the player's position
    sup.click("#qa-at-now")
    expect(sup.locator("#qa-at")).to_have_value("0:12")
    sup.fill("#qa-comment-form input[name=text]", "未告知办理时限")
    sup.click("#qa-comment-form button[type=submit]")
    expect(sup.locator("#qa-comments")).to_contain_text("0:12 未告知办理时限")
    # score: everything but 告知办理时限 → 60
    for label in ("规范开头语", "准确记录诉求", "泄露举报人信息"):
        sup.locator("#qa-items tr", has_text=label).locator("input[type=checkbox]").check()
    sup.click("#qa-submit-score")
    expect(sup.locator(".flash")).to_contain_text("已评分：60 分")
    expect(sup.locator("#qa-score")).to_contain_text("60")
    shot(sup, "qa-score")
    # the listen is in the case's 录音收听记录
    sup.goto(f"{live.base}/cases/{number}")
    expect(sup.locator("#listens-table tbody tr")).to_have_count(1)
    expect(sup.locator("#listens-table tbody tr").first).to_contain_text("陈静")
    sup.context.close()

    # the operator sees her score and the comment, and appeals once
    lina = sign_in(chromium, live, "lina")
    lina.goto(f"{live.base}/qa")
    mine = lina.locator("#qa-mine tbody tr[data-inspection]")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text("60")
    expect(mine).to_contain_text("已评分")
    mine.locator("a").click()
    expect(lina.locator("#qa-comments")).to_contain_text("未告知办理时限")
    lina.fill("#qa-appeal-form textarea[name=reason]", "1:05 处已告知十五个工作日内答复")
    lina.click("#qa-appeal-form button[type=submit]")
    expect(lina.locator(".flash")).to_contain_text("申诉已提交")
    expect(lina.locator("#qa-appeal-form")).to_have_count(0)  # once only
    expect(lina.locator("#qa-appeal")).to_contain_text("十五个工作日")
    shot(lina, "qa-operator")
    lina.context.close()

    # the supervisor upholds the appeal and re-scores
    sup = sign_in(chromium, live, "chenjing")
    sup.goto(f"{live.base}/qa")
    appeal = sup.locator("#qa-appeals tbody tr[data-inspection]")
    expect(appeal).to_have_count(1)
    appeal.locator("a").click()
    sup.check("#qa-decide-form input[value=upheld]")
    sup.locator("#qa-decide-form li", has_text="告知办理时限").locator("input").check()
    sup.fill("#qa-decide-form input[name=note]", "复听属实")
    sup.locator("#qa-decide-form button[type=submit]").click()
    expect(sup.locator("#qa-decision")).to_contain_text("申诉成立")
    expect(sup.locator("#qa-score")).to_contain_text("100")
    expect(sup.locator("#qa-score")).to_contain_text("原评分 60")
    sup.context.close()

    lina = sign_in(chromium, live, "lina")
    lina.goto(f"{live.base}/qa")
    expect(lina.locator("#qa-mine tbody tr[data-inspection]")).to_contain_text("100")
    expect(lina.locator("#qa-mine tbody tr[data-inspection]")).to_contain_text("已定分")
    lina.context.close()
