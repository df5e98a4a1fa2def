"""Placing click-to-call requests: the telephony process's side (it alone holds AMI).

`place_requested(db, originate, worker, now)` claims requested callback rows and sends each
Originate operator first (the operator's seat rings, then it dials the citizen), with the
request's key as the channel variable HOTLINE_CALLBACK_KEY (telephony/ami.py) and the case
number as HOTLINE_TICKET. `originate` is telephony.adapter.Adapter.originate_callback (or any
callable with its signature). The outcome comes back through the tracker's Call row and is
read by the scheduler (callbacks.service.collect_outcomes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update

from callcenter.store.db import Database
from callcenter.store.models import Call, CallbackRequest, utcnow

from .claims import claim
from .service import _call_for

log = logging.getLogger("callbacks.dialer")
Originate = Callable[..., Awaitable[Any]]


async def place_requested(db: Database, originate: Originate, worker: str, now: datetime, *,
                          lease: timedelta = timedelta(seconds=60), limit: int = 10) -> bool:
    """Send the Originate of up to `limit` requested calls. Returns whether there were any."""
    async with db.transaction() as s:
        # requested rows, or rows a dialer claimed and then died with (its lease expired)
        ids = await claim(s, CallbackRequest, or_(CallbackRequest.status == "requested",
                                                  CallbackRequest.status == "placing"), worker, now, lease, limit)
        if ids:
            await s.execute(update(CallbackRequest).where(CallbackRequest.id.in_(ids))
                            .values(status="placing").execution_options(synchronize_session=False))
    for rid in ids:
        async with db.session() as s:
            req = await s.get(CallbackRequest, rid)
            # a dialer that died after sending: the PBX saw the key already → do not dial twice
            seen = (await s.execute(select(Call.id).where(and_(_call_for(req))).limit(1))).first()
        if req is None:
            continue
        error = None
        if seen is None:
            try:
                await originate(req.phone, req.seat, ticket_ref=req.ticket_ref, idempotency_key=req.key,
                                style="operator_first")
            except Exception as exc:  # noqa: BLE001 - AMI away, refused: the operator sees it failed
                error = str(exc) or type(exc).__name__
                log.warning("callback %s: originate failed: %s", req.key, error)
        async with db.transaction() as s:
            # only if still ours (compare-and-set on the claim)
            await s.execute(
                update(CallbackRequest).where(CallbackRequest.id == rid, CallbackRequest.claimed_by == worker,
                                              CallbackRequest.status == "placing")
                .values(status="failed" if error else "placed", error=error, placed_at=utcnow(),
                        claimed_by=None, claimed_until=None)
                .execution_options(synchronize_session=False))
    return bool(ids)


async def run_dialer(db: Database, originate: Originate, worker: str, stop: asyncio.Event,
                     every: float = 1.0) -> None:
    """The telephony process's loop (wire next to the adapter): place requests as they come."""
    while not stop.is_set():
        try:
            found = await place_requested(db, originate, worker, utcnow())
        except Exception:  # noqa: BLE001
            log.exception("placing callbacks failed")
            found = False
        if not found:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
