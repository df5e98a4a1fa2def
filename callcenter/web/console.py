"""The web console (issue 4): server-rendered pages in zh-CN for operators (话务员), clerks
(承办人), supervisors (班长) and the admin. Handlers are thin: parse → one service call →
render or redirect. Live parts use SSE (fastapi.sse) and a little plain JS.

Every route and the roles it admits are listed in ROUTE_ROLES (the authorisation matrix the
tests walk). Every POST carries the session's CSRF token (auth_web.check_csrf).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from fastapi.templating import Jinja2Templates

from .. import admin, agents, drafts, idempotency, phones, routing, services
from ..auth import check_login
from ..errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from ..models import KIND_LABELS, SATISFACTION_LABELS, STATUS_LABELS, Kind, Role, Status, Ticket
from ..views import ticket_dict
from ..workflow import ACTION_LABELS, RULES, Action
from . import auth_web
from .auth_web import ConsoleUser, CsrfRefused, LoginRequired, require

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
TZ = agents.TZ
templates = Jinja2Templates(directory=HERE / "templates")

OP = (Role.operator, Role.supervisor)
CASE = (Role.operator, Role.clerk, Role.supervisor)
SUP = (Role.supervisor,)
CLERK = (Role.clerk,)
ADMIN = (Role.admin,)
ANY = tuple(Role)

router = APIRouter(dependencies=[Depends(auth_web.check_csrf)], include_in_schema=False)

# (method, path) → roles admitted; the matrix test walks every console route against this
ROUTE_ROLES: dict[tuple[str, str], tuple[Role, ...]] = {}
# the report pages (reports/web.py, mounted in app.py behind the same check)
ROUTE_ROLES.update({("GET", p): (Role.supervisor, Role.admin) for p in ("/reports/drill", "/reports/annual",
                                                                         "/reports/summary")})


def _route(method: str, path: str, roles: tuple[Role, ...], **kw: Any) -> Any:
    ROUTE_ROLES[(method, path)] = roles
    return router.api_route(path, methods=[method], **kw)


# ---------------------------------------------------------------------------------------------
# rendering helpers
# ---------------------------------------------------------------------------------------------
def local(dt: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return dt.astimezone(TZ).strftime(fmt) if dt else ""


def remaining(due: datetime | None, now: datetime | None = None) -> str:
    """'剩余 2天3小时' / '超期 5小时' — shown beside deadlines (JS refreshes it every 30 s)."""
    if due is None:
        return ""
    now = now or datetime.now(UTC)
    secs = int((due - now).total_seconds())
    over = secs < 0
    secs = abs(secs)
    d, h, m = secs // 86400, secs % 86400 // 3600, secs % 3600 // 60
    text = f"{d}天{h}小时" if d else (f"{h}小时{m}分" if h else f"{m}分")
    return ("超期 " if over else "剩余 ") + text


def pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


templates.env.filters["local"] = local
templates.env.filters["remaining"] = remaining
templates.env.filters["pct"] = pct
templates.env.filters["mask"] = phones.mask
templates.env.globals.update(
    STATUS_LABELS={s.value: v for s, v in STATUS_LABELS.items()},
    KIND_LABELS={k.value: v for k, v in KIND_LABELS.items()},
    ACTION_LABELS={a.value: v for a, v in ACTION_LABELS.items()},
    SATISFACTION_LABELS={s.value: v for s, v in SATISFACTION_LABELS.items()},
    ROLE_LABELS={"operator": "话务员", "clerk": "承办人", "supervisor": "班长", "admin": "管理员"},
)


def vendor_ok(name: str) -> bool:
    return (HERE / "static" / "vendor" / name).is_file()


def page(request: Request, name: str, ctx: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    user = getattr(request.state, "user", None)
    base = {
        "user": user,
        "csrf": auth_web.csrf_token(request),
        "flash": auth_web.pop_flash(request),
        "has_htmx": vendor_ok("htmx.min.js"),
        "has_echarts": vendor_ok("echarts.min.js"),
        "now": datetime.now(UTC),
    }
    return templates.TemplateResponse(request, name, base | (ctx or {}), status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(url: str | None, default: str) -> str:
    # only a local path: an open redirect would let a link send a signed-in user anywhere
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return default


def home_of(role: Role) -> str:
    return {Role.operator: "/operator", Role.clerk: "/clerk", Role.supervisor: "/wall", Role.admin: "/admin"}[role]


async def ref(request: Request) -> Any:
    return await request.app.state.db.ref()


def db_of(request: Request) -> Any:
    return request.app.state.db


# ---------------------------------------------------------------------------------------------
# errors as pages (installed by install())
# ---------------------------------------------------------------------------------------------
ERROR_TITLES = {401: "请先登录", 403: "无权访问", 404: "未找到", 409: "操作冲突", 422: "填写有误"}


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return page(request, "error.html", {"status": status, "title": ERROR_TITLES.get(status, "出错了"),
                                        "message": message}, status_code=status)


async def domain_error_page(request: Request, exc: DomainError) -> Response:
    return error_page(request, exc.status_code, exc.message)


def install(app: Any) -> None:
    from fastapi.staticfiles import StaticFiles

    auth_web.install(app, app.state.settings)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(router)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        if request.method == "GET" and "text/event-stream" not in request.headers.get("accept", ""):
            return redirect(f"/login?next={quote(str(request.url.path))}")
        return error_page(request, 401, "会话已失效，请重新登录")

    from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    def _console(request: Request) -> bool:
        return not request.url.path.startswith(("/api/", "/healthz", "/docs", "/openapi", "/static/"))

    @app.exception_handler(RequestValidationError)
    async def _unparsable(request: Request, exc: RequestValidationError) -> Response:
        # a console form or query FastAPI could not parse: what and where, in Chinese
        if not _console(request):
            return await request_validation_exception_handler(request, exc)
        return error_page(request, 422, "；".join(_field_problem(e) for e in exc.errors()) or "提交的内容有误")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if not _console(request) or exc.status_code >= 500:
            return await http_exception_handler(request, exc)
        detail = exc.detail if isinstance(exc.detail, str) and _has_cjk(exc.detail) else None
        return error_page(request, exc.status_code, detail or HTTP_MESSAGES.get(exc.status_code, "请求有误"))

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, exc: CsrfRefused) -> Response:
        if request.url.path in INTAKE_PATHS:
            return await _intake_refused(request)
        return error_page(request, 403, "表单已失效（缺少或错误的安全令牌），请刷新页面后重试")


INTAKE_PATHS = ("/operator/register", "/console/kb/answer")
HTTP_MESSAGES = {404: "没有这个页面，请检查地址", 405: "不支持这种访问方式，请从页面上的按钮操作"}
FIELD_NAMES = {
    "caller_phone": "来电号码", "caller_name": "来电人姓名", "address": "地址", "kind": "诉求类型", "category": "问题分类",
    "content": "诉求内容", "then": "处理方式", "answer": "答复内容", "department": "承办单位", "into": "并入工单号",
    "action": "操作", "version": "版本", "reason": "理由", "until": "日期", "resolution": "办理结果", "outcome": "结果",
    "words": "市民评价", "note": "备注", "paused": "示忙状态", "code": "代码", "name": "名称", "phone": "电话",
    "username": "用户名", "password": "密码", "role": "角色", "seat": "坐席", "priority": "优先级", "keywords": "关键词",
    "department_id": "承办单位", "category_id": "问题分类", "active": "状态", "page": "页码", "date": "日期",
    "kb_entry": "知识库条目", "title": "标题", "q": "查询内容", "limit": "条数",
}


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _field_problem(e: dict[str, Any]) -> str:
    loc = [str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path", "form")]
    where = "、".join(FIELD_NAMES.get(x, x) for x in loc) or "表单"
    kind = str(e.get("type", ""))
    what = {"missing": "未填写", "int_parsing": "须为整数", "string_too_long": "过长",
            "string_pattern_mismatch": "取值无效", "enum": "取值无效", "less_than_equal": "过大",
            "greater_than_equal": "过小", "date_from_datetime_parsing": "须为日期（YYYY-MM-DD）",
            "date_parsing": "须为日期（YYYY-MM-DD）", "bool_parsing": "取值无效"}.get(kind, "格式不对")
    return f"{where}{what}"


async def _intake_refused(request: Request) -> Response:
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


async def start_board(app: Any) -> asyncio.Task[None]:
    """The AgentBoard follows the bus for the life of the app (called from the lifespan)."""
    board: agents.AgentBoard = app.state.board
    try:
        await board.load(app.state.db)
    except Exception:  # noqa: BLE001 - an empty board is better than no console
        pass
    try:  # the seats' pause state as the PBX has it, from the telephony adapters' heartbeats
        await board.seed_pauses(app.state.db)
    except Exception:  # noqa: BLE001 - the adapter answers our agent.hello with its map anyway
        log.warning("board: cannot read the seats' pause state from the heartbeats", exc_info=True)
    # the wall's figures are computed once at start, so the first wall of a worker does not wait
    app.state.wall_warmup = asyncio.create_task(app.state.wall_figures.warm(app.state.db), name="wall-warmup")
    return asyncio.create_task(board.follow(app.state.bus, app.state.wall_figures.mark_dirty), name="agent-board")


# ---------------------------------------------------------------------------------------------
# login / logout
# ---------------------------------------------------------------------------------------------
@_route("GET", "/", ANY)
async def index(user: auth_web.UserDep) -> Response:
    return redirect(home_of(user.role))


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    return page(request, "login.html", {"next": safe_next(next, "")})


@router.post("/login")
async def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    db = db_of(request)
    actor = await check_login(db, username.strip(), password)
    if actor is None:
        locked = await admin.locked_until(db, username.strip())
        msg = (f"登录失败次数过多，账户已锁定至 {local(locked, '%H:%M')}，请稍后再试或联系管理员" if locked
               else "用户名或密码错误（连续失败 5 次将锁定 15 分钟）")
        return page(request, "login.html", {"error": msg, "next": safe_next(next, ""), "username": username},
                    status_code=401)
    auth_web.login(request, actor.id)  # type: ignore[arg-type]
    return redirect(safe_next(next, home_of(actor.role)))


@_route("POST", "/logout", ANY)
async def logout(request: Request, user: auth_web.UserDep) -> Response:
    auth_web.logout(request)
    return redirect("/login")


# ---------------------------------------------------------------------------------------------
# operator: the workspace, the screen pop, registration
# ---------------------------------------------------------------------------------------------
def _categories(r: Any) -> list[Any]:
    return [c for c in r.categories.values() if c.active]


def _departments(r: Any) -> list[Any]:
    return [d for d in r.departments.values() if d.active]


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
    hist = await services.caller_history(db_of(request), phone)
    r = await ref(request)
    tickets = [ticket_dict(t, r, user.actor) for t in hist["tickets"]]
    return page(request, "_history.html", {"phone": phone, "calls": hist["calls"], "tickets": tickets})


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
    from .. import similar

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


def _bool(v: str | None) -> bool:
    return v in ("1", "on", "true", "yes")


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
                    errors["into"] = f"工单 {into} 已{STATUS_LABELS[target.status]}，请并入它所并入的工单"
    return errors


async def intake_once(request: Request, user: ConsoleUser, caller: CallerForm, data: services.NewTicket,
                      then: str, params: dict[str, Any], kb_entry: Any = None) -> dict[str, Any]:
    """Register (and answer / dispatch / merge) once per form key: a repeated submit of the
    same form — a double click, back and submit again, another worker — gets the first answer
    and writes nothing. The answer: {number, message, kind, to}."""
    db, bus = db_of(request), request.app.state.bus

    async def work() -> tuple[int, Any]:
        from .. import kb

        t, problem = await agents.intake(db, user.actor, data, "save" if kb_entry else then, params,
                                         bus=bus, linkedid=caller.linkedid)
        if kb_entry is not None:
            try:
                t = await kb.answer_case(db, user.actor, kb_entry.code, t.number, version=kb_entry.version,
                                         ticket_version=t.version, bus=bus)
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
@_route("GET", "/cases", CASE)
async def cases_search(request: Request, user: Annotated[ConsoleUser, require(*CASE)],
                       q: Annotated[str, Query(max_length=200)] = "",
                       page_no: Annotated[int, Query(alias="page", ge=1, le=10000)] = 1) -> Response:
    f = services.TicketFilter(q=q.strip() or None, limit=50, offset=(page_no - 1) * 50)
    rows, total = await services.search(db_of(request), user.actor, f)
    r = await ref(request)
    items = [ticket_dict(t, r, user.actor, masked=True) for t in rows]
    name = "_case_rows.html" if request.headers.get("hx-request") else "cases.html"
    return page(request, name, {"q": q, "items": items, "total": total, "page_no": page_no})


def _actions_for(t: Ticket, user: ConsoleUser) -> list[str]:
    out = []
    for a, rule in RULES.items():
        if user.role in rule.roles and t.status in rule.from_states:
            if a is Action.request_extension and t.extension_requested_until is not None:
                continue
            if a is Action.decide_extension and t.extension_requested_until is None:
                continue
            out.append(a.value)
    return out


@_route("GET", "/cases/{number}", CASE)
async def case_page(request: Request, number: str, user: Annotated[ConsoleUser, require(*CASE)]) -> Response:
    t, ctx = await _case_context(request, number, user, "case")
    # 身份信息查阅记录: only for those who may audit it (services.may_audit_views), else None
    views = (await admin.case_identity_views(db_of(request), user.actor, t.id)
             if services.may_audit_views(user.actor) else None)
    return page(request, "case.html", {
        **ctx, "actions": _actions_for(t, user),
        "departments": _departments(await ref(request)), "due_raw": t.due_at, "accept_due_raw": t.accept_due_at,
        "ext_raw": t.extension_requested_until, "views": views,
    })


def _until(v: str) -> datetime | None:
    if not v:
        return None
    try:
        d = date.fromisoformat(v)
    except ValueError:
        raise Invalid("请填写日期 YYYY-MM-DD", field="until") from None
    # the end of that working day, Asia/Shanghai (DOMAIN.md: working hours end 17:30)
    return datetime.combine(d, time(17, 30), tzinfo=TZ)


@_route("POST", "/cases/{number}/act", CASE)
async def case_act(
    request: Request,
    number: str,
    user: Annotated[ConsoleUser, require(*CASE)],
    action: Annotated[str, Form(max_length=32)],
    version: Annotated[int | None, Form()] = None,
    answer: Annotated[str, Form(max_length=5000)] = "",
    department: Annotated[str, Form(max_length=100)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    until: Annotated[str, Form(max_length=10)] = "",
    resolution: Annotated[str, Form(max_length=5000)] = "",
    outcome: Annotated[str, Form(max_length=20)] = "",
    words: Annotated[str, Form(max_length=2000)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    approve: Annotated[str, Form(max_length=1)] = "",
    into: Annotated[str, Form(max_length=32)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    params: dict[str, Any] = {k: v for k, v in {
        "answer": answer, "department": department or None, "reason": reason, "resolution": resolution,
        "outcome": outcome, "words": words or None, "note": note or None, "into": into.strip(),
    }.items() if v}
    back = safe_next(next, f"/cases/{number}")
    try:
        if until:
            params["until"] = _until(until)
        if approve in ("1", "0"):
            params["approve"] = approve == "1"
        t = await services.act(db_of(request), user.actor, number, action, version, params, bus=request.app.state.bus)
    except (Conflict, Invalid) as e:
        auth_web.flash(request, f"{ACTION_LABELS.get(_action_or_none(action), action)}未完成：{e.message}", "error")
        return redirect(f"/cases/{number}" if isinstance(e, Invalid) else back)
    label = ACTION_LABELS.get(_action_or_none(action), action)
    auth_web.flash(request, f"工单 {t.number}：{label}完成（{STATUS_LABELS[t.status]}）", "ok")
    return redirect(back)


def _action_or_none(a: str) -> Any:
    try:
        return Action(a)
    except ValueError:
        return None


@_route("GET", "/cases/{number}/print", CASE)
async def case_print(request: Request, number: str, user: Annotated[ConsoleUser, require(*CASE)]) -> Response:
    _t, ctx = await _case_context(request, number, user, "print")
    return page(request, "print_case.html", ctx)


async def _case_context(request: Request, number: str, user: ConsoleUser, via: str) -> tuple[Any, dict[str, Any]]:
    """The case (if the user may see it) and what both the case page and its print form show.
    `via` names the page in the audit trail's view entry (services.get)."""
    db = db_of(request)
    t = await services.get(db, user.actor, number, via=via)
    evs = await services.events(db, user.actor, number)
    # 办理记录 is the workflow's steps; views are listed apart, to auditors only (case_page)
    steps = [e for e in evs if e.action != services.VIEW]
    return t, {"t": ticket_dict(t, await ref(request), user.actor), "events": steps}


