"""The figures table (reports/figures.py): one definition every surface reads."""

from __future__ import annotations

import pytest

from callcenter.floor import wall
from reports import annual, cli, figures, metrics
from reports.figures import CALL_RATES, CASE_RATES, FIGURE, FIGURE_TABLE, derive_rates


def test_keys_are_unique_and_labels_distinct() -> None:
    assert len(FIGURE) == len(FIGURE_TABLE)
    labels = [f.label for f in FIGURE_TABLE]
    assert len(set(labels)) == len(labels), "two figures share a Chinese label"


def test_every_drill_is_a_predicate_metrics_counts() -> None:
    drills = {f.key: f.drill for f in FIGURE_TABLE if f.drill is not None}
    assert drills, "no figure drills down"
    unknown = {k: d for k, d in drills.items() if d not in metrics.FIGURES}
    assert not unknown
    # and every figure metrics can drill into has a row (a label for the drill-down's title)
    assert set(metrics.FIGURES) <= set(FIGURE)


@pytest.mark.parametrize("rate", CASE_RATES + CALL_RATES, ids=lambda f: f.key)
def test_a_rate_divides_two_counts_of_its_area_and_drills_to_its_numerator(rate: figures.Figure) -> None:
    num, den = FIGURE[rate.numerator or ""], FIGURE[rate.denominator or ""]
    assert num.unit == den.unit == "n" and num.area == den.area == rate.area
    assert rate.drill == rate.numerator and rate.unit == "%"


def test_derive_rates() -> None:
    counts = {f.key: 0 for f in FIGURE_TABLE if f.unit == "n"} | {"registered": 3, "resolved": 2, "on_time": 1}
    r = derive_rates(counts)
    assert set(r) == {f.key for f in CASE_RATES}
    assert r["completion_rate"] == 2 / 3 and r["on_time_rate"] == 0.5
    assert r["callback_rate"] is None  # 0 / 0 is shown as "—", not 0 %
    c = derive_rates({"offered": 4, "answered": 3, "answered_within_15s": 1}, CALL_RATES)
    assert c == {"answer_rate": 0.75, "answered_within_15s_rate": 0.25}


def test_every_surface_reads_figures_of_the_table() -> None:
    surfaces = {
        "cli": (*cli.CALL_ROWS, *cli.CASE_ROWS),
        "wall": (*wall.PERIOD_COLUMNS, *wall.KEY_COLUMNS),
        "annual": (*annual.ANNUAL_COUNTS, *annual.ANNUAL_RATES),
    }
    for name, keys in surfaces.items():
        assert set(keys) <= set(FIGURE), name


def test_the_wall_row_of_a_key_uses_the_table_rates() -> None:
    n = {"registered": 4, "resolved": 2, "on_time": 2, "callbacks_reached": 1, "callbacks_required": 2,
         "satisfied": 0, "rated": 0, "overdue_open": 1, "overdue_late": 2}
    row = wall.rates(n)
    assert list(row) == list(wall.KEY_COLUMNS)
    assert row == {"registered": 4, "resolved": 2, "completion_rate": 0.5, "on_time_rate": 1.0,
                   "callback_rate": 0.5, "satisfaction_rate": None, "overdue": 3}
