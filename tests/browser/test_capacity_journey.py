"""容量规划 in Chromium: a supervisor opens the page over a year of simulated traffic (under 1 s
cold, from the hourly traffic rollup, the heat maps drawn by the server as coloured tables),
reads the heat maps, the N + k lines table and the staffing table; the admin too; an
operator and a clerk are refused; bad input is answered in Chinese with what was typed kept."""

from __future__ import annotations

import os
import statistics
import time
from datetime import UTC, datetime

import pytest

from reports import simweek, traffic_rollup
from reports.capacity import TZ
from tests.browser.conftest import shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

YEAR = simweek.Hotline(lines=10, seats=7, talk_s=200.0, patience_s=80.0, scale=1.25)


def _cpu_s() -> tuple[float, float]:
    """CPU seconds used so far by this process (the live server's threads are in it, and
    Playwright's client: an upper bound on the server's) and by every process it started
    (Playwright's driver, Chromium and its renderers), from /proc."""
    me, parent, ticks = os.getpid(), {}, {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            rest = stat[stat.rindex(")") + 2:].split()
            parent[int(d)], ticks[int(d)] = int(rest[1]), int(rest[11]) + int(rest[12])

    def ours(pid: int) -> bool:
        while pid > 1:
            if pid == me:
                return True
            pid = parent.get(pid, 0)
        return False

    hz = os.sysconf("SC_CLK_TCK")
    return ticks.get(me, 0) / hz, sum(t for pid, t in ticks.items() if pid != me and ours(pid)) / hz


DRAWN = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"


def _open(page, url: str) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    """(wall, server CPU, browser CPU) seconds from navigation to both heat maps drawn: the
    page loaded (styles applied), both heat tables in it, and a frame painted since."""
    (s0, b0), t0 = _cpu_s(), time.perf_counter()
    page.goto(url)  # to the load event
    page.wait_for_selector("#heat-offered tbody td")
    page.wait_for_selector("#heat-blocking tbody td")
    page.evaluate(DRAWN)
    wall = time.perf_counter() - t0
    s1, b1 = _cpu_s()
    return wall, s1 - s0, b1 - b0


def test_a_supervisor_plans_lines_and_seats_from_a_year_of_traffic(chromium, live) -> None:  # type: ignore[no-untyped-def]
    db = live.app.state.db
    # a year of calls, each last written when it ended (as the call store does) ...
    rows = (r | {"updated_at": r["ended_at"]}
            for r in simweek.simulate(datetime(2025, 1, 1, tzinfo=TZ), 365, YEAR, seed=7))
    n = live.run(simweek.load(db, rows), timeout=600)
    assert n > 300_000
    # ... and the scheduler's rollup step run since (every minute in production)
    live.run(traffic_rollup.refresh(db, datetime.now(UTC)), timeout=300)
    page = sign_in(chromium, live, "chenjing")
    load = os.getloadavg()[0]
    # the whole year as the period, cold: the first open in this server process, then each
    # with another line count so that neither the page's memo nor the models' memo of the
    # line chains answers (the seats' Erlang A memo is warm after the first)
    year = f"{live.base}/reports/capacity?from=2025-01-01&to=2025-12-31"
    cold = [_open(page, f"{year}&lines={k}") for k in (10, 11, 12, 13, 14, 15, 16)]
    warm = [_open(page, f"{year}&lines=10") for _ in range(3)]  # the page's memo of the plan
    nav = page.evaluate("""() => { const n = performance.getEntriesByType('navigation')[0];
        return [n.responseStart, n.responseEnd, n.domContentLoadedEventEnd, n.loadEventEnd,
                Object.fromEntries(n.serverTiming.map(t => [t.name, t.duration]))]; }""")
    wall, server, browser = ([x[i] for x in cold] for i in range(3))
    cpu = [a + b for a, b in zip(server, browser, strict=True)]
    load = max(load, os.getloadavg()[0])
    print(f"capacity page, a year ({n} calls), load average {load:.1f} on {os.cpu_count()} cores: cold wall "
          f"{[round(t, 3) for t in wall]} s (median {statistics.median(wall):.3f}), CPU {[round(c, 2) for c in cpu]} s "
          f"(median {statistics.median(cpu):.2f}; server {[round(c, 2) for c in server]}, browser "
          f"{[round(c, 2) for c in browser]}); warm wall {[round(w[0], 3) for w in warm]} s; warm open: first "
          f"byte {nav[0]:.0f} ms, HTML {nav[1]:.0f} ms, DOMContentLoaded {nav[2]:.0f} ms, load {nav[3]:.0f} ms, "
          f"server timing {nav[4]} ms")
    # Reading the calls table for a year cost 4.9–7.3 s (docs/benchmarks.md); from the hourly
    # rollup the server's part of a cold open is a fraction of a second of CPU, which a shared
    # machine does not change much: asserted under 0.75 s (the median of seven; 0.3–0.5 s on
    # the loaded machine this was written on). The wall time from navigation to the charts is
    # under 1 s only when the machine has a core free for the page (load average at most the
    # cores) — asserted then; on a loaded machine it is printed above, with the browser's CPU.
    assert statistics.median(server) < 0.75, (cold, load)
    # and the server's and Chromium's CPU together (0.7–1.1 s at load 9–10 on 2 cores, the
    # heat maps drawn as tables; a quiet core gives the page its < 1 s): a budget for the
    # whole open that a shared CI machine keeps too
    assert statistics.median(cpu) < 1.5, (cold, load)
    if load <= (os.cpu_count() or 1):
        assert statistics.median(wall) < 1.0, (cold, load)
        assert statistics.median([w[0] for w in warm]) < 1.0, (warm, load)
    # the page as a supervisor opens it by default: the 28 days up to the latest call
    default = [_open(page, f"{live.base}/reports/capacity") for _ in range(3)]
    print(f"capacity page, default 28 days: wall {[round(d[0], 3) for d in default]} s, "
          f"server CPU {[round(d[1], 2) for d in default]} s, browser CPU {[round(d[2], 2) for d in default]} s")
    assert statistics.median([d[1] for d in default]) < 0.75, default
    if load <= (os.cpu_count() or 1):
        assert statistics.median([d[0] for d in default]) < 1.0, default
    assert page.input_value("input[name=to]") == "2025-12-31"
    assert page.input_value("input[name=from]") == "2025-12-04"
    url = f"{year}&lines=10"
    page.goto(url)
    assert int(page.text_content("#cap-offered") or 0) == n
    rows = page.locator("#cap-more-lines tbody tr")
    assert rows.count() == 6
    assert "若有 11 条线路，占线未接入约为" in (rows.nth(1).text_content() or "")
    assert page.locator("#cap-staffing tbody tr").count() == 24
    monday_10 = page.locator("#cap-staffing tbody tr").nth(10).locator("td").nth(0).text_content()
    assert monday_10 and int(monday_10) >= 5
    assert page.locator("#cap-validation tbody tr").count() == 3
    # the heat maps: 7 days × 24 hours, each cell its value and a colour step, the busiest the darkest;
    # no chart library loaded for them
    for heat in ("#heat-offered", "#heat-blocking"):
        assert page.locator(f"{heat} tbody tr").count() == 7
        assert page.locator(f"{heat} tbody td").count() == 7 * 24
        assert page.locator(f"{heat} td.l8").count() >= 1
    cell = page.locator("#heat-offered tbody tr").nth(0).locator("td").nth(10)  # Monday 10:00
    assert float(cell.text_content() or 0) > 5 and (cell.get_attribute("title") or "").startswith("周一 10:00 平均呼入")
    night = page.locator("#heat-offered tbody tr").nth(0).locator("td").nth(3)  # Monday 03:00
    assert float(night.text_content() or 0) < float(cell.text_content() or 0)
    colour = "el => getComputedStyle(el).backgroundColor"
    assert cell.evaluate(colour) != night.evaluate(colour)
    assert page.locator("script[src*=echarts]").count() == 0
    shot(page, "capacity-year")
    # the JSON carries predicted and observed for every past hour
    data = page.request.get(url + "&format=json").json()
    assert len(data["validation"]["intervals"]) > 8000
    assert sum(i["refused"] for i in data["validation"]["intervals"]) == data["totals"]["refused"]
    # bad input: Chinese, typed values kept, no 500
    page.goto(f"{live.base}/reports/capacity?from=2025-13-01&to=2025-12-31&lines=abc")
    assert "不是有效日期" in (page.text_content("#capacity-error") or "")
    assert "1 至 1000" in (page.text_content("#capacity-error") or "")
    # what was typed comes back (a date input shows an impossible date empty; the value is kept)
    assert page.get_attribute("input[name=from]", "value") == "2025-13-01"
    assert page.get_attribute("input[name=lines]", "value") == "abc"
    assert page.input_value("input[name=to]") == "2025-12-31"
    page.context.close()

    admin = sign_in(chromium, live, "admin")
    r = admin.goto(f"{live.base}/reports/capacity?from=2025-06-01&to=2025-06-30")
    assert r and r.status == 200 and admin.locator("#cap-staffing").count() == 1
    admin.context.close()
    for who in ("lina", "zhangwei"):
        p = sign_in(chromium, live, who)
        r = p.goto(f"{live.base}/reports/capacity")
        assert r and r.status == 403
        assert p.locator("#cap-staffing").count() == 0
        p.context.close()
