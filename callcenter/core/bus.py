"""The event bus: in-process for one process (the embedded default).

Topics used: `call.offered`, `call.answered`, `call.ended`, `lines.changed`, `ticket.changed`.
Payloads are JSON-able dicts. Publishing never blocks and never fails the publisher: a slow
subscriber's queue drops its oldest message (the console refetches on reconnect anyway).
Issue 7 adds a PostgreSQL LISTEN/NOTIFY implementation with the same surface.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)


class Publisher(Protocol):
    async def publish(self, topic: str, payload: dict[str, Any]) -> None: ...


class InProcessBus:
    def __init__(self, max_queue: int = 1000) -> None:
        self._subs: set[tuple[tuple[str, ...], asyncio.Queue[tuple[str, dict[str, Any]]]]] = set()
        self._max = max_queue

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

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


class PgBus(InProcessBus):
    """The bus across processes: PostgreSQL LISTEN/NOTIFY on one channel.

    Every publish is a NOTIFY (payload ≤ 8000 bytes: keep payloads small — ids and figures,
    not documents); every process LISTENs on a dedicated connection and hands what arrives to
    its local subscribers, its own publications included, so a screen pop raised in the
    adapter's process reaches an SSE stream held by any web worker. While the listening
    connection is down it reconnects with backoff; a publish that cannot reach PostgreSQL is
    delivered locally and logged, never raised to the publisher.
    """

    CHANNEL = "hotline_bus"

    def __init__(self, url: str, max_queue: int = 1000) -> None:
        super().__init__(max_queue)

        u = make_url(url)
        self._dsn = u.set(drivername="postgresql").render_as_string(hide_password=False)
        self._listen_conn: Any = None
        self._pub_conn: Any = None
        self._outbox: asyncio.Queue[tuple[str, dict[str, Any], str]] = asyncio.Queue(10000)
        self._sender: asyncio.Task[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="pg-bus-listen")
        try:
            await asyncio.wait_for(self.connected.wait(), 10)
        except TimeoutError:
            log.warning("event bus: PostgreSQL not reachable yet; delivering locally until it is")

    async def close(self) -> None:
        # let what is queued go out (briefly), then stop
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                while not self._outbox.empty() and self._sender and not self._sender.done():
                    await asyncio.sleep(0.01)
        self._closing = True
        for task in (self._task, self._sender):
            if task:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        for c in (self._listen_conn, self._pub_conn):
            if c is not None:
                with contextlib.suppress(Exception):
                    await c.close()

    def _deliver(self, topic: str, payload: dict[str, Any]) -> None:
        for prefixes, q in list(self._subs):
            if not any(topic.startswith(p) for p in prefixes):
                continue
            if q.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    q.get_nowait()
            q.put_nowait((topic, payload))

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, data: str) -> None:
        try:
            msg = json.loads(data)
            self._deliver(msg["t"], msg["p"])
        except (ValueError, KeyError, TypeError):
            log.warning("event bus: unreadable notification %r", data[:200])

    async def _listen_forever(self) -> None:
        import asyncpg  # only on PostgreSQL (PgBus); SQLite processes never load it

        delay = 0.2
        while not self._closing:
            try:
                conn = await asyncpg.connect(self._dsn, timeout=10)
                self._listen_conn = conn
                await conn.add_listener(self.CHANNEL, self._on_notify)
                self.connected.set()
                delay = 0.2
                while not conn.is_closed():
                    await asyncio.sleep(1)
                    # a cheap liveness probe: a dead server is noticed within a few seconds
                    await asyncio.wait_for(conn.execute("SELECT 1"), 5)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 — any failure means: reconnect
                log.warning("event bus: listening connection lost (%s); reconnecting", e)
            self.connected.clear()
            if self._listen_conn is not None:
                with contextlib.suppress(Exception):
                    self._listen_conn.terminate()
                self._listen_conn = None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        """Queue the message for NOTIFY and return at once: a request never waits for the bus.
        The sender sends whatever has queued up meanwhile in one round trip, in order."""
        data = json.dumps({"t": topic, "p": payload}, ensure_ascii=False, default=str)
        if len(data.encode()) > 7900:
            log.error("event bus: %s payload too large for NOTIFY (%d bytes); delivered locally only", topic, len(data))
            self._deliver(topic, payload)
            return
        if not self.connected.is_set():
            self._deliver(topic, payload)
            return
        if self._outbox.full():
            log.warning("event bus: outbox full; %s delivered locally only", topic)
            self._deliver(topic, payload)
            return
        self._outbox.put_nowait((topic, payload, data))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_forever(), name="pg-bus-send")

    async def _send_forever(self) -> None:
        import asyncpg  # only on PostgreSQL (PgBus); SQLite processes never load it

        while not self._closing:
            batch = [await self._outbox.get()]
            while not self._outbox.empty() and len(batch) < 500:
                batch.append(self._outbox.get_nowait())
            try:
                if self._pub_conn is None or self._pub_conn.is_closed():
                    self._pub_conn = await asyncpg.connect(self._dsn, timeout=5)
                await asyncio.wait_for(
                    self._pub_conn.execute(
                        "SELECT pg_notify($1, x) FROM unnest($2::text[]) WITH ORDINALITY AS u(x, n) ORDER BY n",
                        self.CHANNEL,
                        [d for _, _, d in batch],
                    ),
                    5,
                )
            except Exception as e:  # noqa: BLE001 — the publisher must never fail because of the bus
                log.warning("event bus: NOTIFY failed (%s); %d message(s) delivered locally only", e, len(batch))
                with contextlib.suppress(Exception):
                    if self._pub_conn is not None:
                        self._pub_conn.terminate()
                self._pub_conn = None
                for topic, payload, _ in batch:
                    self._deliver(topic, payload)


def make_bus(database_url: str) -> InProcessBus:
    """LISTEN/NOTIFY on PostgreSQL (call `await bus.start()`); in-process on SQLite."""

    if make_url(database_url).get_backend_name() == "postgresql":
        return PgBus(database_url)
    return InProcessBus()
