"""Capacity planning (容量规划, issue 19): how many trunk lines and seats, from the hotline's own calls.

The traffic of a period per interval (an hour by default) comes from reports/traffic_rollup.py
(the hourly rollup where it is current, SQL aggregates over `calls` for the rest, on SQLite and
PostgreSQL alike): offered (refused included), refused (占线未接入), answered, abandoned (放弃),
answered within 15 s, the sums behind the average handling time (talk + after-call work,
`calls.acw_s`), the waits of answered and abandoned calls, the seats that answered, and the
lines held by outbound callbacks.

`capacity()` turns that into what a director reads:

- per hour of week (Monday 0:00 … Sunday 23:00, Asia/Shanghai), the mean offered calls and
  load, the Erlang B blocking with the configured lines, the lines needed for ≤ 1 % refused,
  and the seats needed (Erlang A: 15秒接通率 ≥ 80 % and 接通率 ≥ 95 %; Erlang C beside it);
- "with N + k lines": the refused calls Erlang B predicts for every past interval, summed over
  the period, for k = 0 … 5, beside the refused calls that really happened;
- validation: for every past interval, the predicted refused (Erlang B with its own offered
  calls and line holding time) and abandoned calls (Erlang A with the seats that answered
  in it) beside the observed ones, and the error over the period.

Models and their assumptions (Poisson arrivals within an interval, exponential handling
time and patience) are in reports/erlang.py. Patience is estimated as the exponential MLE
over the period: calls abandoned / total time callers spent waiting (answered and abandoned).
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from callcenter.core.errors import Invalid
from callcenter.store.db import Database
from callcenter.store.models import Call

from . import erlang
from .metrics import TZ, period_bounds
from .traffic_rollup import ANSWER_WITHIN_S, FIELDS, traffic_rows

C = Call
WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
EXTRA_LINES = range(0, 6)  # "with N + k lines", k = 0 … 5


@dataclass(frozen=True)
class Targets:
    """The service the plan is sized for (DOMAIN.md figures)."""

    refused: float = 0.01  # 占线未接入 / 呼入量 at most
    within_15s: float = 0.80  # 15秒接通率 at least
    answered: float = 0.95  # 接通率 at least


def _sum(rows: list[dict[str, Any]], f: str) -> float:
    return math.fsum(r[f] for r in rows)


@dataclass(frozen=True)
class Rates:
    """Period-wide means the models need where an interval has too few calls of its own."""

    aht: float | None  # mean handling time, s (talk + after-call work where known)
    talk: float | None
    acw: float | None  # mean after-call work of the calls that carry it
    hold: float | None  # mean line holding time of an inbound call that got a line
    patience: float | None  # exponential MLE: total wait / abandoned
    mean_time_to_abandon: float | None  # plain mean of the abandoned calls' waits


def rates(rows: list[dict[str, Any]]) -> Rates:
    talked = _sum(rows, "talked")
    talk = _sum(rows, "talk_sum") / talked if talked else None
    acw_n = _sum(rows, "acw_n")
    acw = _sum(rows, "acw_sum") / acw_n if acw_n else None
    aht = None if talk is None else talk + (acw or 0.0)
    held = _sum(rows, "held_n")
    hold = _sum(rows, "hold_sum") / held if held else None
    aband = _sum(rows, "abandoned")
    waited = _sum(rows, "wait_answered_sum") + _sum(rows, "wait_abandoned_sum")
    patience = waited / aband if aband else None
    pn = _sum(rows, "patience_n")
    tta = _sum(rows, "wait_abandoned_sum") / pn if pn else None
    return Rates(aht=aht, talk=talk, acw=acw, hold=hold, patience=patience, mean_time_to_abandon=tta)


def _how(start: datetime) -> tuple[int, int]:
    """(weekday 0 = Monday, hour) of an instant in Asia/Shanghai."""
    t = start.astimezone(TZ)
    return t.weekday(), t.hour


def _hours_of_week(starts: list[datetime]) -> list[tuple[int, int]]:
    """_how of each start; by arithmetic where the zone's offset is the same over them all
    (Asia/Shanghai has kept +08:00 since 1991), 10× cheaper than a zone conversion each."""
    if not starts:
        return []
    off = starts[0].astimezone(TZ).utcoffset()
    if off is None or starts[-1].astimezone(TZ).utcoffset() != off:
        return [_how(t) for t in starts]
    shift = int(off.total_seconds())
    out = []
    for t in starts:
        local = int(t.timestamp()) + shift
        out.append(((local // 86400 + 3) % 7, local // 3600 % 24))  # 1970-01-01 was a Thursday
    return out


def _hours_in(date_from: date, date_to: date) -> dict[tuple[int, int], int]:
    """How many times each hour of week occurs in the period (so an hour without calls counts as 0)."""
    n: dict[tuple[int, int], int] = {}
    d = date_from
    while d <= date_to:
        for h in range(24):
            n[(d.weekday(), h)] = n.get((d.weekday(), h), 0) + 1
        d += timedelta(days=1)
    return n


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(x, nd)


def _error(pred: list[float], obs: list[int]) -> dict[str, Any]:
    """How far the predictions are from what happened, over the period."""
    if not obs:
        return {"predicted": 0.0, "observed": 0, "difference": 0.0, "relative": None, "mae_per_interval": None}
    p, o = math.fsum(pred), sum(obs)
    return {
        "predicted": round(p, 2),
        "observed": o,
        "difference": round(p - o, 2),
        "relative": _r((p - o) / o) if o else None,
        "mae_per_interval": round(math.fsum(abs(a - b) for a, b in zip(pred, obs, strict=True)) / len(obs), 3),
    }


async def capacity(
    db: Database,
    date_from: date,
    date_to: date,
    lines: int,
    *,
    targets: Targets = Targets(),
    interval_minutes: int = 60,
    history: bool = True,
    use_rollup: bool = True,
) -> dict[str, Any]:
    """The capacity plan of a period (dates inclusive, Asia/Shanghai): see the module docstring."""
    if lines < 1:
        raise Invalid(f"线路数至少为 1，不能是 {lines}", field="lines")
    if interval_minutes <= 0 or 60 % interval_minutes:
        raise Invalid(f"统计间隔须能整除一小时（5、10、15、30 或 60 分钟），不能是 {interval_minutes}",
                      field="interval")
    lo, hi = period_bounds(date_from, date_to)
    interval_s = interval_minutes * 60
    rows = await traffic_rows(db, lo, hi, interval_s, use_rollup=use_rollup)
    with _collector_paused():
        return _plan(rows, date_from, date_to, lines, targets, interval_minutes, history)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a plan is computed (no await in it).

    A year's plan makes ~100,000 containers (the intervals' predictions, the per-hour groups)
    that all stay reachable until it returns, so the collector's passes over them free
    nothing, yet they cost a quarter of its CPU (0.12 of 0.46 s measured, 99 passes, one a
    full one over the whole process). Reference counting still frees as usual; the
    collector runs again at its next threshold once the plan is done."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _plan(rows: list[dict[str, Any]], date_from: date, date_to: date, lines: int, targets: Targets,
          interval_minutes: int, history: bool) -> dict[str, Any]:
    interval_s = interval_minutes * 60
    rt = rates(rows)

    # -- validation and "with N + k lines", per past interval ------------------------------
    # For every past interval, the refused and abandoned calls the models give for its offered
    # calls: with the seats that answered in it known (and the period's handling time and
    # patience), the lines-and-seats chain (M/M/S/N+M: a waiting caller holds a line); Erlang B
    # with the interval's own line holding time beside it (and alone where no seat answered).
    # Each for N … N + 5 lines, in one pass (a year is 8,760 intervals).
    most = lines + max(EXTRA_LINES)
    span = most - lines + 1
    chain = bool(rt.aht and rt.patience)
    mu = 1 / rt.aht if rt.aht else 0.0
    theta = 1 / rt.patience if rt.patience else 0.0
    hold_default = rt.hold or 0.0
    preds: list[dict[str, Any]] = []
    more_model: list[list[float]] = [[] for _ in range(span)]
    more_b: list[list[float]] = [[] for _ in range(span)]
    for r in rows:
        offered, seats = r["offered"], r["seats"]
        hold = r["hold_sum"] / r["held_n"] if r["held_n"] else hold_default
        a = (offered * hold + r["out_hold_sum"]) / interval_s
        if a > 0:
            x = erlang.erlang_b(lines, a)
            block_b = x
            eb = [offered * x]
            for k in range(lines + 1, most + 1):
                x = a * x / (k + a * x)
                eb.append(offered * x)
        else:
            block_b = 0.0
            eb = [0.0] * span
        p: dict[str, Any] = {"load_lines": a, "refused_pred_erlang_b": eb[0]}
        if chain and seats:
            ms = erlang.lines_and_seats_upto(lines, most, seats, offered / interval_s, mu, theta)
            m = ms[0]
            p.update(model="lines_and_seats", refused_pred=offered * m.refused,
                     abandoned_pred=offered * (1 - m.refused) * m.abandon)
            for k in range(span):
                more_model[k].append(offered * ms[k].refused)
                more_b[k].append(eb[k])
        else:
            p.update(model="erlang_b", refused_pred=offered * block_b,
                     abandoned_pred=0.0 if offered - r["refused"] == 0 else None)
            for k in range(span):
                more_model[k].append(eb[k])
                more_b[k].append(eb[k])
        preds.append(p)
    with_more = [{"k": k, "lines": lines + k, "refused_pred": round(math.fsum(more_model[k]), 2),
                  "refused_pred_erlang_b": round(math.fsum(more_b[k]), 2)} for k in EXTRA_LINES]
    observed_refused = sum(r["refused"] for r in rows)
    ab_rows = [(p["abandoned_pred"], r["abandoned"]) for r, p in zip(rows, preds, strict=True)
               if p["abandoned_pred"] is not None]
    def interval(r: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
        return {
            "start": r["start"].astimezone(TZ).isoformat(timespec="minutes"),
            "offered": r["offered"], "seats": r["seats"],
            "load_lines": _r(p["load_lines"], 3),
            "refused": r["refused"], "refused_pred": _r(p["refused_pred"], 3),
            "refused_pred_erlang_b": _r(p["refused_pred_erlang_b"], 3), "model": p["model"],
            "abandoned": r["abandoned"], "abandoned_pred": _r(p["abandoned_pred"], 3),
        }

    def missed(rp: tuple[dict[str, Any], dict[str, Any]]) -> float:
        r, p = rp
        return -(abs(r["refused"] - (_r(p["refused_pred"], 3) or 0))
                 + abs(r["abandoned"] - (_r(p["abandoned_pred"], 3) or 0)))

    validation = {
        "interval_minutes": interval_minutes,
        "refused": _error([p["refused_pred"] for p in preds], [r["refused"] for r in rows]),
        "refused_erlang_b": _error([p["refused_pred_erlang_b"] for p in preds], [r["refused"] for r in rows]),
        "abandoned": _error([a for a, _ in ab_rows], [b for _, b in ab_rows]),
        # every past interval (the JSON and the workbook; the page shows the totals and the worst)
        "intervals": [interval(r, p) for r, p in zip(rows, preds, strict=True)] if history else None,
        # the intervals where the models missed most (refused and abandoned together)
        "worst": [interval(r, p) for r, p in sorted(zip(rows, preds, strict=True), key=missed)[:10]],
    }

    # -- per hour of week: mean traffic, blocking, lines and seats needed -------------------
    occurs = _hours_in(date_from, date_to)
    groups: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for r, key in zip(rows, _hours_of_week([r["start"] for r in rows]), strict=True):
        groups.setdefault(key, []).append(r)
    agg = {key: {f: sum(r[f] for r in g) for f in FIELDS} for key, g in groups.items()}
    hours = []
    for (dow, h), times in sorted(occurs.items()):
        a = agg.get((dow, h), {f: 0.0 for f in FIELDS})
        offered = a["offered"] / times  # mean calls in this hour of week
        hold = a["hold_sum"] / a["held_n"] if a["held_n"] else rt.hold
        load_lines = (offered * (hold or 0.0) + a["out_hold_sum"] / times) / 3600
        aht = rt.aht
        cell: dict[str, Any] = {
            "weekday": dow, "hour": h, "occurrences": times,
            "offered": round(offered, 3),
            "refused": round(a["refused"] / times, 3),
            "answered": round(a["answered"] / times, 3),
            "abandoned": round(a["abandoned"] / times, 3),
            "load_lines": round(load_lines, 3),
            "blocking": _r(erlang.erlang_b(lines, load_lines) if load_lines > 0 else 0.0),
            "lines_needed": erlang.lines_needed(load_lines, targets.refused) if load_lines > 0 else 0,
            "load_seats": None, "seats_needed": None, "seats_erlang_c": None,
        }
        if aht and offered > 0:
            lam = offered / 3600
            cell["load_seats"] = round(lam * aht, 3)
            if rt.patience:
                cell["seats_needed"] = erlang.seats_erlang_a(lam, 1 / aht, 1 / rt.patience, ANSWER_WITHIN_S,
                                                             targets.within_15s, targets.answered)
            cell["seats_erlang_c"] = erlang.seats_erlang_c(lam * aht, aht, ANSWER_WITHIN_S, targets.within_15s)
        elif offered == 0:
            cell["load_seats"], cell["seats_needed"], cell["seats_erlang_c"] = 0.0, 0, 0
        hours.append(cell)

    offered_total = sum(r["offered"] for r in rows)
    refused_rate = observed_refused / offered_total if offered_total else None
    return {
        "kind": "capacity",
        "period": {"from": date_from.isoformat(), "to": date_to.isoformat(), "timezone": TZ.key},
        "lines": lines,
        "targets": {"refused": targets.refused, "within_15s": targets.within_15s, "answered": targets.answered,
                    "answer_within_s": ANSWER_WITHIN_S},
        "totals": {
            "offered": offered_total,
            "refused": observed_refused,
            "answered": sum(r["answered"] for r in rows),
            "abandoned": sum(r["abandoned"] for r in rows),
            "within_15s": sum(r["within_15s"] for r in rows),
            "refused_rate": refused_rate,
            "peak_lines_needed": max((c["lines_needed"] for c in hours), default=0),
            "peak_seats_needed": max((c["seats_needed"] or 0 for c in hours), default=0),
        },
        "rates": {
            "aht_s": _r(rt.aht, 2), "talk_s": _r(rt.talk, 2), "acw_s": _r(rt.acw, 2), "line_hold_s": _r(rt.hold, 2),
            "patience_s": _r(rt.patience, 2), "mean_time_to_abandon_s": _r(rt.mean_time_to_abandon, 2),
        },
        "blocking_exceeded": refused_rate is not None and refused_rate > targets.refused,
        "with_more_lines": with_more,
        "hours": hours,
        "validation": validation,
    }


def capacity_paragraph(plan: dict[str, Any]) -> str | None:
    """The annual report's 存在的问题及改进措施 sentence when blocking exceeded the target, else None."""
    if not plan["blocking_exceeded"]:
        return None
    t = plan["totals"]
    target = plan["targets"]["refused"]
    lines = plan["lines"]
    enough = next((w for w in plan["with_more_lines"] if w["refused_pred"] <= target * t["offered"]), None)
    busiest = sorted((h for h in plan["hours"] if h["blocking"]), key=lambda h: -h["blocking"])[:3]
    when = "、".join(f"{WEEKDAYS[h['weekday']]}{h['hour']}时" for h in busiest)
    text = (
        f"线路容量不足：全年呼入 {t['offered']} 次，因{lines}条线路全忙而占线未接入 {t['refused']} 次"
        f"（{t['refused_rate'] * 100:.1f}%，目标不超过 {target * 100:g}%），集中在{when}。"
    )
    if enough:
        text += (f"按全年话务测算，增至 {enough['lines']} 条线路，占线未接入约为 {enough['refused_pred']:.0f} 次；"
                 "拟据此申请扩容中继线路，并在高峰时段增加在岗话务员。")
    else:
        text += (f"按全年话务测算，达到目标需要约 {t['peak_lines_needed']} 条线路（高峰时段），"
                 "拟据此申请扩容中继线路，并在高峰时段增加在岗话务员。")
    return text


