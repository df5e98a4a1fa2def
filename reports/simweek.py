"""A simulated hotline: calls through N trunk lines and S seats, for tests and the capacity bench.

Arrivals are Poisson with a rate per hour of day (a city hotline's day: quiet at night, peaks
at 9–11 and 15–16), each caller holds a line from arrival to hang-up, waits FCFS for a seat
and hangs up when their (exponential) patience runs out first; talk is exponential. A caller
who finds every line busy is refused (占线未接入) and holds none. Exact for FCFS by virtual
waiting time: a caller is served when the earliest seat frees, if that is before their
patience ends; one who hangs up never takes a seat.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from callcenter.store.models import Call, CallDirection, CallOutcome, table_of

# calls per hour by hour of day (Asia/Shanghai), scaled by `scale`
DAY_PROFILE = (6, 4, 3, 2, 2, 3, 8, 25, 60, 85, 90, 75, 45, 40, 60, 80, 75, 60, 40, 30, 22, 18, 12, 8)


@dataclass(frozen=True)
class Hotline:
    lines: int = 10
    seats: int = 6
    talk_s: float = 180.0
    patience_s: float = 90.0
    scale: float = 1.0
    weekend: float = 0.6  # Saturday and Sunday traffic, relative to a weekday
    # traffic per weekday (Monday first) relative to the day profile; None: 1 on weekdays and
    # `weekend` on Saturday and Sunday
    week: tuple[float, ...] | None = None
    acw_s: float = 0.0  # mean after-call work (话后整理): the seat stays busy, the line is free


NONE_ROW = {"wait_s": None, "talk_s": None, "line": None, "seat": None, "answered_at": None, "acw_s": None}


def simulate(start: datetime, days: int, h: Hotline, seed: int = 12345, pbx: str = "sim") -> Iterator[dict[str, Any]]:
    """Inbound call rows (the `calls` columns, every row the same keys) from `start` (aware; a
    local midnight of a zone without daylight saving, e.g. Asia/Shanghai) for `days` days."""
    rng = random.Random(seed)
    lines: list[float] = []  # release times of the lines in use
    seats = [(0.0, f"80{i + 1:02d}") for i in range(h.seats)]  # (next free, extension)
    heapq.heapify(seats)
    week = h.week or (1.0, 1.0, 1.0, 1.0, 1.0, h.weekend, h.weekend)
    t = 0.0
    end = days * 86400.0
    n = 0
    first_dow = start.weekday()
    start_utc = start.astimezone(UTC)
    # thinning against the peak rate keeps arrivals Poisson with the hourly rate
    peak = max(DAY_PROFILE) * h.scale * max(week) / 3600
    while True:
        t += rng.expovariate(peak)
        if t >= end:
            return
        hour = int(t // 3600)
        rate = DAY_PROFILE[hour % 24] * h.scale * week[(first_dow + hour // 24) % 7] / 3600
        if rng.random() >= rate / peak:
            continue
        n += 1
        while lines and lines[0] <= t:
            heapq.heappop(lines)
        at = start_utc + timedelta(seconds=t)
        row: dict[str, Any] = {**NONE_ROW, "pbx": pbx, "linkedid": f"{pbx}-{seed}-{n}", "direction": "in",
                               "caller_number": f"138{rng.randrange(10**8):08d}", "offered_at": at}
        if len(lines) >= h.lines:
            row.update(outcome="refused", ended_at=at)
            yield row
            continue
        free_at, seat = seats[0]
        begin = max(t, free_at)
        patience = rng.expovariate(1 / h.patience_s)
        if begin - t > patience:
            heapq.heappush(lines, t + patience)
            row.update(outcome="abandoned", wait_s=round(patience, 3), line=len(lines),
                       ended_at=at + timedelta(seconds=patience))
            yield row
            continue
        talk = rng.expovariate(1 / h.talk_s)
        acw = round(rng.expovariate(1 / h.acw_s)) if h.acw_s > 0 else None
        heapq.heapreplace(seats, (begin + talk + (acw or 0), seat))
        heapq.heappush(lines, begin + talk)
        row.update(outcome="answered", seat=seat, wait_s=round(begin - t, 3), talk_s=round(talk, 3),
                   line=len(lines), acw_s=acw, answered_at=start_utc + timedelta(seconds=begin),
                   ended_at=start_utc + timedelta(seconds=begin + talk))
        yield row


def batches(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """`rows` in lists of `size` (the last shorter)."""
    batch: list[Any] = []
    for r in rows:
        batch.append(r)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def load(db: Any, rows: Iterator[dict[str, Any]], chunk: int = 5000) -> int:
    """Insert simulated call rows into the store (Core executemany, a transaction per chunk);
    returns how many. Rows may carry `updated_at` (else the time of the insert)."""

    stmt = insert(table_of(Call))
    total = 0
    for batch in batches(rows, chunk):
        async with db.transaction() as s:
            await s.execute(stmt, [r | {"direction": CallDirection(r["direction"]), "outcome": CallOutcome(r["outcome"])}
                                   for r in batch])
        total += len(batch)
    return total
