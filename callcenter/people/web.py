"""Console pages: sign-in and the admin's reference data and people (管理)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response

from callcenter.core.errors import Conflict, Invalid, NotFound
from callcenter.people import admin, auth
from callcenter.people.auth import REVOKED_TOPIC, check_login
from callcenter.store.models import (
    Role,
)
from callcenter.web import auth_web
from callcenter.web.auth_web import ConsoleUser, require
from callcenter.web.render import (
    ADMIN,
    ANY,
    _bool,
    _int_or_none,
    calendar_missing,
    db_of,
    home_of,
    page,
    pages_router,
    redirect,
    request_origin,
    safe_next,
)

router, _route = pages_router()


# ---------------------------------------------------------------------------------------------
# login / logout
# ---------------------------------------------------------------------------------------------
@_route("GET", "/", ANY)
async def index(user: auth_web.UserDep) -> Response:
    return redirect(home_of(user.role))


LOGIN_FAILED = ("用户名或密码错误，或失败次数过多已暂时锁定（连续失败 5 次锁定 15 分钟）。"
                "请稍后再试，或联系管理员")


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
    st = request.app.state.settings
    actor = await check_login(db, username.strip(), password, ip=auth_web.client_ip(request),
                              ip_limit=st.login_ip_limit, ip_window_s=st.login_ip_window_s)
    if actor is None:
        # one message for every failure (wrong name, wrong password, locked account, too many
        # tries from this address): the answer does not tell which names exist
        return page(request, "login.html", {"error": LOGIN_FAILED, "next": safe_next(next, ""),
                                            "username": username}, status_code=401)
    await auth_web.login(request, actor.id)  # type: ignore[arg-type]
    return redirect(safe_next(next, home_of(actor.role)))


@_route("POST", "/logout", ANY)
async def logout(request: Request, user: auth_web.UserDep) -> Response:
    await auth_web.logout(request)
    return redirect("/login")


# ---------------------------------------------------------------------------------------------
# admin: reference data and people
# ---------------------------------------------------------------------------------------------
@_route("GET", "/admin", ADMIN)
async def admin_page(request: Request, user: Annotated[ConsoleUser, require(*ADMIN)]) -> Response:
    data = await admin.overview(db_of(request))
    sessions = await auth.live_sessions(db_of(request))
    return page(request, "admin.html", data | {"roles": list(Role), "calendar_missing": await calendar_missing(request),
                                               "sessions": sessions})


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
                                                         areas=areas, origin=request_origin(request)),
                           f"已添加承办单位 {name}")


@_route("POST", "/admin/departments/{dep_id}/active", ADMIN)
async def admin_department_active(request: Request, dep_id: int, user: Annotated[ConsoleUser, require(*ADMIN)],
                                  active: Annotated[str, Form(pattern="^(0|1)$")]) -> Response:
    return await _admin_do(request, admin.set_department_active(db_of(request), user.actor, dep_id, active == "1",
                                                                origin=request_origin(request)),
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
                                                        origin=request_origin(request)),
                           f"已保存问题分类 {name}")


@_route("POST", "/admin/rules", ADMIN)
async def admin_add_rule(request: Request, user: Annotated[ConsoleUser, require(*ADMIN)],
                         department_id: Annotated[int, Form()], keywords: Annotated[str, Form(max_length=500)] = "",
                         category_id: Annotated[str, Form(max_length=12)] = "",
                         priority: Annotated[int, Form(ge=-100, le=100)] = 0,
                         area: Annotated[str, Form(max_length=100)] = "") -> Response:
    return await _admin_do(request, admin.add_rule(db_of(request), user.actor, department_id,
                                                   _int_or_none(category_id), keywords, priority, area=area,
                                                   origin=request_origin(request)), "已添加派单规则")


@_route("POST", "/admin/rules/{rule_id}/active", ADMIN)
async def admin_rule_active(request: Request, rule_id: int, user: Annotated[ConsoleUser, require(*ADMIN)],
                            active: Annotated[str, Form(pattern="^(0|1)$")]) -> Response:
    return await _admin_do(request, admin.set_rule_active(db_of(request), user.actor, rule_id, active == "1",
                                                          origin=request_origin(request)), "已保存")


@_route("POST", "/admin/users", ADMIN)
async def admin_add_user(
    request: Request, user: Annotated[ConsoleUser, require(*ADMIN)],
    username: Annotated[str, Form(max_length=64)], role: Annotated[Role, Form()],
    password: Annotated[str, Form(max_length=200)], display_name: Annotated[str, Form(max_length=100)] = "",
    department: Annotated[str, Form(max_length=32)] = "", seat: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    return await _admin_do(request, admin.add_user(db_of(request), user.actor, username, display_name, role,
                                                   department or None, seat or None, password,
                                                   origin=request_origin(request)),
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
    out = await _admin_do(request, admin.update_user(db_of(request), user.actor, user_id, role=role,
                                                     department_id=dep, seat=seat, active=_bool(active),
                                                     password=password or None, origin=request_origin(request)),
                          "已保存用户")
    if not _bool(active) or password:
        # the user's API token stops at once: in this worker now, in the others through the bus
        request.app.state.tokens.drop_user(user_id)
        await request.app.state.bus.publish(REVOKED_TOPIC, {"user_id": user_id})
    return out


@_route("POST", "/admin/sessions/{sid}/revoke", ADMIN)
async def admin_revoke_session(request: Request, sid: str, user: Annotated[ConsoleUser, require(*ADMIN)]) -> Response:
    return await _admin_do(request, admin.revoke_session(db_of(request), user.actor, sid, origin=request_origin(request)),
                           "已注销该会话")
