"""Console pages for the operator (话务员): the workspace, the screen pop, registration."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Form, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent

from callcenter.cases import routing, services
from callcenter.cases.views import ticket_dict
from callcenter.core.errors import Conflict, Invalid
from callcenter.floor import agents
from callcenter.store.models import (
    Kind,
)
from callcenter.web import auth_web
from callcenter.web.auth_web import ConsoleUser, require
from callcenter.web.render import (
    OP,
    _bool,
    _categories,
    _departments,
    db_of,
    local,
    page,
    pages_router,
    redirect,
    ref,
)

router, _route = pages_router()

# ---------------------------------------------------------------------------------------------
# operator: the workspace, the screen pop, registration
# ---------------------------------------------------------------------------------------------


@_route("GET", "/operator", OP)
async def operator_page(request: Request, user: Annotated[ConsoleUser, require(*OP)]) -> Response:
    r = await ref(request)
    board: agents.AgentBoard = request.app.state.board
    due = await agents.callbacks_due(db_of(request))
    return page(request, "operator.html", {
        "categories": _categories(r), "departments": _departments(r), "kinds": list(Kind),
        "pause": board.pause_view(user.seat or ""), "callbacks": due,
    })


PAUSE_SETTLE_S = 2.0  # how long 示忙/置闲 waits for the PBX's answer before showing it as pending


@_route("POST", "/operator/status", OP)
async def operator_status(
    request: Request, user: Annotated[ConsoleUser, require(*OP)],
    paused: Annotated[str, Form(pattern="^(0|1)$")],
) -> Response:
    """示忙 / 置闲: asked of the PBX through the telephony process; the answer (usually within
    milliseconds) decides what the page says, else it shows the request as pending and the
    operator's stream brings the answer."""
    board: agents.AgentBoard = request.app.state.board
    try:
        await agents.set_paused(request.app.state.bus, board, user.actor, user.seat, paused == "1")
    except Invalid as e:
        auth_web.flash(request, e.message if not user.seat else f"未能切换：{e.message}", "error")
        return redirect("/operator")
    view = await board.settle(user.seat or "", PAUSE_SETTLE_S)
    if not view["pending"] and not view["error"]:  # else the page shows it (#seat-pending, #pause-error)
        auth_web.flash(request, "已示忙（暂停接听）" if view["paused"] else "已置闲，等待来电")
    return redirect("/operator")


@_route("GET", "/operator/stream", OP, response_class=EventSourceResponse)
async def operator_stream(request: Request, user: Annotated[ConsoleUser, require(*OP)]) -> AsyncIterator[ServerSentEvent]:
    """The screen pop: call.answered for this operator's seat, within a blink; and the seat's
    pause state (`pause`: AgentBoard.pause_view) whenever it changes — on the PBX too."""
    app = request.app
    board: agents.AgentBoard = app.state.board
    seat = user.seat
    async with app.state.bus.subscribe("call.answered", "call.ended") as q:
        if seat:  # counted by every worker's board (AgentBoard.page_opened)
            await app.state.bus.publish("agent.online", board.page_opened(seat, +1))
        try:
            with board.watch(seat or "", q):  # the board puts ("seat.pause", view) into q
                yield ServerSentEvent(event="hello", data={"seat": seat}, retry=2000)
                if seat:  # what changed between the page's rendering and this stream
                    yield ServerSentEvent(event="pause", data=board.pause_view(seat))
                async for event in _operator_events(q, seat):
                    yield event
        finally:
            if seat:
                await app.state.bus.publish("agent.online", board.page_opened(seat, -1))


async def _operator_events(q: asyncio.Queue[tuple[str, dict[str, Any]]], seat: str | None,
                           ) -> AsyncIterator[ServerSentEvent]:
    while True:
        topic, p = await q.get()
        if topic == "seat.pause":
            yield ServerSentEvent(event="pause", data=p)
            continue
        if not seat or str(p.get("seat") or "") != seat:
            continue
        if topic == "call.answered":
            answered = p.get("answered_at") or p.get("offered_at")
            at = datetime.fromisoformat(answered) if answered else datetime.now(UTC)
            yield ServerSentEvent(event="call", data={
                "linkedid": p.get("linkedid"), "number": p.get("caller_number") or "",
                "time": local(at, "%Y-%m-%d %H:%M:%S"), "line": p.get("line"),
                "queue": p.get("queue"), "direction": p.get("direction"),
                "wait_s": p.get("wait_s"), "ticket_ref": p.get("ticket_ref"),
            })
        else:
            yield ServerSentEvent(event="ended", data={"linkedid": p.get("linkedid")})


@_route("GET", "/operator/history", OP)
async def operator_history(request: Request, user: Annotated[ConsoleUser, require(*OP)],
                           phone: Annotated[str, Query(max_length=40)] = "") -> Response:
    from callcenter.people.web import _origin

    hist = await services.caller_history(db_of(request), user.actor, phone, via="screen_pop",
                                         origin=_origin(request))
    r = await ref(request)
    tickets = [ticket_dict(t, r, user.actor) for t in hist["tickets"]]
    return page(request, "_history.html", {"phone": phone, "calls": hist["calls"], "tickets": tickets})


