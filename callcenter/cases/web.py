"""Console pages for cases: search, one case, its actions, print."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Form, Query, Request
from fastapi.responses import Response

from callcenter.cases import services
from callcenter.cases.views import ticket_dict
from callcenter.cases.workdays import WorkCalendar
from callcenter.cases.workflow import RULES, Action
from callcenter.core.errors import Conflict, Invalid
from callcenter.core.glossary import CASE_ACTION_LABELS, CASE_STATE_LABELS, KIND_LABELS
from callcenter.floor import agents
from callcenter.people import admin
from callcenter.store.models import Kind, Status, Ticket
from callcenter.web import auth_web
from callcenter.web.auth_web import ConsoleUser, require
from callcenter.web.inputs import check_year
from callcenter.web.render import (
    CASE,
    OP,
    TZ,
    _departments,
    db_of,
    page,
    pages_router,
    redirect,
    ref,
    safe_next,
)

router, _route = pages_router()


# ---------------------------------------------------------------------------------------------
# cases: search, one case, its actions, print
# ---------------------------------------------------------------------------------------------
@_route("GET", "/cases", CASE)
async def cases_search(request: Request, user: Annotated[ConsoleUser, require(*CASE)],
                       q: Annotated[str, Query(max_length=200)] = "",
                       status: Annotated[str, Query(max_length=20)] = "",
                       kind: Annotated[str, Query(max_length=20)] = "",
                       department: Annotated[str, Query(max_length=100)] = "",
                       date_from: Annotated[str, Query(alias="from", max_length=10)] = "",
                       date_to: Annotated[str, Query(alias="to", max_length=10)] = "",
                       overdue: Annotated[str, Query(max_length=1)] = "",
                       page_no: Annotated[int, Query(alias="page", ge=1, le=10000)] = 1) -> Response:
    """工单查询 with filters: status, kind, department, registration dates (Asia/Shanghai), 超期."""
    r = await ref(request)
    f = services.TicketFilter(q=q.strip() or None, limit=50, offset=(page_no - 1) * 50)
    problems: list[str] = []
    if status:
        try:
            f.status = [Status(status)]
        except ValueError:
            problems.append(f"状态“{status}”不存在")
    if kind:
        try:
            f.kind = Kind(kind)
        except ValueError:
            problems.append(f"诉求类型“{kind}”不存在")
    if department:
        dep = r.department(department)
        if dep is None:
            problems.append(f"承办单位“{department}”不存在")
        else:
            f.department_id = dep.id
    for label, value, attr, shift in (("起始日期", date_from, "registered_from", 0), ("截止日期", date_to, "registered_to", 1)):
        if value:
            try:
                d = date.fromisoformat(value)
            except ValueError:
                problems.append(f"{label}“{value}”不是日期（YYYY-MM-DD）")
                continue
            setattr(f, attr, datetime.combine(d + timedelta(days=shift), time(0), TZ).astimezone(UTC))
    if overdue == "1":
        f.overdue_at = datetime.now(UTC)
    filters = {"q": q, "status": status, "kind": kind, "department": department, "from": date_from,
               "to": date_to, "overdue": overdue}
    if problems:
        rows: list[Ticket] = []
        total = 0
    else:
        rows, total = await services.search(db_of(request), user.actor, f)
    items = [ticket_dict(t, r, user.actor, masked=True) for t in rows]
    name = "_case_rows.html" if request.headers.get("hx-request") else "cases.html"
    more = "&".join(f"{k}={quote(v)}" for k, v in filters.items() if v)
    return page(request, name, {"q": q, "items": items, "total": total, "page_no": page_no, "filters": filters,
                                "problems": problems, "query": more, "statuses": CASE_STATE_LABELS,
                                "kinds": KIND_LABELS, "departments": _departments(r)},
                status_code=400 if problems else 200)


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
    from callcenter.recordings.web import case_context as recordings_context  # 通话录音 (issue 18)

    rec = await recordings_context(db_of(request), t, user.actor, ctx.pop("all_events"))
    return page(request, "case.html", {
        **ctx, **rec, "actions": _actions_for(t, user),
        "departments": _departments(await ref(request)), "due_raw": t.due_at, "accept_due_raw": t.accept_due_at,
        "ext_raw": t.extension_requested_until, "views": views,
    })


def _until(v: str, calendar: WorkCalendar) -> datetime | None:
    if not v:
        return None
    try:
        d = date.fromisoformat(v)
    except ValueError:
        raise Invalid("请填写日期 YYYY-MM-DD", field="until") from None
    check_year(d, "until")
    return calendar.day_end(d)  # the end of that working day


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
            params["until"] = _until(until, (await ref(request)).calendar)
        if approve in ("1", "0"):
            params["approve"] = approve == "1"
        t = await services.act(db_of(request), user.actor, number, action, version, params, bus=request.app.state.bus)
    except (Conflict, Invalid) as e:
        auth_web.flash(request, f"{CASE_ACTION_LABELS.get(_action_or_none(action), action)}未完成：{e.message}", "error")
        return redirect(f"/cases/{number}" if isinstance(e, Invalid) else back)
    label = CASE_ACTION_LABELS.get(_action_or_none(action), action)
    auth_web.flash(request, f"工单 {t.number}：{label}完成（{CASE_STATE_LABELS[t.status]}）", "ok")
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
    # recordings' listens (issue 18) are listed apart too (recordings/templates/_recordings.html)
    steps = [e for e in evs if e.action not in (services.VIEW, "listen")]
    return t, {"t": ticket_dict(t, await ref(request), user.actor), "events": steps, "all_events": evs}


@_route("GET", "/print/day", OP)
async def print_day(request: Request, user: Annotated[ConsoleUser, require(*OP)],
                    day: Annotated[date | None, Query(alias="date")] = None) -> Response:
    d = day or agents.local_today()
    check_year(d, "date")
    lo = datetime.combine(d, time(0), tzinfo=TZ)
    f = services.TicketFilter(registered_from=lo, registered_to=lo + timedelta(days=1), limit=2000)
    rows, total = await services.search(db_of(request), user.actor, f)
    r = await ref(request)
    # a list of many cases: numbers masked, no confidential caller's identity (ticket_dict `masked`)
    items = [ticket_dict(t, r, user.actor, masked=True) for t in reversed(rows)]
    return page(request, "print_day.html", {"day": d, "items": items, "total": total})
