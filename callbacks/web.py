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

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func, select

from callbacks import deadlines
from callbacks import service as cbs
from callcenter.cases.services import shows_identity
from callcenter.cases.workflow import Actor
from callcenter.core.errors import Conflict, Forbidden, Invalid, NotFound
from callcenter.store.models import (
    Call,
    Callback,
    CallbackKind,
    CallbackRequest,
    CallbackTaskStatus,
    CallDirection,
    CallOutcome,
    Notification,
    Role,
    Ticket,
)
from callcenter.web import auth_web
from callcenter.web.auth_web import ConsoleUser, require
from callcenter.web.render import ROUTE_ROLES, db_of, page, redirect

OP = (Role.operator, Role.supervisor)
NOTICE_ROLES = (Role.operator, Role.clerk, Role.supervisor)
CALLING = ("requested", "placing", "placed")
SATISFACTION_CHOICES = (("satisfied", "满意"), ("basically", "基本满意"), ("dissatisfied", "不满意"))
NOTICE_LABELS = {
    "remind_1d": "到期提醒", "remind_2h": "到期提醒", "overdue": "超期", "escalated": "督办",
    "accept_overdue": "签收超期", "extension_waiting": "延期待批", "callback_overdue": "回访超期",
    "daily_summary": "日报",
}

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


async def work_list(db: Any, actor: Actor, now: datetime, *, ids: list[int] | None = None,
                    limit: int = 100) -> list[dict[str, Any]]:
    """Pending 回访 / 回拨 tasks, earliest due first, with the state of their latest call."""
    async with db.session() as s:
        q = (select(Callback, Ticket).outerjoin(Ticket, Ticket.id == Callback.ticket_id)
             .where(Callback.status == CallbackTaskStatus.pending))
        if ids is not None:
            q = q.where(Callback.id.in_(ids))
        rows = (await s.execute(q.order_by(Callback.due_at, Callback.id).limit(limit))).all()
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
async def callbacks_page(request: Request, user: Annotated[ConsoleUser, require(*OP)]) -> Response:
    now = datetime.now(UTC)
    rows = await work_list(db_of(request), user.actor, now)
    return page(request, "callbacks/list.html", {"rows": rows, "choices": SATISFACTION_CHOICES,
                                                 "n_overdue": sum(1 for r in rows if r["overdue"])})


@_route("GET", "/callbacks/state", OP)
async def callbacks_state(request: Request, user: Annotated[ConsoleUser, require(*OP)],
                          ids: str = "") -> JSONResponse:
    """The live part of the list: per task its call's state and attempts (polled while a call is
    up); a task that is no longer pending is absent (the page reloads)."""
    want = [int(x) for x in ids.split(",") if x.strip().isdigit()][:100]
    rows = await work_list(db_of(request), user.actor, datetime.now(UTC), ids=want) if want else []
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
    return redirect(f"/callbacks#cb-{callback_id}")


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
            return redirect(f"/callbacks#cb-{callback_id}")
        outcome = satisfaction
    else:
        outcome = "reached"
    try:
        cb = await cbs.record_attempt(db, user.actor, callback_id, outcome, words.strip() or None,
                                      None if solved == "" else solved == "1")
    except (Invalid, Conflict, NotFound, Forbidden) as e:
        auth_web.flash(request, f"未登记：{e.message}", "error")
        return redirect(f"/callbacks#cb-{callback_id}")
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
        return [("督办与延期待批", {"audience": "supervisor"}), ("回访超期", {"audience": "operator"})]
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
        items = [{"id": n.id, "kind": n.kind, "label": NOTICE_LABELS.get(n.kind, n.kind), "message": n.message,
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


__all__ = ["router", "work_list", "call_state"]