@_route("POST", "/operator/chase/{number}", OP)
async def operator_chase(request: Request, number: str, user: Annotated[ConsoleUser, require(*OP)],
                         phone: Annotated[str, Form(max_length=40)] = "",
                         note: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """催办 from the screen pop's caller history: one click on an open case of the caller. htmx gets
    the history again with the outcome; a plain form post goes back to the operator's page."""
    chased, problem = None, None
    try:
        t = await services.act(db_of(request), user.actor, number, "chase", None, {"note": note.strip() or None},
                               bus=request.app.state.bus)
        chased = {"number": t.number, "chase_count": t.chase_count}
    except (Conflict, Invalid) as e:
        problem = e.message
    if not request.headers.get("hx-request"):
        auth_web.flash(request, f"已记录催办：工单 {number}" if chased else f"催办未完成：{problem}",
                       "ok" if chased else "error")
        return redirect("/operator")
    from callcenter.people.web import _origin

    hist = await services.caller_history(db_of(request), user.actor, phone, via="screen_pop",
                                         origin=_origin(request))
    r = await ref(request)
    tickets = [ticket_dict(t, r, user.actor) for t in hist["tickets"]]
    return page(request, "_history.html", {"phone": phone, "calls": hist["calls"], "tickets": tickets,
                                           "chased": chased, "chase_error": problem})


@_route("GET", "/operator/suggest", OP)
async def operator_suggest(request: Request, user: Annotated[ConsoleUser, require(*OP)],
                           category: Annotated[str, Query(max_length=100)] = "",
                           content: Annotated[str, Query(max_length=5000)] = "") -> JSONResponse:
    r = await ref(request)
    cat = r.categories_by_name.get(category)
    dep_id = routing.suggest(r.rules, cat.id, cat.default_department_id, content) if cat else None
    dep = r.departments.get(dep_id) if dep_id else None
    return JSONResponse({"department_code": dep.code if dep else None, "department": dep.name if dep else None})


@_route("GET", "/operator/similar", OP)
async def operator_similar(request: Request, user: Annotated[ConsoleUser, require(*OP)],
                           phone: Annotated[str, Query(max_length=40)] = "",
                           address: Annotated[str, Query(max_length=300)] = "",
                           area: Annotated[str, Query(max_length=100)] = "",
                           category: Annotated[str, Query(max_length=100)] = "",
                           text: Annotated[str, Query(max_length=5000)] = "") -> Response:
    """可能重复的工单 for the 来电登记 form as typed so far, as an HTML fragment (similar.js
    fetches it as the operator types, debounced); each has a 并入此单 button that submits the
    form with then=merge."""
    from callcenter.cases import similar

    draft = similar.Draft(phone=phone.strip() or None, address=address.strip() or None, area=area.strip() or None,
                          category=category.strip() or None, text=text.strip())
    asked = any((draft.phone, draft.address, draft.text))
    try:
        cands = await similar.find(db_of(request), user.actor, draft) if asked else []
    except Invalid as e:
        return page(request, "_similar.html", {"asked": True, "cands": [],
                                               "error": f"无法查找可能重复的工单：{e.message}（{e.field}）"},
                    status_code=422)
    return page(request, "_similar.html", {"asked": asked, "cands": cands})



class CallerForm:
    """The 来电登记 form's caller fields, posted by a registration and by a 直接答复 with a
    knowledge-base entry alike (a FastAPI dependency)."""

    def __init__(
        self,
        caller_phone: Annotated[str, Form(max_length=40)] = "",
        caller_name: Annotated[str, Form(max_length=100)] = "",
        address: Annotated[str, Form(max_length=300)] = "",
        urgent: Annotated[str | None, Form()] = None,
        confidential: Annotated[str | None, Form()] = None,
        no_callback: Annotated[str | None, Form()] = None,
        linkedid: Annotated[str, Form(max_length=64)] = "",
    ) -> None:
        self.caller_phone, self.caller_name, self.address = caller_phone, caller_name, address
        self.urgent, self.confidential, self.no_callback = _bool(urgent), _bool(confidential), _bool(no_callback)
        self.linkedid = linkedid or None

    def ticket(self, kind: Kind, category: str, content: str) -> services.NewTicket:
        return services.NewTicket(
            kind=kind, category=category, content=content, caller_phone=self.caller_phone or None,
            caller_name=self.caller_name or None, address=self.address or None, urgent=self.urgent,
            confidential=self.confidential, no_callback=self.no_callback, source="phone",
        )


@_route("POST", "/operator/register", OP)
async def operator_register(
    request: Request,
    user: Annotated[ConsoleUser, require(*OP)],
    kind: Annotated[Kind, Form()],
    category: Annotated[str, Form(max_length=100)],
    content: Annotated[str, Form(max_length=5000)],
    caller: Annotated[CallerForm, Depends()],
    then: Annotated[str, Form(pattern="^(save|answer|dispatch|merge)$")] = "save",
    answer: Annotated[str, Form(max_length=5000)] = "",
    department: Annotated[str, Form(max_length=100)] = "",
    into: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    data = caller.ticket(kind, category, content)
    params = {"answer": answer} if then == "answer" else {"department": department} if then == "dispatch" else {
        "into": into.strip()}
    try:
        t, problem = await agents.intake(db_of(request), user.actor, data, then, params,
                                         bus=request.app.state.bus, linkedid=caller.linkedid)
    except (Invalid, Conflict) as e:
        auth_web.flash(request, f"未登记：{e.message}", "error")
        return redirect("/operator")
    if problem:
        auth_web.flash(request, problem, "error")
        return redirect(f"/cases/{t.number}")
    r = await ref(request)
    dep = r.departments.get(t.department_id) if t.department_id else None
    done = {"save": "已登记", "answer": "已登记并直接答复", "merge": f"已登记并并入 {into}",
            "dispatch": f"已登记并派单至 {dep.name if dep else ''}"}[then]
    auth_web.flash(request, f"{done}：工单 {t.number}", "ok")
    return redirect("/operator")
