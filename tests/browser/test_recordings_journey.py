"""通话录音 in a real headless Chromium against a running server (issue 18): a call's recording,
collected from the PBX's spool, is played by the supervisor from the case page — the audio
page's open fetches nothing and records no listen (preload="none"); played, the element loads
its metadata, seeking fetches a later range and lands there — and the listen
appears in the case's 录音收听记录. The call's operator hears it too; the clerk gets no player.

Screenshot in test-output/browser/: case-recording.png — look at it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from tests.browser.conftest import Live, shot, sign_in

pytestmark = pytest.mark.browser
TALK_S = 65.0


async def _recorded_case(live: Live, spool: Path, store: Path) -> tuple[str, int]:
    """李娜 answers a call (recorded by the PBX), registers the case and dispatches it to 住建局;
    the scheduler's step collects the recording."""
    from callcenter.cases import services
    from callcenter.people.auth import actor_of
    from callcenter.recordings import services as rec
    from callcenter.store.models import Call, CallDirection, CallOutcome, Kind, Recording, User, utcnow
    from telephony.simulator import write_tone_wav

    db = live.app.state.db
    at = utcnow() - timedelta(minutes=20)
    async with db.transaction() as s:
        lina = (await s.execute(select(User).where(User.username == "lina"))).scalar_one()
        c = Call(pbx="default", linkedid="1796200000.42", direction=CallDirection.inbound, caller_number="13807310001",
                 caller_norm="+8613807310001", seat="8001", operator_id=lina.id, offered_at=at,
                 answered_at=at + timedelta(seconds=8), ended_at=at + timedelta(seconds=8 + TALK_S),
                 outcome=CallOutcome.answered, wait_s=8, talk_s=TALK_S, updated_at=at)
        s.add(c)
        await s.flush()
        call_id = c.id
    spool.mkdir(parents=True, exist_ok=True)
    write_tone_wav(spool / "default-1796200000.42.wav", TALK_S)
    res = await rec.collect(db, spool, store)
    assert res.collected == ["default-1796200000.42.wav"]
    t = await services.register(db, actor_of(lina), services.NewTicket(
        kind=Kind.complaint, category="物业管理", content="小区电梯停运三天，物业不修", caller_phone="13807310001",
        address="雨花区井湾子街道", call_id=call_id, source="phone"))
    await services.act(db, actor_of(lina), t.number, "dispatch", None, {"department": "zjj"})
    async with db.session() as s:
        rid = (await s.execute(select(Recording.id).where(Recording.call_id == call_id))).scalar_one()
    return t.number, rid


async def _listens(live: Live, number: str) -> int:
    from sqlalchemy import func

    from callcenter.store.models import Ticket, TicketEvent

    async with live.app.state.db.session() as s:
        return (await s.execute(select(func.count()).select_from(TicketEvent).join(Ticket, Ticket.id == TicketEvent.ticket_id)
                                .where(Ticket.number == number, TicketEvent.action == "listen"))).scalar_one()


SEEK = """async (el) => {
  const seeked = new Promise(r => el.addEventListener("seeked", () => r(el.currentTime), {once: true}));
  el.currentTime = 42;
  return await seeked;
}"""


def test_the_supervisor_plays_a_call_from_the_case_page(chromium: Browser, live: Live, tmp_path: Path) -> None:
    number, rid = live.run(_recorded_case(live, tmp_path / "monitor", tmp_path / "recordings"))
    page = sign_in(chromium, live, "chenjing")
    ranges: list[tuple[int, str | None]] = []
    page.on("response", lambda r: ranges.append((r.status, r.request.headers.get("range")))
            if r.url.endswith(f"/recordings/{rid}.wav") else None)
    page.goto(f"{live.base}/cases/{number}")
    expect(page.locator("#recordings")).to_have_text("通话录音")
    audio = page.locator(f"audio.recording[data-recording='{rid}']")
    # opening the page is not a listen: the player fetches nothing until it is played
    expect(audio).to_have_attribute("preload", "none")
    page.wait_for_timeout(1500)
    assert ranges == [] and live.run(_listens(live, number)) == 0
    # played: the audio element loads (HAVE_METADATA or better) and knows the call's length
    audio.evaluate("el => { el.muted = true; return el.play().then(() => el.pause()); }")
    page.wait_for_function("el => el.readyState >= 1 && isFinite(el.duration)", arg=audio.element_handle())
    assert audio.evaluate("el => el.duration") == pytest.approx(TALK_S, abs=0.05)
    # seeking works: the player lands at 0:42 (a range request past the start)
    assert audio.evaluate(SEEK) == pytest.approx(42, abs=0.5)
    audio.evaluate("el => { el.muted = true; return el.play().then(() => el.pause()); }")
    assert audio.evaluate("el => el.currentTime") >= 41.5
    assert any(status == 206 for status, _ in ranges), ranges
    assert audio.evaluate("el => el.error") is None
    shot(page, "case-recording")

    # the listen is in the case's audit trail (supervisors and the admin see who listened)
    page.reload()
    row = page.locator("#listens-table tbody tr")
    expect(row).to_have_count(1)  # one listen, not one per range request
    expect(row.first).to_contain_text("陈静")
    expect(row.first).to_contain_text("班长")
    expect(row.first).to_contain_text(re.compile(r"收听录音（来电 \d{4}-\d\d-\d\d \d\d:\d\d）"))
    page.context.close()

    # the call's operator hears it (and sees no listen log); the clerk gets no player
    lina = sign_in(chromium, live, "lina")
    lina.goto(f"{live.base}/cases/{number}")
    expect(lina.locator("audio.recording")).to_have_count(1)
    lina.wait_for_timeout(500)
    assert live.run(_listens(live, number)) == 1  # her page open is no listen either
    expect(lina.locator("#listens-table")).to_have_count(0)
    lina.context.close()
    clerk = sign_in(chromium, live, "zhangwei")
    clerk.goto(f"{live.base}/cases/{number}")
    expect(clerk.locator("h1, h2").first).to_be_visible()
    expect(clerk.locator("audio")).to_have_count(0)
    assert clerk.request.get(f"{live.base}/cases/{number}/recordings/{rid}.wav").status == 403
    clerk.context.close()