@_route("GET", "/print/day", OP)
async def print_day(request: Request, user: Annotated[ConsoleUser, require(*OP)],
                    day: Annotated[date | None, Query(alias="date")] = None) -> Response:
    d = day or agents.local_today()
    lo = datetime.combine(d, time(0), tzinfo=TZ)
    f = services.TicketFilter(registered_from=lo, registered_to=lo + timedelta(days=1), limit=2000)
    rows, total = await services.search(db_of(request), user.actor, f)
    r = await ref(request)
    # a list of many cases: numbers masked, no confidential caller's identity (ticket_dict `masked`)
    items = [ticket_dict(t, r, user.actor, masked=True) for t in reversed(rows)]
    return page(request, "print_day.html", {"day": d, "items": items, "total": total})


# ---------------------------------------------------------------------------------------------
# clerk: the department's inbox
# ---------------------------------------------------------------------------------------------
INBOX = [Status.dispatched, Status.accepted, Status.reopened]


@_route("GET", "/clerk", CLERK)
async def clerk_inbox(request: Request, user: Annotated[ConsoleUser, require(*CLERK)]) -> Response:
    db = db_of(request)
    r = await ref(request)
    rows, total = await services.search(db, user.actor, services.TicketFilter(status=INBOX, limit=200))
    done, _ = await services.search(db, user.actor, services.TicketFilter(
        status=[Status.resolved, Status.closed, Status.returned], limit=20))
    rows.sort(key=lambda t: (t.accept_due_at if t.status is Status.dispatched and t.accept_due_at else t.due_at)
              or datetime.max.replace(tzinfo=UTC))
    now = datetime.now(UTC)
    items = []
    for t in rows:
        d = ticket_dict(t, r, user.actor, masked=True)
        deadline = t.accept_due_at if t.status is Status.dispatched and t.accept_due_at else t.due_at
        d.update(deadline=deadline, deadline_kind="签收期限" if deadline is t.accept_due_at else "办结期限",
                 overdue=bool(deadline and deadline < now),
                 soon=bool(deadline and now <= deadline < now + timedelta(days=1)))
        items.append(d)
    return page(request, "clerk.html", {"items": items, "total": total,
                                        "done": [ticket_dict(t, r, user.actor, masked=True) for t in done]})


