"""Operations endpoints of the web app (issue 7): `/readyz`, `/metrics` (Prometheus text
format, hand-written: no extra dependency), the request-latency middleware and JSON logs.

Each web worker counts its own requests and writes its counters into `process_heartbeats`
every few seconds, like the telephony adapter writes its AMI link, lines, queue and spool
depth; `/metrics` on any worker therefore shows the whole installation: the database's
figures, every adapter's state and the summed request counters of every live worker (a
scrape through nginx may land on any worker). `/healthz` (liveness) is in app.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import func, select, text

from callcenter.core.bus import PgBus
from callcenter.core.clock import TZ
from callcenter.core.logs import configure_logging, log_context, reset_context
from callcenter.floor.agents import local_today
from callcenter.ops.heartbeat import EVERY_S, STALE_S, run_heartbeat
from callcenter.store.models import (
    Call,
    Callback,
    CallbackTaskStatus,
    CallOutcome,
    ProcessHeartbeat,
    SchedulerLease,
    Ticket,
    utcnow,
)

log = logging.getLogger("hotline.access")
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SCHEDULER_STALE_S = 35.0  # the leader renews its row every 10 s (leader_every)
_TICKET_IN_PATH = re.compile(r"/(?:tickets|cases)/([A-Za-z]{1,8}\d{8}-\d{3,})")
# probes for load balancers and Prometheus, not API: kept out of the OpenAPI schema (a 503 from
# /readyz is the answer, not a server error)
router = APIRouter(tags=["ops"], include_in_schema=False)


# ---- request counters --------------------------------------------------------------------------


class HttpStats:
    """This worker's requests: counts by (method, route, status) and the time to the response's
    first byte by (method, route) — for an SSE stream that is the time to open it."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        self.latency: dict[tuple[str, str], list[float]] = {}  # bucket counts…, sum, count
        self.sse_open: dict[str, int] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        h = self.latency.get((method, route))
        if h is None:
            h = self.latency[(method, route)] = [0.0] * (len(BUCKETS) + 2)
        for i, b in enumerate(BUCKETS):
            if seconds <= b:
                h[i] += 1
        h[-2] += seconds
        h[-1] += 1

    def as_data(self) -> dict[str, Any]:
        return {"requests": [[m, r, s, n] for (m, r, s), n in self.requests.items()],
                "latency": [[m, r, h] for (m, r), h in self.latency.items()],
                "sse_open": dict(self.sse_open)}


def _route_of(scope: dict[str, Any]) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path:
        return str(path)
    return "(unmatched)"  # 404s: never the raw path (unbounded label values)


class OpsMiddleware:
    """Pure ASGI (streams pass through untouched): counts, latency, one access line per request
    with the ticket number when the URL names one."""

    def __init__(self, app: Any, stats: HttpStats, access_log: bool = False) -> None:
        self.app = app
        self.stats = stats
        # a line per request costs as much as a tenth of a case registration: off unless asked
        self.access_log = access_log

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        path: str = scope.get("path", "")
        m = _TICKET_IN_PATH.search(path)
        token = log_context(request_id=uuid.uuid4().hex[:12], ticket=m.group(1) if m else None)
        status = 500
        first_byte: float | None = None
        sse: str | None = None

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal status, first_byte, sse
            if message["type"] == "http.response.start":
                status = int(message["status"])
                first_byte = time.perf_counter() - t0
                ctype = dict(message.get("headers") or []).get(b"content-type", b"")
                if ctype.startswith(b"text/event-stream"):
                    sse = _route_of(scope)
                    self.stats.sse_open[sse] = self.stats.sse_open.get(sse, 0) + 1
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            method = scope.get("method", "GET")
            route = _route_of(scope)
            if sse is not None:
                self.stats.sse_open[sse] -= 1
            if route not in ("/metrics", "/healthz", "/readyz"):
                self.stats.observe(method, route, status, first_byte if first_byte is not None
                                   else time.perf_counter() - t0)
                if status >= 500 or (self.access_log and log.isEnabledFor(logging.INFO)):
                    log.log(logging.ERROR if status >= 500 else logging.INFO, "%s %s %s", method, path, status,
                            extra={"method": method, "path": path, "status": status,
                                   "ms": round((time.perf_counter() - t0) * 1000, 1)})
            reset_context(token)


# ---- install -----------------------------------------------------------------------------------


