"""Call rows (来电登记) written from the telephony adapter's call facts.

`StoreCallSink` implements telephony.ports.CallSink over callcenter.store.models.Call: one
idempotent upsert per batch keyed by (pbx, linkedid). While a call is in progress its latest
fact wins; once the store has a call's final fact the row is closed: a replayed stream (or a
spool batch re-sent after a crash) writes nothing to it, not even updated_at — timings a
replay derives from its own clock cannot rewrite what was registered. A fact equal to the
stored row writes nothing either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Text, cast, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from callcenter.cases.phones import normalize
from callcenter.store.db import Database
from callcenter.store.models import Call, CallDirection, CallOutcome, User, table_of, utcnow
from telephony.ports import CallFact

_COLUMNS = ("uniqueid", "direction", "caller_number", "caller_norm", "line", "queue", "seat", "operator_id",
            "offered_at", "answered_at", "ended_at", "outcome", "wait_s", "talk_s", "transferred_to",
            "ticket_ref", "data")


class StoreCallSink:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def write(self, facts: Sequence[CallFact]) -> None:
        """Upsert the facts in order (last per key wins); raises on database trouble."""
        if not facts:
            return
        latest: dict[tuple[str, str], CallFact] = {}
        for f in facts:
            latest.pop(f.key, None)  # keep the order of each key's last fact
            latest[f.key] = f
        async with self.database.transaction() as s:
            seats = {f.seat for f in latest.values() if f.seat}
            operators: dict[str, int] = {}
            if seats:
                rows = await s.execute(select(User.seat, User.id).where(User.seat.in_(seats)))
                operators = {seat: uid for seat, uid in rows.all() if seat}
            values = [self._row(f, operators) for f in latest.values()]
            insert = sqlite.insert if self.database.is_sqlite else postgresql.insert
            table = table_of(Call)
            # a multi-row VALUES keeps each statement well under the bind-parameter limits
            for i in range(0, len(values), 200):
                stmt = insert(table).values(values[i:i + 200])
                ex = stmt.excluded
                changed = or_(*[
                    cast(table.c[c], Text).is_distinct_from(cast(ex[c], Text)) if c == "data"
                    else table.c[c].is_distinct_from(ex[c]) for c in _COLUMNS
                ])
                still_open = table.c.outcome == CallOutcome.in_progress.value
                stmt = stmt.on_conflict_do_update(
                    index_elements=["pbx", "linkedid"],
                    set_={**{c: ex[c] for c in _COLUMNS}, "updated_at": utcnow()},
                    where=changed & still_open,
                )
                await s.execute(stmt)

    @staticmethod
    def _row(f: CallFact, operators: dict[str, int]) -> dict[str, Any]:
        return {
            "pbx": f.pbx, "linkedid": f.linkedid, "uniqueid": f.uniqueid,
            "direction": CallDirection(f.direction), "caller_number": f.caller_number,
            "caller_norm": normalize(f.caller_number), "line": f.line, "queue": f.queue, "seat": f.seat,
            "operator_id": operators.get(f.seat) if f.seat else None,
            "offered_at": f.offered_at, "answered_at": f.answered_at, "ended_at": f.ended_at,
            "outcome": CallOutcome(f.outcome), "wait_s": f.wait_s, "talk_s": f.talk_s,
            "transferred_to": f.transferred_to, "ticket_ref": f.ticket_ref,
            "data": dict(f.data, operator_name=f.operator_name) if f.operator_name else dict(f.data),
            "updated_at": utcnow(),
        }
