"""Reference data and people, as the admin console edits them (data, never cases); the
deadline and callback rules per kind (sla_rules); the list of who viewed a whistleblower's
identity (supervisors and the admin).

Every admin change writes one audit_log row (`record`: who, what, old → new) in the change's
own transaction; a change that changes nothing writes nothing. The database refuses to update
or delete audit_log rows (migration 6969cb17e4e0).

Every change of reference data invalidates this process's RefData cache; other processes
(web workers, the scheduler) pick it up within the cache's TTL (refdata.py, 30 s).
"""

from __future__ import annotations

import getpass
import re
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.cases import services
from callcenter.cases.workflow import Actor
from callcenter.core.errors import Conflict, Forbidden, Invalid, NotFound
from callcenter.core.glossary import (
    AUDIT_FIELD_LABELS,
    IDENTITY_VIEW_PAGE_LABELS,
    KIND_LABELS,
    ROLE_LABELS,
)
from callcenter.people import auth
from callcenter.store.audit import Origin, record
from callcenter.store.db import Database
from callcenter.store.models import (
    AuditEntry,
    Category,
    Department,
    Kind,
    Role,
    RoutingRule,
    SlaRule,
    Ticket,
    TicketEvent,
    User,
    utcnow,
)


def _require_admin(actor: Actor) -> None:
    if actor.role is not Role.admin:
        raise Forbidden("只有管理员可以维护基础数据和用户")


# ---------------------------------------------------------------------------------------------
# the audit log (audit_log): one row per admin change, in the change's transaction
# ---------------------------------------------------------------------------------------------
PASSWORD_CHANGED = "password changed"  # what `changes` says of a password: never the password or its hash
PASSWORD_SET = "password set"
TOKEN_REVOKED = "token revoked"
TOKEN_ISSUED = "token issued"


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, list[Any]]:
    """field → [old, new] for the fields whose value changed."""
    return {k: [old.get(k), v] for k, v in new.items() if old.get(k) != v}


def created(new: Mapping[str, Any]) -> dict[str, list[Any]]:
    return {k: [None, v] for k, v in new.items() if v is not None}


async def overview(db: Database) -> dict[str, Any]:
    async with db.session() as s:
        deps = list((await s.scalars(select(Department).order_by(Department.id))).all())
        cats = list((await s.scalars(select(Category).order_by(Category.id))).all())
        rules = list((await s.scalars(select(RoutingRule).order_by(RoutingRule.priority.desc(), RoutingRule.id))).all())
        users = list((await s.scalars(select(User).order_by(User.role, User.username))).all())
    return {"departments": deps, "categories": cats, "rules": rules, "users": users,
            "dep_names": {d.id: d.name for d in deps}, "cat_names": {c.id: c.name for c in cats}}


def _clean(v: str | None) -> str | None:
    v = (v or "").strip()
    return v or None


async def _dep_code(s: AsyncSession, dep_id: int | None) -> str | None:
    if dep_id is None:
        return None
    d = await s.get(Department, dep_id)
    return d.code if d else None


async def add_department(db: Database, actor: Actor, code: str, name: str, phone: str | None = None, *,
                         areas: str | None = None, origin: Origin | None = None) -> None:
    _require_admin(actor)
    code_, name_ = _clean(code), _clean(name)
    if not code_ or not name_:
        raise Invalid("请填写代码和名称", field="code" if not code_ else "name")
    async with db.transaction() as s:
        if (await s.execute(select(Department.id).where((Department.code == code_) | (Department.name == name_)))).first():
            raise Conflict(f"承办单位 {code_} / {name_} 已存在")
        d = Department(code=code_, name=name_, phone=_clean(phone), active=True, areas=_clean(areas))
        s.add(d)
        await s.flush()
        record(s, actor, "department.create", "department", d.id, name_,
               created({"code": code_, "name": name_, "phone": d.phone, "areas": d.areas, "active": True}), origin)
    db.refcache.invalidate()


async def set_department_active(db: Database, actor: Actor, dep_id: int, active: bool, *,
                                origin: Origin | None = None) -> None:
    _require_admin(actor)
    async with db.transaction() as s:
        d = await s.get(Department, dep_id)
        if d is None:
            raise NotFound(f"承办单位 {dep_id} 不存在")
        if d.active == active:
            return
        record(s, actor, "department.update", "department", d.id, d.name, {"active": [d.active, active]}, origin)
        d.active = active
    db.refcache.invalidate()