def install(app: FastAPI) -> None:
    """Logs, the middleware, /readyz, /metrics and this worker's heartbeat (from create_app)."""
    settings = app.state.settings
    configure_logging(getattr(settings, "log_format", None), process_kind="web")
    stats = HttpStats()
    app.state.http_stats = stats
    app.state.ops_cache = {}
    app.state.worker_name = f"web:{socket.gethostname()[:40]}:{os.getpid()}"
    app.add_middleware(OpsMiddleware, stats=stats, access_log=bool(getattr(settings, "access_log", False)))
    app.include_router(router)

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with inner(a) as state:
            # the pid is known only in the worker process (uvicorn --workers forks after import)
            a.state.worker_name = f"web:{socket.gethostname()[:40]}:{os.getpid()}"
            task = asyncio.create_task(run_heartbeat(a.state.db, a.state.worker_name, "web", stats.as_data),
                                       name="web-heartbeat")
            try:
                yield state
            finally:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    app.router.lifespan_context = lifespan


# ---- readiness ---------------------------------------------------------------------------------


async def _heartbeats(db: Any) -> list[ProcessHeartbeat]:
    async with db.session() as s:
        return list((await s.scalars(select(ProcessHeartbeat))).all())


async def _leader(db: Any) -> SchedulerLease | None:
    async with db.session() as s:
        return (await s.scalars(select(SchedulerLease).where(SchedulerLease.name == "scheduler"))).first()


def _age(at: datetime | None, now: datetime) -> float | None:
    return None if at is None else round((now - at).total_seconds(), 1)


async def calendar_check(db: Any) -> dict[str, Any]:
    """Holidays known for this year and the next (degraded, never down: deadlines then count
    Monday–Friday, which is wrong around the holidays)."""

    try:
        ref = await db.ref()
    except Exception as e:  # noqa: BLE001 - the database check reports the cause
        return {"ok": False, "error": f"{type(e).__name__}"}
    missing = ref.calendar.uncovered_years(local_today())
    out: dict[str, Any] = {"ok": not missing, "missing_years": missing}
    if missing:
        out["fix"] = ("hotline calendar set YYYY-MM-DD holiday|workday — the State Council's holidays of "
                      + ", ".join(map(str, missing)))
    return out


async def readiness(app: Any) -> dict[str, Any]:
    db = app.state.db
    now = utcnow()
    checks: dict[str, Any] = {}
    t0 = time.perf_counter()
    try:
        async with asyncio.timeout(3):
            async with db.session() as s:
                await s.execute(text("SELECT 1"))
        checks["database"] = {"ok": True, "ms": round((time.perf_counter() - t0) * 1000, 1)}
    except Exception as e:  # noqa: BLE001
        checks["database"] = {"ok": False, "error": f"{type(e).__name__}: {e}"[:200]}
    bus = app.state.bus
    if isinstance(bus, PgBus):
        checks["bus"] = {"ok": bus.connected.is_set(), "kind": "postgresql LISTEN/NOTIFY"}
    else:
        checks["bus"] = {"ok": True, "kind": "in-process"}
    tel: list[dict[str, Any]] = []
    leader: dict[str, Any] = {"ok": False, "leader": None}
    scheds: list[dict[str, Any]] = []  # every scheduler's own heartbeat: a dead stand-by shows
    if checks["database"]["ok"]:
        try:
            async with asyncio.timeout(3):
                beats = await _heartbeats(db)
                lease = await _leader(db)
            for b in beats:
                if b.kind != "telephony":
                    continue
                d, age = b.data or {}, _age(b.beat_at, now)
                fresh = age is not None and age < STALE_S
                tel.append({"pbx": d.get("pbx", b.name), "ok": fresh and bool(d.get("ami_logged_in")),
                            "ami_logged_in": bool(d.get("ami_logged_in")) and fresh, "age_s": age,
                            "spool_depth": d.get("spool_depth"), "lines_in_use": d.get("lines_in_use"),
                            "host": b.host, "pid": b.pid})
            for b in beats:
                if b.kind != "scheduler":
                    continue
                age = _age(b.beat_at, now)
                scheds.append({"name": b.name, "ok": age is not None and age < STALE_S,
                               "leading": bool((b.data or {}).get("leading")), "age_s": age,
                               "host": b.host, "pid": b.pid})
            if lease is not None and lease.holder:
                age = _age(lease.renewed_at, now)
                leader = {"ok": age is not None and age < SCHEDULER_STALE_S, "leader": lease.holder, "age_s": age}
        except Exception as e:  # noqa: BLE001
            leader = {"ok": False, "error": f"{type(e).__name__}: {e}"[:200]}
    checks["telephony"] = tel or [{"ok": False, "error": "no telephony adapter has reported"}]
    checks["scheduler"] = leader
    checks["schedulers"] = scheds
    checks["calendar"] = await calendar_check(db)
    essential = checks["database"]["ok"] and checks["bus"]["ok"]
    # strict (`?strict=1`, monitoring): the PBX link, the scheduler leader and every scheduler's
    # heartbeat; a missing holiday calendar degrades the status but never fails a probe
    # (deadlines still compute, Mon–Fri)
    working = (essential and all(t["ok"] for t in checks["telephony"]) and leader["ok"]
               and all(x["ok"] for x in scheds))
    everything = working and checks["calendar"]["ok"]
    return {"status": "ok" if everything else ("degraded" if essential else "down"), "checks": checks,
            "worker": app.state.worker_name, "strict_ok": working}