# ---------------------------------------------------------------------------------------------
# supervisor: the wall
# ---------------------------------------------------------------------------------------------
def _period(m: dict[str, Any]) -> dict[str, Any]:
    c = m["cases"]
    keys = ("registered", "resolved", "completion_rate", "on_time_rate", "callback_rate", "satisfaction_rate",
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
    import time as _time

    return _time.monotonic()


@_route("GET", "/wall", SUP)
async def wall(request: Request, user: Annotated[ConsoleUser, require(*SUP)]) -> Response:
    data = await wall_payload(request.app)
    return page(request, "wall.html", {"data": data, "data_json": json.dumps(data, ensure_ascii=False)})


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


# ---------------------------------------------------------------------------------------------
# admin: reference data and people
# ---------------------------------------------------------------------------------------------
@_route("GET", "/admin", ADMIN)
async def admin_page(request: Request, user: Annotated[ConsoleUser, require(*ADMIN)]) -> Response:
    data = await admin.overview(db_of(request))
    return page(request, "admin.html", data | {"roles": list(Role)})


def _int_or_none(v: str) -> int | None:
    v = (v or "").strip()
    if not v:
        return None
    try:
        return int(v)
    except ValueError:
        raise Invalid(f"“{v}”不是数字") from None


def _origin(request: Request) -> admin.Origin:
    """The request's id (as in its log lines) and the client's address, for the audit log."""
    from ..logs import context_value

    return admin.Origin(request_id=context_value("request_id"), ip=request.client.host if request.client else None)


async def _admin_do(request: Request, coro: Any, ok: str) -> Response:
    try:
        await coro
    except (Invalid, Conflict, NotFound) as e:
        auth_web.flash(request, f"未保存：{e.message}", "error")
    else:
        auth_web.flash(request, ok, "ok")
    return redirect("/admin")


@_route("POST", "/admin/departments", ADMIN)
async def admin_add_department(request: Request, user: Annotated[ConsoleUser, require(*ADMIN)],
                               code: Annotated[str, Form(max_length=32)], name: Annotated[str, Form(max_length=100)],
                               phone: Annotated[str, Form(max_length=40)] = "",
                               areas: Annotated[str, Form(max_length=500)] = "") -> Response:
    return await _admin_do(request, admin.add_department(db_of(request), user.actor, code, name, phone,
                                                         areas=areas, origin=_origin(request)),
                           f"已添加承办单位 {name}")


@_route("POST", "/admin/departments/{dep_id}/active", ADMIN)
async def admin_department_active(request: Request, dep_id: int, user: Annotated[ConsoleUser, require(*ADMIN)],
                                  active: Annotated[str, Form(pattern="^(0|1)$")]) -> Response:
    return await _admin_do(request, admin.set_department_active(db_of(request), user.actor, dep_id, active == "1",
                                                                origin=_origin(request)),
                           "已保存")


@_route("POST", "/admin/categories", ADMIN)
async def admin_save_category(
    request: Request, user: Annotated[ConsoleUser, require(*ADMIN)],
    name: Annotated[str, Form(max_length=100)],
    cat_id: Annotated[str, Form(max_length=12)] = "",
    default_department_id: Annotated[str, Form(max_length=12)] = "",
    resolve_working_days: Annotated[str, Form(max_length=4)] = "",
    callback_required: Annotated[str | None, Form()] = None,
    active: Annotated[str | None, Form()] = None,
) -> Response:
    try:
        args = (_int_or_none(cat_id), name, _int_or_none(default_department_id), _int_or_none(resolve_working_days))
    except Invalid as e:
        auth_web.flash(request, f"未保存：{e.message}", "error")
        return redirect("/admin")
    new = args[0] is None
    return await _admin_do(request, admin.save_category(db_of(request), user.actor, *args,
                                                        callback_required=_bool(callback_required),
                                                        active=True if new else _bool(active),
                                                        origin=_origin(request)),
                           f"已保存问题分类 {name}")


@_route("POST", "/admin/rules", ADMIN)
async def admin_add_rule(request: Request, user: Annotated[ConsoleUser, require(*ADMIN)],
                         department_id: Annotated[int, Form()], keywords: Annotated[str, Form(max_length=500)] = "",
                         category_id: Annotated[str, Form(max_length=12)] = "",
                         priority: Annotated[int, Form(ge=-100, le=100)] = 0,
                         area: Annotated[str, Form(max_length=100)] = "") -> Response:
    return await _admin_do(request, admin.add_rule(db_of(request), user.actor, department_id,
                                                   _int_or_none(category_id), keywords, priority, area=area,
                                                   origin=_origin(request)), "已添加派单规则")


@_route("POST", "/admin/rules/{rule_id}/active", ADMIN)
async def admin_rule_active(request: Request, rule_id: int, user: Annotated[ConsoleUser, require(*ADMIN)],
                            active: Annotated[str, Form(pattern="^(0|1)$")]) -> Response:
    return await _admin_do(request, admin.set_rule_active(db_of(request), user.actor, rule_id, active == "1",
                                                          origin=_origin(request)), "已保存")


@_route("POST", "/admin/users", ADMIN)
async def admin_add_user(
    request: Request, user: Annotated[ConsoleUser, require(*ADMIN)],
    username: Annotated[str, Form(max_length=64)], role: Annotated[Role, Form()],
    password: Annotated[str, Form(max_length=200)], display_name: Annotated[str, Form(max_length=100)] = "",
    department: Annotated[str, Form(max_length=32)] = "", seat: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    return await _admin_do(request, admin.add_user(db_of(request), user.actor, username, display_name, role,
                                                   department or None, seat or None, password,
                                                   origin=_origin(request)),
                           f"已添加用户 {username}")


@_route("POST", "/admin/users/{user_id}", ADMIN)
async def admin_update_user(
    request: Request, user_id: int, user: Annotated[ConsoleUser, require(*ADMIN)],
    role: Annotated[Role, Form()], department_id: Annotated[str, Form(max_length=12)] = "",
    seat: Annotated[str, Form(max_length=32)] = "", active: Annotated[str | None, Form()] = None,
    password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        dep = _int_or_none(department_id)
    except Invalid as e:
        auth_web.flash(request, f"未保存：{e.message}", "error")
        return redirect("/admin")
    return await _admin_do(request, admin.update_user(db_of(request), user.actor, user_id, role=role,
                                                      department_id=dep, seat=seat, active=_bool(active),
                                                      password=password or None, origin=_origin(request)),
                           "已保存用户")


# ---------------------------------------------------------------------------------------------
# admin: deadline and callback rules per kind (sla_rules)
# ---------------------------------------------------------------------------------------------
def _kind_or_404(kind: str) -> Kind:
    try:
        return Kind(kind)
    except ValueError:
        raise NotFound(f"没有诉求类型 {kind!r} 的规则") from None


async def _sla_context(request: Request) -> dict[str, Any]:
    mpd = admin.minutes_per_working_day((await ref(request)).calendar)
    return {"fields": admin.SLA_FIELDS, "minutes_per_day": mpd,
            "bounds": {f.name: admin.sla_bounds(f, mpd) for f in admin.SLA_FIELDS}}


@_route("GET", "/admin/sla", ADMIN)
async def admin_sla(request: Request, user: Annotated[ConsoleUser, require(*ADMIN)]) -> Response:
    db = db_of(request)
    return page(request, "admin_sla.html", await _sla_context(request) | {
        "rules": await admin.sla_rules(db), "changes": await admin.sla_changes(db, user.actor),
        "describe": admin.describe})


@_route("GET", "/admin/sla/{kind}", ADMIN)
async def admin_sla_form(request: Request, kind: str, user: Annotated[ConsoleUser, require(*ADMIN)]) -> Response:
    k = _kind_or_404(kind)
    rule = next((r for r in await admin.sla_rules(db_of(request)) if r.kind is k), None)
    if rule is None:
        raise NotFound(f"没有诉求类型 {KIND_LABELS[k]} 的规则")
    values = admin.sla_values(rule)
    return page(request, "admin_sla_edit.html", await _sla_context(request) | {
        "kind": k, "values": {n: str(v) for n, v in values.items()}, "seen": admin.sla_fingerprint(values),
        "errors": {}})


@_route("POST", "/admin/sla/{kind}", ADMIN)
async def admin_sla_save(request: Request, kind: str, user: Annotated[ConsoleUser, require(*ADMIN)]) -> Response:
    k = _kind_or_404(kind)
    form = await request.form()  # parsed once already (CSRF check): the thirteen fields by name
    raw = {f.name: str(form.get(f.name) or "")[:20] for f in admin.SLA_FIELDS}
    seen = str(form.get("seen") or "")[:200] or None
    try:
        changes = await admin.save_sla_rule(db_of(request), user.actor, k, raw, seen=seen, origin=_origin(request))
    except (admin.SlaInvalid, Conflict) as e:
        # the form again, with what was typed and the error beside each field; nothing saved
        errors = e.errors if isinstance(e, admin.SlaInvalid) else {}
        rule = next(r for r in await admin.sla_rules(db_of(request)) if r.kind is k)
        return page(request, "admin_sla_edit.html", await _sla_context(request) | {
            "kind": k, "values": raw if errors else {n: str(v) for n, v in admin.sla_values(rule).items()},
            "seen": admin.sla_fingerprint(admin.sla_values(rule)) if not errors else seen, "errors": errors,
            "problem": e.message}, status_code=e.status_code)
    label = KIND_LABELS[k]
    auth_web.flash(request, f"已保存{label}的办理时限规则（{len(changes)} 项改动）" if changes
                   else f"{label}的规则没有改动", "ok")
    return redirect("/admin/sla")


# ---------------------------------------------------------------------------------------------
# who viewed a whistleblower's identity (supervisors and the admin: services.may_audit_views)
# ---------------------------------------------------------------------------------------------
AUDITORS = (Role.supervisor, Role.admin)
VIEWS_PER_PAGE = 50


def _day(v: str, field: str) -> date | None:
    v = (v or "").strip()
    if not v:
        return None
    try:
        return date.fromisoformat(v)
    except ValueError:
        raise Invalid(f"日期“{v[:20]}”有误，请按 YYYY-MM-DD 填写", field=field) from None


@_route("GET", "/audit/identity-views", AUDITORS)
async def identity_views_page(
    request: Request, user: Annotated[ConsoleUser, require(*AUDITORS)],
    from_: Annotated[str, Query(alias="from", max_length=10)] = "",
    to: Annotated[str, Query(max_length=10)] = "",
    user_id: Annotated[str, Query(alias="user", max_length=12)] = "",
    page_no: Annotated[int, Query(alias="page", ge=1, le=100000)] = 1,
) -> Response:
    """Every view of a confidential case's identity, newest first: by local day range
    (inclusive) and person, VIEWS_PER_PAGE a page; the print shows the page with its filter."""
    d0, d1 = _day(from_, "from"), _day(to, "to")
    if d0 and d1 and d0 > d1:
        raise Invalid("起始日期晚于截止日期", field="from")
    try:
        uid = _int_or_none(user_id)
    except Invalid:
        raise Invalid(f"查阅人“{user_id[:12]}”有误", field="user") from None
    db = db_of(request)
    rows, total = await admin.identity_views(
        db, user.actor, since=datetime.combine(d0, time(0), tzinfo=TZ) if d0 else None,
        until=datetime.combine(d1 + timedelta(days=1), time(0), tzinfo=TZ) if d1 else None,
        user_id=uid, limit=VIEWS_PER_PAGE, offset=(page_no - 1) * VIEWS_PER_PAGE)
    people = await admin.identity_viewers(db)
    pages = max(1, -(-total // VIEWS_PER_PAGE))
    query = {"from": d0.isoformat() if d0 else "", "to": d1.isoformat() if d1 else "",
             "user": str(uid) if uid is not None else ""}
    return page(request, "identity_views.html", {
        "rows": rows, "total": total, "page_no": page_no, "pages": pages, "per_page": VIEWS_PER_PAGE,
        "people": people, "who": next((p for p in people if p.id == uid), None), "q": query,
        "qs": "&".join(f"{k}={quote(v)}" for k, v in query.items() if v),
        "may_open_cases": user.role in CASE,
    })


# ---------------------------------------------------------------------------------------------
# admin: the audit log (审计日志) — the admin only (the rule: admin.ACTION_LABELS' comment)
# ---------------------------------------------------------------------------------------------
NO_USER = "cli"  # the actor filter's value for entries with no user (the CLI's exports)


@_route("GET", "/admin/audit", ADMIN)
async def admin_audit(
    request: Request, user: Annotated[ConsoleUser, require(*ADMIN)],
    from_: Annotated[str, Query(alias="from", max_length=10)] = "",
    to: Annotated[str, Query(max_length=10)] = "",
    actor: Annotated[str, Query(max_length=12)] = "",
    action: Annotated[str, Query(max_length=48)] = "",
    page_no: Annotated[int, Query(alias="page", ge=1, le=100000)] = 1,
) -> Response:
    """The admin's changes and the registry's exports, newest first: by local day range
    (inclusive), who, and action; admin.AUDIT_PER_PAGE a page; printable with its filter."""
    d0, d1 = _day(from_, "from"), _day(to, "to")
    if d0 and d1 and d0 > d1:
        raise Invalid("起始日期晚于截止日期", field="from")
    actor = actor.strip()
    try:
        actor_id = None if actor in ("", NO_USER) else _int_or_none(actor)
    except Invalid:
        raise Invalid(f"操作人“{actor[:12]}”有误", field="actor") from None
    action = action.strip()
    if action and action not in admin.ACTION_LABELS:
        raise Invalid(f"没有“{action[:48]}”这种操作", field="action")
    db = db_of(request)
    rows, total = await admin.audit_log(
        db, user.actor, since=datetime.combine(d0, time(0), tzinfo=TZ) if d0 else None,
        until=datetime.combine(d1 + timedelta(days=1), time(0), tzinfo=TZ) if d1 else None,
        actor_id=actor_id, by_no_user=actor == NO_USER, action=action or None,
        limit=admin.AUDIT_PER_PAGE, offset=(page_no - 1) * admin.AUDIT_PER_PAGE)
    actors = [(str(i) if i is not None else NO_USER, n if i is not None else "命令行（本机）")
              for i, n in await admin.audit_actors(db)]
    pages = max(1, -(-total // admin.AUDIT_PER_PAGE))
    query = {"from": d0.isoformat() if d0 else "", "to": d1.isoformat() if d1 else "",
             "actor": str(actor_id) if actor_id is not None else (NO_USER if actor == NO_USER else ""),
             "action": action}
    return page(request, "admin_audit.html", {
        "rows": rows, "total": total, "page_no": page_no, "pages": pages, "actors": actors,
        "who": dict(actors).get(query["actor"]), "q": query, "actions": admin.ACTION_LABELS,
        "qs": "&".join(f"{k}={quote(v)}" for k, v in query.items() if v), "describe": admin.describe,
    })


# ---------------------------------------------------------------------------------------------
# knowledge base (知识库, issue 8): suggestions beside 来电登记, 直接答复 with an entry
# ---------------------------------------------------------------------------------------------
KB_SUGGEST_LIMIT = 6


@_route("GET", "/console/kb/suggest", OP)
async def kb_suggest(request: Request, user: Annotated[ConsoleUser, require(*OP)],
                     q: Annotated[str, Query(max_length=5000)] = "",
                     limit: Annotated[int, Query(ge=1, le=20)] = KB_SUGGEST_LIMIT) -> Response:
    """The ranked entries for what the operator has typed, as an HTML fragment (matches in
    <mark>, expired entries marked 已失效 without an answer button); operator.js fetches it
    as they type (debounced), so no page reload."""
    from .. import kb

    q = q.strip()
    hits = await kb.search(db_of(request), q, limit=limit) if q else []
    return page(request, "_kb_suggest.html", {"q": q, "hits": hits})


@_route("POST", "/console/kb/answer", OP)
async def kb_answer(
    request: Request,
    user: Annotated[ConsoleUser, require(*OP)],
    kb_entry: Annotated[str, Form(max_length=64)],
    caller: Annotated[CallerForm, Depends()],
    number: Annotated[str, Form(max_length=32)] = "",
    kind: Annotated[str, Form(max_length=20)] = "",
    category: Annotated[str, Form(max_length=100)] = "",
    content: Annotated[str, Form(max_length=5000)] = "",
    kb_q: Annotated[str, Form(max_length=500)] = "",
    department: Annotated[str, Form(max_length=100)] = "",
    answer: Annotated[str, Form(max_length=5000)] = "",
    into: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """直接答复 with a knowledge-base entry (`kb_entry` = "编号:版本" as the operator saw it):
    case `number` if it is registered already, else the 来电登记 form is registered first and
    then answered — one action, validated like any registration (a phone to call back or
    不需回访; kind 政策咨询 unless the operator chose another; content). The case records the
    entry and its version (kb_uses)."""
    from .. import kb

    db, bus = db_of(request), request.app.state.bus
    code, _, seen = kb_entry.partition(":")
    values = caller.values(kind=kind, category=category, content=content, answer=answer, department=department,
                           into=into)
    try:
        e = await kb.get(db, code.strip())
        if e.version == 0:
            raise Conflict(f"条目 {e.code} 尚未发布")
        if kb.is_expired(e):
            raise Conflict(f"条目 {e.code} 已失效，不能用于答复")
        if seen.strip() and seen.strip() != str(e.version):
            raise Conflict(f"条目 {e.code} 已更新为第 {e.version} 版，请核对新的答复内容后再答复")
    except (Invalid, Conflict, NotFound) as ex:
        if number.strip():
            auth_web.flash(request, f"未答复：{ex.message}", "error")
            return redirect(safe_next(f"/cases/{number.strip()}", "/operator"))
        return await refused(request, user, values, {"kb": f"未答复：{ex.message}"}, caller.form_key,
                             status_code=ex.status_code)
    if number.strip():
        try:
            t = await kb.answer_case(db, user.actor, e.code, number.strip(), version=e.version, bus=bus)
        except (Invalid, Conflict, NotFound) as ex:
            auth_web.flash(request, f"未答复：{ex.message}", "error")
            return redirect(safe_next(f"/cases/{number.strip()}", "/operator"))
        auth_web.flash(request, f"已直接答复（知识库 {e.code} 第 {e.version} 版）：工单 {t.number}", "ok")
        return redirect(f"/cases/{t.number}")
    r = await ref(request)
    if not category and e.category and e.category in r.categories_by_name:
        category = e.category  # the entry's 问题分类 when the operator chose none
        values["category"] = category
    kind_ = Kind.consultation  # an entry's answer is a 政策咨询 unless the operator chose the kind
    if caller.kind_manual == "1":
        try:
            kind_ = Kind(kind)
        except ValueError:
            pass
    values["kind"] = kind_.value
    data = caller.ticket(kind_, category.strip(), content.strip() or kb_q.strip())
    errors = await check_intake(request, user, data, "answer", {})
    if errors:
        return await refused(request, user, values, errors, caller.form_key)
    try:
        out = await intake_once(request, user, caller, data, "answer", {}, kb_entry=e)
    except (Invalid, Conflict, Forbidden, NotFound) as ex:
        return await refused(request, user, values, {ex.field or "form": ex.message}, caller.form_key,
                             status_code=ex.status_code)
    auth_web.flash(request, out["message"], out["kind"])
    return redirect(out["to"])


KB_REPORT = (Role.supervisor, Role.admin)
KB_PERIODS = (("today", "今日"), ("month", "本月"), ("year", "本年"))


@_route("GET", "/kb", KB_REPORT)
async def kb_report(request: Request, user: Annotated[ConsoleUser, require(*KB_REPORT)],
                    period: Annotated[str, Query(pattern="^(today|month|year)$")] = "month") -> Response:
    """The knowledge base's feedback loop: 直接答复 and 直接办结率 per period (the wall's figures),
    how many of those direct answers quoted an entry, 直接答复 per entry, entries whose direct
    answers got 不满意 (to review), entries ending within 30 days."""
    from .. import kb

    db = db_of(request)
    figs = await request.app.state.wall_figures.get(db)
    today = agents.local_today()
    starts = {"today": today, "month": today.replace(day=1), "year": today.replace(month=1, day=1)}
    lo = {k: datetime.combine(d, time(0), tzinfo=TZ) for k, d in starts.items()}
    hi = datetime.combine(today + timedelta(days=1), time(0), tzinfo=TZ)
    rows = []
    for name, label in KB_PERIODS:
        c = figs[name]["cases"]
        quoted = sum(r["answered"] for r in await kb.direct_answer_counts(db, lo[name], hi))
        rows.append({"name": name, "label": label, "registered": c["registered"],
                     "answered_directly": c["answered_directly"], "rate": c.get("direct_resolution_rate"),
                     "kb": quoted, "kb_share": quoted / c["answered_directly"] if c["answered_directly"] else None})
    return page(request, "kb.html", {
        "rows": rows, "period": period, "period_label": dict(KB_PERIODS)[period],
        "per_entry": await kb.direct_answer_counts(db, lo[period], hi),
        "flagged": await kb.flagged_for_review(db), "expiring": await kb.expiring_soon(db, 30),
    })


__all__ = ["router", "install", "domain_error_page", "ROUTE_ROLES", "start_board", "Forbidden"]