async def save_category(db: Database, actor: Actor, cat_id: int | None, name: str, default_department_id: int | None,
                        resolve_working_days: int | None, callback_required: bool, active: bool = True, *,
                        origin: Origin | None = None) -> None:
    """Add (cat_id None) or change a topic: its default department, deadline, callback rule."""
    _require_admin(actor)
    name_ = _clean(name)
    if not name_:
        raise Invalid("请填写名称", field="name")
    if resolve_working_days is not None and not 1 <= resolve_working_days <= 60:
        raise Invalid("办理时限须为 1–60 个工作日", field="resolve_working_days")
    async with db.transaction() as s:
        if default_department_id is not None and await s.get(Department, default_department_id) is None:
            raise Invalid("承办单位不存在", field="default_department_id")
        old: dict[str, Any] = {}
        if cat_id is None:
            if (await s.execute(select(Category.id).where(Category.name == name_))).first():
                raise Conflict(f"问题分类 {name_} 已存在")
            c = Category(name=name_)
            s.add(c)
        else:
            found = await s.get(Category, cat_id)
            if found is None:
                raise NotFound(f"问题分类 {cat_id} 不存在")
            c = found
            if name_ != c.name and (await s.execute(select(Category.id).where(Category.name == name_))).first():
                raise Conflict(f"问题分类 {name_} 已存在")
            old = {"name": c.name, "default_department": await _dep_code(s, c.default_department_id),
                   "resolve_working_days": c.resolve_working_days, "callback_required": c.callback_required,
                   "active": c.active}
            c.name = name_
        c.default_department_id = default_department_id
        c.resolve_working_days = resolve_working_days
        c.callback_required = callback_required
        c.active = active
        new = {"name": name_, "default_department": await _dep_code(s, default_department_id),
               "resolve_working_days": resolve_working_days, "callback_required": callback_required, "active": active}
        await s.flush()
        if cat_id is None:
            record(s, actor, "category.create", "category", c.id, name_, created(new), origin)
        elif changes := diff(old, new):
            record(s, actor, "category.update", "category", c.id, name_, changes, origin)
    db.refcache.invalidate()


async def add_rule(db: Database, actor: Actor, department_id: int, category_id: int | None, keywords: str,
                   priority: int, *, area: str | None = None, origin: Origin | None = None) -> None:
    _require_admin(actor)
    area_ = _clean(area)
    if not keywords.strip() and category_id is None and not area_:
        raise Invalid("规则须有问题分类、关键词或属地", field="keywords")
    async with db.transaction() as s:
        dep = await s.get(Department, department_id)
        if dep is None:
            raise Invalid("承办单位不存在", field="department_id")
        cat = await s.get(Category, category_id) if category_id is not None else None
        if category_id is not None and cat is None:
            raise Invalid("问题分类不存在", field="category_id")
        r = RoutingRule(department_id=department_id, category_id=category_id, keywords=keywords.strip(),
                        priority=priority, active=True, area=area_)
        s.add(r)
        await s.flush()
        record(s, actor, "routing_rule.create", "routing_rule", r.id, f"{cat.name if cat else '（任意分类）'} → {dep.name}",
               created({"category": cat.name if cat else None, "keywords": r.keywords or None, "area": area_,
                        "department": dep.code, "priority": priority, "active": True}), origin)
    db.refcache.invalidate()


async def set_rule_active(db: Database, actor: Actor, rule_id: int, active: bool, *,
                          origin: Origin | None = None) -> None:
    _require_admin(actor)
    async with db.transaction() as s:
        r = await s.get(RoutingRule, rule_id)
        if r is None:
            raise NotFound(f"派单规则 {rule_id} 不存在")
        if r.active == active:
            return
        dep = await s.get(Department, r.department_id)
        cat = await s.get(Category, r.category_id) if r.category_id is not None else None
        record(s, actor, "routing_rule.update", "routing_rule", r.id,
               f"{cat.name if cat else '（任意分类）'} → {dep.name if dep else r.department_id}",
               {"active": [r.active, active]}, origin)
        r.active = active
    db.refcache.invalidate()


