"""The JSON API, /api/v1: thin handlers — parse, one service call, serialise."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from callcenter.cases import routing, services
from callcenter.cases.views import call_dict, event_dict, ticket_dict
from callcenter.cases.workflow import ROLES_FOR, Action
from callcenter.core.clock import TZ
from callcenter.core.errors import DomainError, Forbidden, Invalid
from callcenter.core.logs import context_value
from callcenter.store import audit, idempotency
from callcenter.store.models import Kind, Role, Status
from callcenter.web.deps import ActorDep, BusDep, DbDep
from callcenter.web.inputs import MAX_BODY, check_year, replay_body
from callcenter.web.schemas import (
    CallerHistoryOut,
    ErrorOut,
    EventOut,
    NamedOut,
    SuggestOut,
    TicketIn,
    TicketOut,
    TicketPage,
    TransitionIn,
)

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "no or bad bearer token"},
    403: {"model": ErrorOut, "description": "the role may never do this, or the case is another department's"},
    404: {"model": ErrorOut, "description": "no such case"},
    409: {"model": ErrorOut, "description": "not allowed from the case's state, or a stale version"},
}
router = APIRouter(prefix="/api/v1", tags=["tickets"], responses={401: ERRORS[401]})
Number = Annotated[str, Path(min_length=1, max_length=32, description="case number, e.g. GD20261126-0001")]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=100, description=(
    "a unique key per intended request (IETF draft-ietf-httpapi-idempotency-key-header): the same key "
    "again returns the first answer (same status, same body) and writes nothing"))]


async def _once(db: Any, actor: Any, key: str | None, scope: str, body: Any, work: Any) -> JSONResponse:
    """Run `work` (→ (status, body)) at most once per Idempotency-Key of this actor."""
    if key is None:
        status, out = await work()
        return _json(out, status)
    (status, out), replayed = await idempotency.run(db, actor.id, idempotency.check_key(key), scope,
                                                    idempotency.fingerprint(scope, body), work)
    resp = _json(out, status)
    resp.headers["Idempotency-Key"] = key
    if replayed:
        resp.headers["Idempotent-Replayed"] = "true"
    return resp


async def _ref(db: Any) -> Any:
    return await db.ref()


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


@router.post(
    "/tickets",
    status_code=201,
    response_model=TicketOut,
    responses={403: ERRORS[403]},
    summary="Register a case (登记)",
)
async def create_ticket(body: TicketIn, db: DbDep, actor: ActorDep, bus: BusDep,
                        idempotency_key: IdemKey = None) -> JSONResponse:
    async def work() -> tuple[int, Any]:
        return 201, await _register(db, actor, bus, body)

    return await _once(db, actor, idempotency_key, "POST /api/v1/tickets", body.model_dump(mode="json"), work)


async def _register(db: Any, actor: Any, bus: Any, body: TicketIn) -> dict[str, Any]:
    t = await services.register(
        db,
        actor,
        services.NewTicket(
            kind=Kind(body.kind),
            category=body.category,
            content=body.content,
            caller_phone=body.caller_phone,
            caller_name=body.caller_name,
            address=body.address,
            area=body.area,
            urgent=body.urgent,
            confidential=body.confidential,
            no_callback=body.no_callback,
            call_id=body.call_id,
            source="api",
        ),
        bus=bus,
    )
    return ticket_dict(t, await _ref(db), actor)


REGISTER_PATH = "/api/v1/tickets"


class RegisterFastPath:
    """Pure ASGI, in front of the router: the hot path of integrations, `POST /api/v1/tickets`
    with a bearer token and a valid body, answered here without FastAPI's routing, dependency
    resolution and exception layers (about a third of a registration's CPU). It does exactly
    what create_ticket does — the same model (TicketIn), the same token cache, the same
    services.register, the same JSON — and everything else goes on to the full stack with the
    body replayed, untouched: no or a bad token, a refused role, an Idempotency-Key (the
    idempotency table's path), a body the model refuses (FastAPI's 422), a domain error
    (register raises those before writing anything, so the full stack answers them with the
    one error format). The middleware outside it (security headers, the input guard, request
    metrics) wraps this path as it wraps every other."""

    def __init__(self, app: Any) -> None:
        self.app = app
        # the request metrics' label, as if routed
        self.route = next(r for r in router.routes if getattr(r, "path", None) == REGISTER_PATH
                          and "POST" in getattr(r, "methods", ()))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != REGISTER_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        token: str | None = None
        json_body = False
        for k, v in scope["headers"]:
            if k == b"authorization":
                scheme, _, cred = v.decode("latin-1").partition(" ")
                token = cred.strip() if scheme.lower() == "bearer" and cred.strip() else None
            elif k == b"content-type":
                json_body = v.split(b";", 1)[0].strip().lower() == b"application/json"
            elif k == b"idempotency-key":
                token = None  # the full path keeps the key's record
                break
        if token is None or not json_body:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more and size <= MAX_BODY:
            msg = await receive()
            if msg["type"] != "http.request":  # the client went away
                return
            chunks.append(msg.get("body", b""))
            size += len(chunks[-1])
            more = msg.get("more_body", False)
        raw = b"".join(chunks)
        answer = None if more else await self._register(scope, token, raw)
        if answer is None:
            await self.app(scope, replay_body(raw, more, receive), send)
            return
        body = json.dumps(answer, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()
        scope["route"] = self.route
        await send({"type": "http.response.start", "status": 201, "headers": [
            (b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    async def _register(self, scope: Any, token: str, raw: bytes) -> dict[str, Any] | None:
        """The registered case as the API shows it, or None: the full stack answers instead."""
        state = scope["app"].state
        actor = await state.tokens.actor(state.db, token)
        if actor is None or actor.role not in ROLES_FOR[Action.register]:
            return None
        try:
            body = TicketIn.model_validate(json.loads(raw))
        except (ValueError, ValidationError):  # malformed JSON, or what FastAPI would refuse
            return None
        try:
            return await _register(state.db, actor, state.bus, body)
        except DomainError:  # nothing written: the full stack gives the error its one format
            return None




@router.get("/tickets", response_model=TicketPage, summary="List / search cases")
async def list_tickets(
    db: DbDep,
    actor: ActorDep,
    q: Annotated[str | None, Query(max_length=200, description="words, number, phone or name")] = None,
    phone: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[list[Status] | None, Query()] = None,
    kind: Annotated[Kind | None, Query()] = None,
    department: Annotated[str | None, Query(max_length=100, description="code or name")] = None,
    registered_from: Annotated[date | None, Query(alias="from")] = None,
    registered_to: Annotated[date | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> JSONResponse:
    check_year(registered_from, "from")
    check_year(registered_to, "to")
    ref = await _ref(db)
    dep_id = None
    if department:
        dep = ref.department(department)
        if dep is None:
            raise Invalid(f"承办单位“{department}”不存在", field="department")
        dep_id = dep.id
    f = services.TicketFilter(
        q=q,
        phone=phone,
        status=status,
        kind=kind,
        department_id=dep_id,
        registered_from=_day_start(registered_from),
        registered_to=_day_start(registered_to + timedelta(days=1), "to") if registered_to else None,
        limit=limit,
        offset=offset,
    )
    rows, total = await services.search(db, actor, f)
    return _json({"items": [ticket_dict(t, ref, actor, masked=True) for t in rows], "total": total})


def _day_start(d: date | None, field: str = "from") -> datetime | None:
    if d is None:
        return None
    check_year(d, field)
    try:
        return datetime(d.year, d.month, d.day, tzinfo=TZ)
    except (OverflowError, ValueError):
        raise Invalid("日期超出范围", field="from") from None


@router.get("/tickets/{number}", response_model=TicketOut, responses={403: ERRORS[403], 404: ERRORS[404]})
async def get_ticket(number: Number, db: DbDep, actor: ActorDep) -> JSONResponse:
    t = await services.get(db, actor, number, via="api")
    return _json(ticket_dict(t, await _ref(db), actor))


@router.get(
    "/tickets/{number}/events",
    response_model=list[EventOut],
    responses={403: ERRORS[403], 404: ERRORS[404]},
    summary="The case's audit trail",
)
async def ticket_events(number: Number, db: DbDep, actor: ActorDep) -> JSONResponse:
    evs = await services.events(db, actor, number)
    return _json([event_dict(e) for e in evs])


@router.post(
    "/tickets/{number}/transitions",
    response_model=TicketOut,
    responses={403: ERRORS[403], 404: ERRORS[404], 409: ERRORS[409]},
    summary="Apply a workflow action",
)
async def transition(number: Number, body: TransitionIn, db: DbDep, actor: ActorDep, bus: BusDep,
                     idempotency_key: IdemKey = None) -> JSONResponse:
    params = body.model_dump(exclude={"action", "version"}, exclude_none=True)
    check_year(params.get("until"), "until")
    if "until" in params and params["until"].tzinfo is None:
        params["until"] = params["until"].replace(tzinfo=TZ)

    async def work() -> tuple[int, Any]:
        t = await services.act(db, actor, number, body.action, body.version, params, bus=bus)
        return 200, ticket_dict(t, await _ref(db), actor)

    return await _once(db, actor, idempotency_key, f"POST /api/v1/tickets/{number}/transitions",
                       body.model_dump(mode="json"), work)


@router.get(
    "/callers/{phone}/history",
    response_model=CallerHistoryOut,
    summary="A caller's earlier calls and cases (for the screen pop)",
)
async def caller_history(
    request: Request, phone: Annotated[str, Path(min_length=1, max_length=40)], db: DbDep, actor: ActorDep
) -> JSONResponse:
    if actor.role not in (Role.operator, Role.supervisor):
        raise Forbidden("只有热线的话务员和班长可以查看来电人历史")
    h = await services.caller_history(db, actor, phone, via="api", origin=audit.Origin(
        request_id=context_value("request_id"), ip=request.client.host if request.client else None))
    ref = await _ref(db)
    return _json(
        {
            "calls": [call_dict(c) for c in h["calls"]],
            "tickets": [ticket_dict(t, ref, actor, masked=True) for t in h["tickets"]],
        }
    )


@router.get("/categories", response_model=list[NamedOut], tags=["reference"])
async def categories(db: DbDep, actor: ActorDep) -> JSONResponse:
    ref = await _ref(db)
    return _json([{"id": c.id, "name": c.name, "code": None} for c in ref.categories.values() if c.active])


@router.get("/departments", response_model=list[NamedOut], tags=["reference"])
async def departments(db: DbDep, actor: ActorDep) -> JSONResponse:
    ref = await _ref(db)
    return _json([{"id": d.id, "name": d.name, "code": d.code} for d in ref.departments.values() if d.active])


@router.get("/routing/suggest", response_model=SuggestOut, tags=["reference"])
async def suggest(
    db: DbDep,
    actor: ActorDep,
    category: Annotated[str, Query(min_length=1, max_length=100)],
    content: Annotated[str, Query(max_length=5000)] = "",
) -> JSONResponse:
    ref = await _ref(db)
    cat = ref.categories_by_name.get(category)
    if cat is None:
        raise Invalid(f"问题分类“{category}”不存在", field="category")
    dep_id = routing.suggest(ref.rules, cat.id, cat.default_department_id, content)
    dep = ref.departments.get(dep_id) if dep_id else None
    return _json({"department": dep.name if dep else None, "department_code": dep.code if dep else None})