def latest_day(value: datetime | None) -> date | None:
    return value.astimezone(TZ).date() if value else None


async def last_call_day(db: Database) -> date | None:
    """The Asia/Shanghai day of the latest inbound call (the page's default period ends there)."""
    async with db.session() as s:
        t = (await s.execute(select(func.max(C.offered_at)))).scalar_one_or_none()
    if isinstance(t, str):  # SQLite's max() over text loses the column type
        t = datetime.fromisoformat(t).replace(tzinfo=UTC)
    return latest_day(t)


def _pct(x: float | None, nd: int = 2) -> str:
    return "—" if x is None else f"{x * 100:.{nd}f}%"


def render_table(plan: dict[str, Any]) -> str:
    """The plan as text for a terminal: totals, N + k lines, validation, staffing per hour of week."""
    t, v, rt = plan["totals"], plan["validation"], plan["rates"]
    out = [f"容量规划 {plan['period']['from']} 至 {plan['period']['to']}（{plan['lines']} 条线路）",
           f"呼入量 {t['offered']}  接通 {t['answered']}  放弃 {t['abandoned']}  占线未接入 {t['refused']}"
           f"（{_pct(t['refused_rate'])}，目标 ≤ {_pct(plan['targets']['refused'], 0)}）",
           f"平均处理时长 {rt['aht_s'] or '—'} 秒  平均线路占用 {rt['line_hold_s'] or '—'} 秒  "
           f"平均耐心（估计）{rt['patience_s'] or '—'} 秒",
           "", "线路数  占线未接入（模型）  Erlang B"]
    for w in plan["with_more_lines"]:
        out.append(f"{w['lines']:>6}  {w['refused_pred']:>16.1f}  {w['refused_pred_erlang_b']:>8.1f}"
                   + (f"  （实际 {t['refused']}）" if w["k"] == 0 else ""))
    r, a = v["refused"], v["abandoned"]
    out += ["", f"模型检验（每 {v['interval_minutes']} 分钟）：占线未接入 预测 {r['predicted']} / 实际 {r['observed']}"
            f"（误差 {_pct(r['relative'], 1)}）；放弃 预测 {a['predicted']} / 实际 {a['observed']}"
            f"（误差 {_pct(a['relative'], 1)}）", "", "所需坐席（15秒接通率 ≥ 80%，接通率 ≥ 95%）",
            "时段  " + " ".join(f"{d:>4}" for d in WEEKDAYS)]
    cells = {(h["weekday"], h["hour"]): h for h in plan["hours"]}
    for hour in range(24):
        row = [cells.get((d, hour), {}).get("seats_needed") for d in range(7)]
        out.append(f"{hour:02d}时  " + " ".join(f"{'—' if x is None else x:>6}" for x in row))
    return "\n".join(out) + "\n"