async def add_user(db: Database, actor: Actor, username: str, display_name: str, role: Role,
                   department_code: str | None, seat: str | None, password: str, *,
                   origin: Origin | None = None) -> None:
    _require_admin(actor)
    username_ = _clean(username)
    if not username_:
        raise Invalid("请填写用户名", field="username")
    if len(password or "") < 8:
        raise Invalid("密码至少 8 个字符", field="password")
    seat_ = _clean(seat)
    async with db.transaction() as s:
        if seat_ and (await s.execute(select(User.id).where(User.seat == seat_))).first():
            raise Conflict(f"坐席 {seat_} 已属于其他用户")
        u = await auth.create_user(s, username_, role, display_name=_clean(display_name) or username_,
                                   department=_clean(department_code), password=password, seat=seat_)
        record(s, actor, "user.create", "user", u.id, u.username,
               created({"username": u.username, "display_name": u.display_name, "role": role.value,
                        "department": await _dep_code(s, u.department_id), "seat": seat_, "active": True})
               | {"password": PASSWORD_SET}, origin)


def local_tool(who: str | None = None) -> str:
    """Who a local tool (`hotline users …`, `hotline export …`) acts as in the audit log: `who`,
    or the operating system's account at this host."""
    if who is None:
        try:
            who = f"{getpass.getuser()}@{socket.gethostname()}"
        except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
            who = f"?@{socket.gethostname()}"
    return f"命令行 {who}"


async def cli_add_user(db: Database, username: str, role: Role, *, display_name: str | None = None,
                       department: str | None = None, password: str | None = None, seat: str | None = None) -> User:
    """`hotline users add`: the user and its audit entry in one transaction (actor: local_tool())."""
    async with db.transaction() as s:
        u = await auth.create_user(s, username, role, display_name=display_name, department=department,
                                   password=password, seat=seat)
        record(s, None, "user.create", "user", u.id, u.username,
               created({"username": u.username, "display_name": u.display_name, "role": role.value,
                        "department": await _dep_code(s, u.department_id), "seat": seat, "active": True})
               | ({"password": PASSWORD_SET} if password else {}), actor_name=local_tool())
    return u


async def cli_issue_token(db: Database, username: str) -> str:
    """`hotline users token`: a new bearer token (replacing the old one), recorded in the audit
    log (never the token). Shown once."""
    token = secrets.token_urlsafe(32)
    async with db.transaction() as s:
        u = (await s.execute(select(User).where(User.username == username))).scalar_one_or_none()
        if u is None:
            raise NotFound(f"用户“{username}”不存在")
        u.token_hash = auth.token_hash(token)
        record(s, None, "user.token", "user", u.id, u.username, {"api_token": TOKEN_ISSUED}, actor_name=local_tool())
    return token


async def update_user(db: Database, actor: Actor, user_id: int, *, role: Role, department_id: int | None,
                      seat: str | None, active: bool, password: str | None = None,
                      origin: Origin | None = None) -> None:
    _require_admin(actor)
    if role is Role.clerk and department_id is None:
        raise Invalid("承办人须指定承办单位", field="department_id")
    if password and len(password) < 8:
        raise Invalid("密码至少 8 个字符", field="password")
    async with db.transaction() as s:
        u = await s.get(User, user_id)
        if u is None:
            raise NotFound(f"用户 {user_id} 不存在")
        seat_ = _clean(seat)
        if seat_ and (await s.execute(select(User.id).where(User.seat == seat_, User.id != user_id))).first():
            raise Conflict(f"坐席 {seat_} 已属于其他用户")
        dep_id = department_id if role is Role.clerk else None
        if dep_id is not None and await s.get(Department, dep_id) is None:
            raise Invalid("承办单位不存在", field="department_id")
        old = {"role": u.role.value, "department": await _dep_code(s, u.department_id), "seat": u.seat,
               "active": u.active}
        changes: dict[str, Any] = diff(old, {"role": role.value, "department": await _dep_code(s, dep_id),
                                             "seat": seat_, "active": active})
        u.role, u.department_id, u.seat, u.active = role, dep_id, seat_, active
        if password:
            u.password_hash = auth.hash_password(password)
            u.failed_logins, u.locked_until = 0, None
            changes["password"] = PASSWORD_CHANGED
        if not active and u.token_hash is not None:
            u.token_hash = None
            changes["api_token"] = TOKEN_REVOKED
        # a password change or a deactivation ends every console session of the user at once
        if password or not active:
            ended = await auth.revoke_user_sessions(s, u.id, "password" if password else "deactivated")
            if ended:
                changes["sessions"] = f"已注销 {ended} 个"
        if changes:
            record(s, actor, "user.update", "user", u.id, u.username, changes, origin)


