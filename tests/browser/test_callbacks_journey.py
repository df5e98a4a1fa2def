"""回访 in a real headless Chromium: the operator clicks 拨打 on a resolved case's callback, the
click-to-call request is placed by the dialer (callbacks.dialer.run_dialer beside the adapter,
as `make demo` runs it) through the PBX simulator operator first — the operator's seat rings
and answers, then the citizen's number is dialled — and the row follows the call live.

- the citizen answers → the operator records 满意 → the case is closed;
- the citizen does not answer (15907311234) → the attempt is counted (the scheduler's
  collect_outcomes step, run here as a small loop, reads the result back from the Call row).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from tests.browser.conftest import Live, shot, sign_in

pytestmark = pytest.mark.browser
ANSWERS, NO_ANSWER = "13812345678", "15907311234"




@pytest.fixture
def dialing(live: Live) -> Iterator[Live]:
    """The telephony process's dialer and the scheduler's outcome step, on the server's loop."""
    from callbacks.dialer import run_dialer
    from callbacks.service import collect_outcomes
    from callcenter.store.models import utcnow

    db = live.app.state.db
    stop: dict[str, asyncio.Event] = {}

    async def collector(ev: asyncio.Event) -> None:
        while not ev.is_set():
            with contextlib.suppress(Exception):
                await collect_outcomes(db, "test-scheduler", utcnow())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ev.wait(), 0.5)

    async def start() -> list[Any]:
        stop["ev"] = ev = asyncio.Event()
        return [asyncio.create_task(run_dialer(db, live.adapter.originate_callback, "test", ev, every=0.3)),
                asyncio.create_task(collector(ev))]

    tasks = live.run(start())

    async def halt() -> None:
        stop["ev"].set()
        await asyncio.gather(*tasks, return_exceptions=True)

    yield live
    live.run(halt())


def resolved_case(live: Live, phone: str, content: str) -> tuple[str, int]:
    """A case registered by 李娜, resolved by 住建局's 张伟: its callback is pending."""
    from callcenter.cases import services
    from callcenter.people.auth import actor_of
    from callcenter.store.models import Callback, User

    db = live.app.state.db

    async def go() -> tuple[str, int]:
        async with db.session() as s:
            people = {u.username: actor_of(u) for u in (await s.scalars(select(User))).all()}
        lina, zhangwei = people["lina"], people["zhangwei"]
        t = await services.register(db, lina, services.NewTicket(kind="complaint", category="物业管理",
                                                                 content=content, caller_phone=phone,
                                                                 caller_name="周女士"))
        await services.act(db, lina, t.number, "dispatch", None, {"department": "zjj"})
        await services.act(db, zhangwei, t.number, "accept", None, {})
        await services.act(db, zhangwei, t.number, "resolve", None, {"resolution": "物业已维修完毕"})
        async with db.session() as s:
            cb = (await s.scalars(select(Callback).where(Callback.ticket_id == t.id))).one()
        return t.number, cb.id

    return live.run(go())  # type: ignore[no-any-return]


def case_state(live: Live, number: str) -> Any:
    from callcenter.cases import services
    from callcenter.cases.workflow import SYSTEM

    return live.run(services.get(live.app.state.db, SYSTEM, number))


def callback_row(live: Live, cb_id: int) -> Any:
    from callcenter.store.models import Callback

    async def go() -> Any:
        async with live.app.state.db.session() as s:
            return await s.get(Callback, cb_id)

    return live.run(go())


