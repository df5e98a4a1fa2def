"""Time the 容量规划 page's cold open over a year of calls in Chromium, a fresh server each time.

    .venv/bin/python bench/capacity_page.py [--runs 7] [--port 18851] [--db var/bench-capacity-page.db]
        [--before /tmp/checkout-of-an-earlier-commit]

A year (2025) of simulated inbound traffic (reports/simweek.py, as bench/capacity.py: 10 lines,
7 seats, ≈ 345,000 calls, each last written when it ended) in a migrated SQLite database with
the console's test people, the hourly traffic rollup rebuilt (once; kept with the database).
Each run starts `hotline serve --workers 1` as a new process (nothing memoised: the models'
memos and the page's memo of the plan are empty), signs a supervisor in (Debian's Chromium,
Playwright, 1366×768), then opens /reports/capacity for the whole year and times, from the
navigation to both heat maps drawn (the page loaded, both heat tables in it, a frame painted
since): wall time, the server process's CPU and Chromium's CPU (from /proc), and the server's
own split (Server-Timing: plan = reading the rollup and the models, page = the template). A
second open of the same URL (the page's memo answers) follows in the same server. Prints each
run, the medians [min–max] and the load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from callcenter.store.db import Database  # noqa: E402
from callcenter.store.migrate import upgrade  # noqa: E402
from callcenter.store.models import Call  # noqa: E402
from reports import simweek, traffic_rollup  # noqa: E402
from reports.capacity import TZ  # noqa: E402
from tests.console_people import PASSWORD, seed_console_people  # noqa: E402

YEAR = simweek.Hotline(lines=10, seats=7, talk_s=200.0, patience_s=80.0, scale=1.25)
HOTLINE = str(Path(sys.executable).parent / "hotline")
CHROMIUM = "/usr/bin/chromium"
DRAWN = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
NAV = """() => { const n = performance.getEntriesByType('navigation')[0];
    return [n.responseStart, n.responseEnd, n.domContentLoadedEventEnd, n.loadEventEnd,
            Object.fromEntries(n.serverTiming.map(t => [t.name, t.duration]))]; }"""


async def prepare(url: str) -> int:
    upgrade(url)
    db = Database(url)
    try:
        async with db.session() as s:
            n = (await s.execute(select(func.count()).select_from(Call))).scalar_one()
        if n < 300_000:
            await seed_console_people(db)
            rows = (r | {"updated_at": r["ended_at"]}
                    for r in simweek.simulate(datetime(2025, 1, 1, tzinfo=TZ), 365, YEAR, seed=7))
            n = await simweek.load(db, rows)
            await traffic_rollup.refresh(db, datetime.now(UTC), rebuild=True)
        return int(n)
    finally:
        await db.dispose()


def ticks(pids: set[int] | None = None, under: int | None = None) -> float:
    """CPU seconds of the given processes, or of every descendant of `under`, from /proc."""
    parent, used = {}, {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            rest = stat[stat.rindex(")") + 2:].split()
            parent[int(d)], used[int(d)] = int(rest[1]), int(rest[11]) + int(rest[12])

    def below(pid: int) -> bool:
        while pid > 1:
            pid = parent.get(pid, 0)
            if pid == under:
                return True
        return False

    chosen = pids if pids is not None else {p for p in used if below(p)}
    return sum(used.get(p, 0) for p in chosen) / os.sysconf("SC_CLK_TCK")


def one_open(page: Any, url: str, server: int, browser_root: int) -> dict[str, Any]:
    s0, b0 = ticks({server}), ticks(under=browser_root) - ticks({server})
    t0 = time.perf_counter()
    page.goto(url)
    for heat in ("#heat-offered", "#heat-blocking"):  # (or the ECharts page's, --compare with the commit before)
        page.wait_for_selector(f"{heat} tbody td, {heat}[data-ready='1']")
    page.evaluate(DRAWN)
    wall = time.perf_counter() - t0
    s1, b1 = ticks({server}), ticks(under=browser_root) - ticks({server})
    nav = page.evaluate(NAV)
    return {"wall": wall, "server": s1 - s0, "browser": b1 - b0, "first_byte_ms": nav[0], "load_ms": nav[3],
            "plan_ms": nav[4].get("plan"), "page_ms": nav[4].get("page")}


def med(xs: list[float | None], nd: int = 3) -> str:
    xs = [x for x in xs if x is not None]  # (no Server-Timing before this bench's commit)
    if not xs:
        return "—"
    return f"{round(statistics.median(xs), nd)} [{round(min(xs), nd)}–{round(max(xs), nd)}]"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--port", type=int, default=18851)
    ap.add_argument("--db", default=str(ROOT / "var" / "bench-capacity-page.db"))
    ap.add_argument("--before", help="a checkout of an earlier commit (`git worktree add --detach DIR REV`, "
                                     "its static/vendor copied): its server alternates with this tree's, run by run")
    a = ap.parse_args()
    Path(a.db).parent.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{a.db}"
    n = asyncio.run(prepare(url))
    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{a.port}"
    year = f"{base}/reports/capacity?from=2025-01-01&to=2025-12-31&lines=10"
    env = {**os.environ, "HOTLINE_DATABASE_URL": url, "HOTLINE_DATA_DIR": tempfile.mkdtemp(prefix="capacity-page-"),
           "HOTLINE_SECRET_KEY": "bench-capacity-page-0123456789abcdef", "HOTLINE_LINES": "10"}
    trees = {"this tree": str(ROOT)} | ({f"before ({a.before})": a.before} if a.before else {})
    cold: dict[str, list[dict[str, Any]]] = {t: [] for t in trees}
    warm: dict[str, list[dict[str, Any]]] = {t: [] for t in trees}
    load0 = os.getloadavg()[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        for run in range(a.runs):
            for label, tree in trees.items():
                srv = subprocess.Popen([HOTLINE, "serve", "--workers", "1", "--port", str(a.port)],
                                       env=env | {"PYTHONPATH": tree}, cwd=tree,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                try:
                    for _ in range(300):
                        try:
                            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                                break
                        except httpx.HTTPError:
                            pass
                        time.sleep(0.1)
                    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN",
                                              timezone_id="Asia/Shanghai")
                    page = ctx.new_page()
                    page.goto(f"{base}/login")
                    page.fill("input[name=username]", "chenjing")
                    page.fill("input[name=password]", PASSWORD)
                    page.click("button[type=submit]")
                    page.wait_for_load_state("domcontentloaded")
                    time.sleep(0.5)  # the sign-in's own work settled
                    c = one_open(page, year, srv.pid, os.getpid())
                    w = one_open(page, year, srv.pid, os.getpid())
                    assert page.locator("#heat-offered tbody td, #heat-offered canvas").count() >= 1
                    cold[label].append(c)
                    warm[label].append(w)
                    print(f"run {run + 1}, {label}: cold {c}; warm wall {w['wall']:.3f} s", flush=True)
                    ctx.close()
                finally:
                    srv.terminate()
                    srv.wait(10)
        browser.close()
    load1 = os.getloadavg()[0]
    print(f"\n容量规划, a year ({n} calls), SQLite, {a.runs} fresh server processes each, load average "
          f"{load0:.1f} → {load1:.1f} on {os.cpu_count()} cores")
    for label in trees:
        c, w = cold[label], warm[label]
        print(f"{label}:")
        for key in ("wall", "server", "browser"):
            print(f"  cold {key} s: {med([x[key] for x in c])}")
        for key in ("first_byte_ms", "load_ms", "plan_ms", "page_ms"):
            print(f"  cold {key}: {med([x[key] for x in c], 1)}")
        print(f"  warm wall s: {med([x['wall'] for x in w])}; server CPU s: {med([x['server'] for x in w])}; "
              f"browser CPU s: {med([x['browser'] for x in w])}")


if __name__ == "__main__":
    main()