async def revoke_session(db: Database, actor: Actor, sid: str, origin: Origin | None = None) -> None:
    """The admin's 注销 of one console session (audit-logged)."""
    _require_admin(actor)
    async with db.transaction() as s:
        row = await auth.revoke_session_by_id(s, sid, "admin")
        if row is None:
            raise NotFound("该会话不存在或已结束")
        u = await s.get(User, row.user_id)
        record(s, actor, "session.revoke", "user", row.user_id, u.username if u else None,
               {"session": f"{row.ip or '—'} · {row.created_at:%Y-%m-%d %H:%M} UTC"}, origin)


async def locked_until(db: Database, username: str, now: datetime | None = None) -> datetime | None:
    """When the account's lock-out (after repeated failures) ends, if it is locked now."""
    now = now or utcnow()
    async with db.session() as s:
        until = (await s.execute(select(User.locked_until).where(User.username == username))).scalar_one_or_none()
    return until if until and until > now else None


async def user_by_id(db: Database, user_id: int) -> User | None:
    async with db.session() as s:
        return (await s.execute(select(User).where(User.id == user_id, User.active.is_(True)))).scalar_one_or_none()


# ---------------------------------------------------------------------------------------------
# deadline and callback rules per kind (sla_rules)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SlaField:
    name: str  # the sla_rules column
    label: str
    unit: str  # 工作日 | 分钟（工作时间） | 分钟 | 次
    lo: int
    hi: int  # a working-minute field's bound is in working days × minutes per working day
    group: str
    note: str = ""

    @property
    def working_minutes(self) -> bool:
        return self.unit == WORK_MIN


WORK_MIN = "分钟（工作时间）"
# the fields in the order the form shows them; `hi` of working-minute fields: 10 working days
SLA_FIELDS: tuple[SlaField, ...] = (
    SlaField("resolve_working_days", "办理期限", "工作日", 1, 60, "办理", "问题分类可单独设定"),
    SlaField("urgent_resolve_working_days", "紧急件办理期限", "工作日", 1, 60, "办理", "不长于办理期限"),
    SlaField("max_extension_working_days", "最长延期", "工作日", 1, 60, "办理"),
    SlaField("dispatch_working_days", "派单期限", "工作日", 0, 10, "签收与退单",
             "0 = 登记当个工作日下班前（下班后或休息日登记的，顺延到下一个工作日）"),
    SlaField("accept_working_minutes", "签收期限", WORK_MIN, 10, 10, "签收与退单",
             "目前各类诉求均按“民众诉求”一行计算"),
    SlaField("urgent_accept_working_minutes", "紧急件签收期限", WORK_MIN, 5, 10, "签收与退单", "不长于签收期限"),
    SlaField("return_working_days", "退单时限", "工作日", 1, 10, "签收与退单"),
    SlaField("callback_working_days", "回访期限（办结后）", "工作日", 1, 10, "回访"),
    SlaField("callback_max_attempts", "回访最多拨打", "次", 1, 10, "回访"),
    SlaField("callback_attempt_gap_minutes", "两次拨打至少间隔", "分钟", 10, 1440, "回访", "且须在另一个半天"),
    SlaField("missed_callback_working_minutes", "未接来电回拨期限", WORK_MIN, 10, 10, "回访",
             "未接来电尚无工单，按“民众诉求”一行执行"),
    SlaField("remind_before_working_days", "到期前提醒", "工作日", 1, 60, "提醒与督办", "不超过办理期限"),
    SlaField("remind_before_working_minutes", "到期前再次提醒", WORK_MIN, 10, 10, "提醒与督办", "不超过办理期限"),
    SlaField("escalate_after_working_days", "超期后督办", "工作日", 1, 30, "提醒与督办"),
)
SLA_BY_NAME = {f.name: f for f in SLA_FIELDS}


