"""Quality inspection pages (质检, issue 18).

- /qa: supervisors — the calls to score, the appeals to decide, the figures per operator, team
  and month, and 立即抽检 (the week before); operators — their own scored calls; the admin — the
  figures and the checklists.
- /qa/{id}: one inspection: the recording (range requests; each play a listen in the audit),
  the checklist to score, comments at a time offset, the appeal and its decision.
- /qa/checklists: the admin's checklists (质检表).
A form refused by the rules is shown again with what was typed and the message (422/409).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Form, Query, Request
from fastapi.responses import Response

from callcenter.cases.workdays import TZ
from callcenter.core.errors import Conflict, Invalid
from callcenter.core.settings import get_settings
from callcenter.qa import services
from callcenter.recordings.storage import store_of
from callcenter.recordings.web import audio_response
from callcenter.store.models import QaState, Role, utcnow
from callcenter.web import auth_web
from callcenter.web.auth_web import ConsoleUser, require
from callcenter.web.render import ADMIN, OP, SUP, db_of, page, pages_router, redirect, request_origin
from reports.annual import month_bounds
from reports.quality import qa_figures

router, _route = pages_router()
VIEWERS = (Role.operator, Role.supervisor, Role.admin)
OPERATOR = (Role.operator,)


def _settings(request: Request) -> Any:
    return getattr(request.app.state, "settings", None) or get_settings()


def _month(v: str) -> tuple[date, date, str]:
    if not v:
        v = f"{utcnow().astimezone(TZ):%Y-%m}"  # this month, the hotline's time
    return month_bounds(v)


@_route("GET", "/qa", VIEWERS)
async def qa_home(request: Request, user: Annotated[ConsoleUser, require(*VIEWERS)],
                  month: Annotated[str, Query(max_length=7)] = "") -> Response:
    db = db_of(request)
    d0, d1, label = _month(month.strip())
    actor = user.actor
    ctx: dict[str, Any] = {"month": f"{d0:%Y-%m}", "month_label": label, "REASONS": services.REASONS}
    if user.role in (Role.supervisor, Role.admin):
        ctx["figures"] = await qa_figures(db, d0, d1)
    if user.role is Role.supervisor:
        ctx["todo"] = await services.listing(db, actor, states=(QaState.pending,))
        ctx["appeals"] = await services.listing(db, actor, states=(QaState.appealed,))
        ctx["done"] = await services.listing(db, actor, states=(QaState.scored, QaState.final), limit=50)
        ctx["checklist"] = await services.checklist(db, None)
        ctx["sample_size"] = _settings(request).qa_sample_size
    if user.role is Role.operator:
        ctx["mine"] = await services.listing(db, actor)
    return page(request, "qa.html", ctx)


# ---- the admin's checklists ------------------------------------------------------------------------

EXAMPLE = "规范开头语 | 10\n准确记录诉求 | 30\n正确选择分类与承办单位 | 20\n告知办理时限 | 20\n服务态度 | 20\n泄露举报人信息 | 致命"


@_route("GET", "/qa/checklists", ADMIN)
async def qa_checklists(request: Request, user: Annotated[ConsoleUser, require(*ADMIN)]) -> Response:
    return page(request, "qa_checklists.html", {"lists": await services.checklists(db_of(request)),
                                                "form": {"items": EXAMPLE}, "error": None})


@_route("POST", "/qa/checklists", ADMIN)
async def qa_checklist_create(request: Request, user: Annotated[ConsoleUser, require(*ADMIN)],
                              name: Annotated[str, Form(max_length=200)] = "",
                              items: Annotated[str, Form(max_length=20000)] = "") -> Response:
    db = db_of(request)
    try:
        await services.create_checklist(db, user.actor, name, items, request_origin(request))
    except Invalid as e:
        return page(request, "qa_checklists.html", {"lists": await services.checklists(db),
                                                    "form": {"name": name, "items": items}, "error": e.message},
                    status_code=422)
    auth_web.flash(request, f"已启用质检表“{name.strip()}”", "ok")
    return redirect("/qa/checklists")


@_route("POST", "/qa/sample", SUP)
async def qa_sample(request: Request, user: Annotated[ConsoleUser, require(*SUP)]) -> Response:
    """立即抽检: the sample of last week now (the scheduler does it every Monday)."""
    s = _settings(request)
    week = services.last_week(utcnow())
    res = await services.sample(db_of(request), week, size=s.qa_sample_size, long_s=s.qa_long_call_s)
    parts = "，".join(f"{services.REASONS[r]} {n} 通" for r, n in res.picked.items() if n)
    auth_web.flash(request, f"{week} 当周抽检：新增 {res.total} 通（{parts}）" if res.total
                   else f"{week} 当周没有新的待质检通话（已抽过，或没有保存录音的通话）", "ok")
    return redirect("/qa")


async def _inspection_page(request: Request, user: ConsoleUser, inspection_id: int, *, status: int = 200,
                           error: str | None = None, form: dict[str, Any] | None = None) -> Response:
    db = db_of(request)
    v = await services.get(db, user.actor, inspection_id)
    cl = await services.checklist(db, v.i.checklist_id)
    return page(request, "qa_inspection.html", {
        "v": v, "i": v.i, "cl": cl, "may_listen": services.may_listen(user.actor, v),
        "results": {int(k): bool(x) for k, x in (v.i.results or {}).items()},
        "error": error, "form": form or {}, "DECISIONS": services.DECISIONS,
    }, status_code=status)


@_route("GET", "/qa/{inspection_id}", OP)
async def qa_inspection(request: Request, inspection_id: int, user: Annotated[ConsoleUser, require(*OP)]) -> Response:
    return await _inspection_page(request, user, inspection_id)


@_route("GET", "/qa/{inspection_id}/recording.wav", OP)
async def qa_recording(request: Request, inspection_id: int, user: Annotated[ConsoleUser, require(*OP)]) -> Response:
    rng = (request.headers.get("range") or "").strip().lower()
    first = not rng or rng.startswith("bytes=0-") or rng == "bytes=0"
    target = await services.open_recording(db_of(request), user.actor, inspection_id, store_of(_settings(request)),
                                           record=first)
    return audio_response(request, target)


def _ids(values: list[str]) -> set[int]:
    try:
        return {int(x) for x in values}
    except ValueError:
        raise Invalid("勾选的检查项有误，请刷新页面后重试", field="items") from None


async def _post(request: Request, user: ConsoleUser, inspection_id: int, form: dict[str, Any], done: str,
                action: Any) -> Response:
    try:
        await action()
    except Conflict as e:  # the inspection moved on (scored, appealed, decided): say so on its page
        auth_web.flash(request, e.message, "error")
        return redirect(f"/qa/{inspection_id}")
    except Invalid as e:  # shown again with what was typed
        return await _inspection_page(request, user, inspection_id, status=e.status_code, error=e.message, form=form)
    auth_web.flash(request, done, "ok")
    return redirect(f"/qa/{inspection_id}")


@_route("POST", "/qa/{inspection_id}/score", SUP)
async def qa_score(request: Request, inspection_id: int, user: Annotated[ConsoleUser, require(*SUP)],
                   met: Annotated[list[str] | None, Form()] = None) -> Response:
    met = met or []
    out: dict[str, Any] = {}

    async def go() -> None:
        out["score"] = await services.score(db_of(request), user.actor, inspection_id, _ids(met), request_origin(request))

    resp = await _post(request, user, inspection_id, {"met": met}, "已评分", go)
    if "score" in out:
        value, fatal = out["score"]
        auth_web.flash(request, f"已评分：{value:g} 分" + ("（致命项未通过）" if fatal else ""), "ok")
    return resp


@_route("POST", "/qa/{inspection_id}/comment", SUP)
async def qa_comment(request: Request, inspection_id: int, user: Annotated[ConsoleUser, require(*SUP)],
                     at: Annotated[str, Form(max_length=12)] = "",
                     text: Annotated[str, Form(max_length=4000)] = "") -> Response:
    return await _post(request, user, inspection_id, {"at": at, "text": text}, "已添加点评",
                       lambda: services.comment(db_of(request), user.actor, inspection_id, at, text,
                                                request_origin(request)))


@_route("POST", "/qa/{inspection_id}/appeal", OPERATOR)
async def qa_appeal(request: Request, inspection_id: int, user: Annotated[ConsoleUser, require(*OPERATOR)],
                    reason: Annotated[str, Form(max_length=4000)] = "") -> Response:
    return await _post(request, user, inspection_id, {"reason": reason}, "申诉已提交，等待班长处理",
                       lambda: services.appeal(db_of(request), user.actor, inspection_id, reason,
                                               request_origin(request)))


@_route("POST", "/qa/{inspection_id}/decide", SUP)
async def qa_decide(request: Request, inspection_id: int, user: Annotated[ConsoleUser, require(*SUP)],
                    decision: Annotated[str, Form(max_length=16)] = "",
                    note: Annotated[str, Form(max_length=4000)] = "",
                    met: Annotated[list[str] | None, Form()] = None) -> Response:
    met = met or []

    async def go() -> None:
        if decision not in services.DECISIONS:
            raise Invalid("请选择申诉是否成立", field="decision")
        await services.decide(db_of(request), user.actor, inspection_id, decision == "upheld", note,
                              _ids(met), request_origin(request))

    return await _post(request, user, inspection_id, {"decision": decision, "note": note, "met": met},
                       "申诉已处理", go)
