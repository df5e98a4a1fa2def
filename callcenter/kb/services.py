"""The knowledge base (知识库, issue 8): entries, their versions and review, import/export,
search for the operator, direct answers (直接答复) recorded per entry and version, feedback.

Workflow of an entry (DOMAIN.md, 'Knowledge base'): a clerk drafts for their own department
(supervisors and admins for any); `submit` puts the draft in review; a supervisor (or admin)
publishes it — its text then becomes the entry's searchable text and its version the
entry's `version` — or rejects it back to draft. Editing a published entry writes a new
draft version while the published one stays searchable. An entry past its valid_until, or
withdrawn (`expire`), is expired: still found, but marked expired and never offered as
current (answer_case refuses it). kb_entry_versions keeps every version as written.

Scheduler hooks (callbacks/): `expiring_soon(db, within_days)` lists published entries that
end within the coming days (the reminder to their departments); `expire_due(db)` marks those
past their end as expired.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, case, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.cases import services
from callcenter.cases.workflow import ROLES_FOR, SYSTEM, Action, Actor
from callcenter.core.errors import Conflict, FileErrors, Forbidden, Invalid, NotFound, role_zh
from callcenter.core.glossary import CASE_STATE_LABELS
from callcenter.core.tables import read_table, unescape, write_table
from callcenter.kb import learn as kb_learn
from callcenter.kb import search as kb_search
from callcenter.store.db import Database
from callcenter.store.models import (
    Category,
    Department,
    KbEntry,
    KbEntryVersion,
    KbStatus,
    KbSynonym,
    KbUse,
    Notification,
    Role,
    Satisfaction,
    Status,
    Ticket,
    utcnow,
)

# the columns of kb-README.md, in order
C_CODE, C_TITLE, C_PHRASINGS, C_ANSWER, C_CATEGORY, C_DEPT, C_FROM, C_UNTIL, C_BASIS = COLUMNS = (
    "编号", "标题", "常见问法", "答复内容", "问题分类", "承办单位", "生效日期", "失效日期", "依据",
)
REQUIRED = (C_CODE, C_TITLE, C_ANSWER, C_CATEGORY, C_DEPT)
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
WIDTHS = {C_TITLE: 300, C_CATEGORY: 100}
EDITORS = (Role.clerk, Role.supervisor, Role.admin)
PUBLISHERS = (Role.supervisor, Role.admin)


def today_local() -> date:
    return datetime.now(kb_search.TZ).date()


# ---------------------------------------------------------------------------------------------
# entries and their versions


@dataclass
class EntryFields:
    title: str
    answer: str
    phrasings: list[str] = field(default_factory=list)
    category: str | None = None
    department: str | int | None = None  # code, name or id; clerks: their own (default)
    valid_from: date | None = None
    valid_until: date | None = None
    basis: str | None = None


def _tokens(e: KbEntry | KbEntryVersion) -> dict[str, str]:
    phrasings = [p for p in (e.phrasings or "").split("|") if p.strip()]
    if isinstance(e, KbEntry):  # the published phrasings learned from callers follow (kb_learn)
        phrasings += [p for p in (e.learned or "").split("|") if p.strip()]
    toks = {
        "tok_title": kb_search.index_text(e.title),
        # one phrasing's tokens apart from the next (" | "): the re-rank scores them one by one
        "tok_phrasings": " | ".join(kb_search.index_text(p) for p in phrasings),
        "tok_answer": kb_search.index_text(e.answer),
    }
    # the thesaurus concepts of those words (con_head, con_body: PostgreSQL's concept candidates)
    return {**toks, **kb_search.entry_concepts(toks["tok_title"], toks["tok_phrasings"], toks["tok_answer"])}


async def _department_id(s: AsyncSession, actor: Actor, dep: str | int | None) -> int | None:
    if dep is None or dep == "":
        dep_id = actor.department_id
    elif isinstance(dep, int):
        dep_id = dep
        if (await s.get(Department, dep_id)) is None:
            raise Invalid(f"承办单位“{dep}”不存在", field="department")
    else:
        dep_id = (
            await s.execute(select(Department.id).where((Department.code == dep) | (Department.name == dep)))
        ).scalar_one_or_none()
        if dep_id is None:
            raise Invalid(f"承办单位“{dep}”不存在", field="department")
    if actor.role is Role.clerk and dep_id != actor.department_id:
        raise Forbidden("承办人只能为本单位起草条目")
    return dep_id


def _check_fields(f: EntryFields) -> None:
    if not (f.title or "").strip():
        raise Invalid("请填写标题", field="title")
    if not (f.answer or "").strip():
        raise Invalid("请填写答复内容", field="answer")
    if f.valid_from and f.valid_until and f.valid_until < f.valid_from:
        raise Invalid("失效日期早于生效日期", field="valid_until")


def _version_row(entry_id: int, n: int, f: EntryFields, dep_id: int | None, actor: Actor, status: str,
                 now: datetime, note: str | None = None, ticket_id: int | None = None) -> KbEntryVersion:
    return KbEntryVersion(
        entry_id=entry_id, version=n, title=f.title.strip(), answer=f.answer.strip(),
        phrasings="|".join(p.strip() for p in f.phrasings if p.strip()), category=f.category,
        department_id=dep_id, valid_from=f.valid_from, valid_until=f.valid_until, basis=f.basis,
        status=status, note=note, source_ticket_id=ticket_id, author_id=actor.id,
        author_name=actor.name, created_at=now,
    )


async def _load(s: AsyncSession, code: str, lock: bool = False) -> KbEntry:
    q = select(KbEntry).where(KbEntry.code == code)
    if lock:
        q = q.with_for_update()
    e = (await s.execute(q)).scalar_one_or_none()
    if e is None:
        raise NotFound(f"知识库条目 {code} 不存在")
    return e


def _may_edit(actor: Actor, dep_id: int | None) -> None:
    if actor.role not in EDITORS:
        raise Forbidden(f"{role_zh(actor.role)}不能编辑知识库")
    if actor.role is Role.clerk and dep_id != actor.department_id:
        raise Forbidden("该条目属于其他承办单位")


async def create_draft(db: Database, actor: Actor, code: str, f: EntryFields, *, note: str | None = None,
                       ticket_id: int | None = None, now: datetime | None = None) -> KbEntry:
    """A new entry, as a draft (version 1, not searchable until published)."""
    if actor.role not in EDITORS:
        raise Forbidden(f"{role_zh(actor.role)}不能起草条目")
    if not _CODE.match(code or ""):
        raise Invalid(f"“{code}”不是有效的条目编号（字母、数字、- 或 _）", field="code")
    _check_fields(f)
    now = now or utcnow()
    async with db.transaction() as s:
        if (await s.execute(select(KbEntry.id).where(KbEntry.code == code))).first():
            raise Conflict(f"条目 {code} 已存在")
        dep_id = await _department_id(s, actor, f.department)
        e = KbEntry(code=code, title=f.title.strip(), answer=f.answer.strip(),
                    phrasings="|".join(p.strip() for p in f.phrasings if p.strip()), category=f.category,
                    department_id=dep_id, valid_from=f.valid_from, valid_until=f.valid_until, basis=f.basis,
                    status=KbStatus.draft, version=0, draft_version=1,
                    tok_title="", tok_phrasings="", tok_answer="", created_at=now, updated_at=now)
        s.add(e)
        await s.flush()
        s.add(_version_row(e.id, 1, f, dep_id, actor, "draft", now, note, ticket_id))
    return e


async def revise(db: Database, actor: Actor, code: str, f: EntryFields, *, note: str | None = None,
                 now: datetime | None = None) -> KbEntryVersion:
    """A new draft version of an entry (the published one stays searchable meanwhile)."""
    _check_fields(f)
    now = now or utcnow()
    async with db.transaction() as s:
        e = await _load(s, code, lock=True)
        _may_edit(actor, e.department_id)
        dep_id = await _department_id(s, actor, f.department if f.department is not None else e.department_id)
        n = await _next_version(s, e.id)
        if e.draft_version is not None:  # a newer draft replaces the pending one
            await _set_version_status(s, e.id, e.draft_version, "superseded", actor, now)
        v = _version_row(e.id, n, f, dep_id, actor, "draft", now, note)
        s.add(v)
        e.draft_version = n
        if e.status is KbStatus.in_review:
            e.status = KbStatus.draft
        e.updated_at = now
    return v


async def _next_version(s: AsyncSession, entry_id: int) -> int:
    cur = (await s.execute(select(func.max(KbEntryVersion.version)).where(KbEntryVersion.entry_id == entry_id))).scalar()
    return (cur or 0) + 1


async def _set_version_status(s: AsyncSession, entry_id: int, n: int, status: str, actor: Actor,
                              now: datetime, note: str | None = None) -> None:
    values: dict[str, Any] = {"status": status, "reviewed_by": actor.name, "reviewed_at": now}
    if note:
        values["note"] = note
    await s.execute(update(KbEntryVersion).where(KbEntryVersion.entry_id == entry_id,
                                                 KbEntryVersion.version == n).values(**values))


async def submit(db: Database, actor: Actor, code: str, now: datetime | None = None) -> KbEntry:
    """Put the entry's draft version up for review (待审核)."""
    now = now or utcnow()
    async with db.transaction() as s:
        e = await _load(s, code, lock=True)
        _may_edit(actor, e.department_id)
        if e.draft_version is None:
            raise Conflict(f"条目 {code} 没有可提交的草稿")
        await s.execute(update(KbEntryVersion).where(KbEntryVersion.entry_id == e.id,
                                                     KbEntryVersion.version == e.draft_version)
                        .values(status="in_review"))
        if e.status is KbStatus.draft:
            e.status = KbStatus.in_review
        e.updated_at = now
    return e


