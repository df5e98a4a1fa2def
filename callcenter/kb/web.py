"""The knowledge base's management pages (知识库管理, issue 8), zh-CN, session + CSRF like the
rest of the console: the entry list (filters: status, category, department, ending soon), one
entry with its version history and what each version changed, drafting and revising (a clerk
for their own department only: another department's entry is 403), submitting for review, the
supervisor's review (publish / reject with a reason / withdraw), the synonym groups, a resolved
case's 处理情况 proposed as a draft, and the fragment the case page loads to show which entry
and version answered the case (kb_uses).

Routes register their roles in render.ROUTE_ROLES (the authorisation matrix the tests walk);
app.py includes `router`. The logic is callcenter/kb/services.py's; handlers parse, call, redirect.
"""

from __future__ import annotations

import difflib
import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from markupsafe import Markup, escape
from sqlalchemy import exists, func, or_, select

from callcenter.calls.web import CallerForm, check_intake, intake_once, refused
from callcenter.cases import services
from callcenter.core.errors import Conflict, Forbidden, Invalid, NotFound
from callcenter.core.glossary import KB_ENTRY_STATUS_LABELS, KB_VERSION_STATUS_LABELS
from callcenter.floor import agents
from callcenter.kb import learn as kb_learn
from callcenter.kb import services as kb
from callcenter.store.models import (
    Department,
    KbEntry,
    KbEntryVersion,
    KbStatus,
    KbUse,
    Kind,
    Role,
    Status,
    Ticket,
)
from callcenter.web import auth_web
from callcenter.web.auth_web import ConsoleUser, require
from callcenter.web.render import OP, ROUTE_ROLES, TZ, db_of, page, pages_router, redirect, ref, safe_next

router = APIRouter(dependencies=[Depends(auth_web.check_csrf)], include_in_schema=False)

VIEW = (Role.clerk, Role.supervisor, Role.admin)  # the list, an entry, drafting
PUB = (Role.supervisor, Role.admin)  # review, withdraw, synonyms
PROPOSE = (Role.clerk, Role.supervisor)  # a resolved case → a draft (those who see cases)
CASE = (Role.operator, Role.clerk, Role.supervisor)

FIELDS = (("title", "标题"), ("phrasings", "常见问法"), ("answer", "答复内容"), ("category", "问题分类"),
          ("department", "承办单位"), ("valid_from", "生效日期"), ("valid_until", "失效日期"), ("basis", "依据"))


def _route(method: str, path: str, roles: tuple[Role, ...], **kw: Any) -> Any:
    ROUTE_ROLES[(method, path)] = roles
    return router.api_route(path, methods=[method], **kw)


# ---------------------------------------------------------------------------------------------
# helpers


def _date(v: str, field: str) -> date | None:
    v = (v or "").strip()
    if not v:
        return None
    try:
        return date.fromisoformat(v)
    except ValueError:
        raise Invalid(f"{field}：请填写日期 YYYY-MM-DD", field=field) from None


def _fields(user: ConsoleUser, title: str, answer: str, phrasings: str, category: str, department: str,
            valid_from: str, valid_until: str, basis: str) -> kb.EntryFields:
    dep: str | int | None = None
    if user.role is not Role.clerk and department.strip():
        dep = int(department) if department.strip().isdigit() else department.strip()
    return kb.EntryFields(
        title=title, answer=answer, phrasings=[p.strip() for p in re.split(r"[\n|]", phrasings) if p.strip()],
        category=category.strip() or None, department=dep, valid_from=_date(valid_from, "生效日期"),
        valid_until=_date(valid_until, "失效日期"), basis=basis.strip() or None,
    )


def _may_edit(user: ConsoleUser, e: KbEntry) -> bool:
    return user.role in PUB or (user.role is Role.clerk and e.department_id == user.actor.department_id)


def _may_see(user: ConsoleUser, e: KbEntry) -> None:
    # a clerk reads other departments' published entries, never their unpublished drafts
    if user.role is Role.clerk and e.department_id != user.actor.department_id and e.version == 0:
        raise Forbidden("该条目属于其他承办单位，尚未发布")


