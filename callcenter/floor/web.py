"""Console pages for the supervisor (班长): the wall, and the seat board's start."""

from __future__ import annotations

import asyncio
import json
import logging
import time as _time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from sqlalchemy import Integer, cast, func, select

from callcenter.cases import services
from callcenter.cases.views import ticket_dict
from callcenter.core.clock import sqlite_shift
from callcenter.floor import agents
from callcenter.floor import wall as floor_wall
from callcenter.store.models import (
    Call,
    CallDirection,
    Ticket,
)
from callcenter.web.auth_web import ConsoleUser, require
from callcenter.web.render import SUP, TZ, calendar_missing, db_of, local, page, pages_router, ref
from reports.figures import FIGURE

log = logging.getLogger(__name__)
router, _route = pages_router()


async def start_board(app: Any) -> asyncio.Task[None]:
    """The AgentBoard follows the bus for the life of the app (called from the lifespan)."""
    board: agents.AgentBoard = app.state.board
    try:
        await board.load(app.state.db)
    except Exception:  # noqa: BLE001 - an empty board is better than no console
        log.warning("board: cannot load the seats and calls at start; the board starts empty", exc_info=True)
    try:  # the seats' pause state as the PBX has it, from the telephony adapters' heartbeats
        await board.seed_pauses(app.state.db)
    except Exception:  # noqa: BLE001 - the adapter answers our agent.hello with its map anyway
        log.warning("board: cannot read the seats' pause state from the heartbeats", exc_info=True)
    # the wall's figures are computed once at start, so the first wall of a worker does not wait
    app.state.wall_warmup = asyncio.create_task(app.state.wall_figures.warm(app.state.db), name="wall-warmup")
    return asyncio.create_task(board.follow(app.state.bus, app.state.wall_figures.mark_dirty), name="agent-board")

# ---------------------------------------------------------------------------------------------
# supervisor: the wall
# ---------------------------------------------------------------------------------------------
def _period(m: dict[str, Any]) -> dict[str, Any]:
    c = m["cases"]
    keys = ("registered", "resolved", "completion_rate", "on_time_rate", "callback_rate", "satisfaction_rate",
            "final_satisfaction_rate", "reopened", "reopen_rate", "chases", "chased",
            "overdue", "answered_directly", "dispatched", "open", "by_department", "by_category")
    return {k: c[k] for k in keys} | {k: m.get(k) or {} for k in ("department_rates", "category_rates")}


async def wall_payload(app: Any) -> dict[str, Any]:
    db = app.state.db
    figs = await app.state.wall_figures.get(db)
    board = app.state.board.snapshot(await agents.operators(db))
    calls = figs["today"]["calls"] or {}
    return {
        "board": board,
        "calls": {k: calls.get(k) for k in ("offered", "answered", "abandoned", "refused", "answer_rate",
                                            "answered_within_15s_rate", "avg_wait_s", "avg_acw_s",
                                            "peak_lines")},
        "periods": {name: _period(m) for name, m in figs.items()},
        "dates": wall_dates(),  # each period's days: the figures' drill-down links
        "as_of": local(datetime.now(UTC), "%H:%M:%S"),
    }


WALL_SHARE_S = 0.25  # the walls of a process woken by one event share one payload


async def wall_json(app: Any) -> str:
    """wall_payload as JSON, computed once for all the walls of this process that ask within
    WALL_SHARE_S of each other and the board unchanged (50 walls woken by one event cost one
    payload, one encoding)."""
    st = app.state
    if not hasattr(st, "wall_share_lock"):
        st.wall_share_lock, st.wall_shared = asyncio.Lock(), None
    async with st.wall_share_lock:
        shared = st.wall_shared
        now = _monotonic()
        version = (st.board.version, st.wall_figures.generation)
        if shared is None or shared[1] != version or now - shared[0] > WALL_SHARE_S:
            shared = st.wall_shared = (now, version,
                                       json.dumps(await wall_payload(app), ensure_ascii=False, default=str))
        return str(shared[2])


def _monotonic() -> float:
    return _time.monotonic()


@_route("GET", "/wall", SUP)
async def wall(request: Request, user: Annotated[ConsoleUser, require(*SUP)]) -> Response:
    data = await wall_payload(request.app)
    missing = await calendar_missing(request)
    # the page's data as a JSON island: tojson escapes <, > and & (a name holding </script> stays text)
    return page(request, "wall.html", {"data": data, "calendar_missing": missing, "dates": wall_dates(), "FIGURE": FIGURE,
                                       "period_columns": floor_wall.PERIOD_COLUMNS,
                                       "key_columns": floor_wall.KEY_COLUMNS})


