"""Callbacks (回访 / 回拨) and deadline supervision on SQLite and PostgreSQL, time given, never slept."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update

from callbacks import service
from callbacks.deadlines import daily_summary, open_notices
from callbacks.dialer import place_requested
from callbacks.scheduler import CallbackScheduler, LeaseLeader, SchedulerConfig
from callcenter.cases import services
from callcenter.cases.services import NewTicket
from callcenter.cases.workflow import Actor
from callcenter.core.errors import Conflict
from callcenter.people.auth import actor_of, add_user
from callcenter.store.db import Database
from callcenter.store.models import (
    Call,
    Callback,
    CallbackKind,
    CallbackRequest,
    CallbackResult,
    CallbackTaskStatus,
    CallDirection,
    CallOutcome,
    Kind,
    Notification,
    Role,
    Satisfaction,
    SchedulerLease,
    SlaRule,
    Status,
    Ticket,
)
from tests.conftest import Personas

CST = timezone(timedelta(hours=8))


def cst(*a: int) -> datetime:
    return datetime(*a, tzinfo=CST)  # type: ignore[misc]


class People:
    def __init__(self, p: Personas) -> None:
        self.lina: Actor = actor_of(p.lina)  # type: ignore[arg-type]
        self.zhangwei: Actor = actor_of(p.zhangwei)  # type: ignore[arg-type]
        self.chenjing: Actor = actor_of(p.chenjing)  # type: ignore[arg-type]


@pytest.fixture
def people(personas: Personas) -> People:
    return People(personas)


async def new_case(db: Database, who: People, at: datetime, **over: Any) -> Ticket:
    data = dict(kind="complaint", category="物业管理", content="小区电梯长期故障无人维修", caller_phone="13812345678",
                caller_name="王小明")
    data.update(over)
    return await services.register(db, who.lina, NewTicket(**data), now=at)  # type: ignore[arg-type]


async def resolve(db: Database, who: People, number: str, at: datetime, accept: bool = True) -> Ticket:
    t = await services.get(db, who.lina, number)
    if t.status in (Status.registered, Status.reopened) and t.department_id is None:
        await services.act(db, who.lina, number, "dispatch", None, {"department": "zjj"}, at)
    if accept:
        await services.act(db, who.zhangwei, number, "accept", None, {}, at)
    return await services.act(db, who.zhangwei, number, "resolve", None, {"resolution": "已维修电梯"}, at)


async def callbacks_of(db: Database, ticket_id: int) -> list[Callback]:
    async with db.session() as s:
        return list((await s.scalars(select(Callback).where(Callback.ticket_id == ticket_id).order_by(Callback.id))).all())


async def ticket(db: Database, who: People, number: str) -> Ticket:
    return await services.get(db, who.lina, number)


# ---- case callbacks -----------------------------------------------------------------------------


async def test_a_case_resolved_before_the_spring_festival_is_called_back_after_it(database: Database, people: People) -> None:
    t = await new_case(database, people, cst(2026, 2, 12, 9, 0))
    await resolve(database, people, t.number, cst(2026, 2, 14, 16, 0))  # the make-up Saturday
    [cb] = await callbacks_of(database, t.id)
    assert cb.kind is CallbackKind.case and cb.status is CallbackTaskStatus.pending
    assert cb.due_at == cst(2026, 2, 24, 17, 30)  # the next working day is after the holiday
    assert cb.next_attempt_at == cst(2026, 2, 14, 16, 0)
    assert cb.phone == "13812345678" and cb.phone_norm == "+8613812345678"
    assert (await ticket(database, people, t.number)).callback_result is CallbackResult.pending


async def test_a_case_resolved_on_a_friday_is_called_back_on_monday(database: Database, people: People) -> None:
    t = await new_case(database, people, cst(2026, 3, 2, 9, 0))
    await resolve(database, people, t.number, cst(2026, 3, 6, 18, 0))
    [cb] = await callbacks_of(database, t.id)
    assert cb.due_at == cst(2026, 3, 9, 17, 30)
    assert cb.next_attempt_at == cst(2026, 3, 9, 8, 30)


async def test_an_answered_case_gets_a_callback_and_a_declined_one_none(database: Database, people: People) -> None:
    t = await new_case(database, people, cst(2026, 10, 9, 10, 0), kind="consultation")
    await services.act(database, people.lina, t.number, "answer", None, {"answer": "按政策可申请"}, cst(2026, 10, 9, 10, 5))
    [cb] = await callbacks_of(database, t.id)
    assert cb.due_at == cst(2026, 10, 10, 17, 30)  # the make-up Saturday after National Day
    declined = await new_case(database, people, cst(2026, 10, 9, 10, 0), no_callback=True)
    await services.act(database, people.lina, declined.number, "answer", None, {"answer": "已答复"}, cst(2026, 10, 9, 11))
    assert await callbacks_of(database, declined.id) == []
    assert (await ticket(database, people, declined.number)).callback_result is CallbackResult.not_needed


async def test_three_unanswered_attempts_end_as_unreachable(database: Database, people: People) -> None:
    t = await new_case(database, people, cst(2026, 3, 2, 9, 0))
    await resolve(database, people, t.number, cst(2026, 3, 6, 10, 0))
    [cb] = await callbacks_of(database, t.id)
    at1 = cst(2026, 3, 6, 10, 30)
    cb = await service.record_attempt(database, people.lina, cb.id, "not_reached", now=at1)
    assert cb.attempts == 1 and cb.status is CallbackTaskStatus.pending
    assert cb.next_attempt_at == cst(2026, 3, 6, 14, 30)
    cb = await service.record_attempt(database, people.lina, cb.id, "not_reached", now=cb.next_attempt_at)
    assert cb.attempts == 2 and cb.next_attempt_at == cst(2026, 3, 9, 8, 30)  # Monday morning
    assert (await ticket(database, people, t.number)).status is Status.resolved
    cb = await service.record_attempt(database, people.lina, cb.id, "not_reached", now=cb.next_attempt_at)
    assert cb.attempts == 3 and cb.status is CallbackTaskStatus.unreachable
    case = await ticket(database, people, t.number)
    assert case.status is Status.closed and case.callback_result is CallbackResult.unreachable
    with pytest.raises(Conflict):
        await service.record_attempt(database, people.lina, cb.id, "not_reached", now=cst(2026, 3, 9, 15, 0))


async def test_attempts_set_to_two_in_sla_rules_end_the_second_unanswered_attempt_as_unreachable(
    database: Database, people: People,
) -> None:
    # an admin's value in sla_rules, not a default in the code (DOMAIN.md 'Deadlines');
    # sla_rules outlives the test on PostgreSQL (conftest), hence the finally
    async def set_attempts(n: int) -> None:
        async with database.transaction() as s:
            await s.execute(update(SlaRule).where(SlaRule.kind == Kind.complaint).values(callback_max_attempts=n))
        database.refcache.invalidate()

    assert (await database.ref()).sla_for(Kind.complaint).callback_max_attempts == 3  # the migration's default
    await set_attempts(2)
    try:
        t = await new_case(database, people, cst(2026, 3, 2, 9, 0))
        await resolve(database, people, t.number, cst(2026, 3, 6, 10, 0))
        [cb] = await callbacks_of(database, t.id)
        cb = await service.record_attempt(database, people.lina, cb.id, "not_reached", now=cst(2026, 3, 6, 10, 30))
        assert cb.attempts == 1 and cb.status is CallbackTaskStatus.pending
        cb = await service.record_attempt(database, people.lina, cb.id, "not_reached", now=cb.next_attempt_at)
        assert cb.attempts == 2 and cb.status is CallbackTaskStatus.unreachable
        case = await ticket(database, people, t.number)
        assert case.status is Status.closed and case.callback_result is CallbackResult.unreachable
    finally:
        await set_attempts(3)


async def test_dissatisfied_reopens_the_case_and_a_second_callback_follows_the_second_resolution(
    database: Database, people: People
) -> None:
    t = await new_case(database, people, cst(2026, 3, 2, 9, 0))
    await resolve(database, people, t.number, cst(2026, 3, 3, 10, 0))
    [first] = await callbacks_of(database, t.id)
    await service.record_attempt(database, people.lina, first.id, "dissatisfied", words="电梯还是坏的",
                                 solved=False, now=cst(2026, 3, 3, 15, 0))
    case = await ticket(database, people, t.number)
    assert case.status is Status.reopened and case.satisfaction is Satisfaction.dissatisfied
    [first] = await callbacks_of(database, t.id)
    assert first.status is CallbackTaskStatus.done and first.satisfaction is Satisfaction.dissatisfied
    assert first.words == "电梯还是坏的" and first.operator_id == people.lina.id and first.attempts == 1

    await resolve(database, people, t.number, cst(2026, 3, 5, 16, 0), accept=False)  # resolve from reopened
    first, second = await callbacks_of(database, t.id)
    assert second.status is CallbackTaskStatus.pending and second.due_at == cst(2026, 3, 6, 17, 30)
    await service.record_attempt(database, people.lina, second.id, "satisfied", words="修好了", solved=True,
                                 now=cst(2026, 3, 6, 9, 0))
    case = await ticket(database, people, t.number)
    assert case.status is Status.closed and case.satisfaction is Satisfaction.satisfied and case.solved is True
    assert [c.status for c in await callbacks_of(database, t.id)] == [CallbackTaskStatus.done] * 2


async def test_a_supervisors_reopening_cancels_the_pending_callback(database: Database, people: People) -> None:
    t = await new_case(database, people, cst(2026, 3, 2, 9, 0))
    await resolve(database, people, t.number, cst(2026, 3, 3, 10, 0))
    await services.act(database, people.chenjing, t.number, "reopen", None, {"reason": "处理不实"}, cst(2026, 3, 3, 11))
    [cb] = await callbacks_of(database, t.id)
    assert cb.status is CallbackTaskStatus.cancelled


# ---- missed calls ------------------------------------------------------------------------------------

_lid = iter(range(1, 10_000))


async def add_call(db: Database, number: str | None, at: datetime, outcome: CallOutcome,
                   direction: CallDirection = CallDirection.inbound, **kw: Any) -> int:
    from callcenter.cases.phones import normalize

    async with db.transaction() as s:
        c = Call(pbx="default", linkedid=f"L{next(_lid)}", direction=direction, caller_number=number,
                 caller_norm=normalize(number), offered_at=at, ended_at=at + timedelta(seconds=20), outcome=outcome,
                 updated_at=at, **kw)
        s.add(c)
        await s.flush()
        return c.id


async def missed_tasks(db: Database) -> list[Callback]:
    async with db.session() as s:
        return list((await s.scalars(select(Callback).where(Callback.kind == CallbackKind.missed)
                                     .order_by(Callback.id))).all())


async def test_repeated_misses_from_one_number_make_one_task_which_a_later_answered_call_closes(
    database: Database, people: People
) -> None:
    t0 = cst(2026, 3, 9, 11, 40)
    first = await add_call(database, "13912345678", t0, CallOutcome.abandoned)
    await add_call(database, "13912345678", t0 + timedelta(minutes=3), CallOutcome.refused)
    await add_call(database, None, t0, CallOutcome.abandoned)  # no number: nobody to call back
    await add_call(database, "07315551234", t0 + timedelta(minutes=5), CallOutcome.answered)
    assert await service.sync_missed_calls(database, t0 + timedelta(minutes=10)) is True
    [task] = await missed_tasks(database)
    assert task.phone_norm == "+8613912345678" and task.call_id == first
    assert task.due_at == cst(2026, 3, 9, 15, 10)  # 20 minutes before lunch, 40 after
    assert await service.sync_missed_calls(database, t0 + timedelta(minutes=11)) is False

    await add_call(database, "13912345678", t0 + timedelta(minutes=30), CallOutcome.answered)
    assert await service.sync_missed_calls(database, t0 + timedelta(minutes=31)) is True
    [task] = await missed_tasks(database)
    assert task.status is CallbackTaskStatus.done
    assert await service.sync_missed_calls(database, t0 + timedelta(minutes=32)) is False

    # a miss after that is a new task
    await add_call(database, "13912345678", t0 + timedelta(hours=3), CallOutcome.abandoned)
    assert await service.sync_missed_calls(database, t0 + timedelta(hours=3, minutes=1)) is True
    assert [t.status for t in await missed_tasks(database)] == [CallbackTaskStatus.done, CallbackTaskStatus.pending]


async def test_a_missed_call_reached_by_the_operator_is_done_and_a_miss_meanwhile_makes_no_new_task(
    database: Database, people: People
) -> None:
    t0 = cst(2026, 3, 9, 9, 0)
    await add_call(database, "13912345678", t0, CallOutcome.abandoned)
    await service.sync_missed_calls(database, t0 + timedelta(minutes=1))
    [task] = await missed_tasks(database)
    await add_call(database, "13912345678", t0 + timedelta(minutes=2), CallOutcome.abandoned)
    await service.record_attempt(database, people.lina, task.id, "reached", words="已登记新诉求",
                                 now=t0 + timedelta(minutes=10))
    assert await service.sync_missed_calls(database, t0 + timedelta(minutes=11)) is False
    [task] = await missed_tasks(database)
    assert task.status is CallbackTaskStatus.done and task.words == "已登记新诉求"


# ---- click-to-call and the call's outcome ----------------------------------------------------------


async def test_click_to_call_places_one_originate_and_an_unanswered_call_counts_one_attempt(
    database: Database, people: People
) -> None:
    t = await new_case(database, people, cst(2026, 3, 2, 9, 0))
    await resolve(database, people, t.number, cst(2026, 3, 3, 10, 0))
    [cb] = await callbacks_of(database, t.id)
    now = cst(2026, 3, 3, 10, 30)
    req = await service.request_call(database, people.lina, cb.id, now)
    assert req.seat == "8001" and req.phone == "13812345678" and req.ticket_ref == t.number
    assert (await service.request_call(database, people.lina, cb.id, now)).id == req.id  # a double click
    zhaolei = actor_of(await add_user(database, "zhaolei", Role.operator, display_name="赵磊", seat="8002"))
    with pytest.raises(Conflict):
        await service.request_call(database, zhaolei, cb.id, now)  # 李娜 is on it

    placed: list[tuple[Any, ...]] = []

    async def originate(citizen: str, seat: str, **kw: Any) -> None:
        placed.append((citizen, seat, kw["ticket_ref"], kw["idempotency_key"], kw["style"]))

    assert await place_requested(database, originate, "dialer-1", now) is True
    assert await place_requested(database, originate, "dialer-2", now) is False
    assert placed == [("13812345678", "8001", t.number, req.key, "operator_first")]

    # the tracker's Call row: the citizen did not answer (DialEnd NOANSWER on the operator's ;1)
    await add_call(database, "13812345678", now, CallOutcome.callback_unanswered, direction=CallDirection.outbound,
                   ticket_ref=t.number, data={"callback_key": req.key, "style": "operator_first"})
    assert await service.collect_outcomes(database, "sched-1", now + timedelta(minutes=1)) is True
    assert await service.collect_outcomes(database, "sched-2", now + timedelta(minutes=1)) is False
    [cb] = await callbacks_of(database, t.id)
    assert cb.attempts == 1 and cb.status is CallbackTaskStatus.pending
    assert cb.next_attempt_at == cst(2026, 3, 3, 14, 30)
    async with database.session() as s:
        r = await s.get(CallbackRequest, req.id)
    assert r is not None and r.status == "done" and r.outcome == "callback_unanswered"


async def test_an_answered_call_leaves_the_satisfaction_to_the_operator(database: Database, people: People) -> None:
    t = await new_case(database, people, cst(2026, 3, 2, 9, 0))
    await resolve(database, people, t.number, cst(2026, 3, 3, 10, 0))
    [cb] = await callbacks_of(database, t.id)
    now = cst(2026, 3, 3, 10, 30)
    req = await service.request_call(database, people.lina, cb.id, now)

    async def originate(*a: Any, **kw: Any) -> None:
        return None

    await place_requested(database, originate, "dialer", now)
    await add_call(database, "13812345678", now, CallOutcome.callback_answered, direction=CallDirection.outbound,
                   data={"callback_key": req.key})
    await service.collect_outcomes(database, "sched", now + timedelta(minutes=1))
    [cb] = await callbacks_of(database, t.id)
    assert cb.attempts == 0 and cb.status is CallbackTaskStatus.pending
    await service.record_attempt(database, people.lina, cb.id, "basically", now=now + timedelta(minutes=2))
    assert (await ticket(database, people, t.number)).status is Status.closed


# ---- deadline supervision ---------------------------------------------------------------------------


async def notices(db: Database, ticket_id: int | None = None) -> list[tuple[str, str]]:
    async with db.session() as s:
        q = select(Notification.kind, Notification.status).order_by(Notification.id)
        if ticket_id is not None:
            q = q.where(Notification.ticket_id == ticket_id)
        return [(k, st) for k, st in (await s.execute(q)).all()]


def scheduler(db: Database, name: str) -> CallbackScheduler:
    cfg = SchedulerConfig(worker_id=name)
    return CallbackScheduler(db, cfg, leader=LeaseLeader(db, name, timedelta(seconds=30)))


async def test_a_case_passing_its_deadline_is_marked_overdue_and_escalated_once_across_a_restart(
    database: Database, people: People
) -> None:
    t = await new_case(database, people, cst(2026, 3, 2, 9, 0))  # due Monday 9 March 17:30 (5 working days)
    await services.act(database, people.lina, t.number, "dispatch", None, {"department": "zjj"}, cst(2026, 3, 2, 9, 5))
    await services.act(database, people.zhangwei, t.number, "accept", None, {}, cst(2026, 3, 2, 9, 30))
    assert (await ticket(database, people, t.number)).due_at == cst(2026, 3, 9, 17, 30)

    first = scheduler(database, "first")
    assert await first.step_deadlines(cst(2026, 3, 6, 18, 0)) is True  # one working day before
    assert await first.step_deadlines(cst(2026, 3, 6, 18, 1)) is False
    await first.step_deadlines(cst(2026, 3, 9, 16, 0))
    await first.step_deadlines(cst(2026, 3, 9, 17, 30))
    assert await notices(database, t.id) == [("remind_1d", "open"), ("remind_2h", "open"), ("overdue", "open")]

    second = scheduler(database, "second")  # a restart (or another process) in between
    assert await second.step_deadlines(cst(2026, 3, 9, 18, 0)) is False
    assert await second.step_deadlines(cst(2026, 3, 16, 17, 30)) is True  # five working days after
    assert await first.step_deadlines(cst(2026, 3, 16, 17, 31)) is False
    assert await second.step_deadlines(cst(2026, 3, 20, 9, 0)) is False
    kinds = [k for k, _ in await notices(database, t.id)]
    assert kinds.count("overdue") == 1 and kinds.count("escalated") == 1
    [esc] = await open_notices(database, audience="supervisor")
    assert esc.kind == "escalated" and t.number in esc.message and esc.created_by == "second"

    # resolved at last: its notices leave the lists
    await services.act(database, people.zhangwei, t.number, "resolve", None, {"resolution": "已处理"},
                       cst(2026, 3, 20, 10, 0))
    await second.step_deadlines(cst(2026, 3, 20, 10, 1))
    assert {st for _, st in await notices(database, t.id)} == {"closed"}


async def test_an_approved_extension_moves_the_deadline_and_drops_the_old_notices(
    database: Database, people: People
) -> None:
    t = await new_case(database, people, cst(2026, 3, 2, 9, 0))
    await services.act(database, people.lina, t.number, "dispatch", None, {"department": "zjj"}, cst(2026, 3, 2, 9, 5))
    await services.act(database, people.zhangwei, t.number, "accept", None, {}, cst(2026, 3, 2, 9, 30))
    sched = scheduler(database, "s")
    await sched.step_deadlines(cst(2026, 3, 9, 16, 0))
    assert await notices(database, t.id) == [("remind_1d", "open"), ("remind_2h", "open")]
    await services.act(database, people.zhangwei, t.number, "request_extension", None,
                       {"until": cst(2026, 3, 13, 17, 30), "reason": "需协调供电部门"}, cst(2026, 3, 9, 16, 10))
    await sched.step_deadlines(cst(2026, 3, 9, 16, 11))
    assert ("extension_waiting", "open") in await notices(database, t.id)
    await services.act(database, people.chenjing, t.number, "decide_extension", None, {"approve": True},
                       cst(2026, 3, 9, 16, 30))
    await sched.step_deadlines(cst(2026, 3, 9, 17, 31))  # the old deadline passed: no overdue mark
    assert await notices(database, t.id) == [
        ("remind_1d", "dropped"), ("remind_2h", "dropped"), ("extension_waiting", "closed")]
    await sched.step_deadlines(cst(2026, 3, 12, 17, 30))
    assert (await notices(database, t.id))[-1] == ("remind_1d", "open")


async def test_an_overdue_callback_is_noticed_once_for_the_operators(database: Database, people: People) -> None:
    t = await new_case(database, people, cst(2026, 3, 2, 9, 0))
    await resolve(database, people, t.number, cst(2026, 3, 3, 10, 0))
    sched = scheduler(database, "s")
    await sched.step_deadlines(cst(2026, 3, 4, 17, 29))
    assert not [n for n in await open_notices(database, audience="operator")]
    await sched.step_deadlines(cst(2026, 3, 4, 17, 31))
    await sched.step_deadlines(cst(2026, 3, 4, 17, 32))
    [n] = await open_notices(database, audience="operator")
    assert n.kind == "callback_overdue"
    [cb] = await callbacks_of(database, t.id)
    await service.record_attempt(database, people.lina, cb.id, "satisfied", now=cst(2026, 3, 5, 9, 0))
    await sched.step_deadlines(cst(2026, 3, 5, 9, 1))
    assert await open_notices(database, audience="operator") == []


async def test_the_daily_summary_is_written_once_per_department(database: Database, people: People, tmp_path) -> None:  # type: ignore[no-untyped-def]
    t = await new_case(database, people, cst(2026, 3, 2, 9, 0))
    await services.act(database, people.lina, t.number, "dispatch", None, {"department": "zjj"}, cst(2026, 3, 2, 9, 5))
    now = cst(2026, 3, 11, 0, 10)
    assert await daily_summary(database, now.date() - timedelta(days=1), now, tmp_path) is True
    assert await daily_summary(database, now.date() - timedelta(days=1), now, tmp_path) is False
    import json

    data = json.loads((tmp_path / "reports" / "deadline-summary-2026-03-10.json").read_text())
    zjj = next(d for d in data["departments"] if d["code"] == "zjj")
    assert zjj["open"] == 1 and zjj["overdue"] == 1
    async with database.session() as s:
        n = (await s.execute(select(func.count()).select_from(Notification)
                             .where(Notification.kind == "daily_summary"))).scalar_one()
    assert n == len(data["departments"])


async def test_a_tick_catches_up_after_downtime_and_a_lease_keeps_a_second_scheduler_standing_by(
    database: Database, people: People
) -> None:
    t = await new_case(database, people, cst(2026, 3, 2, 9, 0))
    await services.act(database, people.lina, t.number, "dispatch", None, {"department": "zjj"}, cst(2026, 3, 2, 9, 5))
    await add_call(database, "13912345678", cst(2026, 3, 20, 8, 0), CallOutcome.abandoned)
    async with database.transaction() as s:
        await s.execute(delete(SchedulerLease))  # PostgreSQL's database lives for the whole run
    a, b = scheduler(database, "a"), scheduler(database, "b")
    now = cst(2026, 3, 20, 9, 0)
    assert await a.leader.try_lead(now) is True
    assert await b.leader.try_lead(now) is False
    assert await a.tick(now) == {"missed": True, "callbacks": False, "deadlines": True}
    assert sorted(k for k, _ in await notices(database, t.id)) == ["accept_overdue", "escalated", "overdue"]
    # the leader died (no renewal): after its lease the stand-by takes over
    assert await b.leader.try_lead(now + timedelta(seconds=29)) is False
    assert await b.leader.try_lead(now + timedelta(seconds=31)) is True
    assert await a.leader.try_lead(now + timedelta(seconds=32)) is False
    assert await b.tick(now + timedelta(seconds=40)) == {"missed": False, "callbacks": False, "deadlines": False}


async def test_an_expired_claim_is_taken_again(database: Database, people: People) -> None:
    t = await new_case(database, people, cst(2026, 3, 2, 9, 0))
    await resolve(database, people, t.number, cst(2026, 3, 3, 10, 0))
    [cb] = await callbacks_of(database, t.id)
    now = cst(2026, 3, 3, 10, 30)
    req = await service.request_call(database, people.lina, cb.id, now)
    # a dialer claimed it and died before sending anything
    async with database.transaction() as s:
        await s.execute(update(CallbackRequest).where(CallbackRequest.id == req.id)
                        .values(status="placing", claimed_by="dead", claimed_until=now + timedelta(seconds=60)))
    sent: list[str] = []

    async def originate(citizen: str, seat: str, **kw: Any) -> None:
        sent.append(kw["idempotency_key"])

    assert await place_requested(database, originate, "alive", now + timedelta(seconds=30)) is False
    assert await place_requested(database, originate, "alive", now + timedelta(seconds=61)) is True
    assert sent == [req.key]
