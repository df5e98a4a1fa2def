"""The figures table: every figure the hotline reports, once.

Each row names a figure (`key`, as `metrics()` returns it), its Chinese label (中文), its unit,
for a rate its numerator and denominator (both count figures of the same table), and the
figure whose predicate its drill-down lists (`drill`: a name of metrics.FIGURES — a count drills
to itself, a rate to its numerator, an average or a peak nowhere). `metrics()`, the wall
(`callcenter/floor/wall.py`, `wall.html`), the annual report and `hotline report metrics` read
labels and rates from here, and `derive_rates` is the one place a rate is computed.

Pure data: imports nothing of the project, so any layer may read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Unit = Literal["n", "%", "s"]  # a count, a rate (0..1), seconds
Area = Literal["case", "call", "group", "disclosure"]


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    area: Area
    unit: Unit = "n"
    numerator: str | None = None  # rates only
    denominator: str | None = None  # rates only
    drill: str | None = None  # the figure whose predicate lists what this one counts

    @property
    def is_rate(self) -> bool:
        return self.numerator is not None


def _count(key: str, label: str, area: Area = "case") -> Figure:
    return Figure(key, label, area, "n", drill=key)


def _rate(key: str, label: str, numerator: str, denominator: str, area: Area = "case") -> Figure:
    return Figure(key, label, area, "%", numerator, denominator, drill=numerator)


def _measure(key: str, label: str, unit: Unit) -> Figure:
    return Figure(key, label, "call", unit)


FIGURE_TABLE: tuple[Figure, ...] = (
    # cases (DOMAIN.md's definitions; the predicates are metrics.CASE_FIGURES / CASE_SUMS)
    _count("registered", "受理量"),
    _count("answered_directly", "直接答复"),
    _count("dispatched", "派单量"),
    _count("open", "在办"),
    _count("resolved", "办结"),
    _count("on_time", "按时办结"),
    _count("callbacks_required", "应回访"),
    _count("callbacks_reached", "已回访"),
    _count("callbacks_unreachable", "回访未接通"),
    _count("callbacks_pending", "待回访"),
    _count("rated", "有回访结果（首次）"),
    _count("satisfied", "首次回访满意+基本满意"),
    _count("dissatisfied", "首次回访不满意"),
    _count("final_rated", "有回访结果（最终）"),
    _count("final_satisfied", "最终满意+基本满意"),
    _count("solved_asked", "回访问及是否解决"),
    _count("solved", "市民称已解决"),
    _count("reopened", "重办"),
    _count("chased", "被催办工单"),
    _count("chases", "催办量"),
    _count("overdue", "超期"),
    _count("overdue_open", "超期在办"),
    _count("overdue_late", "超期办结"),
    _count("merged", "重复件"),
    _count("invalid", "无效"),
    _rate("completion_rate", "办结率", "resolved", "registered"),
    _rate("on_time_rate", "按时办结率", "on_time", "resolved"),
    _rate("direct_resolution_rate", "直接办结率", "answered_directly", "registered"),
    _rate("callback_rate", "回访率", "callbacks_reached", "callbacks_required"),
    # 满意率: the first reached callback of each case; 最终满意率: the latest one
    _rate("satisfaction_rate", "满意率", "satisfied", "rated"),
    _rate("final_satisfaction_rate", "最终满意率", "final_satisfied", "final_rated"),
    _rate("solved_rate", "解决率", "solved", "solved_asked"),
    _rate("reopen_rate", "重办率", "reopened", "resolved"),
    # breakdowns of the registered cases (metrics.GROUPS; a drill-down needs the key)
    _count("by_kind", "诉求类型", "group"),
    _count("by_category", "问题分类", "group"),
    _count("by_department", "承办单位", "group"),
    _count("by_area", "区域", "group"),
    _count("by_source", "来源", "group"),
    # calls (metrics.CALL_FIGURES)
    _count("offered", "呼入量", "call"),
    _count("answered", "接通", "call"),
    _count("abandoned", "放弃", "call"),
    _count("refused", "占线未接入", "call"),
    _count("waiting", "排队中", "call"),
    _count("answered_within_15s", "15秒内接通", "call"),
    _count("talked", "已通话", "call"),
    _count("callbacks_placed", "外呼回访/回拨", "call"),
    _count("callbacks_answered", "外呼接通", "call"),
    _count("callbacks_unanswered", "外呼未接", "call"),
    _count("callbacks_failed", "外呼失败（线路满）", "call"),
    _rate("answer_rate", "接通率", "answered", "offered", "call"),
    _rate("answered_within_15s_rate", "15秒接通率", "answered_within_15s", "offered", "call"),
    _measure("avg_wait_s", "平均等待（秒）", "s"),
    _measure("avg_talk_s", "平均通话（秒）", "s"),
    _measure("avg_acw_s", "平均话后整理（秒）", "s"),
    _measure("peak_lines", "最高占用线路", "n"),
    # 政府信息公开 (依申请公开) in the annual report, entered or counted per year
    Figure("disclosure_new", "新收政府信息公开申请", "disclosure"),
    Figure("disclosure_carried_in", "上年结转申请", "disclosure"),
    Figure("disclosure_handled", "本年办结申请", "disclosure"),
    Figure("disclosure_carried_out", "结转下年申请", "disclosure"),
)

FIGURE: dict[str, Figure] = {f.key: f for f in FIGURE_TABLE}
# what users call each figure (drill-down titles, exports, the CLI, the wall's headers)
FIGURE_LABELS: dict[str, str] = {f.key: f.label for f in FIGURE_TABLE}
CASE_RATES: tuple[Figure, ...] = tuple(f for f in FIGURE_TABLE if f.is_rate and f.area == "case")
CALL_RATES: tuple[Figure, ...] = tuple(f for f in FIGURE_TABLE if f.is_rate and f.area == "call")


def ratio(numerator: int, denominator: int) -> float | None:
    """The exact ratio as the nearest float (int / int is correctly rounded); None when 0/0 (shown as "—")."""
    if not denominator:
        return None
    return numerator / denominator


def derive_rates(counts: Mapping[str, int], rates: tuple[Figure, ...] = CASE_RATES) -> dict[str, float | None]:
    """Every rate of `rates` from the counts it divides: the one place a rate is derived."""
    return {f.key: ratio(counts[f.numerator], counts[f.denominator])  # type: ignore[index]
            for f in rates}
