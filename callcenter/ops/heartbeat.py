"""Process heartbeats: a long-running process upserts one row about itself every few seconds
(`process_heartbeats`), which /readyz and /metrics of every web worker read (issue 7).

Light on purpose: the telephony adapter imports this, and it must not pull in a web framework.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from callcenter.store.db import Database
from callcenter.store.models import ProcessHeartbeat, utcnow

log = logging.getLogger("callcenter.ops.heartbeat")
EVERY_S = 5.0
STALE_S = 20.0  # a row older than this: the process is gone (or cannot reach the database)


def rss_bytes() -> int:
    """Resident memory of this process (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


async def beat(db: Database, name: str, kind: str, data: dict[str, Any], started_at: datetime) -> None:
    now = utcnow()
    ins = sqlite.insert if db.is_sqlite else postgresql.insert
    values = {"name": name, "kind": kind, "host": socket.gethostname()[:64], "pid": os.getpid(),
              "started_at": started_at, "beat_at": now, "data": {**data, "rss_bytes": rss_bytes()}}
    async with db.transaction() as s:
        stmt = ins(ProcessHeartbeat).values(**values)
        await s.execute(stmt.on_conflict_do_update(
            index_elements=["name"], set_={k: v for k, v in values.items() if k != "name"}))


async def run_heartbeat(db: Database, name: str, kind: str, data: Callable[[], dict[str, Any]],
                        every: float = EVERY_S) -> None:
    """Beat until cancelled; a failed beat (database restarting) is logged once and retried."""
    started = utcnow()
    failing = False
    while True:
        try:
            await asyncio.wait_for(beat(db, name, kind, data(), started), timeout=max(every, 5.0))
            if failing:
                log.info("heartbeat %s: written again", name)
            failing = False
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - a heartbeat never stops its process
            if not failing:
                log.warning("heartbeat %s: cannot write (%s)", name, e)
            failing = True
        await asyncio.sleep(every)


def adapter_status(adapter: Any) -> dict[str, Any]:
    """What the telephony adapter reports: AMI link, lines, callers in the queue, spool depth."""
    tracker = adapter.tracker
    calls = getattr(tracker, "_calls", {}).values()
    waiting = sum(1 for c in calls if getattr(c, "joined", False) and not getattr(c, "answered", False)
                  and not getattr(c, "abandoned", False))
    try:
        spool = adapter.spool.pending()
    except Exception:  # noqa: BLE001 - the spool closed while stopping
        spool = -1
    return {
        "pbx": adapter.config.pbx,
        "ami_logged_in": bool(adapter.client.logged_in),
        "lines_in_use": tracker.lines.in_use,
        "lines_limit": tracker.lines.limit,
        "lines_refused": tracker.lines.refused,
        "queue_waiting": waiting,
        "calls_open": len(getattr(tracker, "_calls", {})),
        "spool_depth": spool,
        "calls_written": adapter.written,
        "write_failures": adapter.write_failures,
        # the queue members' pause state as the PBX has it (seat → {paused, reason, at}): a web
        # worker that starts seeds its board from here (pause_states)
        "pauses": adapter.pauses.snapshot(),
        "pauses_listed_at": adapter.pauses.listed_at,
    }


async def pause_states(db: Database, now: datetime | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """pbx → seat → {paused, reason, at} from the telephony adapters' heartbeats; a row older
    than STALE_S is ignored (that adapter is gone: what it last knew may no longer be true)."""
    now = now or utcnow()
    async with db.session() as s:
        rows = (await s.scalars(select(ProcessHeartbeat).where(ProcessHeartbeat.kind == "telephony"))).all()
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for b in rows:
        if (now - b.beat_at).total_seconds() > STALE_S:
            continue
        data = b.data or {}
        pauses = data.get("pauses")
        if not isinstance(pauses, dict):
            continue
        out[str(data.get("pbx") or b.name)] = {
            str(seat): {"paused": bool(v.get("paused")), "reason": v.get("reason") or None,
                        "at": float(v.get("at") or 0.0)}
            for seat, v in pauses.items() if isinstance(v, dict)}
    return out
