"""Console pages for auditors: identity views and the audit log (审计日志)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import Query, Request
from fastapi.responses import Response

from callcenter.core.errors import Invalid
from callcenter.core.glossary import AUDIT_ACTION_LABELS
from callcenter.people import admin
from callcenter.store.models import (
    Role,
)
from callcenter.web.auth_web import ConsoleUser, require
from callcenter.web.inputs import check_year
from callcenter.web.render import ADMIN, CASE, TZ, _int_or_none, db_of, page, pages_router

router, _route = pages_router()

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
        d = date.fromisoformat(v)
    except ValueError:
        raise Invalid(f"日期“{v[:20]}”有误，请按 YYYY-MM-DD 填写", field=field) from None
    check_year(d, field)
    return d


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
# admin: the audit log (审计日志) — the admin only (the rule: the comment above admin.AUDIT_PER_PAGE)
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
    if action and action not in AUDIT_ACTION_LABELS:
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
        "who": dict(actors).get(query["actor"]), "q": query, "actions": AUDIT_ACTION_LABELS,
        "qs": "&".join(f"{k}={quote(v)}" for k, v in query.items() if v), "describe": admin.describe,
    })
