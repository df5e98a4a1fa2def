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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from callcenter.store.models import Call, CallDirection, CallOutcome

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


def simulate(start: datetime, days: int, h: Hotline, seed: int = 12345) -> Iterator[dict[str, Any]]:
    """Inbound call rows (the `calls` columns) from `start` (aware; a local midnight) for `days` days."""
    rng = random.Random(seed)
    lines: list[float] = []  # release times of the lines in use
    seats = [(0.0, f"80{i + 1:02d}") for i in range(h.seats)]  # (next free, extension)
    heapq.heapify(seats)
    t = 0.0
    end = days * 86400.0
    n = 0
    while True:
        # thinning against the day's peak rate keeps arrivals Poisson with the hourly rate
        peak = max(DAY_PROFILE) * h.scale / 3600
        t += rng.expovariate(peak)
        if t >= end:
            return
        local = start + timedelta(seconds=t)
        rate = DAY_PROFILE[local.hour] * h.scale * (h.weekend if local.weekday() >= 5 else 1.0) / 3600
        if rng.random() >= rate / peak:
            continue
        n += 1
        while lines and lines[0] <= t:
            heapq.heappop(lines)
        at = start + timedelta(seconds=t)
        row: dict[str, Any] = {"pbx": "sim", "linkedid": f"sim-{seed}-{n}", "direction": "in",
                               "caller_number": f"138{rng.randrange(10**8):08d}", "offered_at": at.astimezone(UTC)}
        if len(lines) >= h.lines:
            yield row | {"outcome": "refused", "ended_at": at.astimezone(UTC)}
            continue
        free_at, seat = seats[0]
        begin = max(t, free_at)
        patience = rng.expovariate(1 / h.patience_s)
        if begin - t > patience:
            heapq.heappush(lines, t + patience)
            yield row | {"outcome": "abandoned", "wait_s": round(patience, 3), "line": len(lines),
                         "ended_at": (at + timedelta(seconds=patience)).astimezone(UTC)}
            continue
        talk = rng.expovariate(1 / h.talk_s)
        heapq.heapreplace(seats, (begin + talk, seat))
        heapq.heappush(lines, begin + talk)
        yield row | {"outcome": "answered", "seat": seat, "wait_s": round(begin - t, 3), "talk_s": round(talk, 3),
                     "line": len(lines),
                     "answered_at": (start + timedelta(seconds=begin)).astimezone(UTC),
                     "ended_at": (start + timedelta(seconds=begin + talk)).astimezone(UTC)}


async def load(db: Any, rows: Iterator[dict[str, Any]], chunk: int = 5000) -> int:
    """Insert simulated call rows into the store; returns how many."""

    total = 0
    batch: list[dict[str, Any]] = []

    async def flush() -> None:
        async with db.transaction() as s:
            await s.execute(insert(Call), batch)

    for r in rows:
        batch.append(r | {"direction": CallDirection(r["direction"]), "outcome": CallOutcome(r["outcome"])})
        if len(batch) >= chunk:
            await flush()
            total += len(batch)
            batch = []
    if batch:
        await flush()
        total += len(batch)
    return total
