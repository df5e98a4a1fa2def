"""Reference data (departments, categories, routing rules, deadline rules, calendar), cached.

These tables change rarely (an admin edits them) and are read on every case written, so each
process keeps a copy for `ttl` seconds; an admin change in this process calls `invalidate()`,
other processes pick it up within the TTL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.cases.routing import Rule, alias_map, split_keywords
from callcenter.cases.workdays import WorkCalendar
from callcenter.store.models import CalendarDay, Category, Department, Kind, RoutingRule, SlaRule


@dataclass(frozen=True)
class CategoryInfo:
    id: int
    name: str
    default_department_id: int | None
    resolve_working_days: int | None
    callback_required: bool
    active: bool


@dataclass(frozen=True)
class DepartmentInfo:
    id: int
    code: str
    name: str
    active: bool


@dataclass(frozen=True)
class SlaInfo:
    resolve_working_days: int
    urgent_resolve_working_days: int
    max_extension_working_days: int
    accept_working_minutes: int
    urgent_accept_working_minutes: int
    return_working_days: int
    callback_working_days: int
    callback_max_attempts: int = 3
    callback_attempt_gap_minutes: int = 120
    missed_callback_working_minutes: int = 60
    remind_before_working_days: int = 1
    remind_before_working_minutes: int = 120
    escalate_after_working_days: int = 5
    dispatch_working_days: int = 0


@dataclass
class RefData:
    departments: dict[int, DepartmentInfo]
    departments_by_code: dict[str, DepartmentInfo]
    departments_by_name: dict[str, DepartmentInfo]
    categories: dict[int, CategoryInfo]
    categories_by_name: dict[str, CategoryInfo]
    rules: list[Rule]
    sla: dict[Kind, SlaInfo]
    calendar: WorkCalendar
    areas: dict[str, tuple[str, ...]] = field(default_factory=dict)  # 属地 name → its aliases (routing.alias_map)
    loaded_at: float = field(default_factory=time.monotonic)

    def department(self, ref: str | int | None) -> DepartmentInfo | None:
        if ref is None:
            return None
        if isinstance(ref, int):
            return self.departments.get(ref)
        return self.departments_by_code.get(ref) or self.departments_by_name.get(ref)

    def sla_for(self, kind: Kind) -> SlaInfo:
        return self.sla.get(kind) or SlaInfo(5, 1, 10, 120, 30, 2, 1)

    def resolve_days(self, kind: Kind, category_id: int, urgent: bool) -> int:
        sla = self.sla_for(kind)
        if urgent:
            return sla.urgent_resolve_working_days
        cat = self.categories.get(category_id)
        if cat and cat.resolve_working_days:
            return cat.resolve_working_days
        return sla.resolve_working_days


async def load(session: AsyncSession) -> RefData:
    dep_rows = (await session.scalars(select(Department))).all()
    deps = [DepartmentInfo(d.id, d.code, d.name, d.active) for d in dep_rows]
    areas = alias_map([d.areas for d in dep_rows if d.active])
    cats = [
        CategoryInfo(c.id, c.name, c.default_department_id, c.resolve_working_days, c.callback_required, c.active)
        for c in (await session.scalars(select(Category))).all()
    ]
    rules = [
        Rule(r.id, r.department_id, r.category_id, tuple(split_keywords(r.keywords)), r.priority, r.area or None)
        for r in (await session.scalars(select(RoutingRule).where(RoutingRule.active.is_(True)))).all()
    ]
    sla = {
        r.kind: SlaInfo(
            r.resolve_working_days,
            r.urgent_resolve_working_days,
            r.max_extension_working_days,
            r.accept_working_minutes,
            r.urgent_accept_working_minutes,
            r.return_working_days,
            r.callback_working_days,
            r.callback_max_attempts,
            r.callback_attempt_gap_minutes,
            r.missed_callback_working_minutes,
            r.remind_before_working_days,
            r.remind_before_working_minutes,
            r.escalate_after_working_days,
            r.dispatch_working_days,
        )
        for r in (await session.scalars(select(SlaRule))).all()
    }
    days = (await session.execute(select(CalendarDay.day, CalendarDay.is_workday))).all()
    return RefData(
        departments={d.id: d for d in deps},
        departments_by_code={d.code: d for d in deps},
        departments_by_name={d.name: d for d in deps},
        categories={c.id: c for c in cats},
        categories_by_name={c.name: c for c in cats},
        rules=rules,
        areas=areas,
        sla=sla,
        calendar=WorkCalendar(overrides=dict((d, w) for d, w in days)),
    )


class RefCache:
    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._data: RefData | None = None

    async def get(self, session: AsyncSession) -> RefData:
        if self._data is None or time.monotonic() - self._data.loaded_at > self.ttl:
            self._data = await load(session)
        return self._data

    async def current(self, db: Any) -> RefData:
        """The cached data, loading it with a session of its own only when stale."""
        if self._data is None or time.monotonic() - self._data.loaded_at > self.ttl:
            async with db.session() as s:
                self._data = await load(s)
        return self._data

    def invalidate(self) -> None:
        self._data = None