def minutes_per_working_day(cal: Any) -> int:
    return sum((b.hour * 60 + b.minute) - (a.hour * 60 + a.minute) for a, b in cal.hours)


def sla_bounds(f: SlaField, minutes_per_day: int) -> tuple[int, int]:
    return f.lo, f.hi * minutes_per_day if f.working_minutes else f.hi


class SlaInvalid(Invalid):
    """The SLA form's errors, one per field (`errors`: column → message in Chinese)."""

    def __init__(self, errors: dict[str, str]) -> None:
        first = next(iter(errors))
        super().__init__("；".join(errors.values()), field=first)
        self.errors = errors


def check_sla(raw: Mapping[str, str | None], minutes_per_day: int) -> dict[str, int]:
    """The form's values as integers, or SlaInvalid naming every wrong field: each an integer
    within its range; the urgent deadlines no longer than the normal ones; a reminder before
    the deadline no earlier than the deadline's start (it cannot exceed the deadline)."""
    values: dict[str, int] = {}
    errors: dict[str, str] = {}
    for f in SLA_FIELDS:
        v = (raw.get(f.name) or "").strip()
        lo, hi = sla_bounds(f, minutes_per_day)
        if not v:
            errors[f.name] = f"请填写{f.label}（{f.unit}）"
            continue
        if not re.fullmatch(r"[0-9]{1,6}", v):
            errors[f.name] = f"{f.label}须为整数（{f.unit}），“{v[:20]}”不是"
            continue
        n = int(v)
        if not lo <= n <= hi:
            errors[f.name] = f"{f.label}应在 {lo}–{hi} {f.unit}之间"
            continue
        values[f.name] = n
    days = values.get("resolve_working_days")

    def cross(name: str, limit: int | None, message: str) -> None:
        if name in values and limit is not None and values[name] > limit:
            errors[name] = message

    cross("urgent_resolve_working_days", days, f"紧急件办理期限不能长于办理期限（{days} 工作日）")
    acc = values.get("accept_working_minutes")
    cross("urgent_accept_working_minutes", acc, f"紧急件签收期限不能长于签收期限（{acc} 分钟）")
    cross("remind_before_working_days", days, f"到期前提醒不能超过办理期限（{days} 工作日）")
    if days is not None:
        cross("remind_before_working_minutes", days * minutes_per_day,
              f"到期前再次提醒不能超过办理期限（{days} 工作日 = {days * minutes_per_day} 工作分钟）")
    if errors:
        raise SlaInvalid({f.name: errors[f.name] for f in SLA_FIELDS if f.name in errors})
    return values


def sla_values(r: SlaRule) -> dict[str, int]:
    return {f.name: getattr(r, f.name) for f in SLA_FIELDS}


def sla_fingerprint(values: Mapping[str, int]) -> str:
    """The values a form was filled from, as the form carries them back (`seen`): a save over
    values someone else changed meanwhile is refused instead of silently undoing theirs."""
    return ",".join(str(values[f.name]) for f in SLA_FIELDS)


async def sla_rules(db: Database) -> list[SlaRule]:
    """The rows of sla_rules in the order of Kind."""
    async with db.session() as s:
        rows = {r.kind: r for r in (await s.scalars(select(SlaRule))).all()}
    return [rows[k] for k in Kind if k in rows]


