"""The dispatcher's queues (调度, issue 13) for operators and supervisors: 待派, 退单待审核,
派单异议, 重办待派 (callcenter.cases.queues), with the menu badge's counts (/queues/count) and the
row actions — dispatch, re-dispatch to another department, or refuse a return with a reason
(the case goes back to the department that returned it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import JSONResponse, Response

from callcenter.cases import queues, services
from callcenter.cases.views import ticket_dict
from callcenter.core.errors import Conflict, Forbidden, Invalid, NotFound
from callcenter.store.models import Kind
from callcenter.web import auth_web
from callcenter.web.auth_web import ConsoleUser, require
from callcenter.web.render import OP, db_of, page, pages_router, redirect, ref

router, _route = pages_router()


async def _render(request: Request, user: ConsoleUser, name: str, *, typed: dict[str, str] | None = None,
                  error: str | None = None, status_code: int = 200) -> Response:
    db = db_of(request)
    n = await queues.counts(db)
    items, total = await queues.queue(db, name)
    r = await ref(request)
    rows = []
    for it in items:
        d = ticket_dict(it.ticket, r, user.actor, masked=True)
        d.update(entered_at=it.entered_at, due=it.due, returns=it.returns, return_reason=it.return_reason,
                 dispute=it.dispute)
        rows.append(d)
    departments = [d for d in r.departments.values() if d.active]
    return page(request, "queues.html", {
        "queue": name, "queues": queues.QUEUES, "counts": n, "rows": rows, "total": total,
        "departments": departments, "typed": typed or {}, "error": error, "now": datetime.now(UTC),
        "dispatch_days": r.sla_for(Kind.complaint).dispatch_working_days,
        "return_days": r.sla_for(Kind.complaint).return_working_days,
    }, status_code=status_code)


@_route("GET", "/queues", OP)
async def queues_page(request: Request, user: Annotated[ConsoleUser, require(*OP)],
                      q: Annotated[str, Query(max_length=20)] = "") -> Response:
    if q and q not in queues.QUEUES:
        return await _render(request, user, "dispatch", error=f"没有名为“{q}”的队列", status_code=400)
    if not q:  # the first queue with cases in it
        n = await queues.counts(db_of(request))
        q = next((k for k in queues.QUEUES if n[k]), "dispatch")
    return await _render(request, user, q)


@_route("GET", "/queues/count", OP)
async def queues_count(request: Request, user: Annotated[ConsoleUser, require(*OP)]) -> JSONResponse:
    n = await queues.counts(db_of(request))
    return JSONResponse({"total": sum(n.values()), **n})


@_route("POST", "/queues/{number}/act", OP)
async def queues_act(
    request: Request, number: str, user: Annotated[ConsoleUser, require(*OP)],
    queue: Annotated[str, Form(max_length=20)],
    decision: Annotated[str, Form(pattern="^(dispatch|redispatch|refuse)$")],
    department: Annotated[str, Form(max_length=100)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """dispatch (待派 / 重办待派), redispatch to a department, or refuse the return (with a reason)."""
    name = queue if queue in queues.QUEUES else "dispatch"
    typed = {"number": number, "department": department, "reason": reason, "decision": decision}
    if decision == "refuse":
        if not reason.strip():
            return await _render(request, user, name, typed=typed, status_code=400,
                                 error=f"工单 {number}：不同意退单须填写理由（告知承办单位为何仍由其办理）")
        action, params = "redispatch", {"note": f"不同意退单：{reason.strip()}"}
    else:
        if not department:
            return await _render(request, user, name, typed=typed, status_code=400,
                                 error=f"工单 {number}：请选择承办单位")
        action, params = decision, {"department": department}
        if reason.strip():
            params["note"] = reason.strip()
    try:
        t = await services.act(db_of(request), user.actor, number, action, None, params, bus=request.app.state.bus)
    except Invalid as e:  # a field the rules refuse: the form again, with what was typed
        return await _render(request, user, name, typed=typed, status_code=400, error=f"工单 {number} 未处理：{e.message}")
    except (Conflict, NotFound, Forbidden) as e:  # the case moved on meanwhile: say so, show the queue again
        auth_web.flash(request, f"工单 {number} 未处理：{e.message}", "error")
        return redirect(f"/queues?q={name}")
    r = await ref(request)
    dep = r.departments.get(t.department_id) if t.department_id else None
    done = "已退回原承办单位" if decision == "refuse" else "已派单"
    auth_web.flash(request, f"工单 {t.number}：{done}（{dep.name if dep else ''}）", "ok")
    return redirect(f"/queues?q={name}")


__all__ = ["router"]
