"""Console pages for the operator (话务员): the workspace, the screen pop, registration."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Form, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent

from callcenter.calls import drafts
from callcenter.cases import phones, routing, services, similar
from callcenter.cases.views import ticket_dict
from callcenter.core.errors import Conflict, Forbidden, Invalid, NotFound
from callcenter.core.glossary import CASE_STATE_LABELS
from callcenter.floor import agents
from callcenter.kb import services as kb
from callcenter.store import idempotency
from callcenter.store.models import Kind, Status
from callcenter.web import auth_web
from callcenter.web.auth_web import ConsoleUser, LoginRequired, require
from callcenter.web.render import (
    FORM_REFUSED,
    OP,
    _bool,
    _categories,
    _departments,
    db_of,
    error_page,
    local,
    log,
    page,
    pages_router,
    redirect,
    ref,
    request_origin,
)

router, _route = pages_router()

# ---------------------------------------------------------------------------------------------
# operator: the workspace, the screen pop, registration
# ---------------------------------------------------------------------------------------------


def spoken_number(number: str) -> str:
    """The case number grouped for reading aloud: GD20261202-0005 → GD 20261202 0005."""
    m = re.fullmatch(r"([A-Za-z]*)(\d{8})-?(\d+)", number or "")
    return " ".join(p for p in m.groups() if p) if m else number


async def _operator_ctx(request: Request, user: ConsoleUser, values: dict[str, str] | None = None,
                        errors: dict[str, str] | None = None, form_key: str | None = None) -> dict[str, Any]:
    """What the 话务台 shows: the form (a fresh key, or the values of a refused submit, or the
    operator's newest draft), the last saved case's number, the seat's state."""
    r = await ref(request)
    board: agents.AgentBoard = request.app.state.board
    due = await agents.callbacks_due(db_of(request))
    draft = None
    if values is None:
        draft = await drafts.latest(db_of(request), user.actor.id)  # type: ignore[arg-type]
        if draft:
            form_key, values = draft["form_key"], draft["fields"]
    last = request.session.get("last_case")
    return {
        "categories": _categories(r), "departments": _departments(r), "kinds": list(Kind),
        "pause": board.pause_view(user.seat or ""), "callbacks": due,
        "form_key": form_key or uuid.uuid4().hex, "values": values or {}, "errors": errors or {},
        "draft_at": local(draft["updated_at"], "%H:%M:%S") if draft else None,
        "last_case": last, "last_case_spoken": spoken_number(last["number"]) if last else "",
    }


@_route("GET", "/operator", OP)
async def operator_page(request: Request, user: Annotated[ConsoleUser, require(*OP)]) -> Response:
    resp = page(request, "operator.html", await _operator_ctx(request, user))
    # never from the cache: back after a submit shows the form as the server has it (its draft)
    resp.headers["Cache-Control"] = "no-store"
    return resp


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
                    if event.event == "ended" and seat:
                        event = await _after_call(request, user, event)
                    yield event
        finally:
            if seat:
                await app.state.bus.publish("agent.online", board.page_opened(seat, -1))


async def _after_call(request: Request, user: ConsoleUser, event: ServerSentEvent) -> ServerSentEvent:
    """An answered call of this seat ended: 话后整理 unless its case is saved; its maximum
    (the seat group's) is kept by a timer of this stream's worker."""
    app = request.app
    data = dict(event.data or {})
    linkedid = str(data.get("linkedid") or "")
    if not linkedid:
        return event
    try:
        max_s = await agents.start_after_call_work(db_of(request), app.state.bus, app.state.board, user.actor,
                                                   user.seat, linkedid, data.get("queue"))
    except Exception:  # noqa: BLE001 - the pop goes on without after-call work
        log.exception("after-call work for %s could not start", linkedid)
        return event
    if max_s is not None:
        data["acw_max_s"] = max_s
        app.state.__dict__.setdefault("acw_current", {})[user.seat] = linkedid
        timers = app.state.__dict__.setdefault("acw_timers", set())
        task = asyncio.create_task(_acw_timeout(app, user, linkedid, max_s), name=f"acw-{user.seat}")
        timers.add(task)
        task.add_done_callback(timers.discard)
    return ServerSentEvent(event="ended", data=data)


async def _acw_timeout(app: Any, user: ConsoleUser, linkedid: str, max_s: float) -> None:
    await asyncio.sleep(max_s)
    if app.state.__dict__.get("acw_current", {}).get(user.seat) != linkedid:
        return  # a later call's after-call work is the seat's now
    try:
        if await agents.end_after_call_work(app.state.db, app.state.bus, app.state.board, user.actor, user.seat,
                                            linkedid):
            log.info("seat %s: after-call work for %s ended after its maximum (%s s)", user.seat, linkedid, max_s)
    except Exception:  # noqa: BLE001
        log.exception("after-call work for %s could not end", linkedid)


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
            yield ServerSentEvent(event="ended", data={"linkedid": p.get("linkedid"), "queue": p.get("queue")})


@_route("GET", "/operator/history", OP)
async def operator_history(request: Request, user: Annotated[ConsoleUser, require(*OP)],
                           phone: Annotated[str, Query(max_length=40)] = "") -> Response:
    hist = await services.caller_history(db_of(request), user.actor, phone, via="screen_pop",
                                         origin=request_origin(request))
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
    hist = await services.caller_history(db_of(request), user.actor, phone, via="screen_pop",
                                         origin=request_origin(request))
    r = await ref(request)
    tickets = [ticket_dict(t, r, user.actor) for t in hist["tickets"]]
    return page(request, "_history.html", {"phone": phone, "calls": hist["calls"], "tickets": tickets,
                                           "chased": chased, "chase_error": problem})


@_route("GET", "/operator/suggest", OP)
async def operator_suggest(request: Request, user: Annotated[ConsoleUser, require(*OP)],
                           category: Annotated[str, Query(max_length=100)] = "",
                           content: Annotated[str, Query(max_length=5000)] = "",
                           address: Annotated[str, Query(max_length=300)] = "") -> JSONResponse:
    """The suggested department for the form as typed, with its reason (the rule that matched:
    category, keywords, 属地; or the category's default)."""
    r = await ref(request)
    cat = r.categories_by_name.get(category)
    dep_id, rule = (routing.suggest_match(r.rules, cat.id, cat.default_department_id, content, address, r.areas)
                    if cat else (None, None))
    dep = r.departments.get(dep_id) if dep_id else None
    return JSONResponse({"department_code": dep.code if dep else None, "department": dep.name if dep else None,
                         "reason": rule_reason(r, rule, cat) if dep else None})


def rule_reason(r: Any, rule: routing.Rule | None, cat: Any) -> str:
    """Why a department was suggested, for the operator: 规则 分类 / 关键词 / 属地 → 单位."""
    if rule is None:
        return f"分类“{cat.name}”的默认承办单位" if cat else "默认承办单位"
    parts = []
    rc = r.categories.get(rule.category_id) if rule.category_id else None
    if rc:
        parts.append(f"分类 {rc.name}")
    if rule.keywords:
        parts.append("关键词 " + "、".join(rule.keywords))
    if rule.area:
        parts.append(f"属地 {rule.area}")
    dep = r.departments.get(rule.department_id)
    return f"规则 #{rule.id}：{' / '.join(parts)} → {dep.name if dep else ''}"


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
    knowledge-base entry alike (a FastAPI dependency); `form_key` is the key made when the
    form was opened: its submit's idempotency key and its draft's name."""

    def __init__(
        self,
        caller_phone: Annotated[str, Form(max_length=40)] = "",
        caller_name: Annotated[str, Form(max_length=100)] = "",
        address: Annotated[str, Form(max_length=300)] = "",
        urgent: Annotated[str | None, Form()] = None,
        confidential: Annotated[str | None, Form()] = None,
        no_callback: Annotated[str | None, Form()] = None,
        linkedid: Annotated[str, Form(max_length=64)] = "",
        form_key: Annotated[str, Form(max_length=100)] = "",
        call_time: Annotated[str, Form(max_length=40)] = "",
        department_manual: Annotated[str, Form(max_length=1)] = "",
        kind_manual: Annotated[str, Form(max_length=1)] = "",
    ) -> None:
        self.caller_phone, self.caller_name, self.address = caller_phone.strip(), caller_name.strip(), address.strip()
        self.urgent, self.confidential, self.no_callback = _bool(urgent), _bool(confidential), _bool(no_callback)
        self.linkedid = linkedid or None
        self.form_key = form_key.strip() or uuid.uuid4().hex
        self.call_time, self.department_manual, self.kind_manual = call_time, department_manual, kind_manual

    def ticket(self, kind: Kind, category: str, content: str) -> services.NewTicket:
        return services.NewTicket(
            kind=kind, category=category, content=content, caller_phone=self.caller_phone or None,
            caller_name=self.caller_name or None, address=self.address or None, urgent=self.urgent,
            confidential=self.confidential, no_callback=self.no_callback, source="phone",
        )

    def values(self, **more: str) -> dict[str, str]:
        """The form as posted, for showing it again (a refused submit) and for its draft."""
        v = {"caller_phone": self.caller_phone, "caller_name": self.caller_name, "address": self.address,
             "urgent": "1" if self.urgent else "", "confidential": "1" if self.confidential else "",
             "no_callback": "1" if self.no_callback else "", "linkedid": self.linkedid or "",
             "call_time": self.call_time, "department_manual": self.department_manual,
             "kind_manual": self.kind_manual}
        return v | more


async def check_intake(request: Request, user: ConsoleUser, data: services.NewTicket, then: str,
                       params: dict[str, Any]) -> dict[str, str]:
    """Every problem of a 来电登记 and its follow-up, by field, in Chinese — all of them at
    once, before anything is written (a bad 并单 target refuses the whole submit)."""
    r = await ref(request)
    errors: dict[str, str] = {}
    if not data.content.strip():
        errors["content"] = "请填写诉求内容"
    cat = r.categories_by_name.get(data.category) if data.category else None
    if not data.category:
        errors["category"] = "请选择问题分类"
    elif cat is None or not cat.active:
        errors["category"] = f"问题分类“{data.category}”不存在或已停用"
    if data.caller_phone and phones.normalize(data.caller_phone) is None:
        errors["caller_phone"] = f"来电号码“{data.caller_phone}”不是有效的电话号码（手机、固话或短号）"
    if then == "answer":
        if not data.caller_phone and not data.no_callback and "caller_phone" not in errors:
            errors["caller_phone"] = "直接答复需回访：请填写来电号码，或勾选“不需回访”"
        if "answer" in params and not str(params.get("answer") or "").strip():
            errors["answer"] = "请填写直接答复内容"
    elif then == "dispatch":
        dep = str(params.get("department") or "").strip()
        if not dep:
            errors["department"] = "请选择承办单位"
        elif r.department(dep) is None:
            errors["department"] = f"承办单位“{dep}”不存在"
    elif then == "merge":
        into = str(params.get("into") or "").strip()
        if not into:
            errors["into"] = "请填写要并入的工单号"
        else:
            try:
                target = await services.get(db_of(request), user.actor, into, record_view=False)
            except NotFound:
                errors["into"] = f"工单 {into} 不存在，未登记：请核对并单的工单号"
            except Forbidden:
                errors["into"] = f"工单 {into} 不属于您可查看的范围，不能并入"
            else:
                if target.status in (Status.merged, Status.invalid):
                    errors["into"] = f"工单 {into} 已{CASE_STATE_LABELS[target.status]}，请并入它所并入的工单"
    return errors


async def intake_once(request: Request, user: ConsoleUser, caller: CallerForm, data: services.NewTicket,
                      then: str, params: dict[str, Any], kb_entry: Any = None,
                      search_text: str | None = None) -> dict[str, Any]:
    """Register (and answer / dispatch / merge) once per form key: a repeated submit of the
    same form — a double click, back and submit again, another worker — gets the first answer
    and writes nothing. The answer: {number, message, kind, to}."""
    db, bus = db_of(request), request.app.state.bus

    async def work() -> tuple[int, Any]:
        t, problem = await agents.intake(db, user.actor, data, "save" if kb_entry else then, params,
                                         bus=bus, linkedid=caller.linkedid)
        if kb_entry is not None:
            try:
                t = await kb.answer_case(db, user.actor, kb_entry.code, t.number, version=kb_entry.version,
                                         ticket_version=t.version, bus=bus, search_text=search_text)
            except (Invalid, Conflict, Forbidden) as ex:
                problem = f"已登记 {t.number}，但直接答复未完成：{ex.message}"
        if problem:
            return 201, {"number": t.number, "message": problem, "kind": "error", "to": f"/cases/{t.number}"}
        if kb_entry is not None:
            done = f"已登记并直接答复（知识库 {kb_entry.code} 第 {kb_entry.version} 版）"
        else:
            r = await ref(request)
            dep = r.departments.get(t.department_id) if t.department_id else None
            done = {"save": "已登记", "answer": "已登记并直接答复", "merge": f"已登记并并入 {params.get('into')}",
                    "dispatch": f"已登记并派单至 {dep.name if dep else ''}"}[then]
        return 201, {"number": t.number, "message": f"{done}：工单 {t.number}", "kind": "ok", "to": "/operator"}

    (_status, answer), replayed = await idempotency.run(
        db, user.actor.id, caller.form_key, "console:intake", "console", work)  # type: ignore[arg-type]
    if replayed:
        answer = answer | {"message": f"此来电已登记，未重复登记：{answer['message']}"}
    await drafts.discard(db, user.actor.id, caller.form_key)  # type: ignore[arg-type]
    request.session["last_case"] = {"number": answer["number"], "message": answer["message"],
                                    "form_key": caller.form_key}
    if caller.linkedid:
        await agents.end_after_call_work(db, request.app.state.bus, request.app.state.board, user.actor,
                                         user.seat, caller.linkedid)
    return dict(answer)


async def refused(request: Request, user: ConsoleUser, values: dict[str, str], errors: dict[str, str],
                  form_key: str, status_code: int = 422) -> Response:
    """The 话务台 again with the form as typed and each problem beside its field."""
    await drafts.save(db_of(request), user.actor.id, form_key, values)  # type: ignore[arg-type]
    ctx = await _operator_ctx(request, user, values=values, errors=errors, form_key=form_key)
    ctx["form_error"] = "未登记：" + "；".join(errors.values())
    resp = page(request, "operator.html", ctx, status_code=status_code)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@_route("POST", "/operator/register", OP)
async def operator_register(
    request: Request,
    user: Annotated[ConsoleUser, require(*OP)],
    caller: Annotated[CallerForm, Depends()],
    kind: Annotated[str, Form(max_length=20)] = "",
    category: Annotated[str, Form(max_length=100)] = "",
    content: Annotated[str, Form(max_length=5000)] = "",
    then: Annotated[str, Form(max_length=10)] = "save",
    answer: Annotated[str, Form(max_length=5000)] = "",
    department: Annotated[str, Form(max_length=100)] = "",
    into: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    values = caller.values(kind=kind, category=category, content=content, answer=answer, department=department,
                           into=into)
    errors: dict[str, str] = {}
    if then not in ("save", "answer", "dispatch", "merge"):
        errors["then"] = "请选择处理方式（派单、直接答复、并单或仅登记）"
    try:
        kind_ = Kind(kind)
    except ValueError:
        errors["kind"] = "请选择诉求类型"
        kind_ = Kind.complaint
    data = caller.ticket(kind_, category.strip(), content)
    params = {"answer": answer} if then == "answer" else {"department": department} if then == "dispatch" else {
        "into": into.strip()}
    if not errors:
        errors = await check_intake(request, user, data, then, params)
    if errors:
        return await refused(request, user, values, errors, caller.form_key)
    try:
        out = await intake_once(request, user, caller, data, then, params)
    except (Invalid, Conflict, Forbidden, NotFound) as e:
        return await refused(request, user, values, {e.field or "form": e.message}, caller.form_key,
                             status_code=e.status_code)
    auth_web.flash(request, out["message"], out["kind"])
    return redirect(out["to"])


@_route("POST", "/operator/draft", OP)
async def operator_draft(request: Request, user: Annotated[ConsoleUser, require(*OP)],
                         caller: Annotated[CallerForm, Depends()],
                         kind: Annotated[str, Form(max_length=20)] = "",
                         category: Annotated[str, Form(max_length=100)] = "",
                         content: Annotated[str, Form(max_length=5000)] = "",
                         answer: Annotated[str, Form(max_length=5000)] = "",
                         department: Annotated[str, Form(max_length=100)] = "",
                         into: Annotated[str, Form(max_length=32)] = "") -> JSONResponse:
    """The form's autosave (operator.js: every few seconds while it changes, and on each change
    of field)."""
    values = caller.values(kind=kind, category=category, content=content, answer=answer, department=department,
                           into=into)
    await drafts.save(db_of(request), user.actor.id, caller.form_key, values)  # type: ignore[arg-type]
    return JSONResponse({"saved": local(datetime.now(UTC), "%H:%M:%S"), "form_key": caller.form_key})


@_route("POST", "/operator/discard", OP)
async def operator_discard(request: Request, user: Annotated[ConsoleUser, require(*OP)],
                           form_key: Annotated[str, Form(max_length=100)] = "",
                           linkedid: Annotated[str, Form(max_length=64)] = "") -> Response:
    """放弃登记: the draft is deleted and the seat's 话后整理 (if any) ends."""
    await drafts.discard(db_of(request), user.actor.id, form_key)  # type: ignore[arg-type]
    if linkedid:
        await agents.end_after_call_work(db_of(request), request.app.state.bus, request.app.state.board, user.actor,
                                         user.seat, linkedid)
    auth_web.flash(request, "已放弃本次登记", "info")
    return redirect("/operator")


# ---------------------------------------------------------------------------------------------
# cases: search, one case, its actions, print
# ---------------------------------------------------------------------------------------------


async def intake_refused(request: Request) -> Response:
    """A 来电登记 posted with an expired session or a stale token: nothing typed is lost. Signed
    in: the form comes back as typed (a fresh token) for the operator to submit again. Signed
    out: to the login, and back to the 话务台, where the form's draft (the server's, or the
    browser's own copy) brings every field back."""
    try:
        user = await auth_web.current_user(request)
    except LoginRequired:
        auth_web.flash(request, "会话已失效，请重新登录；登录后将回到话务台，已填写的内容会恢复", "error")
        return redirect("/login?next=/operator")
    if user.role not in OP:
        return error_page(request, 403, "您的角色无权访问此页面")
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in drafts.FIELDS}
    values["kind_manual"] = str(form.get("kind_manual") or "")
    key = str(form.get("form_key") or "") or uuid.uuid4().hex
    return await refused(request, user, values, {"form": "表单已失效（页面停留过久或已在别处重新登录），已保留填写内容，请核对后再次提交"},
                         key, status_code=403)


FORM_REFUSED.update({p: intake_refused for p in ("/operator/register", "/console/kb/answer")})