async def save_sla_rule(db: Database, actor: Actor, kind: Kind | str, raw: Mapping[str, str | None],
                        seen: str | None = None, now: datetime | None = None,
                        origin: Origin | None = None) -> dict[str, tuple[int, int]]:
    """Change one kind's rules from the form's text values. Returns what changed (column →
    (old, new)); nothing changed → {} and nothing written. The row and its audit entry (old →
    new) are one transaction. Invalid (SlaInvalid) → nothing written; `seen` (sla_fingerprint
    of the values the form showed) differing from the stored values → Conflict."""
    _require_admin(actor)
    try:
        kind_ = Kind(kind)
    except ValueError:
        raise NotFound(f"没有诉求类型“{kind}”的规则") from None
    values = check_sla(raw, minutes_per_working_day((await db.ref()).calendar))
    now = now or utcnow()
    async with db.transaction() as s:
        # FOR UPDATE (PostgreSQL): two admins saving the same kind take turns, so the second
        # compares `seen` with the first's values; SQLite's BEGIN IMMEDIATE serialises already
        r = (await s.execute(select(SlaRule).where(SlaRule.kind == kind_).with_for_update())).scalar_one_or_none()
        if r is None:
            raise NotFound(f"没有诉求类型“{kind_.value}”的规则")
        old = sla_values(r)
        if seen is not None and seen != sla_fingerprint(old):
            raise Conflict("这些规则已被他人修改，请按当前值重新填写")
        changes = {k: (old[k], v) for k, v in values.items() if old[k] != v}
        if not changes:
            return {}
        for k, (_, v) in changes.items():
            setattr(r, k, v)
        record(s, actor, "sla.update", "sla_rule", kind_.value, KIND_LABELS[kind_],
               {k: [a, b] for k, (a, b) in changes.items()}, origin, now=now)
    # this process at once; other processes (web workers, the scheduler) when their cached copy
    # expires (RefCache.ttl, 30 s): they re-read sla_rules on their next use after that
    db.refcache.invalidate()
    return changes


# ---------------------------------------------------------------------------------------------
# who viewed a whistleblower's identity, across cases (services.get records it)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class IdentityView:
    at: datetime
    number: str
    kind: Kind
    actor_id: int | None
    actor_name: str
    role: str | None  # the role at the time of the view (older entries: the user's role now)
    via: str | None

    @property
    def page_label(self) -> str:
        return IDENTITY_VIEW_PAGE_LABELS.get(self.via, self.via or "—")


def _require_view_auditor(actor: Actor) -> None:
    if not services.may_audit_views(actor):
        raise Forbidden("只有班长和管理员可以查看身份信息查阅记录")


def identity_view_of(e: TicketEvent, number: str, kind: Kind, role_now: Role | None) -> IdentityView:
    data = e.data or {}
    return IdentityView(at=e.at, number=number, kind=kind, actor_id=e.actor_id, actor_name=e.actor_name,
                        role=data.get("role") or (role_now.value if role_now else None), via=data.get("via"))


async def case_identity_views(db: Database, actor: Actor, ticket_id: int) -> list[IdentityView]:
    """The views of one case, newest first (the case page's 身份信息查阅记录)."""
    _require_view_auditor(actor)
    async with db.session() as s:
        rows = (await s.execute(
            select(TicketEvent, Ticket.number, Ticket.kind, User.role)
            .join(Ticket, Ticket.id == TicketEvent.ticket_id).outerjoin(User, User.id == TicketEvent.actor_id)
            .where(TicketEvent.ticket_id == ticket_id, TicketEvent.action == services.VIEW)
            .order_by(TicketEvent.at.desc(), TicketEvent.id.desc())
        )).all()
    return [identity_view_of(e, n, k, r) for e, n, k, r in rows]


async def identity_views(db: Database, actor: Actor, *, since: datetime | None = None, until: datetime | None = None,
                         user_id: int | None = None, limit: int = 50, offset: int = 0) -> tuple[list[IdentityView], int]:
    """Every recorded view of a confidential case in [since, until), by `user_id` if given,
    newest first, and how many match. Supervisors and the admin only (may_audit_views)."""
    _require_view_auditor(actor)
    # the predicate of ix_ticket_events_views (models.VIEW_EVENTS_SQL) with the value inline: a
    # bound parameter would not let either store's planner prove the partial index applies
    conds: list[Any] = [TicketEvent.action == literal_column(f"'{services.VIEW}'")]
    if since is not None:
        conds.append(TicketEvent.at >= since)
    if until is not None:
        conds.append(TicketEvent.at < until)
    if user_id is not None:
        conds.append(TicketEvent.actor_id == user_id)
    async with db.session() as s:
        total = (await s.execute(select(func.count()).select_from(TicketEvent).where(*conds))).scalar_one()
        rows = (await s.execute(
            select(TicketEvent, Ticket.number, Ticket.kind, User.role)
            .join(Ticket, Ticket.id == TicketEvent.ticket_id).outerjoin(User, User.id == TicketEvent.actor_id)
            .where(*conds).order_by(TicketEvent.at.desc(), TicketEvent.id.desc()).limit(limit).offset(offset)
        )).all()
    return [identity_view_of(e, n, k, r) for e, n, k, r in rows], total