async def publish(db: Database, actor: Actor, code: str, version: int | None = None,
                  now: datetime | None = None) -> KbEntry:
    """A supervisor publishes the pending version (or `version`, which must be pending)."""
    if actor.role not in PUBLISHERS:
        raise Forbidden("只有班长可以发布知识库条目")
    now = now or utcnow()
    async with db.transaction() as s:
        e = await _load(s, code, lock=True)
        n = version or e.draft_version
        if n is None:
            raise Conflict(f"条目 {code} 没有等待发布的版本")
        v = (await s.execute(select(KbEntryVersion).where(KbEntryVersion.entry_id == e.id,
                                                          KbEntryVersion.version == n))).scalar_one_or_none()
        if v is None:
            raise NotFound(f"条目 {code} 没有第 {n} 版")
        if v.status not in ("draft", "in_review"):
            raise Conflict(f"条目 {code} 第 {n} 版的状态为 {v.status}")
        if e.version:
            await _set_version_status(s, e.id, e.version, "superseded", actor, now)
        v.status, v.reviewed_by, v.reviewed_at = "published", actor.name, now
        _apply_version(e, v)
        e.draft_version = None
        e.updated_at = now
    return e


def _apply_version(e: KbEntry, v: KbEntryVersion) -> None:
    for k in ("title", "phrasings", "answer", "category", "department_id", "valid_from", "valid_until", "basis"):
        setattr(e, k, getattr(v, k))
    e.version = v.version
    e.status = KbStatus.expired if v.valid_until and v.valid_until < today_local() else KbStatus.published
    for k, t in _tokens(e).items():
        setattr(e, k, t)


