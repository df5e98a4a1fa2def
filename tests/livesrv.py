"""Helpers for tests against running parts: a web app under a real uvicorn (in a background
thread, on a free loopback port), polling until a condition holds, reading an SSE stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@contextmanager
def serve(app_factory, **factory_kwargs) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Yield the base URL of a running server; stop it on exit."""
    port = free_port()
    config = uvicorn.Config(app_factory(**factory_kwargs), host="127.0.0.1", port=port, log_level="warning",
                            server_header=False)
    server = uvicorn.Server(config)
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    else:
        raise RuntimeError("server did not start")
    try:
        yield base
    finally:
        server.should_exit = True
        th.join(10)


async def until(check: Callable[[], Any], timeout: float = 10.0, what: str = "", interval: float = 0.02) -> Any:
    """Poll `check` (a function, or a coroutine function) until it returns something true, and
    return that; AssertionError naming `what` after `timeout` seconds (real parts run on the clock)."""
    end = time.monotonic() + timeout
    while True:
        got = check()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or getattr(check, '__name__', check)}")
        await asyncio.sleep(interval)


class Stream:
    """An SSE stream read in the background: (event, data) pairs into a queue."""

    def __init__(self, client: httpx.AsyncClient, path: str) -> None:
        self.client, self.path = client, path
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async with self.client.stream("GET", self.path, headers={"accept": "text/event-stream"}) as r:
            assert r.status_code == 200, r.status_code
            event, data = "message", ""
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif line == "" and data:
                    await self.events.put((event, json.loads(data)))
                    event, data = "message", ""

    async def next(self, event: str, match: Callable[[Any], bool] = lambda d: True, timeout: float = 10.0) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                ev, data = await self.events.get()
                if ev == event and match(data):
                    return data

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task