def _ops_allowed(request: Request) -> bool:
    """/readyz and /metrics name hosts, workers and figures: only the addresses of
    HOTLINE_OPS_ALLOW (default loopback: the load balancer and Prometheus on the host) see them;
    anyone else gets the 404 of a route that is not there."""
    return bool(request.app.state.settings.ops_allowed(request.client.host if request.client else None))


@router.get("/readyz", responses={503: {"description": "the database or the event bus is down (or, with strict, the PBX link or the scheduler leader)"}})
async def readyz(request: Request, strict: bool = False) -> JSONResponse:
    """Ready to take traffic: the database answers and the bus listens (503 otherwise). The AMI
    link of each adapter, the scheduler leader and every scheduler's heartbeat are reported;
    `?strict=1` makes their absence a 503 too (for monitoring, not for the load balancer; nginx
    lets only the monitoring network read it, as /metrics). A PBX taken out of service:
    `hotline ops retire telephony:<pbx>`."""
    if not _ops_allowed(request):
        return JSONResponse({"detail": "Not Found"}, status_code=404)
    r = await readiness(request.app)
    bad = r["status"] == "down" or (strict and not r.pop("strict_ok"))
    r.pop("strict_ok", None)
    return JSONResponse(r, status_code=503 if bad else 200)


# ---- metrics -----------------------------------------------------------------------------------


def _esc(v: Any) -> str:
    return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**kw: Any) -> str:
    return "{" + ",".join(f'{k}="{_esc(v)}"' for k, v in kw.items()) + "}" if kw else ""


