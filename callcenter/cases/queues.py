"""The dispatcher's queues (调度): cases that wait for the hotline's hand (issue 13).

- `dispatch` 待派: registered, neither dispatched nor answered — due by the dispatch deadline
  (DOMAIN.md: dispatch after registration the same day): the end of working hours of the
  registration's working day (`sla_rules.dispatch_working_days`, 0 by default; a case
  registered after working hours or on a rest day counts from the next working day).
- `returned` 退单待审核: an ordinary 退单 — the department sent back a wrong dispatch within the
  return window (`sla_rules.return_working_days` from the dispatch), before signing for it, and
  the first time: re-dispatch, or refuse the return (back to the same department, with the
  reason); due by the dispatch deadline counted from the return (a re-dispatch is a dispatch).
- `disputed` 派单异议: the department contests a dispatch that stands (国办函〔2025〕66号
  派单异议审核; DOMAIN.md: the return says the case is not theirs): returned after it had signed
  for it (签收), or after the return window, or returned again after the hotline decided an
  earlier return (re-dispatched or refused) — a supervisor reviews it. Same actions, same due.
- `reopened` 重办待派: reopened (不满意 or a supervisor's 重办) with no department on it (an
  answer given on the call) — dispatch or answer again, by its new resolve deadline.

The definitions are in docs/dispatch.md. Each queue is oldest first (by the moment the case
entered it). Operators and supervisors see them; confidential callers stay masked in the lists
like everywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select

from callcenter.store.db import Database
from callcenter.store.models import Status, Ticket, TicketEvent
from callcenter.store.refdata import RefData

QUEUES = {
    "dispatch": "待派",
    "returned": "退单待审核",
    "disputed": "派单异议",
    "reopened": "重办待派",
}


@dataclass
class QueueItem:
    ticket: Ticket
    entered_at: datetime  # registration, the (latest) return, or the reopening
    due: datetime | None  # what the countdown counts down to
    returns: int
    return_reason: str | None
    dispute: str | None = None  # 派单异议: why it is one


def dispatch_due(ref: RefData, t: Ticket, since: datetime) -> datetime:
    """When a case waiting since `since` (registered, or returned) is to be dispatched."""
    cal = ref.calendar
    n = ref.sla_for(t.kind).dispatch_working_days
    return cal.add_working_days(cal.next_working_moment(since), n)


def dispute_of(ref: RefData, t: Ticket, returns: int, returned_at: datetime | None) -> str | None:
    """Why a returned case is a 派单异议 (not an ordinary 退单), or None: returned again after a
    decided return, or after signing for it, or after the return window from its dispatch."""
    if returns >= 2:
        return f"第 {returns} 次退单"
    if t.accepted_at is not None:
        return "签收后退单"
    if returned_at is None or t.dispatched_at is None:
        return None
    days = ref.sla_for(t.kind).return_working_days
    if returned_at > ref.calendar.add_working_days(t.dispatched_at, days):
        return f"超过退单时限（{days} 个工作日）"
    return None


def is_dispute(ref: RefData, t: Ticket, returns: int, returned_at: datetime | None) -> bool:
    return dispute_of(ref, t, returns, returned_at) is not None


def _returns_subquery() -> Any:
    return (select(TicketEvent.ticket_id.label("tid"), func.count().label("n"), func.max(TicketEvent.at).label("at"))
            .where(TicketEvent.action == "return").group_by(TicketEvent.ticket_id).subquery("returns"))


def _reopens_subquery() -> Any:
    return (select(TicketEvent.ticket_id.label("tid"), func.max(TicketEvent.at).label("at"))
            .where(TicketEvent.to_status == Status.reopened.value).group_by(TicketEvent.ticket_id).subquery("reopens"))


async def counts(db: Database) -> dict[str, int]:
    """{queue: number of cases} for the menu badge (two round trips: the returned cases are
    told apart in Python, with the calendar)."""
    ref = await db.ref()
    r = _returns_subquery()
    q = (select(Ticket.status, func.count())
         .where((Ticket.status == Status.registered)
                | and_(Ticket.status == Status.reopened, Ticket.department_id.is_(None)))
         .group_by(Ticket.status))
    out = dict.fromkeys(QUEUES, 0)
    async with db.session() as s:
        for status, n in (await s.execute(q)).all():
            out["dispatch" if status is Status.registered else "reopened"] += n
        returned = (await s.execute(select(Ticket, r.c.n, r.c.at).outerjoin(r, r.c.tid == Ticket.id)
                                    .where(Ticket.status == Status.returned))).all()
    for t, n_returns, returned_at in returned:
        out["disputed" if is_dispute(ref, t, int(n_returns or 0), returned_at) else "returned"] += 1
    return out


async def queue(db: Database, name: str, *, limit: int = 200) -> tuple[list[QueueItem], int]:
    """The cases of one queue, oldest first, and how many there are."""
    if name not in QUEUES:
        raise KeyError(name)
    ref = await db.ref()
    r = _returns_subquery()
    o = _reopens_subquery()
    q: Any = select(Ticket, r.c.n, r.c.at, o.c.at).outerjoin(r, r.c.tid == Ticket.id).outerjoin(o, o.c.tid == Ticket.id)
    returned = name in ("returned", "disputed")
    if name == "dispatch":
        q = q.where(Ticket.status == Status.registered).order_by(Ticket.registered_at, Ticket.id)
    elif name == "reopened":
        q = q.where(Ticket.status == Status.reopened, Ticket.department_id.is_(None)).order_by(o.c.at, Ticket.id)
    else:
        q = q.where(Ticket.status == Status.returned).order_by(r.c.at, Ticket.id)
    async with db.session() as s:
        if returned:  # told apart with the calendar: every returned case is read (few)
            rows = [row for row in (await s.execute(q)).all()
                    if is_dispute(ref, row[0], int(row[1] or 0), row[2]) == (name == "disputed")]
            total = len(rows)
            rows = rows[:limit]
        else:
            total = (await s.execute(select(func.count()).select_from(q.subquery()))).scalar_one()
            rows = list((await s.execute(q.limit(limit))).all())
    items = []
    for t, n_returns, returned_at, reopened_at in rows:
        if name == "dispatch":
            entered, due = t.registered_at, dispatch_due(ref, t, t.registered_at)
        elif name == "reopened":
            entered = reopened_at or t.updated_at
            due = t.due_at
        else:
            entered = returned_at or t.updated_at
            due = dispatch_due(ref, t, entered)
        items.append(QueueItem(ticket=t, entered_at=entered, due=due, returns=int(n_returns or 0),
                               return_reason=t.return_reason,
                               dispute=dispute_of(ref, t, int(n_returns or 0), returned_at) if returned else None))
    return items, int(total)
