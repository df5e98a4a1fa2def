"""Console pages for the admin: deadline and callback rules per kind (sla_rules)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import Response

from callcenter.core.errors import Conflict, NotFound
from callcenter.core.glossary import KIND_LABELS
from callcenter.people import admin
from callcenter.store.models import Kind
from callcenter.web import auth_web
from callcenter.web.auth_web import ConsoleUser, require
from callcenter.web.render import ADMIN, db_of, page, pages_router, redirect, ref, request_origin

router, _route = pages_router()


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
        changes = await admin.save_sla_rule(db_of(request), user.actor, k, raw, seen=seen, origin=request_origin(request))
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