def wall_dates() -> dict[str, dict[str, str]]:
    """The wall's periods as drill-down dates (Asia/Shanghai): today, this month, this year."""
    today = agents.local_today()
    return {"today": {"from": today.isoformat(), "to": today.isoformat()},
            "month": {"from": today.replace(day=1).isoformat(), "to": today.isoformat()},
            "year": {"from": today.replace(month=1, day=1).isoformat(), "to": today.isoformat()}}


async def hourly_calls(db: Any) -> list[int]:
    """Inbound calls offered today per hour (Asia/Shanghai), 24 buckets: the wall's curve."""

    today = agents.local_today()
    lo = datetime.combine(today, time(0), TZ).astimezone(UTC)
    if db.is_sqlite:
        hour = cast(func.strftime("%H", Call.offered_at, sqlite_shift()), Integer)  # stored as naive UTC
    else:
        hour = cast(func.extract("hour", func.timezone(TZ.key, Call.offered_at)), Integer)
    out = [0] * 24
    async with db.session() as s:
        rows = (await s.execute(select(hour, func.count()).where(
            Call.direction == CallDirection.inbound, Call.offered_at >= lo, Call.offered_at < lo + timedelta(days=1))
            .group_by(hour))).all()
    for h, n in rows:
        if h is not None and 0 <= int(h) < 24:
            out[int(h)] += int(n)
    return out


async def open_overdue(db: Any, actor: Any) -> int:
    """Open cases past their deadline now (any registration day): the wall's 超期 figure."""
    _rows, total = await services.search(db, actor, services.TicketFilter(overdue_at=datetime.now(UTC), limit=0))
    return total


@_route("GET", "/wall/screen", SUP)
async def wall_screen(request: Request, user: Annotated[ConsoleUser, require(*SUP)]) -> Response:
    """大屏: the wall full-screen for a display — no console menu, dark, sized to the screen
    (1920×1080 and 3840×2160 without scrolling); every figure links to its drill-down list."""
    db = db_of(request)
    data = await wall_payload(request.app)
    extra = {"hourly": await hourly_calls(db), "overdue_open": await open_overdue(db, user.actor),
             "dates": wall_dates()}
    return page(request, "wall_screen.html", {"data": data, "extra": extra, "FIGURE": FIGURE})


@_route("GET", "/wall/screen/extra", SUP)
async def wall_screen_extra(request: Request, user: Annotated[ConsoleUser, require(*SUP)]) -> JSONResponse:
    db = db_of(request)
    return JSONResponse({"hourly": await hourly_calls(db), "overdue_open": await open_overdue(db, user.actor),
                         "dates": wall_dates()})


@_route("GET", "/wall/data", SUP)
async def wall_data(request: Request, user: Annotated[ConsoleUser, require(*SUP)]) -> JSONResponse:
    return JSONResponse(await wall_payload(request.app))


@_route("GET", "/wall/due", SUP)
async def wall_due(request: Request, user: Annotated[ConsoleUser, require(*SUP)]) -> Response:
    db = db_of(request)
    now = datetime.now(UTC)
    r = await ref(request)
    overdue, n_over = await services.search(db, user.actor, services.TicketFilter(overdue_at=now, limit=50))
    soon, _ = await services.search(db, user.actor, services.TicketFilter(overdue_at=now + timedelta(days=1), limit=80))
    over_ids = {t.id for t in overdue}
    soon = [t for t in soon if t.id not in over_ids][:30]
    ext = await agents.extension_requests(db)

    def d(t: Ticket) -> dict[str, Any]:
        return ticket_dict(t, r, user.actor, masked=True) | {"due_raw": t.due_at, "ext_raw": t.extension_requested_until}

    return page(request, "_due.html", {"overdue": [d(t) for t in overdue], "n_overdue": n_over,
                                       "soon": [d(t) for t in soon], "extensions": [d(t) for t in ext]})


@_route("GET", "/wall/stream", SUP, response_class=EventSourceResponse)
async def wall_stream(request: Request, user: Annotated[ConsoleUser, require(*SUP)]) -> AsyncIterator[ServerSentEvent]:
    """The wall's figures on every change (gathered for 0.4 s), when a background refresh of the
    month's or year's figures lands, and every 5 s: call rows reach the store a moment after
    their bus event, so a quiet period still settles the figures."""
    app = request.app
    async with app.state.bus.subscribe("call.", "lines.", "agent.", "ticket.") as q:
        yield ServerSentEvent(event="wall", raw_data=await wall_json(app), retry=2000)
        while True:
            event = asyncio.ensure_future(q.get())
            landed = asyncio.ensure_future(app.state.wall_figures.landed())
            try:
                done, _ = await asyncio.wait({event, landed}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
            finally:
                event.cancel()
                landed.cancel()
            if done:  # gather what follows (several refreshes land one after the other)
                await asyncio.sleep(0.4)
                while not q.empty():
                    q.get_nowait()
            yield ServerSentEvent(event="wall", raw_data=await wall_json(app))