async def identity_viewers(db: Database) -> list[User]:
    """The people who can view identities (everyone but clerks), for the list's filter."""
    async with db.session() as s:
        return list((await s.scalars(select(User).where(User.role != Role.clerk)
                                     .order_by(User.role, User.username))).all())


# ---------------------------------------------------------------------------------------------
# the audit log, as the admin reads it (审计日志)
# ---------------------------------------------------------------------------------------------
# The rule (who reads the audit log): the admin only. It records the admin's own changes and
# the registry's exports; supervisors audit who viewed identities (/audit/identity-views), not
# the admin's work.
FACT_LABELS = {"screen_pop": "话务台来电弹屏", "api": "接口（API）", PASSWORD_CHANGED: "已修改", PASSWORD_SET: "已设置", TOKEN_REVOKED: "已作废", TOKEN_ISSUED: "已签发"}
AUDIT_PER_PAGE = 50


def _value(field: str, v: Any) -> str:
    if v is None or v == "":
        return "（空）"
    if isinstance(v, bool):
        return "是" if v else "否"
    if field == "role":
        return ROLE_LABELS.get(str(v), str(v))
    return str(v)


def describe(e: AuditEntry) -> list[str]:
    """The entry's changes in words, one per field: 办理期限 5 → 7 工作日, 角色：话务员 → 班长,
    密码：已修改. A create or an export lists its values without an arrow."""
    out: list[str] = []
    arrows = e.action.endswith(".update")
    for k, v in (e.changes or {}).items():
        if e.target_type == "sla_rule" and k in SLA_BY_NAME and isinstance(v, list):
            f = SLA_BY_NAME[k]
            out.append(f"{f.label} {v[0]} → {v[1]} {f.unit}")
            continue
        label = AUDIT_FIELD_LABELS.get(k, k)
        if not isinstance(v, list):
            out.append(f"{label}：{FACT_LABELS.get(str(v), _value(k, v))}")
        elif arrows:
            out.append(f"{label}：{_value(k, v[0])} → {_value(k, v[1])}")
        else:
            out.append(f"{label}：{_value(k, v[1])}")
    return out


async def audit_log(db: Database, actor: Actor, *, since: datetime | None = None, until: datetime | None = None,
                    actor_id: int | None = None, by_no_user: bool = False, action: str | None = None,
                    target_type: str | None = None, limit: int = AUDIT_PER_PAGE,
                    offset: int = 0) -> tuple[list[AuditEntry], int]:
    """Audit entries in [since, until), by one user (`actor_id`) or by no user (`by_no_user`:
    the CLI), of one action or one target type, newest first, and how many match. The admin
    only."""
    _require_admin(actor)
    conds: list[Any] = []
    if since is not None:
        conds.append(AuditEntry.at >= since)
    if until is not None:
        conds.append(AuditEntry.at < until)
    if actor_id is not None:
        conds.append(AuditEntry.actor_id == actor_id)
    elif by_no_user:
        conds.append(AuditEntry.actor_id.is_(None))
    if action:
        conds.append(AuditEntry.action == action)
    if target_type:
        conds.append(AuditEntry.target_type == target_type)
    async with db.session() as s:
        total = (await s.execute(select(func.count()).select_from(AuditEntry).where(*conds))).scalar_one()
        rows = (await s.scalars(select(AuditEntry).where(*conds).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                                .limit(limit).offset(offset))).all()
    return list(rows), total


async def audit_actors(db: Database) -> list[tuple[int | None, str]]:
    """Who appears in the audit log (user id, or None for the CLI; the latest name), for the
    list's filter."""
    async with db.session() as s:
        rows = (await s.execute(select(AuditEntry.actor_id, func.max(AuditEntry.actor_name))
                                .group_by(AuditEntry.actor_id))).all()
    return sorted(((i, n) for i, n in rows), key=lambda r: (r[0] is None, r[1]))


async def sla_changes(db: Database, actor: Actor, limit: int = 50) -> list[AuditEntry]:
    """The latest changes of the rules per kind, newest first (the rules page's 修改记录)."""
    rows, _ = await audit_log(db, actor, target_type="sla_rule", limit=limit)
    return rows
