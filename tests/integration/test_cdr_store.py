"""The store and CDR facts (telephony.cdr), on SQLite and PostgreSQL: a call the adapter saw end
is never replaced, a guessed one is, a CDR call read twice is one row, and a missed call read
from the CDR gets its 回拨 task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from callbacks.service import sync_missed_calls
from callcenter.calls.services import StoreCallSink
from callcenter.store.db import Database
from callcenter.store.models import Call, Callback
from telephony.ports import CallFact

T = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)


def fact(lid: str, outcome: str, wait: float | None, *, line: int | None = None, **data: object) -> CallFact:
    return CallFact(pbx="default", linkedid=lid, uniqueid=lid + "1", direction="in", caller_number="13812345678",
                    offered_at=T, answered_at=T + timedelta(seconds=wait or 0) if outcome == "answered" else None,
                    ended_at=T + timedelta(seconds=30), outcome=outcome, line=line, wait_s=wait, data=dict(data))


async def stored(db: Database) -> dict[str, Call]:
    async with db.session() as s:
        return {c.linkedid: c for c in (await s.scalars(select(Call))).all()}


async def test_cdr_facts_replace_only_guesses_and_register_once(database: Database) -> None:
    sink = StoreCallSink(database)
    await sink.write([fact("seen", "answered", 2.0, line=3)])  # the adapter saw it end
    await sink.write([fact("guess", "answered", 8.8, line=4, answered_unseen=True)])  # measured to its return
    await sink.write([fact("seen", "answered", 3.0, cdr=True), fact("guess", "answered", 3.0, cdr=True),
                      fact("missed", "refused", None, cdr=True)])
    await sink.write([fact("missed", "refused", None, cdr=True), fact("guess", "answered", 5.0, cdr=True)])  # read again
    rows = await stored(database)
    assert len(rows) == 3
    assert (rows["seen"].wait_s, rows["seen"].line) == (2.0, 3)
    assert (rows["guess"].wait_s, rows["guess"].line, rows["guess"].data["cdr"]) == (3.0, 4, True)
    assert rows["missed"].outcome.value == "refused"
    await sync_missed_calls(database, datetime.now(UTC))
    async with database.session() as s:
        tasks = list((await s.scalars(select(Callback))).all())
    assert [t.phone_norm for t in tasks] == [rows["missed"].caller_norm]


async def test_in_one_batch_the_adapters_own_end_beats_the_cdr(database: Database) -> None:
    sink = StoreCallSink(database)
    await sink.write([fact("a", "in_progress", None, line=2)])
    await sink.write([fact("a", "answered", 2.0, line=2), fact("a", "answered", 3.0, cdr=True)])
    await sink.write([fact("b", "in_progress", None, line=5)])
    await sink.write([fact("b", "abandoned", 9.0, line=5, reconciled=True), fact("b", "abandoned", 4.0, cdr=True)])
    rows = await stored(database)
    assert (rows["a"].wait_s, rows["a"].line) == (2.0, 2)
    assert (rows["b"].wait_s, rows["b"].line) == (4.0, 5)
