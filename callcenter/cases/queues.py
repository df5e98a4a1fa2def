"""The dispatcher's queues (调度): cases that wait for the hotline's hand (issue 13).

- `dispatch` 待派: registered, neither dispatched nor answered — due the same day (DOMAIN.md:
  dispatch after registration the same day), i.e. by the end of its registration day.
- `returned` 退单待审核: returned by a department once — re-dispatch, or refuse the return
  (back to the same department, with the reason); due by the end of the day of the return.
- `disputed` 派单异议: returned again after an earlier return was decided (re-dispatched or
  refused) — the department disputes the dispatch; a supervisor decides. Same actions.
- `reopened` 重办待派: reopened (不满意 or a supervisor's 重办) with no department on it (an
  answer given on the call) — dispatch or answer again, by its new resolve deadline.

Each queue is oldest first (by the moment the case entered it). Operators and supervisors see
them; confidential callers stay masked in the lists like everywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, func, select

from callcenter.cases.workdays import TZ
from callcenter.store.db import Database
from callcenter.store.models import Status, Ticket, TicketEvent

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


def _end_of_day(at: datetime) -> datetime:
    d = at.astimezone(TZ).date() + timedelta(days=1)
    return datetime.combine(d, time(0), TZ).astimezone(UTC)


def _returns_subquery() -> Any:
    return (select(TicketEvent.ticket_id.label("tid"), func.count().label("n"), func.max(TicketEvent.at).label("at"))
            .where(TicketEvent.action == "return").group_by(TicketEvent.ticket_id).subquery("returns"))


def _reopens_subquery() -> Any:
    return (select(TicketEvent.ticket_id.label("tid"), func.max(TicketEvent.at).label("at"))
            .where(TicketEvent.to_status == Status.reopened.value).group_by(TicketEvent.ticket_id).subquery("reopens"))


async def counts(db: Database) -> dict[str, int]:
    """{queue: number of cases} for the menu badge (one round trip)."""
    r = _returns_subquery()
    q = (select(Ticket.status, r.c.n, func.count())
         .select_from(Ticket).outerjoin(r, r.c.tid == Ticket.id)
         .where((Ticket.status == Status.registered) | (Ticket.status == Status.returned)
                | and_(Ticket.status == Status.reopened, Ticket.department_id.is_(None)))
         .group_by(Ticket.status, r.c.n))
    out = dict.fromkeys(QUEUES, 0)
    async with db.session() as s:
        for status, returns, n in (await s.execute(q)).all():
            again = (returns or 0) >= 2
            if status is Status.registered:
                out["dispatch"] += n
            elif status is Status.reopened:
                out["reopened"] += n
            else:
                out["disputed" if again else "returned"] += n
    return out


async def queue(db: Database, name: str, *, limit: int = 200) -> tuple[list[QueueItem], int]:
    """The cases of one queue, oldest first, and how many there are."""
    if name not in QUEUES:
        raise KeyError(name)
    r = _returns_subquery()
    o = _reopens_subquery()
    q: Any = select(Ticket, r.c.n, r.c.at, o.c.at).outerjoin(r, r.c.tid == Ticket.id).outerjoin(o, o.c.tid == Ticket.id)
    if name == "dispatch":
        q = q.where(Ticket.status == Status.registered).order_by(Ticket.registered_at, Ticket.id)
    elif name == "reopened":
        q = q.where(Ticket.status == Status.reopened, Ticket.department_id.is_(None)).order_by(o.c.at, Ticket.id)
    else:
        again = func.coalesce(r.c.n, 0) >= 2
        q = q.where(Ticket.status == Status.returned, again if name == "disputed" else ~again).order_by(r.c.at, Ticket.id)
    async with db.session() as s:
        total = (await s.execute(select(func.count()).select_from(q.subquery()))).scalar_one()
        rows = (await s.execute(q.limit(limit))).all()
    items = []
    for t, n_returns, returned_at, reopened_at in rows:
        if name == "dispatch":
            entered, due = t.registered_at, _end_of_day(t.registered_at)
        elif name == "reopened":
            entered = reopened_at or t.updated_at
            due = t.due_at
        else:
            entered = returned_at or t.updated_at
            due = _end_of_day(entered)
        items.append(QueueItem(ticket=t, entered_at=entered, due=due, returns=int(n_returns or 0),
                               return_reason=t.return_reason))
    return items, int(total)
