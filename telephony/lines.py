"""Trunk line occupancy: lines in use now, the peak, time at full capacity, refused calls.

Pure bookkeeping; time is an explicit input (seconds on any monotonic scale).
A line is held by an inbound call from the moment the trunk answers it until its hang-up, and
by an outbound callback while it is up (DOMAIN.md, Figures). A refused call never holds one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LinesSnapshot:
    in_use: int
    limit: int
    peak: int
    full_s: float
    refused: int

    def as_dict(self) -> dict[str, float | int]:
        return {"in_use": self.in_use, "limit": self.limit, "peak": self.peak,
                "full_s": round(self.full_s, 3), "refused": self.refused}


class LineOccupancy:
    def __init__(self, limit: int = 10) -> None:
        if limit < 1:
            raise ValueError("the line limit must be at least 1")
        self.limit = limit
        self._holders: set[str] = set()
        self.peak = 0
        self.refused = 0
        self._full_s = 0.0
        self._full_since: float | None = None

    @property
    def in_use(self) -> int:
        return len(self._holders)

    def holds(self, key: str) -> bool:
        return key in self._holders

    def holders(self) -> set[str]:
        return set(self._holders)

    def set_limit(self, limit: int, now: float) -> None:
        """The PBX told us its limit (e.g. TRUNK_LINES): full-capacity time follows the new one."""
        if limit >= 1 and limit != self.limit:
            self._close_full(now)
            self.limit = limit
            self._open_full(now)

    def acquire(self, key: str, now: float) -> int:
        """`key` takes a line; returns the lines in use including it (idempotent per key)."""
        if key not in self._holders:
            self._holders.add(key)
            self.peak = max(self.peak, len(self._holders))
            self._open_full(now)
        return len(self._holders)

    def release(self, key: str, now: float) -> bool:
        if key not in self._holders:
            return False
        self._close_full(now)
        self._holders.discard(key)
        self._open_full(now)
        return True

    def refuse(self) -> None:
        self.refused += 1

    def reset(self, keys: set[str], now: float) -> None:
        """Replace the holders with what the PBX says is up now (reconciliation after a restart)."""
        self._close_full(now)
        self._holders = set(keys)
        self.peak = max(self.peak, len(self._holders))
        self._open_full(now)

    def full_seconds(self, now: float) -> float:
        extra = now - self._full_since if self._full_since is not None else 0.0
        return self._full_s + max(extra, 0.0)

    def snapshot(self, now: float) -> LinesSnapshot:
        return LinesSnapshot(self.in_use, self.limit, self.peak, self.full_seconds(now), self.refused)

    def _open_full(self, now: float) -> None:
        if self._full_since is None and len(self._holders) >= self.limit:
            self._full_since = now

    def _close_full(self, now: float) -> None:
        if self._full_since is not None:
            self._full_s += max(now - self._full_since, 0.0)
            self._full_since = None
