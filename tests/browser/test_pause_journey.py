"""示忙 in a real Chromium: the operator's toggle is carried out by the PBX simulator through the
adapter (its pause follower runs on the server's loop — the `live` fixture — as `hotline telephony run` does), a
pause made on the PBX directly shows on the open page and on the wall without a reload, and a
pause the PBX refuses stays visibly refused."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import OUT, Live, sign_in

pytestmark = pytest.mark.browser


def pbx_pause(live: Live, seat: str, paused: bool, reason: str | None = None) -> None:
    """Another AMI client (a supervisor's tool, a phone's feature code) pauses the seat on the PBX."""
    from telephony.ami import AMIClient

    async def go() -> None:
        c = AMIClient("127.0.0.1", live.adapter.config.port, "hotline", "hotline-secret")
        await c.connect(timeout=5)
        try:
            await c.queue_pause(f"Local/{seat}@agents", paused, reason, queue="hotline")
        finally:
            await c.close()

    live.run(go())


def test_the_operator_page_and_the_wall_show_the_pbxs_pause_state(chromium: Browser, live: Live) -> None:
    lina = sign_in(chromium, live, "lina")
    expect(lina).to_have_url(re.compile(r"/operator$"))
    expect(lina.locator("#conn")).to_have_class(re.compile(r"\bon\b"), timeout=10_000)
    wall = sign_in(chromium, live, "chenjing")
    expect(wall.locator("[data-k='board.ready']")).to_have_text("1", timeout=10_000)
    expect(lina.locator("#seat-state")).to_have_text("空闲")

    # the console asks; the PBX pauses; the page says so, confirmed (nothing pending)
    lina.click("#toggle-ready")
    expect(lina.locator("#seat-state")).to_have_text("示忙")
    expect(lina.locator(".flash.ok, .flash:not(.error)").first).to_contain_text("已示忙")
    expect(lina.locator("#seat-pending")).to_be_hidden()
    expect(lina.locator("#toggle-ready")).to_have_text("置闲（接听来电）")
    assert live.sim.members[0].paused
    expect(wall.locator("[data-k='board.paused']")).to_have_text("1", timeout=10_000)

    # on the PBX directly: unpaused, then paused for lunch — the open page follows, no reload
    lina.evaluate("window.__noReload = 42")
    pbx_pause(live, "8001", False)
    expect(lina.locator("#seat-state")).to_have_text("空闲", timeout=5_000)
    expect(lina.locator("#toggle-ready")).to_have_text("示忙（暂停接听）")
    pbx_pause(live, "8001", True, "午休 lunch")
    expect(lina.locator("#seat-state")).to_have_text("示忙", timeout=5_000)
    expect(lina.locator("#seat-reason")).to_have_text("午休 lunch")
    assert lina.evaluate("window.__noReload") == 42
    expect(wall.locator("#seats")).to_contain_text("示忙", timeout=10_000)
    lina.screenshot(path=str(OUT / "pause-01-paused-on-the-pbx.png"))

    # the PBX refuses (the seat is no longer a member of the queue): the state stays, the reason shows
    live.call(lambda: live.sim.members.clear())
    lina.click("#toggle-ready")
    expect(lina.locator("#pause-error")).to_be_visible()
    expect(lina.locator("#pause-error")).to_contain_text("置闲未成功：您的分机不在电话系统的队列中")
    expect(lina.locator("#seat-state")).to_have_text("示忙")
    lina.screenshot(path=str(OUT / "pause-02-refused.png"))
