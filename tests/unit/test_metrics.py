"""The hotline's figures (reports.metrics) on known data, on SQLite and PostgreSQL alike.

Each data set is built directly with the models, with explicit times in Asia/Shanghai, and
every figure is checked against a count made by hand in the comments below.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from callcenter.store.db import Database
from callcenter.store.models import (
    Call,
    CallbackResult,
    CallDirection,
    CallOutcome,
    Category,
    Department,
    Kind,
    Satisfaction,
    Status,
    Ticket,
)
from reports.metrics import (
    CALL_FIGURES,
    CASE_FIGURES,
    GROUPS,
    UnknownDepartment,
    UnknownFigure,
    drill,
    metrics,
    period_bounds,
)

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
Y2025 = (date(2025, 1, 1), date(2025, 12, 31))
SAMPLES = Path(__file__).parent.parent / "fixtures" / "samples"


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)  # type: ignore[misc]


async def build_cases(db: Database) -> None:
    """Twelve cases around the 2025 year boundaries (A–L), see the expectations below."""
    async with db.transaction() as s:
        zjj = Department(code="zjj", name="住房和城乡建设局")
        cgj = Department(code="cgj", name="城市管理局")
        s.add_all([zjj, cgj])
        await s.flush()
        wy = Category(name="物业管理", default_department_id=zjj.id)
        sr = Category(name="市容环境", default_department_id=cgj.id)
        s.add_all([wy, sr])
        await s.flush()

        def t(number: str, kind: Kind, cat: Category, status: Status, at: datetime, **kw: object) -> Ticket:
            return Ticket(number=number, kind=kind, category_id=cat.id, content="…", status=status,
                          registered_at=at, **kw)

        s.add_all([
            # A: registered 2025-12-31 23:30 +08 (15:30 UTC) → 2025; resolved on 2 January, in time
            t("A", Kind.complaint, wy, Status.resolved, cst(2025, 12, 31, 23, 30), department_id=zjj.id,
              ever_dispatched=True, resolved_at=cst(2026, 1, 2, 10), due_at=cst(2026, 1, 8, 17, 30),
              callback_result=CallbackResult.pending),
            # B: 2026-01-01 00:10 +08 (still 31 December in UTC) → 2026, not 2025
            t("B", Kind.complaint, wy, Status.registered, cst(2026, 1, 1, 0, 10)),
            # C: the first instant of 2025, answered directly on the call, called back: 满意, solved
            t("C", Kind.consultation, wy, Status.closed, cst(2025, 1, 1, 0, 0),
              resolved_at=cst(2025, 1, 1, 0, 5), due_at=cst(2025, 1, 6, 17, 30),
              callback_result=CallbackResult.reached, satisfaction=Satisfaction.satisfied, solved=True),
            # D: the last second of 2024 → not 2025
            t("D", Kind.complaint, wy, Status.registered, cst(2024, 12, 31, 23, 59, 59)),
            # E: 不满意 at the callback → reopened, open past its deadline: not resolved, overdue
            t("E", Kind.complaint, sr, Status.reopened, cst(2025, 6, 1, 9), department_id=cgj.id,
              ever_dispatched=True, due_at=cst(2025, 6, 10, 17, 30), reopen_count=1,
              callback_result=CallbackResult.reached, satisfaction=Satisfaction.dissatisfied),
            # F: a duplicate of E → merged, not registered
            t("F", Kind.complaint, sr, Status.merged, cst(2025, 6, 2, 9), department_id=cgj.id),
            # G: a prank → invalid
            t("G", Kind.complaint, wy, Status.invalid, cst(2025, 7, 1, 9)),
            # H: resolved after its deadline, called back: 基本满意, says not solved
            t("H", Kind.complaint, sr, Status.closed, cst(2025, 3, 1, 9), department_id=cgj.id,
              ever_dispatched=True, resolved_at=cst(2025, 3, 20, 9), due_at=cst(2025, 3, 10, 17, 30),
              callback_result=CallbackResult.reached, satisfaction=Satisfaction.basically, solved=False),
            # I: closed after an unreachable callback (keeps its resolved_at)
            t("I", Kind.suggestion, wy, Status.closed, cst(2025, 4, 1, 9), department_id=zjj.id,
              ever_dispatched=True, resolved_at=cst(2025, 4, 5, 9), due_at=cst(2025, 4, 20, 17, 30),
              callback_result=CallbackResult.unreachable),
            # J: an anonymous 举报: no callback needed
            t("J", Kind.report, wy, Status.resolved, cst(2025, 5, 1, 9), department_id=zjj.id,
              ever_dispatched=True, resolved_at=cst(2025, 5, 6, 9), due_at=cst(2025, 5, 20, 17, 30),
              callback_result=CallbackResult.not_needed),
            # K: in work, deadline after `now`; from the web form, with an area
            t("K", Kind.complaint, wy, Status.accepted, cst(2025, 11, 1, 9), department_id=zjj.id,
              ever_dispatched=True, due_at=cst(2026, 6, 1, 17, 30), area="天河区", source="web"),
            # L: registered, not dispatched yet, no deadline
            t("L", Kind.help, wy, Status.registered, cst(2025, 11, 2, 9)),
        ])


def call(lid: str, direction: CallDirection, outcome: CallOutcome, at: datetime, *, wait: float | None = None,
         talk: float | None = None, line: int | None = None, answered: bool = False, ended: bool = False) -> Call:
    answered_at = at + timedelta(seconds=wait or 0) if answered else None
    ended_at = (answered_at or at) + timedelta(seconds=talk or wait or 0) if ended else None
    return Call(linkedid=lid, direction=direction, outcome=outcome, offered_at=at, answered_at=answered_at,
                ended_at=ended_at, wait_s=wait, talk_s=talk, line=line)


async def build_calls(db: Database) -> None:
    IN, OUT, O = CallDirection.inbound, CallDirection.outbound, CallOutcome  # noqa: E741
    async with db.transaction() as s:
        s.add_all([
            call("c1", IN, O.answered, cst(2025, 12, 31, 23, 59, 50), wait=10, talk=120, line=1,
                 answered=True, ended=True),
            call("c2", IN, O.answered, cst(2025, 6, 1, 9), wait=20, talk=60, line=3, answered=True, ended=True),
            call("c3", IN, O.abandoned, cst(2025, 6, 1, 9, 1), wait=30, line=2, ended=True),
            call("c4", IN, O.refused, cst(2025, 6, 1, 9, 2)),  # all lines busy: holds none
            # answered, still talking
            call("c5", IN, O.in_progress, cst(2025, 6, 1, 9, 3), wait=5, line=2, answered=True),
            # still in the queue
            call("c6", IN, O.in_progress, cst(2025, 6, 1, 9, 4), line=4),
            # callbacks: one answered (holding the 5th line), one refused by the line limit
            call("c7", OUT, O.callback_answered, cst(2025, 6, 1, 9, 5), talk=40, line=5, answered=True, ended=True),
            call("c8", OUT, O.callback_failed, cst(2025, 6, 1, 9, 6)),
            call("c9", IN, O.answered, cst(2026, 1, 1, 0, 0), wait=3, talk=10, line=9, answered=True, ended=True),
            # exactly 15 s counts as within 15 s
            call("c10", IN, O.answered, cst(2025, 1, 1, 0, 0), wait=15, talk=30, line=1, answered=True, ended=True),
        ])


def test_the_period_is_whole_days_in_shanghai() -> None:
    lo, hi = period_bounds(*Y2025)
    assert lo == datetime(2024, 12, 31, 16, 0, tzinfo=UTC)
    assert hi == datetime(2025, 12, 31, 16, 0, tzinfo=UTC)


async def test_it_counts_every_case_figure_by_hand(database: Database) -> None:
    await build_cases(database)
    m = await metrics(database, *Y2025, now=NOW)
    assert m["period"] == {"from": "2025-01-01", "to": "2025-12-31", "timezone": "Asia/Shanghai"}
    c = m["cases"]
    # registered A C E H I J K L (B is 2026, D is 2024; F merged and G invalid do not count)
    assert c["registered"] == 8
    assert c["answered_directly"] == 1  # C
    assert c["dispatched"] == 6  # A E H I J K
    assert c["open"] == 3  # E K L
    assert c["resolved"] == 5  # A (resolved 2 January) C H I J; E is reopened
    assert c["completion_rate"] == 5 / 8
    assert c["on_time"] == 4 and c["on_time_rate"] == 4 / 5  # H was late
    assert c["direct_resolution_rate"] == 1 / 8
    assert c["callbacks_required"] == 4  # A C H I (J needs none)
    assert c["callbacks_reached"] == 2  # C H
    assert c["callbacks_unreachable"] == 1 and c["callbacks_pending"] == 1  # I, A
    assert c["callback_rate"] == 0.5
    assert c["satisfied"] == 2 and c["satisfaction_rate"] == 1.0  # 满意 C + 基本满意 H over C H
    assert c["dissatisfied"] == 0  # E's 不满意 sent it back: not resolved
    assert (c["solved"], c["solved_asked"], c["solved_rate"]) == (1, 2, 0.5)
    assert c["reopened"] == 1  # E
    assert c["overdue"] == 2  # E open past due, H resolved after due
    assert c["merged"] == 1 and c["invalid"] == 1
    assert c["by_kind"] == {"complaint": 4, "consultation": 1, "report": 1, "suggestion": 1, "help": 1,
                            "praise": 0, "disclosure": 0}
    assert c["by_category"] == {"物业管理": 6, "市容环境": 2}
    assert c["by_department"] == {"住房和城乡建设局": 4, "城市管理局": 2}
    assert c["by_area"] == {"天河区": 1, "未填写": 7}
    assert c["by_source"] == {"phone": 7, "web": 1}
    assert m["department"] is None


async def test_a_case_resolved_in_january_counts_for_the_year_it_was_registered(database: Database) -> None:
    await build_cases(database)
    m = await metrics(database, date(2025, 12, 31), date(2025, 12, 31), now=NOW)
    assert m["cases"]["registered"] == 1 and m["cases"]["resolved"] == 1  # A
    assert await drill(database, "resolved", date(2025, 12, 31), date(2025, 12, 31), now=NOW) == ["A"]
    jan = await metrics(database, date(2026, 1, 1), date(2026, 1, 31), now=NOW)
    assert jan["cases"]["registered"] == 1 and jan["cases"]["resolved"] == 0  # B only


async def test_overdue_is_as_of_now(database: Database) -> None:
    await build_cases(database)
    # on 2025-06-05 E was not yet past its deadline
    m = await metrics(database, *Y2025, now=cst(2025, 6, 5, 12))
    assert m["cases"]["overdue"] == 1  # H only
    # after K's deadline K is overdue too
    m = await metrics(database, *Y2025, now=cst(2026, 6, 2, 9))
    assert m["cases"]["overdue"] == 3


async def test_zero_denominators_give_null(database: Database) -> None:
    await build_cases(database)
    m = await metrics(database, date(2026, 1, 1), date(2026, 12, 31), now=NOW)
    c = m["cases"]
    assert c["registered"] == 1 and c["completion_rate"] == 0.0  # B: 0 of 1 is 0, not null
    for rate in ("on_time_rate", "callback_rate", "satisfaction_rate", "solved_rate"):
        assert c[rate] is None, rate
    empty = await metrics(database, date(2030, 1, 1), date(2030, 1, 1), now=NOW)
    assert empty["cases"]["registered"] == 0 and empty["cases"]["completion_rate"] is None
    assert empty["cases"]["by_category"] == {} and empty["cases"]["by_kind"]["complaint"] == 0
    k = empty["calls"]
    assert k["offered"] == 0 and k["answer_rate"] is None and k["answered_within_15s_rate"] is None
    assert k["avg_wait_s"] is None and k["avg_talk_s"] is None and k["peak_lines"] is None
    json.dumps(empty)  # JSON-able as it stands


async def test_it_counts_one_department(database: Database) -> None:
    await build_cases(database)
    await build_calls(database)
    m = await metrics(database, *Y2025, department_code="zjj", now=NOW)
    c = m["cases"]
    assert m["department"] == {"code": "zjj", "name": "住房和城乡建设局"}
    assert (c["registered"], c["resolved"], c["callbacks_required"], c["open"]) == (4, 3, 2, 1)  # A I J K
    assert c["by_department"] == {"住房和城乡建设局": 4}
    assert m["calls"] is None  # calls reach the hotline, not a department
    assert await drill(database, "registered", *Y2025, department_code="zjj", now=NOW) == ["I", "J", "K", "A"]
    with pytest.raises(UnknownDepartment):
        await metrics(database, *Y2025, department_code="nope")


async def test_it_counts_calls_by_hand(database: Database) -> None:
    await build_calls(database)
    k = (await metrics(database, *Y2025, now=NOW))["calls"]
    # inbound in 2025: c1 (23:59:50 on 31 December) c2 c3 c4 c5 c6 c10 (00:00 on 1 January); c9 is 2026
    assert k["offered"] == 7
    assert k["answered"] == 4  # c1 c2 c10, and c5 still talking
    assert k["abandoned"] == 1 and k["refused"] == 1 and k["waiting"] == 1  # c3, c4 (not answered), c6
    assert k["answer_rate"] == 4 / 7
    assert k["answered_within_15s"] == 3 and k["answered_within_15s_rate"] == 3 / 7  # c1 10 s, c5 5 s, c10 15 s
    assert k["avg_wait_s"] == pytest.approx((10 + 20 + 5 + 15) / 4)
    assert k["avg_talk_s"] == pytest.approx((120 + 60 + 30) / 3)  # ended calls only
    assert k["peak_lines"] == 5  # the answered callback held the 5th line
    assert (k["callbacks_placed"], k["callbacks_answered"], k["callbacks_failed"]) == (2, 1, 1)


async def test_a_refused_call_is_offered_and_refused_not_answered(database: Database) -> None:
    await build_calls(database)
    refused = await drill(database, "refused", *Y2025, now=NOW)
    assert len(refused) == 1
    assert refused[0] in await drill(database, "offered", *Y2025, now=NOW)
    assert refused[0] not in await drill(database, "answered", *Y2025, now=NOW)


async def test_every_drill_down_is_as_long_as_its_figure(database: Database) -> None:
    await build_cases(database)
    await build_calls(database)
    m = await metrics(database, *Y2025, now=NOW)
    checked = 0
    for name in CASE_FIGURES:
        if name in m["cases"]:
            got = await drill(database, name, *Y2025, now=NOW)
            assert len(got) == m["cases"][name], name
            checked += 1
    for name in CALL_FIGURES:
        if name in m["calls"]:
            got = await drill(database, name, *Y2025, now=NOW)
            assert len(got) == m["calls"][name], name
            checked += 1
    for group in GROUPS:
        for key, n in m["cases"][group].items():
            got = await drill(database, group, *Y2025, key=key, now=NOW)
            assert len(got) == n, (group, key)
            checked += 1
    assert checked > 30
    assert await drill(database, "merged", *Y2025, now=NOW) == ["F"]
    assert await drill(database, "by_department", *Y2025, key="城市管理局", now=NOW) == ["H", "E"]
    assert await drill(database, "by_kind", *Y2025, key="nonsense", now=NOW) == []
    with pytest.raises(UnknownFigure):
        await drill(database, "nonsense", *Y2025)


async def test_the_registry_sample_gives_the_figures_its_readme_states(database: Database) -> None:
    registry_io = pytest.importorskip("callcenter.cases.registry_io")
    await registry_io.import_file(database, SAMPLES / "registry-sample.csv", create_missing=True)
    want = json.loads((SAMPLES / "registry-sample.expect.json").read_text(encoding="utf-8"))
    c = (await metrics(database, date(2012, 1, 1), date(2012, 12, 31)))["cases"]
    for key in ("registered", "answered_directly", "dispatched", "resolved",
                "callbacks_required", "callbacks_reached"):
        assert c[key] == want[key], key
    assert c["satisfied"] == want["satisfied_or_basically"]
    for key in ("completion_rate", "callback_rate", "satisfaction_rate"):
        assert c[key] == pytest.approx(want[key], abs=0.0006), key
    from callcenter.store.models import KIND_BY_LABEL

    assert {k: v for k, v in c["by_kind"].items() if v} == {KIND_BY_LABEL[k].value: v for k, v in want["by_kind"].items()}
    assert c["by_category"] == want["by_category"]
    assert c["by_department"] == want["by_department"]
