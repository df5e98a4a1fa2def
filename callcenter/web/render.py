"""The web console (issue 4): server-rendered pages in zh-CN for operators (话务员), clerks
(承办人), supervisors (班长) and the admin. Handlers are thin: parse → one service call →
render or redirect. Live parts use SSE (fastapi.sse) and a little plain JS.

This module holds what every console page shares: the templates (each area's `templates/`),
`page`, `redirect`, `db_of`, the error pages and the console router; the pages themselves live
with their area (`calls/web.py` operator, `cases/web.py` cases, `cases/clerk_web.py` clerk,
`floor/web.py` wall, `people/web.py` sign-in and admin, `people/sla_web.py` SLA,
`people/audit_web.py` audit, `kb/web.py` knowledge base), registered in that order by
`callcenter/entry/app.py`.

Every route and the roles it admits are listed in ROUTE_ROLES (the authorisation matrix the
tests walk). Every POST carries the session's CSRF token (auth_web.check_csrf).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from callcenter.cases import phones
from callcenter.core.errors import DomainError, Invalid
from callcenter.core.glossary import (
    CASE_ACTION_LABELS,
    CASE_STATE_LABELS,
    KIND_LABELS,
    ROLE_LABELS,
    SATISFACTION_LABELS,
)
from callcenter.core.logs import context_value
from callcenter.floor import agents
from callcenter.store import audit
from callcenter.store.models import Role
from callcenter.web import auth_web, security
from callcenter.web.auth_web import CsrfRefused, LoginRequired

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
TZ = agents.TZ
PACKAGE = HERE.parent
# one template name space over the areas' template folders (names are unique across them)
TEMPLATE_DIRS = [HERE / "templates"] + [PACKAGE / area / "templates" for area in
                                        ("calls", "cases", "floor", "people", "kb", "recordings", "qa")] + [
    PACKAGE.parent / "callbacks" / "templates"]
templates = Jinja2Templates(directory=TEMPLATE_DIRS)

OP = (Role.operator, Role.supervisor)
CASE = (Role.operator, Role.clerk, Role.supervisor)
SUP = (Role.supervisor,)
CLERK = (Role.clerk,)
ADMIN = (Role.admin,)
ANY = tuple(Role)


# (method, path) → roles admitted; the matrix test walks every console route against this
ROUTE_ROLES: dict[tuple[str, str], tuple[Role, ...]] = {}
# the report pages (reports/web.py, mounted in app.py behind the same check)
ROUTE_ROLES.update({("GET", p): (Role.supervisor, Role.admin) for p in ("/reports/drill", "/reports/annual", "/reports/capacity",
                                                                         "/reports/summary", "/reports")})


def pages_router() -> tuple[APIRouter, Callable[..., Any]]:
    """A console router (every POST CSRF-checked, not in the API schema) and its route
    decorator `route(method, path, roles)`, which lists the route's roles in ROUTE_ROLES."""
    router = APIRouter(dependencies=[Depends(auth_web.check_csrf)], include_in_schema=False)

    def route(method: str, path: str, roles: tuple[Role, ...], **kw: Any) -> Any:
        ROUTE_ROLES[(method, path)] = roles
        return router.api_route(path, methods=[method], **kw)

    return router, route


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
    CASE_STATE_LABELS=CASE_STATE_LABELS,
    KIND_LABELS=KIND_LABELS,
    CASE_ACTION_LABELS=CASE_ACTION_LABELS,
    SATISFACTION_LABELS=SATISFACTION_LABELS,
    ROLE_LABELS=ROLE_LABELS,
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
        "csp_nonce": security.nonce_of(request),
    }
    return templates.TemplateResponse(request, name, base | (ctx or {}), status_code=status_code)


async def calendar_missing(request: Request) -> list[int]:
    """This year and the next without holiday data (the admin page and the wall say so)."""
    r = await ref(request)
    return list(r.calendar.uncovered_years(agents.local_today()))


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



def _categories(r: Any) -> list[Any]:
    return [c for c in r.categories.values() if c.active]


def _departments(r: Any) -> list[Any]:
    return [d for d in r.departments.values() if d.active]


def _bool(v: str | None) -> bool:
    return v in ("1", "on", "true", "yes")


def _int_or_none(v: str) -> int | None:
    v = (v or "").strip()
    if not v:
        return None
    try:
        return int(v)
    except ValueError:
        raise Invalid(f"{v!r} is not a number") from None

# ---------------------------------------------------------------------------------------------
# errors as pages (installed by install())
# ---------------------------------------------------------------------------------------------
ERROR_TITLES = {401: "请先登录", 403: "无权访问", 404: "未找到", 409: "操作冲突", 422: "填写有误"}


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return page(request, "error.html", {"status": status, "title": ERROR_TITLES.get(status, "出错了"),
                                        "message": message}, status_code=status)


async def domain_error_page(request: Request, exc: DomainError) -> Response:
    return error_page(request, exc.status_code, exc.message)


async def domain_error_json(request: Request, exc: DomainError) -> Response:
    """A domain error as the JSON API answers it: the message and the field, with its status."""
    return JSONResponse({"detail": exc.message, "field": exc.field}, status_code=exc.status_code)


def install(app: Any, routers: Iterable[APIRouter]) -> None:
    auth_web.install(app, app.state.settings)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in routers:
        app.include_router(router)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        if request.method == "GET" and "text/event-stream" not in request.headers.get("accept", ""):
            return redirect(f"/login?next={quote(str(request.url.path))}")
        return error_page(request, 401, "会话已失效，请重新登录")

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
        handler = FORM_REFUSED.get(request.url.path)
        if handler is not None:
            return await handler(request)
        return error_page(request, 403, "表单已失效（缺少或错误的安全令牌），请刷新页面后重试")


# a form whose CSRF check failed (an expired session, a stale token) that must not lose what was
# typed: path → the page module's handler (calls/web.py registers the 来电登记 form's)
FORM_REFUSED: dict[str, Callable[[Request], Awaitable[Response]]] = {}
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


def request_origin(request: Request) -> audit.Origin:
    """The request's id (as in its log lines) and the client's address, for the audit log."""
    return audit.Origin(request_id=context_value("request_id"), ip=request.client.host if request.client else None)


__all__ = ["install", "domain_error_page", "ROUTE_ROLES", "pages_router"]
