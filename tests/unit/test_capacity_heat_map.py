"""The 容量规划 page's heat maps (reports/web.py heat_map): hour × weekday cells with their value,
a colour step in equal parts of the period's highest value, a tooltip, and the legend."""

from __future__ import annotations

import gc

from reports.capacity import WEEKDAYS, _collector_paused
from reports.web import HEAT_LEVELS, heat_map


def _hours(values: dict[tuple[int, int], float | None]) -> list[dict]:  # type: ignore[type-arg]
    return [{"weekday": d, "hour": h, "offered": values.get((d, h), 0.0)} for d in range(7) for h in range(24)]


def test_cells_take_equal_steps_up_to_the_busiest_hour() -> None:
    m = heat_map("heat-offered", "平均每小时呼入量（次）",
                 _hours({(0, 10): 80.0, (0, 9): 40.0, (0, 3): 0.4, (6, 23): None, (2, 14): 79.9}),
                 "offered", WEEKDAYS, lambda v: f"{v:.1f}", "平均呼入 {} 次")
    assert [r["day"] for r in m["rows"]] == list(WEEKDAYS)
    assert all(len(r["cells"]) == 24 for r in m["rows"])
    monday = m["rows"][0]["cells"]
    assert monday[10] == {"text": "80.0", "level": HEAT_LEVELS, "title": "周一 10:00 平均呼入 80.0 次"}
    assert monday[9]["level"] == 1 + HEAT_LEVELS // 2  # half the highest: the middle step
    assert monday[3]["level"] == 1  # a few calls: the lightest colour, not the "none" one
    assert monday[0] == {"text": "0.0", "level": 0, "title": "周一 00:00 平均呼入 0.0 次"}
    assert m["rows"][6]["cells"][23]["level"] == 0  # no value: none
    assert m["rows"][2]["cells"][14]["level"] == HEAT_LEVELS
    assert m["top"] == "80.0"
    assert [k["level"] for k in m["legend"]] == list(range(HEAT_LEVELS + 1))
    assert [k["text"] for k in m["legend"]][:3] == ["0", "> 0", "≥ 10.0"]
    assert m["legend"][-1]["text"] == f"≥ {80 * (HEAT_LEVELS - 1) / HEAT_LEVELS:.1f}"


def test_a_period_without_calls_is_all_none() -> None:
    m = heat_map("heat-blocking", "阻塞率", _hours({}), "offered", WEEKDAYS, lambda v: f"{v * 100:.1f}", "阻塞率 {}%")
    assert {c["level"] for r in m["rows"] for c in r["cells"]} == {0}
    assert m["top"] == "0.0"


def test_the_collector_is_paused_only_while_a_plan_is_computed() -> None:
    assert gc.isenabled()
    with _collector_paused():
        assert not gc.isenabled()
        with _collector_paused():  # nested (two plans at once): the outer one turns it back on
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    try:
        with _collector_paused():
            raise ValueError("a plan that fails")
    except ValueError:
        pass
    assert gc.isenabled()