async def reject(db: Database, actor: Actor, code: str, note: str, now: datetime | None = None) -> KbEntry:
    if actor.role not in PUBLISHERS:
        raise Forbidden("只有班长可以审核知识库条目")
    now = now or utcnow()
    async with db.transaction() as s:
        e = await _load(s, code, lock=True)
        if e.draft_version is None:
            raise Conflict(f"条目 {code} 没有待审核的版本")
        await _set_version_status(s, e.id, e.draft_version, "rejected", actor, now, note)
        e.draft_version = None
        if e.status is KbStatus.in_review:
            e.status = KbStatus.draft
        e.updated_at = now
    return e


async def expire(db: Database, actor: Actor, code: str, now: datetime | None = None) -> KbEntry:
    """Withdraw an entry (已失效): still found by search, marked expired, never answered with."""
    if actor.role not in PUBLISHERS:
        raise Forbidden("只有班长可以撤下知识库条目")
    now = now or utcnow()
    async with db.transaction() as s:
        e = await _load(s, code, lock=True)
        e.status = KbStatus.expired
        if e.valid_until is None or e.valid_until >= today_local():
            e.valid_until = today_local() - timedelta(days=1)
        e.updated_at = now
    return e


async def history(db: Database, code: str) -> list[KbEntryVersion]:
    async with db.session() as s:
        e = await _load(s, code)
        return list((await s.scalars(select(KbEntryVersion).where(KbEntryVersion.entry_id == e.id)
                                     .order_by(KbEntryVersion.version))).all())


