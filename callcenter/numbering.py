"""Ticket numbers staff can read aloud: prefix + Shanghai date + per-day sequence (GD20261126-0042).

The counter row is bumped in its own short transaction, before the case's transaction opens:
holding the per-day row lock until the case commits would serialise every case written that
day. The price is a gap in the sequence when the case's transaction then fails — numbers stay
unique, which is what matters on the phone.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.dialects import postgresql, sqlite

from .db import Database
from .models import TicketCounter

TZ = ZoneInfo("Asia/Shanghai")


async def allocate(db: Database, at: datetime, count: int = 1, prefix: str = "GD") -> list[str]:
    """Reserve `count` consecutive numbers for the Shanghai day of `at`."""
    day = at.astimezone(TZ).strftime("%Y%m%d")
    ins = (sqlite.insert if db.is_sqlite else postgresql.insert)(TicketCounter)
    stmt = (
        ins.values(day=day, last=count)
        .on_conflict_do_update(index_elements=["day"], set_={"last": TicketCounter.last + count})
        .returning(TicketCounter.last)
    )
    async with db.transaction() as s:
        last = (await s.execute(stmt)).scalar_one()
    first = last - count + 1
    width = max(4, len(str(last)))
    return [f"{prefix}{day}-{n:0{width}d}" for n in range(first, last + 1)]
