"""The web application factory: the JSON API (/api/v1) and the web console."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from callbacks import web as callbacks_web
from callcenter.calls import web as calls_web
from callcenter.cases import clerk_web, dispatch_web, routing
from callcenter.cases import web as cases_web
from callcenter.core.bus import make_bus
from callcenter.core.errors import DomainError, Invalid
from callcenter.core.settings import Settings, get_settings
from callcenter.floor import web as floor_web
from callcenter.floor.agents import AgentBoard, WallFigures
from callcenter.kb import search as kb_search
from callcenter.kb import web as kb_web
from callcenter.kb.api import router as kb_router
from callcenter.kb.web import router as kb_pages_router
from callcenter.ops import web as ops
from callcenter.people import audit_web, sla_web
from callcenter.people import web as people_web
from callcenter.people.auth import REVOKED_TOPIC, TokenCache
from callcenter.qa import web as qa_web
from callcenter.recordings import web as recordings_web
from callcenter.store.db import Database
from callcenter.store.models import Role
from callcenter.web import api, inputs, render, security
from callcenter.web.auth_web import require
from reports.web import make_router as reports_router

# the console's pages, per role (render.install includes them in this order)
CONSOLE_ROUTERS = (people_web.router, calls_web.router, cases_web.router, clerk_web.router, floor_web.router,
                   sla_web.router, audit_web.router, kb_web.console_router, dispatch_web.router, recordings_web.router,
                   qa_web.router)


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    own_db = db is None
    database = db or Database(settings.effective_database_url, pool_size=settings.db_pool_size)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # build jieba's dictionary before the first request needs it

        await asyncio.to_thread(routing.warm_up)
        await asyncio.to_thread(kb_search.warm_up)
        # PostgreSQL: LISTEN/NOTIFY, so screen pops and wall updates cross worker processes
        await app.state.bus.start()
        board_task = await floor_web.start_board(app)
        revoked_task = asyncio.create_task(_follow_revocations(app), name="token-revocations")
        # everything loaded at start-up lives as long as the process: keep it out of the
        # collector's way, so a full collection under load walks only what requests made
        gc.collect()
        gc.freeze()
        # and collect less often: a request allocates a few thousand objects, and with the
        # default threshold (700) the young generation was collected many times per request
        gc.set_threshold(10_000, 10, 10)
        yield
        board_task.cancel()
        revoked_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await board_task
        with contextlib.suppress(asyncio.CancelledError):
            await revoked_task
        await app.state.bus.close()
        if own_db:
            await database.dispose()

    app = FastAPI(
        title="Hotline 12345 API",
        version="1",
        description="市民热线 12345: cases (工单), their workflow and reference data.",
        lifespan=lifespan,
        # the interactive docs and the schema: off in production unless HOTLINE_API_DOCS=true
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url="/redoc" if settings.docs_enabled else None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.bus = make_bus(settings.effective_database_url if db is None else db.url)
    app.state.tokens = TokenCache()
    app.state.board = AgentBoard(lines_limit=settings.lines)
    app.state.wall_figures = WallFigures()

    @app.exception_handler(Invalid)
    async def _invalid(request: Request, exc: Invalid) -> Response:
        if not _is_api(request):
            return await render.domain_error_page(request, exc)
        # the same shape as FastAPI's own validation errors, so clients parse one format
        loc = [_where(request, exc.field), exc.field] if exc.field else ["body"]
        return JSONResponse({"detail": [{"loc": loc, "msg": exc.message, "type": "value_error"}]}, status_code=422)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        if not _is_api(request):
            return await render.domain_error_page(request, exc)
        return await render.domain_error_json(request, exc)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(api.router)
    app.include_router(kb_router)
    # drill-down lists and the annual report pages: the hotline's supervisors (and admin)

    app.include_router(reports_router(require(Role.supervisor, Role.admin).dependency), include_in_schema=False)
    app.include_router(callbacks_web.router)  # 回访/回拨 work list and deadline notices (issue 5)
    render.install(app, CONSOLE_ROUTERS)  # the web console: sessions, CSRF, pages, /static

    app.include_router(kb_pages_router)
    # POST /api/v1/tickets (case registration, the integrations' hot path) answered in front of
    # the router; inside the metrics, the input guard and the security headers (api.py)
    app.add_middleware(api.RegisterFastPath)
    ops.install(app)  # /readyz, /metrics, request latency, JSON logs, this worker's heartbeat
    # NUL, control characters and lone surrogates refused with a 422 naming the field (issue 14)
    app.add_middleware(inputs.InputGuardMiddleware)
    # outermost: every answer (errors and static files too) carries the security headers
    app.add_middleware(security.SecurityHeadersMiddleware)
    return app


async def _follow_revocations(app: FastAPI) -> None:
    """A user deactivated (or a password changed) in any worker: drop their cached token here."""

    async with app.state.bus.subscribe(REVOKED_TOPIC) as q:
        while True:
            _, payload = await q.get()
            uid = payload.get("user_id")
            if isinstance(uid, int):
                app.state.tokens.drop_user(uid)
            else:
                app.state.tokens.clear()


def _where(request: Request, field: str) -> str:
    """Where a refused field came from: `query` (?from=…), `path`, else `body`."""
    if field in request.query_params:
        return "query"
    if field in request.path_params:
        return "path"
    return "body"


def _is_api(request: Request) -> bool:
    # the JSON API keeps its JSON errors; console pages get an error page
    return request.url.path.startswith(("/api/", "/healthz", "/docs", "/openapi"))