async def get(db: Database, code: str) -> KbEntry:
    async with db.session() as s:
        return await _load(s, code)


def is_expired(e: KbEntry, today: date | None = None) -> bool:
    t = today or today_local()
    return e.status is KbStatus.expired or (e.valid_until is not None and e.valid_until < t)


async def expiring_soon(db: Database, within_days: int = 30, today: date | None = None) -> list[dict[str, Any]]:
    """Published entries whose valid_until falls within the coming `within_days` days (today
    included), soonest first, with their department — the reminder the departments get."""
    t = today or today_local()
    async with db.session() as s:
        rows = (await s.execute(
            select(KbEntry.code, KbEntry.title, KbEntry.valid_until, KbEntry.department_id, Department.name)
            .outerjoin(Department, Department.id == KbEntry.department_id)
            # (an entry withdrawn by hand ends yesterday, so it never shows here)
            .where(KbEntry.status.in_((KbStatus.published, KbStatus.expired)), KbEntry.valid_until.is_not(None),
                   KbEntry.valid_until >= t, KbEntry.valid_until <= t + timedelta(days=within_days))
            .order_by(KbEntry.valid_until, KbEntry.code)
        )).all()
    return [{"code": c, "title": ti, "valid_until": vu.isoformat(), "days_left": (vu - t).days,
             "department_id": d, "department": dn} for c, ti, vu, d, dn in rows if vu is not None]


async def expire_due(db: Database, today: date | None = None) -> int:
    """Mark published entries past their valid_until as expired; returns how many."""
    t = today or today_local()
    async with db.transaction() as s:
        r = await s.execute(update(KbEntry).where(KbEntry.status == KbStatus.published,
                                                  KbEntry.valid_until < t)
                            .values(status=KbStatus.expired, updated_at=utcnow()))
    return getattr(r, "rowcount", 0) or 0


async def remind_expiring(db: Database, within_days: int = 30, now: datetime | None = None,
                          worker: str = "scheduler") -> int:
    """The scheduler's knowledge-base step: expire the entries past their end (expire_due), then
    one `kb_expiring` notice per entry ending within `within_days` to its department (no
    department: the supervisors). The key is kb_expiring:kb<id>:<valid_until>, unique, so a
    second run (or scheduler) never doubles a notice; a moved end date gives a new one, and open
    notices of entries no longer ending then are closed. Returns the notices written."""

    now = now or utcnow()
    today = now.astimezone(kb_search.TZ).date()
    await expire_due(db, today)
    soon = await expiring_soon(db, within_days, today)
    async with db.session() as s:
        ids = dict((await s.execute(select(KbEntry.code, KbEntry.id)
                                    .where(KbEntry.code.in_([e["code"] for e in soon])))).all()) if soon else {}
    rows = []
    for e in soon:
        until = date.fromisoformat(e["valid_until"])
        rows.append(dict(
            key=f"kb_expiring:kb{ids[e['code']]}:{until.isoformat()}", kind="kb_expiring",
            audience="department" if e["department_id"] else "supervisor", department_id=e["department_id"],
            due_at=datetime.combine(until + timedelta(days=1), datetime.min.time(), kb_search.TZ),
            status="open", created_at=now, created_by=worker,
            message=f"知识库条目 {e['code']}《{e['title']}》将于 {until.isoformat()} 到期"
                    f"（剩 {e['days_left']} 天），请及时复核、更新或续期",
            data={"code": e["code"], "valid_until": until.isoformat()},
        ))
    keys = {r["key"] for r in rows}
    n = 0
    async with db.transaction() as s:
        if rows:
            ins = sqlite.insert if db.is_sqlite else postgresql.insert
            r = await s.execute(ins(Notification).values(rows).on_conflict_do_nothing(index_elements=["key"]))
            n = max(getattr(r, "rowcount", 0) or 0, 0)
        stale = [i for i, k in (await s.execute(select(Notification.id, Notification.key).where(
            Notification.kind == "kb_expiring", Notification.status == "open"))).all() if k not in keys]
        if stale:
            await s.execute(update(Notification).where(Notification.id.in_(stale))
                            .values(status="closed", closed_at=now).execution_options(synchronize_session=False))
    return n


