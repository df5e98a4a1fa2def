"""`hotline seed demo`'s cases (callcenter/entry/demo_cases.py): moved through the real workflow, each
step at its moment and none after `now`, in every state the console shows; in the report
rollups; added once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import select

from callcenter.entry.demo_cases import seed_cases
from callcenter.entry.seed import seed_demo
from callcenter.store.db import Database
from callcenter.store.models import Status, Ticket, TicketEvent
from reports.metrics import _scope, metrics
from reports.rollup import counts_from_rollups

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)  # a Friday afternoon in Shanghai


async def test_demo_cases_go_through_the_workflow_and_are_added_once(database: Database) -> None:
    await seed_demo(database)
    n = await seed_cases(database, NOW, days=12, per_day=10)
    assert n > 60
    async with database.session() as s:
        states = Counter((await s.scalars(select(Ticket.status))).all())
        events = (await s.execute(select(TicketEvent.ticket_id, TicketEvent.at, TicketEvent.action)
                                  .order_by(TicketEvent.ticket_id, TicketEvent.id))).all()
    assert sum(states.values()) == n
    # the console has something in each place: answered on the call, at a department, resolved,
    # called back and archived
    for st in (Status.answered, Status.closed):
        assert states[st] > 0, states
    assert states[Status.dispatched] + states[Status.accepted] + states[Status.reopened] > 0, states
    assert states[Status.resolved] > 0 or states[Status.closed] > 0
    # every case's trail starts with its registration and moves forward in time, never past now
    by_case: dict[int, list[tuple[datetime, str]]] = {}
    for tid, at, action in events:
        by_case.setdefault(tid, []).append((at, action))
    assert len(by_case) == n
    for trail in by_case.values():
        assert trail[0][1] == "register"
        assert [a for a, _ in trail] == sorted(a for a, _ in trail)
        assert trail[-1][0] <= NOW
    # written with past times, the cases are in the report rollups all the same (rebuilt): the
    # wall's figures equal the base tables'
    lo = NOW.date().replace(day=1)
    m = (await metrics(database, lo, NOW.date(), now=NOW))["cases"]
    assert m == (await metrics(database, lo, NOW.date(), now=NOW, use_rollups=False))["cases"]
    assert m["registered"] > 0 and 0 < m["completion_rate"] <= 1
    async with database.session() as s:
        assert await counts_from_rollups(s, _scope(lo, NOW.date(), NOW, None), lo, NOW.date()) is not None
    # a second run (every `make demo`) adds nothing
    assert await seed_cases(database, NOW, days=12, per_day=10) == 0
