"""Callback use cases (回访 / 回拨): the rows the scheduler and the operators work on.

- `on_case_change` runs inside callcenter.cases.services.act's transaction: a case resolved or
  answered gets its callback row in the same commit as the case change (so a crash can never
  leave a resolved case without one); a reopened / merged / closed case's pending one is
  cancelled; a `callback` action completes it.
- `sync_missed_calls` turns abandoned and refused calls with a known number into one pending
  回拨 task per number; a later answered call from the number closes it.
- `record_attempt` is the operator's outcome: reached with satisfaction applies the workflow's
  `callback` action (不满意 reopens the case), not reached schedules the next attempt and after
  the last one records the case as unreachable.
- `request_call` writes a click-to-call request row for the telephony process (the web never
  opens AMI); `collect_outcomes` reads the placed call's result back from its Call row and
  records an unanswered one as a not-reached attempt.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.cases import services
from callcenter.cases.workflow import SYSTEM, Action, Actor
from callcenter.core.errors import Conflict, Forbidden, Invalid, NotFound, role_zh
from callcenter.core.glossary import CALLBACK_TASK_STATUS_LABELS
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
    Role,
    Ticket,
    TicketEvent,
    User,
    utcnow,
)
from callcenter.store.refdata import RefData

from .claims import claim, dialect_of, rowcount
from .due import (
    CallbackRules,
    case_callback_due,
    first_attempt_at,
    missed_call_due,
    next_attempt_at,
    rules_for,
)

SATISFACTIONS = ("satisfied", "basically", "dissatisfied")
OUTCOMES = (*SATISFACTIONS, "reached", "not_reached")
_CALLERS = (Role.operator, Role.supervisor)
OPEN_REQUEST = ("requested", "placing", "placed")
FINAL_CALLBACK_OUTCOMES = (CallOutcome.callback_answered, CallOutcome.callback_unanswered, CallOutcome.callback_failed)


def _insert(s: AsyncSession) -> Any:
    return sqlite.insert if dialect_of(s) == "sqlite" else postgresql.insert


# ---- the hook in callcenter.cases.services.act -------------------------------------------------------


@services.on_case_change
async def on_case_change(
    session: AsyncSession, ticket: Ticket, event: TicketEvent, now: datetime, ref: RefData,
) -> None:
    """Keep the case's callback row in step with the change just applied (same transaction).

    `event` is the change's TicketEvent (added to the session by services.act, which calls this
    hook after applying the change to `ticket`)."""
    action = Action(event.action)
    if action in (Action.resolve, Action.answer):
        if ticket.callback_result is CallbackResult.pending:
            await _open_case_callback(session, ticket, now, ref)
    elif action is Action.callback:
        await _complete_case_callback(session, ticket, event, now)
    elif action in (Action.reopen, Action.merge, Action.invalidate, Action.close):
        await session.execute(
            update(Callback)
            .where(Callback.ticket_id == ticket.id, Callback.kind == CallbackKind.case,
                   Callback.status == CallbackTaskStatus.pending)
            .values(status=CallbackTaskStatus.cancelled, completed_at=now, claimed_by=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        )


async def _open_case_callback(s: AsyncSession, t: Ticket, now: datetime, ref: RefData) -> None:
    cal = ref.calendar
    # one callback per resolution round: reopen_count grows with every reopening
    key = f"case:{t.id}:{t.reopen_count or 0}"
    if (await s.execute(select(Callback.id).where(Callback.idempotency_key == key))).first() is not None:
        key = f"{key}:{int(now.timestamp())}"
    s.add(
        Callback(
            kind=CallbackKind.case,
            ticket_id=t.id,
            call_id=t.call_id,
            phone=t.caller_phone,
            phone_norm=t.caller_norm,
            status=CallbackTaskStatus.pending,
            due_at=case_callback_due(cal, ref.sla_for(t.kind), now),
            attempts=0,
            next_attempt_at=first_attempt_at(cal, now),
            idempotency_key=key,
            created_at=now,
        )
    )


async def _complete_case_callback(s: AsyncSession, t: Ticket, ev: TicketEvent, now: datetime) -> None:
    """`ev`: the 回访 TicketEvent act() added for this change (the citizen's words are its note)."""
    reached = t.callback_result is CallbackResult.reached
    values: dict[str, Any] = dict(
        status=CallbackTaskStatus.done if reached else CallbackTaskStatus.unreachable,
        satisfaction=t.satisfaction if reached else None,
        solved=t.solved if reached else None,
        completed_at=now,
        last_attempt_at=now,
        next_attempt_at=None,
        claimed_by=None,
        claimed_until=None,
    )
    if ev is not None:
        values.update(words=ev.note, operator_id=ev.actor_id)
    rows = (
        await s.scalars(
            select(Callback).where(Callback.ticket_id == t.id, Callback.kind == CallbackKind.case,
                                   Callback.status == CallbackTaskStatus.pending)
        )
    ).all()
    if not rows:
        # a callback recorded on the case directly (no task was open): keep it as a row too,
        # so the callback rows tell the same story as the case
        s.add(Callback(kind=CallbackKind.case, ticket_id=t.id, call_id=t.call_id, phone=t.caller_phone,
                       phone_norm=t.caller_norm, due_at=now, attempts=1, created_at=now,
                       idempotency_key=f"case:{t.id}:{t.reopen_count or 0}:direct:{int(now.timestamp())}",
                       **values))
        return
    for cb in rows:
        for k, v in values.items():
            setattr(cb, k, v)
        cb.attempts = (cb.attempts or 0) + 1


# ---- missed calls (回拨) -------------------------------------------------------------------------


@dataclass
class _Miss:
    id: int
    number: str | None
    offered_at: datetime


async def sync_missed_calls(
    db: Database, now: datetime, *, rules: CallbackRules | None = None, window: timedelta = timedelta(days=3)
) -> bool:
    """One pending 回拨 task per number for abandoned / refused inbound calls offered since
    `now - window` (a restarted scheduler catches up over the window). Returns whether it
    created or closed a task. `rules`: None = the missed-call row of sla_rules (rules_for)."""
    since = now - window
    ref = await db.ref()
    rules = rules or rules_for(ref, None)
    found = False
    async with db.transaction() as s:
        misses: dict[str, list[_Miss]] = {}
        rows = await s.execute(
            select(Call.id, Call.caller_norm, Call.caller_number, Call.offered_at)
            .where(Call.direction == CallDirection.inbound,
                   Call.outcome.in_([CallOutcome.abandoned, CallOutcome.refused]),
                   Call.caller_norm.is_not(None), Call.offered_at >= since, Call.offered_at <= now)
            .order_by(Call.offered_at, Call.id)
        )
        for cid, norm, number, at in rows.all():
            misses.setdefault(str(norm), []).append(_Miss(cid, number, at))
        if not misses:
            return False
        numbers = list(misses)
        answered: dict[str, datetime] = {}
        tasks: dict[str, tuple[Callback, datetime | None]] = {}
        for i in range(0, len(numbers), 500):
            chunk = numbers[i:i + 500]
            answered.update(
                (str(n), at) for n, at in (await s.execute(
                    select(Call.caller_norm, func.max(Call.offered_at))
                    .where(Call.direction == CallDirection.inbound, Call.outcome == CallOutcome.answered,
                           Call.caller_norm.in_(chunk), Call.offered_at >= since)
                    .group_by(Call.caller_norm)
                )).all()
            )
            for cb, first_at in (await s.execute(
                select(Callback, Call.offered_at).outerjoin(Call, Call.id == Callback.call_id)
                .where(Callback.kind == CallbackKind.missed, Callback.phone_norm.in_(chunk))
                .order_by(Callback.id)
            )).all():
                tasks[str(cb.phone_norm)] = (cb, first_at)  # the latest task of the number wins
        new_rows = []
        for norm, ms in misses.items():
            last = ms[-1]
            got_through = norm in answered and answered[norm] > last.offered_at
            task, source_at = tasks.get(norm, (None, None))
            if task is not None and task.status is CallbackTaskStatus.pending:
                if got_through:
                    # compare-and-set: an operator may be recording this task right now
                    r = await s.execute(
                        update(Callback).where(Callback.id == task.id, Callback.status == CallbackTaskStatus.pending)
                        .values(status=CallbackTaskStatus.done, completed_at=now, words="市民再次来电已接通",
                                next_attempt_at=None, claimed_by=None, claimed_until=None)
                        .execution_options(synchronize_session=False)
                    )
                    found = found or rowcount(r) > 0
                continue
            if got_through:
                continue
            covered: datetime | None = None
            if task is not None:
                covered = max(x for x in (source_at, task.completed_at, task.created_at) if x is not None)
            fresh = [m for m in ms if covered is None or m.offered_at > covered]
            if not fresh:
                continue
            first = fresh[0]
            new_rows.append(dict(
                kind=CallbackKind.missed.value, call_id=first.id, phone=first.number, phone_norm=norm,
                status=CallbackTaskStatus.pending.value, due_at=missed_call_due(ref.calendar, first.offered_at, rules),
                attempts=0, next_attempt_at=first.offered_at, idempotency_key=f"missed:{first.id}", created_at=now,
            ))
        if new_rows:
            # the key is the first missed call's id: a second scheduler computing the same task
            # at the same moment inserts nothing
            stmt = _insert(s)(Callback).values(new_rows).on_conflict_do_nothing(
                index_elements=["idempotency_key"])
            r = await s.execute(stmt)
            found = found or rowcount(r) > 0
    return found


# ---- the operator's outcome -----------------------------------------------------------------------


def _normalize_outcome(outcome: str) -> str:
    if outcome == "unreachable":
        return "not_reached"
    if outcome not in OUTCOMES:
        raise Invalid(f"回访结果须为以下之一：{'、'.join(OUTCOMES)}", field="outcome")
    return outcome


async def _load(db: Database, callback_id: int) -> tuple[Callback, str | None, Kind | None]:
    async with db.session() as s:
        row = (await s.execute(
            select(Callback, Ticket.number, Ticket.kind).outerjoin(Ticket, Ticket.id == Callback.ticket_id)
            .where(Callback.id == callback_id)
        )).first()
    if row is None:
        raise NotFound(f"回访任务 {callback_id} 不存在")
    return row[0], row[1], row[2]


async def record_attempt(
    db: Database,
    actor: Actor,
    callback_id: int,
    outcome: str,
    words: str | None = None,
    solved: bool | None = None,
    now: datetime | None = None,
    *,
    rules: CallbackRules | None = None,
    done_by: str | None = None,
    _request_id: int | None = None,
) -> Callback:
    """Record one callback attempt. `outcome`: satisfied | basically | dissatisfied (a case's
    citizen reached), reached (a missed call's citizen reached), not_reached. Returns the row.
    `rules`: None = the sla_rules row of the case's kind (a missed call: rules_for's choice)."""
    if actor.role not in _CALLERS:
        raise Forbidden(f"{role_zh(actor.role)}不能记录回访")
    outcome = _normalize_outcome(outcome)
    now = now or utcnow()
    cb, number, kind = await _load(db, callback_id)
    if cb.status is not CallbackTaskStatus.pending:
        raise Conflict(f"回访任务 {callback_id} 已{CALLBACK_TASK_STATUS_LABELS.get(cb.status.value, cb.status.value)}")
    ref = await db.ref()
    rules = rules or rules_for(ref, kind)
    final = outcome == "not_reached" and (cb.attempts or 0) + 1 >= rules.max_attempts
    done_by = done_by or (f"user:{actor.id}" if actor.id is not None else "system")
    if cb.kind is CallbackKind.case:
        if outcome == "reached":
            raise Invalid("工单回访须记录市民的满意度", field="outcome")
        if number is None:
            raise Conflict(f"回访任务 {callback_id} 没有对应的工单")
        if outcome in SATISFACTIONS or final:
            # the case's transaction completes the row too (on_case_change)
            params: dict[str, Any] = {"outcome": outcome if outcome in SATISFACTIONS else "unreachable", "words": words}
            if solved is not None:
                params["solved"] = solved
            await services.act(db, actor, number, Action.callback, None, params, now)
            await _close_requests(db, callback_id, now, done_by, _request_id)
            return (await _load(db, callback_id))[0]
    elif outcome in SATISFACTIONS:
        raise Invalid("未接来电回拨的结果须为：已联系上或未联系上", field="outcome")
    async with db.transaction() as s:
        if _request_id is not None:
            # the automatic outcome: only if no operator recorded this call meanwhile
            r = await s.execute(
                update(CallbackRequest).where(CallbackRequest.id == _request_id, CallbackRequest.status == "placed")
                .values(status="done", done_at=now, done_by=done_by)
                .execution_options(synchronize_session=False)
            )
            if rowcount(r) == 0:
                raise Conflict("该通电话的结果已记录")
        values: dict[str, Any] = dict(attempts=Callback.attempts + 1, last_attempt_at=now, claimed_by=None,
                                      claimed_until=None)
        if actor.id is not None:
            values["operator_id"] = actor.id
        if words:
            values["words"] = words
        if outcome == "reached":
            values.update(status=CallbackTaskStatus.done, completed_at=now, next_attempt_at=None)
        elif final:
            values.update(status=CallbackTaskStatus.unreachable, completed_at=now, next_attempt_at=None)
        else:
            values["next_attempt_at"] = next_attempt_at(ref.calendar, now, rules)
        # compare-and-set on the attempts seen: two operators (or an operator and the automatic
        # outcome of the call) recording the same attempt at once count it once
        r = await s.execute(
            update(Callback).where(Callback.id == callback_id, Callback.status == CallbackTaskStatus.pending,
                                   Callback.attempts == cb.attempts)
            .values(**values).execution_options(synchronize_session=False)
        )
        if rowcount(r) == 0:
            raise Conflict(f"回访任务 {callback_id} 已被他人修改，请刷新后重试")
    if _request_id is None:
        await _close_requests(db, callback_id, now, done_by, None)
    return (await _load(db, callback_id))[0]


async def _close_requests(db: Database, callback_id: int, now: datetime, done_by: str, request_id: int | None) -> None:
    """The outcome is recorded: open click-to-call requests of the callback are done (the
    automatic outcome reader then leaves them alone)."""
    async with db.transaction() as s:
        await s.execute(
            update(CallbackRequest)
            .where(CallbackRequest.callback_id == callback_id, CallbackRequest.status.in_(OPEN_REQUEST))
            .values(status="done", done_at=now, done_by=done_by)
            .execution_options(synchronize_session=False)
        )


# ---- click-to-call --------------------------------------------------------------------------------


def dial_string(phone: str) -> str:
    """What the trunk dials: the digits of the number as the citizen gave it (138…, 0731…)."""
    digits = "".join(c for c in phone if c.isdigit())
    if phone.strip().startswith("+86"):
        digits = digits[2:]
        if not digits.startswith("1"):
            digits = "0" + digits
    return digits


async def request_call(
    db: Database, actor: Actor, callback_id: int, now: datetime | None = None, *,
    lease: timedelta = timedelta(minutes=10),
) -> CallbackRequest:
    """Ask the telephony process to call the citizen from the actor's seat (operator first).

    Takes the task for the actor for `lease` (another operator's click is refused meanwhile) and
    writes a request row; a second click while one is open returns the open request.
    """
    if actor.role not in _CALLERS:
        raise Forbidden(f"{role_zh(actor.role)}不能外呼回访")
    now = now or utcnow()
    me = f"user:{actor.id}"
    async with db.transaction() as s:
        seat = (await s.execute(select(User.seat).where(User.id == actor.id))).scalar_one_or_none()
        if not seat:
            raise Invalid("您没有坐席（分机），无法外呼", field="seat")
        row = (await s.execute(
            select(Callback, Ticket.number).outerjoin(Ticket, Ticket.id == Callback.ticket_id)
            .where(Callback.id == callback_id)
        )).first()
        if row is None:
            raise NotFound(f"回访任务 {callback_id} 不存在")
        cb, number = row
        if cb.status is not CallbackTaskStatus.pending:
            raise Conflict(f"回访任务 {callback_id} 已{CALLBACK_TASK_STATUS_LABELS.get(cb.status.value, cb.status.value)}")
        if not cb.phone:
            raise Conflict("市民没有留下电话号码")
        # compare-and-set: two operators clicking the same task at once — one gets it
        r = await s.execute(
            update(Callback).where(
                Callback.id == callback_id, Callback.status == CallbackTaskStatus.pending,
                (Callback.claimed_until.is_(None)) | (Callback.claimed_until < now) | (Callback.claimed_by == me),
            ).values(claimed_by=me, claimed_until=now + lease).execution_options(synchronize_session=False)
        )
        if rowcount(r) == 0:
            raise Conflict("另一位话务员正在呼叫该市民")
        open_req = (await s.scalars(
            select(CallbackRequest).where(CallbackRequest.callback_id == callback_id,
                                          CallbackRequest.status.in_(OPEN_REQUEST),
                                          CallbackRequest.requested_at > now - lease)
        )).first()
        if open_req is not None:
            return open_req
        req = CallbackRequest(callback_id=callback_id, operator_id=actor.id, seat=seat, phone=dial_string(cb.phone),
                              ticket_ref=number, key=f"cb{callback_id}-{uuid.uuid4().hex[:12]}", status="requested",
                              requested_at=now)
        s.add(req)
        await s.flush()
    return req


# ---- outcomes of placed calls (the scheduler's step) ----------------------------------------------


def _call_for(req: Any) -> Any:
    return and_(Call.direction == CallDirection.outbound, Call.data["callback_key"].as_string() == req.key)


async def collect_outcomes(
    db: Database, worker: str, now: datetime, *, rules: CallbackRules | None = None,
    lease: timedelta = timedelta(minutes=2), expire_after: timedelta = timedelta(minutes=15),
) -> bool:
    """Read the result of placed callbacks from their Call rows (operator first: the tracker
    takes the citizen's result from the DialEnd on the operator's channel). Not answered →
    a not-reached attempt; answered → the operator records the satisfaction; failed (line
    limit, the operator's phone did not answer) → no attempt on the citizen was made."""
    found = False
    final_call = (
        select(Call.id).where(_call_for(CallbackRequest), Call.outcome.in_(FINAL_CALLBACK_OUTCOMES)).exists()
    )
    async with db.transaction() as s:
        ids = await claim(s, CallbackRequest, and_(CallbackRequest.status == "placed", final_call), worker, now, lease)
        # a placed call that never showed up on the PBX (the adapter lost it): give up on it
        r = await s.execute(
            update(CallbackRequest).where(CallbackRequest.status == "placed",
                                          CallbackRequest.placed_at < now - expire_after, ~final_call)
            .values(status="expired", done_at=now, done_by=worker).execution_options(synchronize_session=False)
        )
        found = rowcount(r) > 0
    for rid in ids:
        found = True
        async with db.session() as s:
            req = await s.get(CallbackRequest, rid)
            call = (await s.execute(
                select(Call).where(_call_for(req), Call.outcome.in_(FINAL_CALLBACK_OUTCOMES))
                .order_by(Call.offered_at.desc()).limit(1)
            )).scalar_one()
        if req is None or req.status != "placed" or req.claimed_by != worker:
            continue
        if call.outcome is CallOutcome.callback_unanswered:
            try:
                await record_attempt(db, SYSTEM, req.callback_id, "not_reached", now=now, rules=rules,
                                     done_by=worker, _request_id=rid)
            except (Conflict, NotFound):
                pass  # recorded by the operator meanwhile, or the task is no longer pending
        async with db.transaction() as s:
            await s.execute(
                update(CallbackRequest).where(CallbackRequest.id == rid)
                .values(call_id=call.id, outcome=call.outcome.value, claimed_until=None)
                .execution_options(synchronize_session=False)
            )
            # answered or failed: nothing to record on the task; unanswered: done above (or by
            # the operator, whose done_by stays)
            await s.execute(
                update(CallbackRequest).where(CallbackRequest.id == rid, CallbackRequest.status == "placed")
                .values(status="done", done_at=now, done_by=worker)
                .execution_options(synchronize_session=False)
            )
    return found


async def repair(db: Database, now: datetime, rules: CallbackRules | None = None) -> bool:
    """Case callbacks left pending with every attempt made (a crash between the last attempt and
    the case's change) are recorded as unreachable now. `rules`: None = per the case's kind."""
    ref = await db.ref()

    def limit(kind: Kind) -> int:
        return (rules or rules_for(ref, kind)).max_attempts

    least = min(limit(k) for k in Kind)
    async with db.session() as s:
        found = (await s.execute(
            select(Callback.attempts, Ticket.number, Ticket.kind).join(Ticket, Ticket.id == Callback.ticket_id)
            .where(Callback.kind == CallbackKind.case, Callback.status == CallbackTaskStatus.pending,
                   Callback.attempts >= least)
        )).all()
    rows = [number for attempts, number, kind in found if attempts >= limit(kind)]
    for number in rows:
        try:
            await services.act(db, SYSTEM, number, Action.callback, None, {"outcome": "unreachable"}, now)
        except Conflict:
            pass
    return bool(rows)
