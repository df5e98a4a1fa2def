"""The browser tier: Debian's Chromium through pip's playwright, a real uvicorn, the PBX
simulator and the telephony adapter in one server thread, on a real SQLite database (the bus
in-process) or, for tests that ask for it (`@pytest.mark.parametrize("live", ["pg"],
indirect=True)`), a real PostgreSQL database (the bus is LISTEN/NOTIFY, as in production)."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.livesrv import free_port

CHROMIUM = "/usr/bin/chromium"
OUT = Path(__file__).resolve().parents[2] / "test-output" / "browser"
VIEW = {"width": 1366, "height": 768}  # the smallest screen the console is made for
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # under CI=true nothing is skipped: the `chromium` fixture fails instead
    if os.path.exists(CHROMIUM) or os.environ.get("CI") == "true":
        return
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(pytest.mark.skip(
                reason=f"!!! BROWSER TESTS SKIPPED: {CHROMIUM} is missing "
                       "(apt-get install chromium fonts-wqy-microhei) !!!"))


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {CHROMIUM} is missing: scripts/sysdeps.sh must install chromium")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        yield browser
        browser.close()


@dataclass
class Live:
    base: str
    loop: asyncio.AbstractEventLoop
    sim: Any
    adapter: Any
    app: Any
    db_url: str

    def call(self, fn: Any, *args: Any) -> None:
        """Run `fn(*args)` on the server's loop (the simulator lives there)."""
        self.loop.call_soon_threadsafe(fn, *args)

    def run(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


@pytest.fixture
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Live]:
    """uvicorn + PBX simulator (one operator seat, 8001, long talks) + adapter with its pause
    follower, one loop;
    on SQLite (a copy of the migrated template) unless parametrised with "pg"."""
    import uvicorn

    from callcenter.calls.services import StoreCallSink
    from callcenter.core.settings import Settings
    from callcenter.entry.app import create_app
    from callcenter.store.db import Database
    from telephony.adapter import Adapter, AdapterConfig
    from telephony.simulator import PBXSimulator, SimConfig
    from tests.console_people import seed_console_people

    store = getattr(request, "param", "sqlite")
    if store == "pg":
        import psycopg

        from tests.conftest import DATA_TABLES

        url = request.getfixturevalue("pg_url")  # the session's own database, emptied here
        with psycopg.connect(url, autocommit=True) as c:
            c.execute(f"TRUNCATE {', '.join(DATA_TABLES)} RESTART IDENTITY CASCADE")
    else:
        path = tmp_path / "hotline.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    port = free_port()
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        db = Database(url)
        await seed_console_people(db)
        app = create_app(Settings(data_dir=tmp_path, database_url=url), db=db)
        sim = PBXSimulator(SimConfig(operators=1, ring_s=0.3, talk_min_s=900, talk_max_s=901, lines=10))
        sim.generating = False  # calls come only when the test places one
        ami_port = await sim.start("127.0.0.1", 0)
        adapter = Adapter(AdapterConfig(port=ami_port, secret="hotline-secret", data_dir=tmp_path,
                                        write_interval=0.05, reconnect_min=0.05), StoreCallSink(db),
                          publisher=app.state.bus)
        await adapter.start(connect_timeout=10)
        # the console's pause requests are carried out beside the adapter, as `hotline telephony run` does
        follower = asyncio.create_task(adapter.follow_pause_requests(app.state.bus), name="pause-requests")
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               timeout_graceful_shutdown=2))
        box.update(loop=asyncio.get_running_loop(), sim=sim, adapter=adapter, app=app, server=server)
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        ready.set()
        await serving
        follower.cancel()
        await adapter.stop(flush_timeout=5)
        await sim.stop()
        await db.dispose()

    th = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    th.start()
    assert ready.wait(30), "the live server did not start"
    yield Live(f"http://127.0.0.1:{port}", box["loop"], box["sim"], box["adapter"], box["app"], url)
    box["server"].should_exit = True
    th.join(15)


def sign_in(browser: Any, live: Live, username: str) -> Any:
    """A new browser context (1366×768, zh-CN, Asia/Shanghai) signed in as `username`."""
    from tests.console_people import PASSWORD

    ctx = browser.new_context(viewport=VIEW, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = ctx.new_page()
    page.goto(f"{live.base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    assert "/login" not in page.url, page.content()[:500]
    return page


def shot(page: Any, name: str, full: bool = True) -> None:
    """A screenshot under test-output/browser/ (look at them)."""
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=full)