def render_xlsx(plan: dict[str, Any]) -> bytes:
    """The plan as a workbook: 汇总, 每小时 (hour of week), 检验 (every past interval)."""
    import io

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "汇总"
    t = plan["totals"]
    for row in (("期间", f"{plan['period']['from']} 至 {plan['period']['to']}"), ("线路数", plan["lines"]),
                ("呼入量", t["offered"]), ("接通", t["answered"]), ("放弃", t["abandoned"]),
                ("占线未接入", t["refused"]), ("占线率", t["refused_rate"]),
                ("平均处理时长（秒）", plan["rates"]["aht_s"]), ("平均耐心（秒）", plan["rates"]["patience_s"])):
        ws.append(row)
    ws.append(())
    ws.append(("线路数", "占线未接入（模型预测）", "占线未接入（Erlang B）"))
    for w in plan["with_more_lines"]:
        ws.append((w["lines"], w["refused_pred"], w["refused_pred_erlang_b"]))
    hs = wb.create_sheet("每小时")
    hs.append(("星期", "时", "平均呼入", "平均占线未接入", "线路负荷（Erl）", "阻塞率", "所需线路", "坐席负荷（Erl）",
               "所需坐席（Erlang A）", "所需坐席（Erlang C）"))
    for h in plan["hours"]:
        hs.append((WEEKDAYS[h["weekday"]], h["hour"], h["offered"], h["refused"], h["load_lines"], h["blocking"],
                   h["lines_needed"], h["load_seats"], h["seats_needed"], h["seats_erlang_c"]))
    vs = wb.create_sheet("检验")
    vs.append(("开始", "呼入", "坐席", "占线未接入", "预测", "预测（Erlang B）", "放弃", "预测"))
    for i in plan["validation"]["intervals"] or []:
        vs.append((i["start"], i["offered"], i["seats"], i["refused"], i["refused_pred"], i["refused_pred_erlang_b"],
                   i["abandoned"], i["abandoned_pred"]))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# a small cache for the page: a supervisor reopening the plan does not recompute it