class Exposition:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self._seen: set[str] = set()

    def family(self, name: str, kind: str, help_: str) -> None:
        if name not in self._seen:
            self._seen.add(name)
            self.lines.append(f"# HELP {name} {help_}")
            self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: float, **labels: Any) -> None:
        v = int(value) if float(value).is_integer() else round(float(value), 6)
        self.lines.append(f"{name}{_labels(**labels)} {v}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


async def _db_figures(app: Any) -> dict[str, Any]:
    """The store's figures, cached a few seconds per worker (a scrape every 15 s is cheap)."""
    cache = app.state.ops_cache
    hit = cache.get("db")
    if hit is not None and time.monotonic() - hit[0] < 5.0:
        return hit[1]
    db = app.state.db
    now = utcnow()
    day0 = datetime.now(TZ).replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    async with db.session() as s:
        calls = (await s.execute(select(Call.pbx, Call.direction, Call.outcome, func.count())
                                 .where(Call.offered_at >= day0)
                                 .group_by(Call.pbx, Call.direction, Call.outcome))).all()
        in_progress = (await s.execute(select(Call.pbx, func.count()).where(Call.outcome == CallOutcome.in_progress,
                                       Call.offered_at >= now - timedelta(hours=2)).group_by(Call.pbx))).all()
        tickets = (await s.execute(select(Ticket.status, func.count()).group_by(Ticket.status))).all()
        cb_due = (await s.execute(select(func.count()).select_from(Callback).where(
            Callback.status == CallbackTaskStatus.pending, Callback.due_at < now))).scalar_one()
        beats = list((await s.scalars(select(ProcessHeartbeat))).all())
        lease = (await s.scalars(select(SchedulerLease).where(SchedulerLease.name == "scheduler"))).first()
    out = {"calls": calls, "in_progress": in_progress, "tickets": tickets, "callbacks_due": cb_due,
           "beats": beats, "lease": lease, "now": now}
    cache["db"] = (time.monotonic(), out)
    return out


def _val(e: Any) -> str:
    return str(getattr(e, "value", e))


async def metrics_text(app: Any) -> str:
    x = Exposition()
    f = await _db_figures(app)
    now = f["now"]
    x.family("hotline_calls_today", "gauge", "Calls offered today (Asia/Shanghai) by PBX, direction and outcome")
    for pbx, direction, outcome, n in f["calls"]:
        x.sample("hotline_calls_today", n, pbx=pbx, direction=_val(direction), outcome=_val(outcome))
    x.family("hotline_calls_in_progress", "gauge", "Calls in progress in the store, by PBX")
    for pbx, n in f["in_progress"]:
        x.sample("hotline_calls_in_progress", n, pbx=pbx)
    x.family("hotline_tickets", "gauge", "Cases by status")
    for status, n in f["tickets"]:
        x.sample("hotline_tickets", n, status=_val(status))
    x.family("hotline_callbacks_due", "gauge", "Callback tasks (回访/回拨) pending and past due")
    x.sample("hotline_callbacks_due", f["callbacks_due"])

    tel = [b for b in f["beats"] if b.kind == "telephony"]
    for name, help_ in (("ami_up", "1 when the adapter is logged in to the PBX's AMI and reported lately"),
                        ("lines_in_use", "Trunk lines in use (the adapter's view)"),
                        ("lines_limit", "Trunk lines available"),
                        ("queue_waiting", "Callers waiting in the hotline queue"),
                        ("spool_depth", "Call facts in the adapter's durable spool not yet written to the store"),
                        ("calls_written_total", "Call facts the adapter wrote since it started")):
        x.family(f"hotline_{name}", "counter" if name.endswith("_total") else "gauge", help_)
        for b in tel:
            d = b.data or {}
            age = (now - b.beat_at).total_seconds()
            if name == "ami_up":
                v = 1 if d.get("ami_logged_in") and age < STALE_S else 0
            else:
                v = d.get(name.removesuffix("_total") if name == "calls_written_total" else name) or 0
            x.sample(f"hotline_{name}", max(v, 0), pbx=d.get("pbx", b.name))
    lease = f["lease"]
    x.family("hotline_scheduler_leader_up", "gauge", "1 when a scheduler leads and renewed its lock lately")
    fresh = lease is not None and lease.holder and lease.renewed_at and \
        (now - lease.renewed_at).total_seconds() < SCHEDULER_STALE_S
    x.sample("hotline_scheduler_leader_up", 1 if fresh else 0)
    x.family("hotline_heartbeat_age_seconds", "gauge",
             "Seconds since each process last reported (kind: web, telephony, scheduler)")
    x.family("hotline_process_resident_memory_bytes", "gauge", "RSS of each process, as it last reported")
    for b in f["beats"]:
        x.sample("hotline_heartbeat_age_seconds", (now - b.beat_at).total_seconds(), process=b.name, kind=b.kind)
    for b in f["beats"]:
        x.sample("hotline_process_resident_memory_bytes", (b.data or {}).get("rss_bytes", 0), process=b.name)

    # request counters: this worker live, the other live workers from their last heartbeat
    me = app.state.worker_name
    workers = [app.state.http_stats.as_data()]
    workers += [b.data or {} for b in f["beats"]
                if b.kind == "web" and b.name != me and (now - b.beat_at).total_seconds() < STALE_S]
    req: dict[tuple[str, str, int], float] = {}
    lat: dict[tuple[str, str], list[float]] = {}
    sse: dict[str, float] = {}
    for d in workers:
        for m, r, s, n in d.get("requests", []):
            req[(m, r, s)] = req.get((m, r, s), 0) + n
        for m, r, h in d.get("latency", []):
            acc = lat.setdefault((m, r), [0.0] * len(h))
            for i, v in enumerate(h):
                acc[i] += v
        for r, n in (d.get("sse_open") or {}).items():
            sse[r] = sse.get(r, 0) + n
    x.family("hotline_web_workers", "gauge", "Web workers reporting")
    x.sample("hotline_web_workers", len(workers))
    x.family("hotline_http_requests_total", "counter", "HTTP requests by method, route and status (all workers)")
    for (m, r, s), n in sorted(req.items()):
        x.sample("hotline_http_requests_total", n, method=m, route=r, status=s)
    x.family("hotline_http_request_duration_seconds", "histogram",
             "Time to the response's first byte, by method and route (all workers)")
    for (m, r), h in sorted(lat.items()):
        for i, b in enumerate(BUCKETS):
            x.sample("hotline_http_request_duration_seconds_bucket", h[i], method=m, route=r, le=b)
        x.sample("hotline_http_request_duration_seconds_bucket", h[-1], method=m, route=r, le="+Inf")
        x.sample("hotline_http_request_duration_seconds_sum", h[-2], method=m, route=r)
        x.sample("hotline_http_request_duration_seconds_count", h[-1], method=m, route=r)
    x.family("hotline_sse_streams_open", "gauge", "Open SSE streams (screen pops, walls) over all workers")
    for r, n in sorted(sse.items()):
        x.sample("hotline_sse_streams_open", n, route=r)
    return x.text()


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> PlainTextResponse:
    """Prometheus text exposition (version 0.0.4)."""
    if not _ops_allowed(request):
        return PlainTextResponse("Not Found", status_code=404)
    return PlainTextResponse(await metrics_text(request.app), media_type="text/plain; version=0.0.4; charset=utf-8")


__all__ = ["EVERY_S", "install", "metrics_text", "readiness"]