async def expiry_notices(db: Database, department_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The open kb_expiring notices (a department's, or all), soonest end first."""

    q = select(Notification).where(Notification.kind == "kb_expiring", Notification.status == "open")
    if department_id is not None:
        q = q.where(Notification.department_id == department_id)
    async with db.session() as s:
        rows = (await s.scalars(q.order_by(Notification.due_at, Notification.id).limit(limit))).all()
    return [{"message": r.message, "code": (r.data or {}).get("code"), "valid_until": (r.data or {}).get("valid_until"),
             "created_at": r.created_at} for r in rows]


# ---------------------------------------------------------------------------------------------
# synonyms


async def synonym_groups(db: Database) -> list[dict[str, Any]]:
    async with db.session() as s:
        rows = (await s.scalars(select(KbSynonym).order_by(KbSynonym.id))).all()
    return [{"id": r.id, "words": r.words.split(), "note": r.note} for r in rows]


async def add_synonyms(db: Database, actor: Actor, words: list[str], note: str | None = None) -> int:
    if actor.role not in (Role.admin, Role.supervisor):
        raise Forbidden("只有管理员或班长可以维护同义词")
    ws = list(dict.fromkeys(w.strip() for w in words if w.strip()))
    if len(ws) < 2:
        raise Invalid("同义词组至少需要两个词", field="words")
    async with db.transaction() as s:
        row = KbSynonym(words=" ".join(ws), note=note, updated_at=utcnow())
        s.add(row)
        await s.flush()
    kb_search.forget_synonyms()
    return row.id


async def remove_synonyms(db: Database, actor: Actor, group_id: int) -> None:
    if actor.role not in (Role.admin, Role.supervisor):
        raise Forbidden("只有管理员或班长可以维护同义词")
    async with db.transaction() as s:
        row = await s.get(KbSynonym, group_id)
        if row is None:
            raise NotFound(f"同义词组 {group_id} 不存在")
        await s.delete(row)
    kb_search.forget_synonyms()


# ---------------------------------------------------------------------------------------------
# search and direct answers


async def search(db: Database, q: str, limit: int = 10, today: date | None = None) -> list[dict[str, Any]]:
    """Ranked entries for what the operator typed (see kb_search); dicts for JSON."""
    async with db.read_engine.connect() as conn:
        hits = await kb_search.search(conn, q, limit=limit, today=today, sqlite=db.is_sqlite)
    return [h.as_dict() for h in hits]


async def search_many(db: Database, queries: list[str], limit: int = 10) -> list[list[dict[str, Any]]]:
    out = []
    async with db.read_engine.connect() as conn:
        for q in queries:
            hits = await kb_search.search(conn, q, limit=limit, sqlite=db.is_sqlite)
            out.append([h.as_dict() for h in hits])
    return out


async def answer_case(db: Database, actor: Actor, code: str, number: str, *, version: int | None = None,
                      ticket_version: int | None = None, bus: Any = None, now: datetime | None = None,
                      search_text: str | None = None) -> Ticket:
    """直接答复: answer case `number` with the entry's published text and record which entry
    and version answered it. `version` (the entry version the operator saw) must still be the
    published one (else Conflict: the text changed meanwhile). `search_text`: what the operator
    searched before choosing the entry — proposed to its department as a phrasing (kb_learn)."""

    if actor.id is not None and actor.role not in ROLES_FOR[Action.answer]:
        # the role first: a role that may never answer learns nothing about the entry
        raise Forbidden(f"{role_zh(actor.role)}无权直接答复工单")
    now = now or utcnow()
    async with db.session() as s:
        e = await _load(s, code)
    if e.version == 0 or e.status not in (KbStatus.published, KbStatus.expired):
        raise Conflict(f"条目 {code} 尚未发布")
    if is_expired(e):
        raise Conflict(f"条目 {code} 已失效，不能用于答复")
    if version is not None and version != e.version:
        raise Conflict(f"条目 {code} 已更新为第 {e.version} 版（您看到的是第 {version} 版），请刷新后重试")
    t = await services.act(db, actor, number, "answer", ticket_version,
                           {"answer": e.answer, "kb_entry": e.code, "kb_version": e.version}, now=now, bus=bus)
    async with db.transaction() as s:
        s.add(KbUse(ticket_id=t.id, entry_id=e.id, version=e.version, actor_id=actor.id, at=now))
        if search_text and search_text.strip() and not t.confidential:
            entry = await s.get(KbEntry, e.id)
            if entry is not None:
                await kb_learn.propose(s, entry, search_text, source="search", actor=actor, ticket_id=t.id, now=now)
    return t


# ---------------------------------------------------------------------------------------------
# feedback


async def propose_from_case(db: Database, actor: Actor, number: str, code: str, *, title: str | None = None,
                            now: datetime | None = None) -> KbEntry:
    """A resolved case's 处理情况 as a new draft entry (its department's, its category's)."""
    async with db.session() as s:
        t = (await s.execute(select(Ticket).where(Ticket.number == number))).scalar_one_or_none()
        if t is None:
            raise NotFound(f"工单 {number} 不存在")
        if t.status not in (Status.resolved, Status.closed) or not (t.resolution or "").strip():
            raise Conflict(f"工单 {number} 没有可提议入库的处理情况（状态：{CASE_STATE_LABELS.get(t.status, t.status.value)}）")

        cat = await s.get(Category, t.category_id)
    f = EntryFields(
        title=(title or t.content.strip().splitlines()[0])[:300],
        answer=(t.resolution or "").strip(),
        phrasings=[t.content.strip()[:200]],
        category=cat.name if cat else None,
        department=t.department_id if actor.role is not Role.clerk else None,
    )
    return await create_draft(db, actor, code, f, note=f"proposed from case {number}", ticket_id=t.id, now=now)


async def flagged_for_review(db: Database, since: datetime | None = None) -> list[dict[str, Any]]:
    """Entries whose direct answers got 不满意 at the callback, with how many and of how many."""
    dissatisfied = func.sum(case((Ticket.satisfaction == Satisfaction.dissatisfied, 1), else_=0))
    q = (
        select(KbEntry.code, KbEntry.title, KbUse.version, func.count(KbUse.id), dissatisfied)
        .join(KbUse, KbUse.entry_id == KbEntry.id)
        .join(Ticket, Ticket.id == KbUse.ticket_id)
        .group_by(KbEntry.code, KbEntry.title, KbUse.version)
        .having(dissatisfied > 0)
        .order_by(dissatisfied.desc(), KbEntry.code)
    )
    if since is not None:
        q = q.where(KbUse.at >= since)
    async with db.session() as s:
        rows = (await s.execute(q)).all()
    return [{"code": c, "title": t, "version": v, "uses": n, "dissatisfied": int(d)} for c, t, v, n, d in rows]


async def direct_answer_counts(db: Database, date_from: datetime | None = None,
                               date_to: datetime | None = None) -> list[dict[str, Any]]:
    """直接答复 per entry (the report module's figure), most used first."""
    cond = []
    if date_from is not None:
        cond.append(KbUse.at >= date_from)
    if date_to is not None:
        cond.append(KbUse.at < date_to)
    q = (select(KbEntry.code, KbEntry.title, func.count(KbUse.id))
         .join(KbUse, and_(KbUse.entry_id == KbEntry.id, *cond))
         .group_by(KbEntry.code, KbEntry.title).order_by(func.count(KbUse.id).desc(), KbEntry.code))
    async with db.session() as s:
        rows = (await s.execute(q)).all()
    return [{"code": c, "title": t, "answered": n} for c, t, n in rows]


# ---------------------------------------------------------------------------------------------
# import / export (kb-README.md's format)


class KbImportErrors(FileErrors):
    """The knowledge-base file cannot be imported as it is (one problem per line)."""


@dataclass
class KbImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    created_departments: list[str] = field(default_factory=list)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.date().isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return unescape(str(v)).strip()


def _read(path: Path) -> tuple[list[str], Iterator[list[str]]]:
    return read_table(path, KbImportErrors, _cell)


def _parse_date(v: str) -> date | None:
    if not _DATE.match(v):
        return None
    try:
        return date.fromisoformat(v)
    except ValueError:
        return None


async def import_file(db: Database, path: Path, *, actor: Actor = SYSTEM, create_missing: bool = False,
                      now: datetime | None = None) -> KbImportReport:
    """Import entries (CSV/XLSX, kb-README.md's columns) as published versions. The whole file
    is checked first: any problem → KbImportErrors (`row N, column X: …`) and nothing written.
    An entry already present gets a new published version when its text changed."""
    if actor.role not in PUBLISHERS:
        raise Forbidden("只有班长或管理员可以导入知识库")
    header, raw_rows = _read(Path(path))
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise KbImportErrors([f"row 1: the header has no column {', '.join(missing)} "
                              f"(expected columns: {', '.join(COLUMNS)})"])
    idx = {c: header.index(c) for c in COLUMNS}
    async with db.session() as s:
        deps = {n: i for i, n in (await s.execute(select(Department.id, Department.name))).all()}
        deps |= {c: i for i, c in (await s.execute(select(Department.id, Department.code))).all()}
    errors: list[str] = []
    rows: list[tuple[str, EntryFields, str]] = []
    seen: dict[str, int] = {}
    new_deps: list[str] = []
    for line, raw in enumerate(raw_rows, start=2):
        if not any(c.strip() for c in raw):
            continue
        get = {c: (raw[i].strip() if i < len(raw) else "") for c, i in idx.items()}
        probs: list[tuple[str, str]] = []
        for c in REQUIRED:
            if not get[c]:
                probs.append((c, "is empty"))
        code = get[C_CODE]
        if code and not _CODE.match(code):
            probs.append((C_CODE, f'"{code}" is not an entry code (letters, digits, - or _, at most 32)'))
        elif code in seen:
            probs.append((C_CODE, f'"{code}" appears again (first on row {seen[code]})'))
        elif code:
            seen[code] = line
        for c, w in WIDTHS.items():
            if len(get[c]) > w:
                probs.append((c, f"is longer than {w} characters"))
        vf = vu = None
        for c in (C_FROM, C_UNTIL):
            if get[c]:
                d = _parse_date(get[c])
                if d is None:
                    probs.append((c, f'"{get[c]}" is not a date (YYYY-MM-DD)'))
                elif c == C_FROM:
                    vf = d
                else:
                    vu = d
        if vf and vu and vu < vf:
            probs.append((C_UNTIL, f"{vu} is before {C_FROM} {vf}"))
        dep = get[C_DEPT]
        if dep and dep not in deps:
            if create_missing:
                if dep not in new_deps:
                    new_deps.append(dep)
            else:
                probs.append((C_DEPT, f'no department "{dep}" (use --create-missing to create it)'))
        probs.sort(key=lambda p: COLUMNS.index(p[0]))
        errors += [f"row {line}, column {c}: {w}" for c, w in probs]
        if not probs:
            phr = [p.strip() for p in get[C_PHRASINGS].split("|") if p.strip()]
            rows.append((code, EntryFields(title=get[C_TITLE], answer=get[C_ANSWER], phrasings=phr,
                                           category=get[C_CATEGORY], department=dep, valid_from=vf,
                                           valid_until=vu, basis=get[C_BASIS] or None), ""))
    if errors:
        raise KbImportErrors(errors)
    now = now or utcnow()
    rep = KbImportReport(created_departments=new_deps)
    async with db.transaction() as s:
        for n, name in enumerate(new_deps):
            new_dep = Department(code=await _free_dep_code(s, n), name=name, active=True)
            s.add(new_dep)
            await s.flush()
            deps[name] = new_dep.id
        existing = {e.code: e for e in (await s.scalars(select(KbEntry).where(KbEntry.code.in_([r[0] for r in rows])))).all()}
        for code, f, _ in rows:
            dep_id = deps[f.department] if isinstance(f.department, str) else None
            e = existing.get(code)
            if e is None:
                e = KbEntry(code=code, title=f.title, answer=f.answer, status=KbStatus.draft, version=0,
                            tok_title="", tok_phrasings="", tok_answer="", created_at=now, updated_at=now)
                s.add(e)
                await s.flush()
                rep.created += 1
            else:
                same = (e.title, e.phrasings, e.answer, e.category, e.department_id, e.valid_from,
                        e.valid_until, e.basis) == (f.title, "|".join(f.phrasings), f.answer, f.category,
                                                    dep_id, f.valid_from, f.valid_until, f.basis)
                if same and e.version:
                    rep.unchanged += 1
                    continue
                rep.updated += 1
                if e.version:
                    await _set_version_status(s, e.id, e.version, "superseded", actor, now)
            n = await _next_version(s, e.id)
            v = _version_row(e.id, n, f, dep_id, actor, "published", now, note=f"imported from {Path(path).name}")
            v.reviewed_by, v.reviewed_at = actor.name, now
            s.add(v)
            _apply_version(e, v)
            e.draft_version = None
            e.updated_at = now
    filled = await reindex_concepts(db)  # entries indexed before the concepts were (migration e16b2c0c4a01)
    if not db.is_sqlite and (rep.created or rep.updated or filled):
        await analyze(db)
    return rep


async def reindex_concepts(db: Database, *, all_entries: bool = False) -> int:
    """Fill kb_entries.con_head / con_body (the thesaurus concepts of the indexed words) of the
    entries that have none yet — all of them with `all_entries` (a new thesaurus). Returns how many."""
    q = select(KbEntry.id, KbEntry.tok_title, KbEntry.tok_phrasings, KbEntry.tok_answer).where(KbEntry.tok_title != "")
    if not all_entries:
        q = q.where(KbEntry.con_head == "")
    n = 0
    async with db.transaction() as s:
        for eid, t, p, a in (await s.execute(q)).all():
            await s.execute(update(KbEntry).where(KbEntry.id == eid).values(**kb_search.entry_concepts(t, p, a)))
            n += 1
    return n


async def analyze(db: Database) -> None:
    """PostgreSQL: refresh the statistics of kb_entries now (autovacuum would, later) — search
    chooses its candidates by how common each word is (kb_search.term_stats)."""

    async with db.engine.begin() as conn:
        await conn.execute(text("ANALYZE kb_entries"))
    kb_search.forget_term_stats()


async def _free_dep_code(s: AsyncSession, n: int) -> str:
    taken = set((await s.scalars(select(Department.code))).all())
    i = n + 1
    while f"kb{i}" in taken:
        i += 1
    return f"kb{i}"


async def export(db: Database, path: Path, fmt: str = "csv", *, include_unpublished: bool = False) -> int:
    """Write the entries (their published text) in the import's columns; returns the row count."""
    async with db.session() as s:
        q = select(KbEntry, Department.name).outerjoin(Department, Department.id == KbEntry.department_id)
        if not include_unpublished:
            q = q.where(KbEntry.version > 0)
        rows = (await s.execute(q.order_by(KbEntry.code))).all()
    data = [[e.code, e.title, e.phrasings or "", e.answer, e.category or "", dn or "",
             e.valid_from.isoformat() if e.valid_from else "", e.valid_until.isoformat() if e.valid_until else "",
             e.basis or ""] for e, dn in rows]
    write_table(Path(path), list(COLUMNS), data, fmt, sheet="知识库")
    return len(data)