def test_the_citizen_answers_and_the_operator_records_satisfied(chromium: Browser, dialing: Live) -> None:
    live = dialing
    number, cb_id = resolved_case(live, ANSWERS, "楼道灯坏了一个月没人修")
    lina = sign_in(chromium, live, "lina")
    lina.click("nav >> text=回访/回拨")
    expect(lina).to_have_url(re.compile(r"/callbacks$"))
    row = lina.locator(f"#cb-{cb_id}")
    expect(row).to_contain_text(number)
    expect(row).to_contain_text("138****5678")
    expect(row).not_to_contain_text(ANSWERS)
    shot(lina, "callbacks-worklist")

    row.locator("button:has-text('拨打')").click()
    row = lina.locator(f"#cb-{cb_id}")
    expect(lina.locator(".flash")).to_contain_text("正在呼叫")
    expect(row.locator(".cb-state")).to_contain_text("呼叫中", timeout=5_000)
    shot(lina, "callbacks-calling")
    # seat rings and answers (1 s), the citizen's phone rings (3 s), they talk (6 s), hang up
    expect(row.locator(".cb-state")).to_have_text("已接通 · 请登记结果", timeout=30_000)
    lina.evaluate("window.__noReload = 1")

    form = lina.locator(f"#cb-form-{cb_id}")
    form.locator("input[name=satisfaction][value=satisfied]").check()
    form.locator("input[name=solved][value='1']").check()
    form.locator("input[name=words]").fill("灯已经修好了，很满意")
    shot(lina, "callbacks-outcome-form")
    form.locator("button:has-text('登记回访结果')").click()
    expect(lina.locator(".flash")).to_contain_text("满意")
    expect(lina.locator(f"#cb-{cb_id}")).to_have_count(0)
    shot(lina, "callbacks-recorded")

    t = case_state(live, number)
    assert t.status.value == "closed" and t.satisfaction.value == "satisfied" and t.solved is True
    cb = callback_row(live, cb_id)
    assert cb.status.value == "done" and cb.words == "灯已经修好了，很满意"


def test_the_citizen_does_not_answer_and_the_attempt_is_counted(chromium: Browser, dialing: Live) -> None:
    live = dialing
    number, cb_id = resolved_case(live, NO_ANSWER, "路边井盖缺失")
    lina = sign_in(chromium, live, "lina")
    lina.goto(f"{live.base}/callbacks")
    row = lina.locator(f"#cb-{cb_id}")
    expect(row.locator(".cb-attempts")).to_have_text("0")
    row.locator("button:has-text('拨打')").click()
    row = lina.locator(f"#cb-{cb_id}")
    expect(row.locator(".cb-state")).to_contain_text("呼叫中", timeout=5_000)
    lina.evaluate("window.__noReload = 1")
    # the citizen's phone rings out (20 s); the outcome is read back and counted, live
    expect(row.locator(".cb-attempts")).to_have_text("1", timeout=45_000)
    expect(row.locator(".cb-state")).to_contain_text("未接通")
    assert lina.evaluate("window.__noReload") == 1  # updated in place, no reload
    expect(lina.locator(f"#cb-form-{cb_id} button[value=not_reached]")).to_be_disabled()
    shot(lina, "callbacks-unanswered")

    cb = callback_row(live, cb_id)
    assert cb.attempts == 1 and cb.status.value == "pending" and cb.next_attempt_at is not None
    assert case_state(live, number).status.value == "resolved"
    lina.reload()
    expect(lina.locator(f"#cb-{cb_id}")).to_contain_text("后再拨")  # the next attempt at another time
    shot(lina, "callbacks-after-unanswered")


def test_a_clerk_sees_the_overdue_notice_in_the_badge_and_the_list(chromium: Browser, live: Live) -> None:
    from datetime import timedelta

    from callbacks import deadlines
    from callcenter.cases import services
    from callcenter.people.auth import actor_of
    from callcenter.store.models import User

    db = live.app.state.db

    async def overdue_case() -> str:
        async with db.session() as s:
            lina = actor_of((await s.scalars(select(User).where(User.username == "lina"))).one())
        t = await services.register(db, lina, services.NewTicket(kind="complaint", category="物业管理",
                                                                 content="电梯停运", caller_phone=ANSWERS))
        t = await services.act(db, lina, t.number, "dispatch", None, {"department": "zjj"})
        assert t.due_at is not None
        await deadlines.check_deadlines(db, t.due_at + timedelta(days=30))  # long overdue, 督办
        return t.number

    number = live.run(overdue_case())
    clerk = sign_in(chromium, live, "zhangwei")
    expect(clerk.locator("#notice-badge")).to_be_visible(timeout=5_000)
    clerk.click("#nav-notices")
    expect(clerk.locator("main")).to_contain_text(number)
    expect(clerk.locator("main")).to_contain_text("已超期")
    shot(clerk, "notices-clerk")
    clerk.reload()
    expect(clerk.locator("#notice-badge")).to_be_hidden()  # opened: read
    sup = sign_in(chromium, live, "chenjing")
    sup.goto(f"{live.base}/notices")
    expect(sup.locator("main")).to_contain_text("督办")
    expect(sup.locator("main")).to_contain_text(number)
    shot(sup, "notices-supervisor")
