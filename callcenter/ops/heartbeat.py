"""Process heartbeats: a long-running process upserts one row about itself every few seconds
(`process_heartbeats`), which /readyz and /metrics of every web worker read (issue 7).

How long a row lives (issue 20):
- a web worker (`web:<host>:<pid>`) deletes its row when it stops; a worker that died without
  stopping is replaced by one with another pid, so its row is deleted by any process's beat
  once it is WEB_EXPIRE_S old;
- a scheduler (`scheduler:<host>`) deletes its row when it stops; one that died keeps its row,
  ageing, so a dead stand-by shows (`/readyz?strict=1`, `hotline_heartbeat_age_seconds`);
- a telephony adapter (`telephony:<pbx>`) keeps its row when it stops: a PBX without its adapter
  must show. A PBX taken out of service is retired with `hotline ops retire telephony:<pbx>`.

Light on purpose: the telephony adapter imports this, and it must not pull in a web framework.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from callcenter.store.db import Database
from callcenter.store.models import ProcessHeartbeat, utcnow

KEEP_ON_STOP = {"telephony"}  # kinds whose row outlives a clean stop (see above)

log = logging.getLogger("callcenter.ops.heartbeat")
EVERY_S = 5.0
STALE_S = 20.0  # a row older than this: the process is gone (or cannot reach the database)
WEB_EXPIRE_S = 300.0  # a web worker's row older than this is deleted (that pid will not come back)


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
        await s.execute(delete(ProcessHeartbeat).where(
            ProcessHeartbeat.kind == "web", ProcessHeartbeat.beat_at < now - timedelta(seconds=WEB_EXPIRE_S)))


async def forget(db: Database, name: str) -> bool:
    """Delete one process's row (its clean stop; `hotline ops retire`). True if there was one."""
    async with db.transaction() as s:
        r = await s.execute(delete(ProcessHeartbeat).where(ProcessHeartbeat.name == name))
    return bool(getattr(r, "rowcount", 0))


async def rows(db: Database) -> list[ProcessHeartbeat]:
    async with db.session() as s:
        return list((await s.scalars(select(ProcessHeartbeat).order_by(ProcessHeartbeat.name))).all())


async def run_heartbeat(db: Database, name: str, kind: str, data: Callable[[], dict[str, Any]],
                        every: float = EVERY_S) -> None:
    """Beat until cancelled; a failed beat (database restarting) is logged once and retried.
    Cancelled (the process stops cleanly): the row is deleted, except a telephony adapter's."""
    started = utcnow()
    failing = False
    try:
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
    except asyncio.CancelledError:
        if kind not in KEEP_ON_STOP:
            try:
                await asyncio.wait_for(forget(db, name), timeout=3.0)
            except Exception:  # noqa: BLE001 - stopping anyway: the row expires, or ages visibly
                log.debug("heartbeat %s: row not deleted at stop", name, exc_info=True)
        raise


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
    return {pbx: m["seats"] for pbx, m in (await member_maps(db, now)).items()}


async def member_maps(db: Database, now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """pbx → {seats: seat → {paused, reason, at}, listed_at}: the queue's members as the fresh
    telephony heartbeats have them (`listed_at` None: the adapter has not listed the queue in
    full, so a seat missing may still be a member)."""
    now = now or utcnow()
    async with db.session() as s:
        rows = (await s.scalars(select(ProcessHeartbeat).where(ProcessHeartbeat.kind == "telephony"))).all()
    out: dict[str, dict[str, Any]] = {}
    for b in rows:
        if (now - b.beat_at).total_seconds() > STALE_S:
            continue
        data = b.data or {}
        pauses = data.get("pauses")
        if not isinstance(pauses, dict):
            continue
        listed_at = data.get("pauses_listed_at")
        out[str(data.get("pbx") or b.name)] = {"seats": {
            str(seat): {"paused": bool(v.get("paused")), "reason": v.get("reason") or None,
                        "at": float(v.get("at") or 0.0), "in_call": bool(v.get("in_call"))}
            for seat, v in pauses.items() if isinstance(v, dict)},
            "listed_at": float(listed_at) if isinstance(listed_at, int | float) else None}
    return out
