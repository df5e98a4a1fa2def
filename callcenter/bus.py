"""The event bus: in-process for one process (the embedded default).

Topics used: `call.offered`, `call.answered`, `call.ended`, `lines.changed`, `ticket.changed`.
Payloads are JSON-able dicts. Publishing never blocks and never fails the publisher: a slow
subscriber's queue drops its oldest message (the console refetches on reconnect anyway).
Issue 7 adds a PostgreSQL LISTEN/NOTIFY implementation with the same surface.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Publisher(Protocol):
    async def publish(self, topic: str, payload: dict[str, Any]) -> None: ...


class InProcessBus:
    def __init__(self, max_queue: int = 1000) -> None:
        self._subs: set[tuple[tuple[str, ...], asyncio.Queue[tuple[str, dict[str, Any]]]]] = set()
        self._max = max_queue

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        for prefixes, q in list(self._subs):
            if not any(topic.startswith(p) for p in prefixes):
                continue
            if q.full():
                try:
                    q.get_nowait()
                except asyncio.QueueEmpty:
                    pass
            q.put_nowait((topic, payload))

    @asynccontextmanager
    async def subscribe(self, *prefixes: str) -> AsyncIterator[asyncio.Queue[tuple[str, dict[str, Any]]]]:
        """Subscribe to topics starting with any of `prefixes` ('' = everything)."""
        q: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(self._max)
        entry = (tuple(prefixes) or ("",), q)
        self._subs.add(entry)
        try:
            yield q
        finally:
            self._subs.discard(entry)


class NullBus:
    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        return None
