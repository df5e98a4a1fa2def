"""The console side of callbacks (回访 / 回拨) and deadline notices (issue 5).

- /callbacks: the operators' work list — pending callback tasks by due time, overdue marked,
  a 拨打 button (callbacks.service.request_call: the telephony process's dialer places the call
  operator first from the operator's seat), the live state of the call (a small poll of
  /callbacks/state while a call is up) and the outcome form (record_attempt).
- /notices: deadline notices (callbacks.deadlines.open_notices) — a clerk sees their
  department's reminders / overdue marks, a supervisor the 督办 escalations, extension
  requests waiting and overdue callbacks, an operator the overdue callbacks. The nav badge
  counts the ones not yet seen; opening /notices marks them read (kept in the session: the
  notices are shared rows, not per-user mail).

Routes register in render.ROUTE_ROLES (the authorisation matrix) and every POST carries the
session's CSRF token (the router's dependency).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func, select

from callbacks import deadlines
from callbacks import service as cbs
from callcenter.cases.services import shows_identity
from callcenter.cases.workdays import TZ
from callcenter.cases.workflow import Actor
from callcenter.core.errors import Conflict, Forbidden, Invalid, NotFound
from callcenter.core.glossary import KIND_LABELS, NOTICE_KIND_LABELS, SATISFACTION_LABELS
from callcenter.people import admin
from callcenter.store.models import (
    Call,
    Callback,
    CallbackKind,
    CallbackRequest,
    CallbackTaskStatus,
    CallDirection,
    CallOutcome,
    Kind,
    Notification,
    Role,
    SlaRule,
    Ticket,
)
from callcenter.web import auth_web
from callcenter.web.auth_web import ConsoleUser, require
from callcenter.web.render import ROUTE_ROLES, db_of, page, redirect

OP = (Role.operator, Role.supervisor)
NOTICE_ROLES = (Role.operator, Role.clerk, Role.supervisor)
CALLING = ("requested", "placing", "placed")
SATISFACTION_CHOICES = tuple(SATISFACTION_LABELS.items())  # (value, label), in the form's order

router = APIRouter(dependencies=[Depends(auth_web.check_csrf)], include_in_schema=False)


def _route(method: str, path: str, roles: tuple[Role, ...], **kw: Any) -> Any:
    ROUTE_ROLES[(method, path)] = roles
    return router.api_route(path, methods=[method], **kw)


# ---------------------------------------------------------------------------------------------
# the work list
# ---------------------------------------------------------------------------------------------
def call_state(req: CallbackRequest | None, call: Call | None) -> tuple[str, str]:
    """(code, label) of the latest click-to-call of a task, or ('', '') when none was placed:
    calling | talking | answered | unanswered (not recorded yet) | unanswered_done (counted as
    an attempt, by the operator or by the scheduler's collect_outcomes) | failed | expired | done."""
    if req is None:
        return "", ""
    if req.status == "failed":
        return "failed", f"呼叫失败：{req.error or '话务系统未接受'}"
    outcome = call.outcome if call is not None else (CallOutcome(req.outcome) if req.outcome else None)
    if outcome is CallOutcome.callback_answered:
        return "answered", "已接通 · 请登记结果"
    if outcome is CallOutcome.callback_unanswered:
        if req.status == "done":
            return "unanswered_done", "未接通（已计入拨打次数）"
        return "unanswered", "未接通 · 请登记"
    if outcome is CallOutcome.callback_failed:
        return "failed", "呼叫失败（线路忙或坐席未接）"
    if req.status == "expired":
        return "expired", "呼叫无结果"
    if req.status in CALLING:
        if call is not None and call.answered_at is not None:
            return "talking", "呼叫中 · 坐席已接通"
        return "calling", "呼叫中"
    return "done", "已登记"


TABS = {"today": "今日到期", "overdue": "超期", "all": "全部"}
PER_PAGE = 50


def _tab_where(tab: str, now: datetime) -> list[Any]:
    """今日到期: not overdue yet, due by the end of today (Asia/Shanghai); 超期: past due; 全部."""
    w: list[Any] = [Callback.status == CallbackTaskStatus.pending]
    if tab == "today":
        end = datetime.combine(now.astimezone(TZ).date() + timedelta(days=1), time(0), TZ).astimezone(UTC)
        w += [Callback.due_at >= now, Callback.due_at < end]
    elif tab == "overdue":
        w.append(Callback.due_at < now)
    return w


async def tab_counts(db: Any, now: datetime) -> dict[str, int]:
    out = {}
    async with db.session() as s:
        for tab in TABS:
            out[tab] = (await s.execute(select(func.count()).select_from(Callback).where(*_tab_where(tab, now)))).scalar_one()
    return out


async def work_list(db: Any, actor: Actor, now: datetime, *, ids: list[int] | None = None,
                    limit: int = PER_PAGE, tab: str = "all", offset: int = 0) -> list[dict[str, Any]]:
    """Pending 回访 / 回拨 tasks of a tab, newest due first (the page's order), with the state of
    their latest call."""
    async with db.session() as s:
        q = (select(Callback, Ticket).outerjoin(Ticket, Ticket.id == Callback.ticket_id)
             .where(*_tab_where(tab, now)))
        if ids is not None:
            q = q.where(Callback.id.in_(ids))
        rows = (await s.execute(q.order_by(Callback.due_at.desc(), Callback.id.desc()).offset(offset).limit(limit))).all()
        cb_ids = [cb.id for cb, _ in rows]
        latest: dict[int, CallbackRequest] = {}
        if cb_ids:
            for r in (await s.scalars(select(CallbackRequest).where(CallbackRequest.callback_id.in_(cb_ids))
                                      .order_by(CallbackRequest.id))).all():
                latest[r.callback_id] = r  # the last one wins
        calls: dict[str, Call] = {}
        if latest:
            since = min(r.requested_at for r in latest.values()) - timedelta(minutes=5)
            keys = [r.key for r in latest.values()]
            key = Call.data["callback_key"].as_string()
            for c in (await s.scalars(select(Call).where(Call.direction == CallDirection.outbound,
                                                         Call.offered_at >= since, key.in_(keys))
                                      .order_by(Call.offered_at))).all():
                calls[str((c.data or {}).get("callback_key"))] = c
    out = []
    for cb, t in rows:
        req = latest.get(cb.id)
        state, label = call_state(req, calls.get(req.key) if req else None)
        identity = t is None or shows_identity(t, actor)
        mine = cb.claimed_by == f"user:{actor.id}"
        busy_other = bool(cb.claimed_by and not mine and cb.claimed_until and cb.claimed_until > now)
        out.append({
            "id": cb.id, "kind": cb.kind.value, "kind_label": "回访" if cb.kind is CallbackKind.case else "回拨",
            "number": t.number if t else None, "content": t.content if t else None,
            "ticket_kind": t.kind.value if t else None, "ticket_kind_label": KIND_LABELS[t.kind] if t else None,
            "resolution": t.resolution if t else None,
            "caller_name": (t.caller_name if t and identity else None), "identity_hidden": not identity,
            "phone": cb.phone if identity else None,
            "due_at": cb.due_at, "overdue": cb.due_at < now, "attempts": cb.attempts or 0,
            "next_attempt_at": cb.next_attempt_at,
            "not_yet": bool(cb.next_attempt_at and cb.next_attempt_at > now),
            "last_attempt_at": cb.last_attempt_at,
            "state": state, "state_label": label, "busy_other": busy_other and state in ("", "calling"),
        })
    return out


@_route("GET", "/callbacks", OP)
async def callbacks_page(request: Request, user: Annotated[ConsoleUser, require(*OP)],
                         tab: Annotated[str, Query(max_length=10)] = "",
                         page_no: Annotated[int, Query(alias="page", ge=1, le=100000)] = 1) -> Response:
    """The work list: tabs 今日到期 / 超期 / 全部 with their counts, 50 a page, newest due first;
    each row links to its task (the outcome form, the 回访话术 and the case's 处理情况)."""
    now = datetime.now(UTC)
    db = db_of(request)
    counts = await tab_counts(db, now)
    if tab not in TABS:
        tab = "today" if counts["today"] else ("overdue" if counts["overdue"] else "all")
    rows = await work_list(db, user.actor, now, tab=tab, offset=(page_no - 1) * PER_PAGE)
    pages = max(1, -(-counts[tab] // PER_PAGE))
    return page(request, "callbacks/list.html", {"rows": rows, "tab": tab, "tabs": TABS, "counts": counts,
                                                 "page_no": page_no, "pages": pages, "per_page": PER_PAGE})


async def _script(db: Any, kind: str | None) -> str | None:
    """The 回访话术 of a case kind (sla_rules.callback_script); missed calls use 民众诉求's row."""
    async with db.session() as s:
        k = Kind(kind) if kind else Kind.complaint
        return (await s.execute(select(SlaRule.callback_script).where(SlaRule.kind == k))).scalar_one_or_none()


@_route("GET", "/callbacks/task/{callback_id}", OP)
async def callback_task(request: Request, callback_id: int, user: Annotated[ConsoleUser, require(*OP)]) -> Response:
    """One task: the 回访话术 of its kind to read while dialling, the case's content and 处理情况,
    the dial button and the outcome form."""
    db = db_of(request)
    now = datetime.now(UTC)
    rows = await work_list(db, user.actor, now, ids=[callback_id], limit=1)
    if not rows:
        auth_web.flash(request, "该回访任务已完成或不存在", "error")
        return redirect("/callbacks")
    c = rows[0]
    script = await _script(db, c["ticket_kind"])
    return page(request, "callbacks/task.html", {"c": c, "choices": SATISFACTION_CHOICES,
                                                 "script": script or DEFAULT_SCRIPT})


DEFAULT_SCRIPT = ("您好，这里是 12345 市民热线。您之前反映的问题（工单号 {工单号}）承办单位已办结，处理情况是：{处理情况}。"
                  "请问您对办理结果是否满意？问题是否已经解决？")


@_route("GET", "/callbacks/state", OP)
async def callbacks_state(request: Request, user: Annotated[ConsoleUser, require(*OP)],
                          ids: str = "") -> JSONResponse:
    """The live part of the list: per task its call's state and attempts (polled while a call is
    up); a task that is no longer pending is absent (the page reloads)."""
    want = [int(x) for x in ids.split(",") if x.strip().isdigit()][:100]
    rows = await work_list(db_of(request), user.actor, datetime.now(UTC), ids=want, limit=len(want)) if want else []
    return JSONResponse({"rows": {str(r["id"]): {"state": r["state"], "label": r["state_label"],
                                                 "attempts": r["attempts"]} for r in rows}})


@_route("POST", "/callbacks/{callback_id}/call", OP)
async def callbacks_call(request: Request, callback_id: int, user: Annotated[ConsoleUser, require(*OP)]) -> Response:
    try:
        req = await cbs.request_call(db_of(request), user.actor, callback_id)
    except Invalid as e:
        msg = "您没有坐席分机，无法拨打" if e.field == "seat" else e.message
        auth_web.flash(request, f"未拨打：{msg}", "error")
    except (Conflict, NotFound, Forbidden) as e:
        auth_web.flash(request, f"未拨打：{e.message}", "error")
    else:
        auth_web.flash(request, f"正在呼叫：请接听坐席 {req.seat} 的来电，接通后将自动拨打市民", "ok")
    return redirect(f"/callbacks/task/{callback_id}")


@_route("POST", "/callbacks/{callback_id}/outcome", OP)
async def callbacks_outcome(
    request: Request, callback_id: int, user: Annotated[ConsoleUser, require(*OP)],
    result: Annotated[str, Form(pattern="^(reached|not_reached)$")] = "reached",
    satisfaction: Annotated[str, Form(max_length=20)] = "",
    words: Annotated[str, Form(max_length=2000)] = "",
    solved: Annotated[str, Form(pattern="^(|1|0)$")] = "",
) -> Response:
    db = db_of(request)
    async with db.session() as s:
        kind = (await s.execute(select(Callback.kind).where(Callback.id == callback_id))).scalar_one_or_none()
    if result == "not_reached":
        outcome = "not_reached"
    elif kind is CallbackKind.case:
        if satisfaction not in dict(SATISFACTION_CHOICES):
            auth_web.flash(request, "未登记：请选择市民的满意度（满意 / 基本满意 / 不满意）", "error")
            return redirect(f"/callbacks/task/{callback_id}")
        outcome = satisfaction
    else:
        outcome = "reached"
    try:
        cb = await cbs.record_attempt(db, user.actor, callback_id, outcome, words.strip() or None,
                                      None if solved == "" else solved == "1")
    except (Invalid, Conflict, NotFound, Forbidden) as e:
        auth_web.flash(request, f"未登记：{e.message}", "error")
        return redirect(f"/callbacks/task/{callback_id}")
    label = "回访" if cb.kind is CallbackKind.case else "回拨"
    if outcome == "not_reached":
        msg = (f"已记未接通（第 {cb.attempts} 次），{label}已结束：无法联系" if cb.status is CallbackTaskStatus.unreachable
               else f"已记未接通（第 {cb.attempts} 次），稍后再拨")
    elif outcome == "dissatisfied":
        msg = f"已登记{label}结果：不满意，工单已退回重办"
    else:
        msg = f"已登记{label}结果：{dict(SATISFACTION_CHOICES).get(outcome, '已回拨')}"
    auth_web.flash(request, msg, "ok")
    return redirect("/callbacks")


# ---------------------------------------------------------------------------------------------
# deadline notices
# ---------------------------------------------------------------------------------------------
def _scope(user: ConsoleUser) -> list[tuple[str, dict[str, Any]]]:
    """The notice queries a role sees: (section title, open_notices arguments)."""
    if user.role is Role.clerk:
        if user.actor.department_id is None:
            return []
        return [("本单位提醒", {"department_id": user.actor.department_id, "audience": "department"})]
    if user.role is Role.supervisor:
        return [("督办、延期待批与催办", {"audience": "supervisor"}), ("回访超期", {"audience": "operator"}),
                ("各承办单位提醒", {"audience": "department"})]
    return [("回访超期", {"audience": "operator"})]


def _where(args: dict[str, Any]) -> list[Any]:
    w = [Notification.status == "open", Notification.audience == args["audience"]]
    if "department_id" in args:
        w.append(Notification.department_id == args["department_id"])
    return w


@_route("GET", "/notices", NOTICE_ROLES)
async def notices_page(request: Request, user: Annotated[ConsoleUser, require(*NOTICE_ROLES)]) -> Response:
    db = db_of(request)
    seen = int(request.session.get("notices_seen") or 0)
    sections = []
    top = seen
    for title, args in _scope(user):
        rows = await deadlines.open_notices(db, **args)
        items = [{"id": n.id, "kind": n.kind, "label": NOTICE_KIND_LABELS.get(n.kind, n.kind), "message": n.message,
                  "number": (n.data or {}).get("number") if n.ticket_id else None, "due_at": n.due_at,
                  "created_at": n.created_at, "new": n.id > seen, "callback_id": n.callback_id} for n in rows]
        top = max([top, *(n.id for n in rows)])
        sections.append({"title": title, "notes": items})
    request.session["notices_seen"] = top  # opening the list marks what it shows as read
    return page(request, "callbacks/notices.html", {"sections": sections})


@_route("GET", "/notices/count", NOTICE_ROLES)
async def notices_count(request: Request, user: Annotated[ConsoleUser, require(*NOTICE_ROLES)]) -> JSONResponse:
    """The nav badge: open notices of the user's scope not seen yet."""
    seen = int(request.session.get("notices_seen") or 0)
    n = 0
    async with db_of(request).session() as s:
        for _title, args in _scope(user):
            n += (await s.execute(select(func.count()).select_from(Notification)
                                  .where(*_where(args), Notification.id > seen))).scalar_one()
    return JSONResponse({"unread": n})


# ---------------------------------------------------------------------------------------------
# 回访话术: the script per kind (the admin edits it)
# ---------------------------------------------------------------------------------------------
@_route("GET", "/admin/scripts", (Role.admin,))
async def scripts_page(request: Request, user: Annotated[ConsoleUser, require(Role.admin)]) -> Response:
    async with db_of(request).session() as s:
        scripts = dict((await s.execute(select(SlaRule.kind, SlaRule.callback_script))).all())
    rows = [{"kind": k.value, "label": KIND_LABELS[k], "script": scripts.get(k) or ""} for k in Kind if k in scripts]
    return page(request, "callbacks/scripts.html", {"rows": rows, "default": DEFAULT_SCRIPT})


@_route("POST", "/admin/scripts/{kind}", (Role.admin,))
async def scripts_save(request: Request, kind: str, user: Annotated[ConsoleUser, require(Role.admin)],
                       script: Annotated[str, Form(max_length=4000)] = "") -> Response:
    try:
        k = Kind(kind)
    except ValueError:
        auth_web.flash(request, f"未保存：诉求类型“{kind}”不存在", "error")
        return redirect("/admin/scripts")
    text = script.strip() or None
    async with db_of(request).transaction() as s:
        rule = await s.get(SlaRule, k)
        if rule is None:
            auth_web.flash(request, f"未保存：{KIND_LABELS[k]}没有办理规则行", "error")
            return redirect("/admin/scripts")
        if rule.callback_script != text:
            admin.record(s, user.actor, "script.update", "sla_rule", k.value, KIND_LABELS[k],
                         {"callback_script": [rule.callback_script, text]})
            rule.callback_script = text
    auth_web.flash(request, f"已保存{KIND_LABELS[k]}的回访话术", "ok")
    return redirect("/admin/scripts")


__all__ = ["router", "work_list", "call_state"]
