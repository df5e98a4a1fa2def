"""`hotline report metrics --format table`: labels padded by display width, values aligned."""

from __future__ import annotations

from rich.cells import cell_len

from reports.cli import _block


def test_values_end_in_one_column_whatever_the_labels_script() -> None:
    rows = [("受理量", "12"), ("首次回访满意+基本满意", "95.00%"), ("15秒接通率", "—"), ("abc", "7")]
    title, *lines = _block("工单", rows)
    assert title == "工单"
    assert [line.split()[-1] for line in lines] == [v for _, v in rows]
    assert len({cell_len(line) for line in lines}) == 1  # every value ends in the same display column
    # the longest label still has two columns of space before its value's field
    assert all(line.startswith("  " + label) for line, (label, _) in zip(lines, rows, strict=True))


def test_markup_in_a_name_is_printed_as_written() -> None:
    (_, line) = _block("按问题分类", [("[bold]噪音", "3")])
    assert "[bold]噪音" in line
