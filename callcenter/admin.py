"""Reference data and people, as the admin console edits them (data, never cases).

Every change of reference data invalidates this process's RefData cache; other processes
pick it up within the cache's TTL (refdata.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from . import auth
from .db import Database
from .errors import Conflict, Invalid, NotFound
from .models import Category, Department, Role, RoutingRule, User, utcnow
from .workflow import Actor


def _require_admin(actor: Actor) -> None:
    from .errors import Forbidden

    if actor.role is not Role.admin:
        raise Forbidden("only the admin manages reference data and users")


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


async def add_department(db: Database, actor: Actor, code: str, name: str, phone: str | None = None) -> None:
    _require_admin(actor)
    code_, name_ = _clean(code), _clean(name)
    if not code_ or not name_:
        raise Invalid("code and name are required", field="code" if not code_ else "name")
    async with db.transaction() as s:
        if (await s.execute(select(Department.id).where((Department.code == code_) | (Department.name == name_)))).first():
            raise Conflict(f"department {code_} / {name_} exists")
        s.add(Department(code=code_, name=name_, phone=_clean(phone), active=True))
    db.refcache.invalidate()


async def set_department_active(db: Database, actor: Actor, dep_id: int, active: bool) -> None:
    _require_admin(actor)
    async with db.transaction() as s:
        d = await s.get(Department, dep_id)
        if d is None:
            raise NotFound(f"no department {dep_id}")
        d.active = active
    db.refcache.invalidate()


async def save_category(db: Database, actor: Actor, cat_id: int | None, name: str, default_department_id: int | None,
                        resolve_working_days: int | None, callback_required: bool, active: bool = True) -> None:
    """Add (cat_id None) or change a topic: its default department, deadline, callback rule."""
    _require_admin(actor)
    name_ = _clean(name)
    if not name_:
        raise Invalid("name is required", field="name")
    if resolve_working_days is not None and not 1 <= resolve_working_days <= 60:
        raise Invalid("the deadline is 1–60 working days", field="resolve_working_days")
    async with db.transaction() as s:
        if default_department_id is not None and await s.get(Department, default_department_id) is None:
            raise Invalid("no such department", field="default_department_id")
        if cat_id is None:
            if (await s.execute(select(Category.id).where(Category.name == name_))).first():
                raise Conflict(f"category {name_} exists")
            c = Category(name=name_)
            s.add(c)
        else:
            found = await s.get(Category, cat_id)
            if found is None:
                raise NotFound(f"no category {cat_id}")
            c = found
            c.name = name_
        c.default_department_id = default_department_id
        c.resolve_working_days = resolve_working_days
        c.callback_required = callback_required
        c.active = active
    db.refcache.invalidate()


async def add_rule(db: Database, actor: Actor, department_id: int, category_id: int | None, keywords: str,
                   priority: int) -> None:
    _require_admin(actor)
    if not keywords.strip() and category_id is None:
        raise Invalid("a rule needs a category or keywords", field="keywords")
    async with db.transaction() as s:
        if await s.get(Department, department_id) is None:
            raise Invalid("no such department", field="department_id")
        s.add(RoutingRule(department_id=department_id, category_id=category_id, keywords=keywords.strip(),
                          priority=priority, active=True))
    db.refcache.invalidate()


async def set_rule_active(db: Database, actor: Actor, rule_id: int, active: bool) -> None:
    _require_admin(actor)
    async with db.transaction() as s:
        r = await s.get(RoutingRule, rule_id)
        if r is None:
            raise NotFound(f"no rule {rule_id}")
        r.active = active
    db.refcache.invalidate()


async def add_user(db: Database, actor: Actor, username: str, display_name: str, role: Role,
                   department_code: str | None, seat: str | None, password: str) -> None:
    _require_admin(actor)
    if not _clean(username):
        raise Invalid("username is required", field="username")
    if len(password or "") < 8:
        raise Invalid("the password needs at least 8 characters", field="password")
    await auth.add_user(db, username.strip(), role, display_name=_clean(display_name) or username.strip(),
                        department=_clean(department_code), password=password, seat=_clean(seat))


async def update_user(db: Database, actor: Actor, user_id: int, *, role: Role, department_id: int | None,
                      seat: str | None, active: bool, password: str | None = None) -> None:
    _require_admin(actor)
    if role is Role.clerk and department_id is None:
        raise Invalid("a clerk needs a department", field="department_id")
    async with db.transaction() as s:
        u = await s.get(User, user_id)
        if u is None:
            raise NotFound(f"no user {user_id}")
        seat_ = _clean(seat)
        if seat_ and (await s.execute(select(User.id).where(User.seat == seat_, User.id != user_id))).first():
            raise Conflict(f"seat {seat_} belongs to another user")
        u.role, u.department_id, u.seat, u.active = role, department_id if role is Role.clerk else None, seat_, active
        if password:
            if len(password) < 8:
                raise Invalid("the password needs at least 8 characters", field="password")
            u.password_hash = auth.hash_password(password)
            u.failed_logins, u.locked_until = 0, None
        if not active:
            u.token_hash = None


async def locked_until(db: Database, username: str, now: datetime | None = None) -> datetime | None:
    """When the account's lock-out (after repeated failures) ends, if it is locked now."""
    now = now or utcnow()
    async with db.session() as s:
        until = (await s.execute(select(User.locked_until).where(User.username == username))).scalar_one_or_none()
    return until if until and until > now else None


async def user_by_id(db: Database, user_id: int) -> User | None:
    async with db.session() as s:
        return (await s.execute(select(User).where(User.id == user_id, User.active.is_(True)))).scalar_one_or_none()
