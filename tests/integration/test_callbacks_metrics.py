"""The callback figures of reports.metrics agree with the callbacks recorded through callbacks/
(DOMAIN.md 'Figures': required, reached, 回访率, 满意率 of the latest callback, 解决率)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from callbacks import service
from callcenter.cases import services
from callcenter.store.db import Database
from callcenter.store.models import Callback, CallbackKind, CallbackTaskStatus, Satisfaction, Status, Ticket
from reports.metrics import metrics
from tests.conftest import Personas
from tests.integration.test_callbacks import People, new_case, resolve

CST = timezone(timedelta(hours=8))


@pytest.fixture
def people(personas: Personas) -> People:
    return People(personas)


def cst(*a: int) -> datetime:
    return datetime(*a, tzinfo=CST)  # type: ignore[misc]


async def _cb(db: Database, ticket_id: int) -> Callback:
    async with db.session() as s:
        return (await s.scalars(select(Callback).where(Callback.ticket_id == ticket_id,
                                                       Callback.status == CallbackTaskStatus.pending))).one()


async def test_callback_rate_and_satisfaction_match_the_callbacks_recorded(database: Database, people: People) -> None:
    reg, res, call = cst(2026, 3, 2, 9, 0), cst(2026, 3, 3, 10, 0), cst(2026, 3, 4, 9, 0)
    a, b, c, d, e, f = [await new_case(database, people, reg) for _ in range(6)]
    g = await new_case(database, people, reg, no_callback=True)
    await new_case(database, people, reg)  # h: still open, no callback required yet
    for t in (a, b, c, d, f, g):
        await resolve(database, people, t.number, res)
    await services.act(database, people.lina, e.number, "answer", None, {"answer": "已当场答复"}, res)

    await service.record_attempt(database, people.lina, (await _cb(database, a.id)).id, "satisfied", solved=True, now=call)
    await service.record_attempt(database, people.lina, (await _cb(database, b.id)).id, "basically", solved=False, now=call)
    # c: 不满意 first, reopened, resolved again, then 满意 — the latest callback counts
    await service.record_attempt(database, people.lina, (await _cb(database, c.id)).id, "dissatisfied", now=call)
    await resolve(database, people, c.number, cst(2026, 3, 5, 10, 0), accept=False)
    await service.record_attempt(database, people.lina, (await _cb(database, c.id)).id, "satisfied", solved=True,
                                 now=cst(2026, 3, 6, 9, 0))
    # d: three attempts, never reached
    at = call
    for _ in range(3):
        cb = await service.record_attempt(database, people.lina, (await _cb(database, d.id)).id, "not_reached", now=at)
        at = cb.next_attempt_at or at
    # e: answered directly, 不满意 → reopened (not resolved any more, so not required now)
    await service.record_attempt(database, people.lina, (await _cb(database, e.id)).id, "dissatisfied", now=call)
    # f: its callback still pending; g: 不需回访

    m = (await metrics(database, date(2026, 3, 1), date(2026, 3, 31), now=cst(2026, 3, 31, 12, 0)))["cases"]

    # the same figures counted from the callback rows: the latest case callback of each resolved case
    async with database.session() as s:
        rows = (await s.execute(
            select(Ticket.id, Ticket.status, Ticket.no_callback, Callback.status, Callback.satisfaction, Callback.solved)
            .join(Callback, Callback.ticket_id == Ticket.id).where(Callback.kind == CallbackKind.case)
            .order_by(Callback.id)
        )).all()
    latest = {}
    for tid, tstatus, no_cb, status, sat, solved in rows:
        latest[tid] = (tstatus, no_cb, status, sat, solved)
    resolved = {tid: v for tid, v in latest.items() if v[0] in (Status.answered, Status.resolved, Status.closed)}
    required = len(resolved)
    reached = sum(1 for v in resolved.values() if v[2] is CallbackTaskStatus.done and v[3] is not None)
    unreachable = sum(1 for v in resolved.values() if v[2] is CallbackTaskStatus.unreachable)
    pending = sum(1 for v in resolved.values() if v[2] is CallbackTaskStatus.pending)
    satisfied = sum(1 for v in resolved.values() if v[2] is CallbackTaskStatus.done
                    and v[3] in (Satisfaction.satisfied, Satisfaction.basically))
    solved = sum(1 for v in resolved.values() if v[2] is CallbackTaskStatus.done and v[4] is True)

    assert (required, reached, unreachable, pending, satisfied, solved) == (5, 3, 1, 1, 3, 2)  # a b c d f; a b c
    assert m["callbacks_required"] == required
    assert m["callbacks_reached"] == reached
    assert m["callbacks_unreachable"] == unreachable
    assert m["callbacks_pending"] == pending
    assert m["callback_rate"] == reached / required
    assert m["satisfied"] == satisfied and m["satisfaction_rate"] == satisfied / reached
    assert m["solved"] == solved and m["solved_asked"] == 3
    assert m["reopened"] >= 1 and m["resolved"] == 6  # g counts as resolved, not as required