def _diff_html(a: str, b: str) -> Markup:
    """Character-level changes (Chinese has no spaces): removed in <del>, added in <ins>."""
    out = []
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            out.append(str(escape(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(f"<del>{escape(a[i1:i2])}</del>")
        if j2 > j1:
            out.append(f"<ins>{escape(b[j1:j2])}</ins>")
    return Markup("".join(out))


def _version_dict(v: KbEntryVersion, deps: dict[int, str]) -> dict[str, Any]:
    return {
        "title": v.title, "phrasings": " | ".join(p for p in (v.phrasings or "").split("|") if p),
        "answer": v.answer, "category": v.category or "", "department": deps.get(v.department_id or 0, ""),
        "valid_from": v.valid_from.isoformat() if v.valid_from else "",
        "valid_until": v.valid_until.isoformat() if v.valid_until else "", "basis": v.basis or "",
    }


def _history(versions: list[KbEntryVersion], deps: dict[int, str]) -> list[dict[str, Any]]:
    """Each version, newest first, with what it changed against the one before."""
    out: list[dict[str, Any]] = []
    prev: dict[str, Any] | None = None
    for v in versions:
        cur = _version_dict(v, deps)
        changes = []
        for k, label in FIELDS:
            if prev is None:
                if cur[k]:
                    changes.append({"label": label, "html": escape(cur[k])})
            elif prev[k] != cur[k]:
                changes.append({"label": label, "html": _diff_html(prev[k], cur[k])})
        out.append({"v": v, "label": KB_VERSION_STATUS_LABELS.get(v.status, v.status), "changes": changes, "first": prev is None})
        prev = cur
    out.reverse()
    return out


async def _dep_names(request: Request) -> dict[int, str]:
    r = await ref(request)
    return {d.id: d.name for d in r.departments.values()}


async def _form_ctx(request: Request, user: ConsoleUser) -> dict[str, Any]:
    r = await ref(request)
    return {"categories": [c for c in r.categories.values() if c.active],
            "departments": [d for d in r.departments.values() if d.active], "is_clerk": user.role is Role.clerk}


def _back(request: Request, code: str, msg: str, kind: str = "ok") -> Response:
    auth_web.flash(request, msg, kind)
    return redirect(f"/kb/entries/{code}")


# ---------------------------------------------------------------------------------------------
# the list


@_route("GET", "/kb/entries", VIEW)
async def entries(
    request: Request, user: Annotated[ConsoleUser, require(*VIEW)],
    status: Annotated[str, Query(pattern="^(|draft|in_review|published|expired)$")] = "",
    category: Annotated[str, Query(max_length=100)] = "",
    department: Annotated[str, Query(max_length=12)] = "",
    expiring: Annotated[str, Query(pattern="^(|7|30|90)$")] = "",
    q: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    db = db_of(request)
    today = kb.today_local()
    cond: list[Any] = []
    pending = exists().where(KbEntryVersion.entry_id == KbEntry.id, KbEntryVersion.status == "in_review")
    if status == "in_review":
        cond.append(pending)
    elif status == "expired":
        cond.append(or_(KbEntry.status == KbStatus.expired, KbEntry.valid_until < today))
    elif status == "published":
        cond += [KbEntry.status == KbStatus.published, or_(KbEntry.valid_until.is_(None), KbEntry.valid_until >= today)]
    elif status == "draft":
        cond.append(KbEntry.status == KbStatus.draft)
    if category:
        cond.append(KbEntry.category == category)
    if department.isdigit():
        cond.append(KbEntry.department_id == int(department))
    if expiring:
        cond += [KbEntry.status == KbStatus.published, KbEntry.valid_until >= today,
                 KbEntry.valid_until <= today + timedelta(days=int(expiring))]
    if q.strip():
        term = q.strip()  # % and _ match themselves (escaped), not every entry
        cond.append(or_(KbEntry.title.contains(term, autoescape=True), KbEntry.code.contains(term, autoescape=True)))
    if user.role is Role.clerk:  # other departments' drafts stay theirs
        cond.append(or_(KbEntry.department_id == user.actor.department_id, KbEntry.version > 0))
    qry = (select(KbEntry, Department.name, pending.label("pending"))
           .outerjoin(Department, Department.id == KbEntry.department_id).where(*cond))
    async with db.session() as s:
        total = (await s.execute(select(func.count()).select_from(KbEntry).where(*cond))).scalar_one()
        rows = (await s.execute(qry.order_by(KbEntry.updated_at.desc(), KbEntry.code).limit(300))).all()
    items = [{"e": e, "department": dn or "", "pending": bool(p), "expired": kb.is_expired(e, today),
              "status_label": "已失效" if kb.is_expired(e, today) and e.version else KB_ENTRY_STATUS_LABELS[e.status.value],
              "mine": _may_edit(user, e)} for e, dn, p in rows]
    notices = await kb.expiry_notices(db, user.actor.department_id if user.role is Role.clerk else None)
    r = await ref(request)
    return page(request, "kb/entries.html", {
        "items": items, "total": total, "notices": notices,
        "f": {"status": status, "category": category, "department": department, "expiring": expiring, "q": q},
        "statuses": KB_ENTRY_STATUS_LABELS, "categories": [c for c in r.categories.values() if c.active],
        "departments": [d for d in r.departments.values() if d.active],
    })


# ---------------------------------------------------------------------------------------------
# one entry, drafting, review


@_route("GET", "/kb/entries/new", VIEW)
async def new_entry(request: Request, user: Annotated[ConsoleUser, require(*VIEW)]) -> Response:
    return page(request, "kb/edit.html", await _form_ctx(request, user) | {"e": None, "v": {}})


@_route("POST", "/kb/entries", VIEW)
async def create_entry(
    request: Request, user: Annotated[ConsoleUser, require(*VIEW)],
    code: Annotated[str, Form(max_length=32)], title: Annotated[str, Form(max_length=300)],
    answer: Annotated[str, Form(max_length=10000)], phrasings: Annotated[str, Form(max_length=5000)] = "",
    category: Annotated[str, Form(max_length=100)] = "", department: Annotated[str, Form(max_length=100)] = "",
    valid_from: Annotated[str, Form(max_length=10)] = "", valid_until: Annotated[str, Form(max_length=10)] = "",
    basis: Annotated[str, Form(max_length=2000)] = "", note: Annotated[str, Form(max_length=500)] = "",
    then: Annotated[str, Form(pattern="^(save|submit)$")] = "save",
) -> Response:
    db = db_of(request)
    code = code.strip()
    try:
        f = _fields(user, title, answer, phrasings, category, department, valid_from, valid_until, basis)
        await kb.create_draft(db, user.actor, code, f, note=note.strip() or None)
        if then == "submit":
            await kb.submit(db, user.actor, code)
    except (Invalid, Conflict) as e:
        auth_web.flash(request, f"未保存：{e.message}", "error")
        return redirect("/kb/entries/new")
    return _back(request, code, f"已保存草稿 {code}" + ("，已提交审核" if then == "submit" else ""))


@_route("GET", "/kb/entries/{code}", VIEW)
async def entry_page(request: Request, code: str, user: Annotated[ConsoleUser, require(*VIEW)]) -> Response:
    db = db_of(request)
    e = await kb.get(db, code)
    _may_see(user, e)
    versions = await kb.history(db, code)
    if user.role is Role.clerk and e.department_id != user.actor.department_id:
        versions = [v for v in versions if v.status in ("published", "superseded")]
    deps = await _dep_names(request)
    pending = next((v for v in versions if v.version == e.draft_version), None)
    async with db.session() as s:
        uses = (await s.execute(select(func.count(KbUse.id)).where(KbUse.entry_id == e.id))).scalar_one()
    return page(request, "kb/entry.html", {
        "e": e, "department": deps.get(e.department_id or 0, ""), "history": _history(versions, deps),
        "pending": pending, "expired": kb.is_expired(e), "uses": uses,
        "status_label": "已失效" if kb.is_expired(e) and e.version else KB_ENTRY_STATUS_LABELS[e.status.value],
        "may_edit": _may_edit(user, e), "may_review": user.role in PUB,
        "phrasings": [p for p in (e.phrasings or "").split("|") if p], "KB_VERSION_STATUS_LABELS": KB_VERSION_STATUS_LABELS,
        "learned": [p for p in (e.learned or "").split("|") if p],
    })


@_route("GET", "/kb/entries/{code}/edit", VIEW)
async def edit_entry(request: Request, code: str, user: Annotated[ConsoleUser, require(*VIEW)]) -> Response:
    db = db_of(request)
    e = await kb.get(db, code)
    if not _may_edit(user, e):
        raise Forbidden("该条目属于其他承办单位，您不能修改")
    versions = await kb.history(db, code)
    base = next((v for v in versions if v.version == e.draft_version), None) or next(
        (v for v in versions if v.version == e.version), None) or (versions[-1] if versions else None)
    v = {} if base is None else {
        "title": base.title, "answer": base.answer, "phrasings": "\n".join(p for p in base.phrasings.split("|") if p),
        "category": base.category or "", "department_id": base.department_id,
        "valid_from": base.valid_from.isoformat() if base.valid_from else "",
        "valid_until": base.valid_until.isoformat() if base.valid_until else "", "basis": base.basis or "",
    }
    return page(request, "kb/edit.html", await _form_ctx(request, user) | {"e": e, "v": v})


@_route("POST", "/kb/entries/{code}", VIEW)
async def revise_entry(
    request: Request, code: str, user: Annotated[ConsoleUser, require(*VIEW)],
    title: Annotated[str, Form(max_length=300)], answer: Annotated[str, Form(max_length=10000)],
    phrasings: Annotated[str, Form(max_length=5000)] = "", category: Annotated[str, Form(max_length=100)] = "",
    department: Annotated[str, Form(max_length=100)] = "", valid_from: Annotated[str, Form(max_length=10)] = "",
    valid_until: Annotated[str, Form(max_length=10)] = "", basis: Annotated[str, Form(max_length=2000)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
    then: Annotated[str, Form(pattern="^(save|submit)$")] = "save",
) -> Response:
    db = db_of(request)
    e = await kb.get(db, code)
    if not _may_edit(user, e):
        raise Forbidden("该条目属于其他承办单位，您不能修改")
    try:
        f = _fields(user, title, answer, phrasings, category, department, valid_from, valid_until, basis)
        v = await kb.revise(db, user.actor, code, f, note=note.strip() or None)
        if then == "submit":
            await kb.submit(db, user.actor, code)
    except (Invalid, Conflict) as ex:
        auth_web.flash(request, f"未保存：{ex.message}", "error")
        return redirect(f"/kb/entries/{code}/edit")
    return _back(request, code, f"已保存第 {v.version} 版草稿" + ("，已提交审核" if then == "submit" else ""))


@_route("POST", "/kb/entries/{code}/submit", VIEW)
async def submit_entry(request: Request, code: str, user: Annotated[ConsoleUser, require(*VIEW)]) -> Response:
    db = db_of(request)
    e = await kb.get(db, code)
    if not _may_edit(user, e):
        raise Forbidden("该条目属于其他承办单位，您不能提交")
    try:
        await kb.submit(db, user.actor, code)
    except Conflict as ex:
        return _back(request, code, f"未提交：{ex.message}", "error")
    return _back(request, code, "已提交审核")


@_route("POST", "/kb/entries/{code}/publish", PUB)
async def publish_entry(request: Request, code: str, user: Annotated[ConsoleUser, require(*PUB)],
                        version: Annotated[int | None, Form()] = None) -> Response:
    try:
        e = await kb.publish(db_of(request), user.actor, code, version)
    except (Conflict, NotFound) as ex:
        return _back(request, code, f"未发布：{ex.message}", "error")
    return _back(request, code, f"已发布第 {e.version} 版" + ("（已过失效日期，标为已失效）" if kb.is_expired(e) else ""))


@_route("POST", "/kb/entries/{code}/reject", PUB)
async def reject_entry(request: Request, code: str, user: Annotated[ConsoleUser, require(*PUB)],
                       reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    if not reason.strip():
        return _back(request, code, "未退回：请填写退回理由", "error")
    try:
        await kb.reject(db_of(request), user.actor, code, reason.strip())
    except Conflict as ex:
        return _back(request, code, f"未退回：{ex.message}", "error")
    return _back(request, code, "已退回修改")


@_route("POST", "/kb/entries/{code}/expire", PUB)
async def expire_entry(request: Request, code: str, user: Annotated[ConsoleUser, require(*PUB)]) -> Response:
    await kb.expire(db_of(request), user.actor, code)
    return _back(request, code, "已撤下（已失效）：检索仍可查到，但不能用于答复")


# ---------------------------------------------------------------------------------------------
# synonyms


@_route("GET", "/kb/synonyms", PUB)
async def synonyms(request: Request, user: Annotated[ConsoleUser, require(*PUB)]) -> Response:
    return page(request, "kb/synonyms.html", {"groups": await kb.synonym_groups(db_of(request))})


@_route("POST", "/kb/synonyms", PUB)
async def add_synonyms(request: Request, user: Annotated[ConsoleUser, require(*PUB)],
                       words: Annotated[str, Form(max_length=500)] = "",
                       note: Annotated[str, Form(max_length=200)] = "") -> Response:
    ws = [w for w in re.split(r"[\s,，、/]+", words) if w]
    if len(set(ws)) < 2:
        auth_web.flash(request, "未添加：同义词组至少要有两个不同的词", "error")
        return redirect("/kb/synonyms")
    try:
        await kb.add_synonyms(db_of(request), user.actor, ws, note.strip() or None)
    except Invalid as ex:
        auth_web.flash(request, f"未添加：{ex.message}", "error")
    else:
        auth_web.flash(request, f"已添加同义词组：{words.strip()}", "ok")
    return redirect("/kb/synonyms")


@_route("POST", "/kb/synonyms/{group_id}/delete", PUB)
async def remove_synonyms(request: Request, group_id: int, user: Annotated[ConsoleUser, require(*PUB)]) -> Response:
    try:
        await kb.remove_synonyms(db_of(request), user.actor, group_id)
    except NotFound as ex:
        auth_web.flash(request, f"未删除：{ex.message}", "error")
    else:
        auth_web.flash(request, "已删除同义词组", "ok")
    return redirect("/kb/synonyms")


# ---------------------------------------------------------------------------------------------
# callers' phrasings learned from direct answers (issue 16): the department reviews them

PHRASING_SOURCES = {"search": "接线员检索", "history": "历史直接答复"}
PHRASING_STATUS = {"proposed": "待审", "published": "已发布", "rejected": "已驳回"}


@_route("GET", "/kb/phrasings", VIEW)
async def phrasings(request: Request, user: Annotated[ConsoleUser, require(*VIEW)],
                    status: Annotated[str, Query(pattern="^(proposed|published|rejected)$")] = "proposed") -> Response:
    """The callers' phrasings proposed for the user's department's entries (a clerk), or every
    department's (supervisor, admin): publish (searched like 常见问法 from then on) or reject."""
    rows = await kb_learn.pending(db_of(request), user.actor, status=status)
    return page(request, "kb/phrasings.html", {
        "rows": rows, "status": status, "SOURCES": PHRASING_SOURCES, "STATUS": PHRASING_STATUS,
    })


@_route("POST", "/kb/phrasings/{phrasing_id}/{action}", VIEW)
async def review_phrasing(request: Request, phrasing_id: int, action: str,
                          user: Annotated[ConsoleUser, require(*VIEW)]) -> Response:
    if action not in ("publish", "reject"):
        raise NotFound(f"没有“{action}”这一操作")
    try:
        p = await kb_learn.review(db_of(request), user.actor, phrasing_id, action == "publish")
    except (NotFound, Conflict) as ex:
        auth_web.flash(request, f"未处理：{ex.message}", "error")
    else:
        auth_web.flash(request, f"已发布来电问法「{p.text}」，检索时按常见问法匹配" if action == "publish"
                       else f"已驳回来电问法「{p.text}」", "ok")
    return redirect("/kb/phrasings")


# ---------------------------------------------------------------------------------------------
# cases: propose a resolved case's 处理情况; which entry answered a case


def _suggest_code(number: str) -> str:
    return ("KB-" + re.sub(r"[^A-Za-z0-9_-]", "", number))[:32]


@_route("GET", "/kb/propose/{number}", PROPOSE)
async def propose_form(request: Request, number: str, user: Annotated[ConsoleUser, require(*PROPOSE)]) -> Response:
    t = await services.get(db_of(request), user.actor, number, record_view=False)
    if t.status not in (Status.resolved, Status.closed) or not (t.resolution or "").strip():
        auth_web.flash(request, "只有已办结、有处理情况的工单可以提议为知识库条目", "error")
        return redirect(f"/cases/{number}")
    return page(request, "kb/propose.html", {"t": t, "code": _suggest_code(number),
                                             "title": t.content.strip().splitlines()[0][:300]})


@_route("POST", "/kb/propose/{number}", PROPOSE)
async def propose(request: Request, number: str, user: Annotated[ConsoleUser, require(*PROPOSE)],
                  code: Annotated[str, Form(max_length=32)] = "",
                  title: Annotated[str, Form(max_length=300)] = "") -> Response:
    db = db_of(request)
    await services.get(db, user.actor, number, record_view=False)  # 403 for another department's case
    code = code.strip() or _suggest_code(number)
    try:
        await kb.propose_from_case(db, user.actor, number, code, title=title.strip() or None)
    except (Invalid, Conflict) as ex:
        auth_web.flash(request, f"未提议：{ex.message}", "error")
        return redirect(f"/cases/{number}")
    auth_web.flash(request, f"已根据工单 {number} 的处理情况创建知识库草稿 {code}，请完善后提交审核", "ok")
    return redirect(f"/kb/entries/{code}/edit")


@_route("GET", "/cases/{number}/kb", CASE)
async def case_kb(request: Request, number: str, user: Annotated[ConsoleUser, require(*CASE)]) -> Response:
    """A fragment for the case page: the entries (and versions) that answered the case."""
    db = db_of(request)
    t = await services.get(db, user.actor, number, record_view=False)
    async with db.session() as s:
        rows = (await s.execute(
            select(KbUse.version, KbUse.at, KbEntry).join(KbEntry, KbEntry.id == KbUse.entry_id)
            .join(Ticket, Ticket.id == KbUse.ticket_id).where(KbUse.ticket_id == t.id).order_by(KbUse.id)
        )).all()
    uses = [{"version": v, "at": at, "e": e, "current": e.version == v and not kb.is_expired(e),
             "expired": kb.is_expired(e)} for v, at, e in rows]
    return page(request, "kb/_case_kb.html", {"uses": uses, "may_open": user.role in VIEW})


# ---------------------------------------------------------------------------------------------
# knowledge base (知识库, issue 8): suggestions beside 来电登记, 直接答复 with an entry
# ---------------------------------------------------------------------------------------------
# the console's knowledge-base pages, on the console's router (registered before `router` above)
console_router, console_route = pages_router()
KB_SUGGEST_LIMIT = 6


@console_route("GET", "/console/kb/suggest", OP)
async def kb_suggest(request: Request, user: Annotated[ConsoleUser, require(*OP)],
                     q: Annotated[str, Query(max_length=5000)] = "",
                     limit: Annotated[int, Query(ge=1, le=20)] = KB_SUGGEST_LIMIT) -> Response:
    """The ranked entries for what the operator has typed, as an HTML fragment (matches in
    <mark>, expired entries marked 已失效 without an answer button); operator.js fetches it
    as they type (debounced), so no page reload."""

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
    kb_search: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """直接答复 with a knowledge-base entry (`kb_entry` = "编号:版本" as the operator saw it):
    case `number` if it is registered already, else the 来电登记 form is registered first and
    then answered — one action, validated like any registration (a phone to call back or
    不需回访; kind 政策咨询 unless the operator chose another; content). The case records the
    entry and its version (kb_uses). `kb_search` (kb.js: the text whose suggestions the operator
    chose from) is proposed to the entry's department as a caller's phrasing (kb_learn)."""

    db, bus = db_of(request), request.app.state.bus
    code, _, seen = kb_entry.partition(":")
    searched = kb_search.strip() or kb_q.strip()
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
            t = await kb.answer_case(db, user.actor, e.code, number.strip(), version=e.version, bus=bus,
                                     search_text=searched)
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
        out = await intake_once(request, user, caller, data, "answer", {}, kb_entry=e, search_text=searched)
    except (Invalid, Conflict, Forbidden, NotFound) as ex:
        return await refused(request, user, values, {ex.field or "form": ex.message}, caller.form_key,
                             status_code=ex.status_code)
    auth_web.flash(request, out["message"], out["kind"])
    return redirect(out["to"])


KB_REPORT = (Role.supervisor, Role.admin)
KB_PERIODS = (("today", "今日"), ("month", "本月"), ("year", "本年"))


@console_route("GET", "/kb", KB_REPORT)
async def kb_report(request: Request, user: Annotated[ConsoleUser, require(*KB_REPORT)],
                    period: Annotated[str, Query(pattern="^(today|month|year)$")] = "month") -> Response:
    """The knowledge base's feedback loop: 直接答复 and 直接办结率 per period (the wall's figures),
    how many of those direct answers quoted an entry, 直接答复 per entry, entries whose direct
    answers got 不满意 (to review), entries ending within 30 days."""

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