# ---------------------------------------------------------------------------------------------
CACHE_TTL_S = 120.0
_cache: dict[tuple[Any, ...], tuple[float, dict[str, Any]]] = {}


async def fingerprint(db: Database, date_from: date, date_to: date) -> tuple[int, str]:
    """(highest call id, latest updated_at): changes when any call arrives or changes.

    Two index ends (the primary key and ix_calls_updated_at), whatever the period: counting a
    year's calls from the offered_at index cost more than reading the plan from the rollup."""
    async with db.session() as s:
        top, changed = (await s.execute(select(func.max(C.id), func.max(C.updated_at)))).one()
    return int(top or 0), str(changed)


async def cached_capacity(db: Database, date_from: date, date_to: date, lines: int, *, history: bool,
                          now: float | None = None) -> dict[str, Any]:
    """capacity(), kept up to CACHE_TTL_S seconds while no call was added or changed (a new or
    changed call shows at once: the fingerprint changes)."""
    import copy
    import time

    t = time.monotonic() if now is None else now
    key = (id(db), date_from, date_to, lines, history, await fingerprint(db, date_from, date_to))
    hit = _cache.get(key)
    if hit and t - hit[0] < CACHE_TTL_S:
        return copy.deepcopy(hit[1])
    plan = await capacity(db, date_from, date_to, lines, history=history)
    if len(_cache) >= 16:
        _cache.pop(min(_cache, key=lambda k: _cache[k][0]))
    _cache[key] = (t, plan)
    return copy.deepcopy(plan)
