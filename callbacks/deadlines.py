"""Deadline supervision (督办): notices computed from the case and callback rows.

Each step is idempotent: a notice is a row whose key is kind:subject:due time (unique), so a
scheduler restarted in between, or a second scheduler, never doubles one; what was missed while
no scheduler ran is caught up at the next step (a reminder only while the deadline is still
ahead). A moved deadline (an approved extension) gives new keys, and the open notices of the old
deadline are dropped. Notices of a case that left the open states are closed.

Kinds: remind_1d / remind_2h (to the department, before the deadline), overdue (at it),
escalated (to the supervisors' list 5 working days after it), accept_overdue (签收 late),
extension_waiting (a request waits for a supervisor), callback_overdue (to the operators),
daily_summary (one per department and day).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.cases.workdays import TZ
from callcenter.cases.workflow import OPEN_STATES
from callcenter.store.db import Database
from callcenter.store.models import (
    Callback,
    CallbackTaskStatus,
    Department,
    Kind,
    Notification,
    Status,
    Ticket,
)

from .claims import dialect_of, rowcount
from .due import CallbackRules, notices_due, rules_for, working_minutes_per_day

DEADLINE_KINDS = ("remind_1d", "remind_2h", "overdue", "escalated")
CASE_KINDS = (*DEADLINE_KINDS, "accept_overdue", "extension_waiting")
OPEN = tuple(OPEN_STATES)
AUDIENCE = {"escalated": "supervisor", "extension_waiting": "supervisor", "callback_overdue": "operator"}
# reminders at an admin's offsets are remind_<N>m (due.deadline_notices)
_deadline_kind = or_(Notification.kind.in_(DEADLINE_KINDS), Notification.kind.like("remind_%"))
# a reminder one working day ahead can be ten calendar days ahead over the Spring Festival
_LOOKAHEAD = timedelta(days=20)


def notice_key(kind: str, subject: str, due_at: datetime | date) -> str:
    if isinstance(due_at, datetime):
        return f"{kind}:{subject}:{due_at.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    return f"{kind}:{subject}:{due_at.isoformat()}"


def _local(at: datetime) -> str:
    return at.astimezone(TZ).strftime("%Y-%m-%d %H:%M")


def _message(kind: str, number: str, due_at: datetime) -> str:
    return {
        "remind_1d": f"工单 {number} 将于 {_local(due_at)} 到期（剩一个工作日），请及时办理",
        "remind_2h": f"工单 {number} 将于 {_local(due_at)} 到期（剩两个工作小时），请及时办理",
        "overdue": f"工单 {number} 已超期（办理时限 {_local(due_at)}）",
        "escalated": f"督办：工单 {number} 超期五个工作日仍未办结（时限 {_local(due_at)}）",
        "accept_overdue": f"工单 {number} 未按时签收（签收时限 {_local(due_at)}）",
        "extension_waiting": f"工单 {number} 的延期申请（至 {_local(due_at)}）等待审批",
        "callback_overdue": f"回访超期：{number}（时限 {_local(due_at)}）",
    }.get(kind) or f"工单 {number} 将于 {_local(due_at)} 到期，请及时办理"  # remind_<N>m: an admin's offset


async def _insert_notices(s: AsyncSession, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    ins = sqlite.insert if dialect_of(s) == "sqlite" else postgresql.insert
    n = 0
    for i in range(0, len(rows), 200):
        # ON CONFLICT DO NOTHING on the key: a notice another scheduler (or this one before a
        # restart) already wrote stays as it is
        r = await s.execute(ins(Notification).values(rows[i:i + 200]).on_conflict_do_nothing(
            index_elements=["key"]))
        n += rowcount(r)
    return n


async def check_deadlines(db: Database, now: datetime, worker: str = "scheduler",
                          rules: CallbackRules | None = None) -> bool:
    """Write the notices due as of `now`; drop and close stale ones. Returns whether anything changed.
    `rules`: None = the sla_rules row of each case's kind."""
    ref = await db.ref()
    cal = ref.calendar
    by_kind = {k: rules or rules_for(ref, k) for k in Kind}
    changed = 0
    async with db.transaction() as s:
        cases = (await s.execute(
            select(Ticket.id, Ticket.number, Ticket.kind, Ticket.department_id, Ticket.status, Ticket.due_at,
                   Ticket.accept_due_at, Ticket.accepted_at, Ticket.extension_requested_until)
            .where(Ticket.status.in_(OPEN),
                   or_(Ticket.due_at < now + _LOOKAHEAD, Ticket.extension_requested_until.is_not(None),
                       and_(Ticket.status == Status.dispatched, Ticket.accept_due_at < now)))
        )).all()
        want: list[dict[str, Any]] = []

        def add(kind: str, subject: str, due: datetime, number: str, **kw: Any) -> None:
            want.append(dict(key=notice_key(kind, subject, due), kind=kind, audience=AUDIENCE.get(kind, "department"),
                             due_at=due, status="open", message=_message(kind, number, due), created_at=now,
                             created_by=worker, data={"number": number}, **kw))

        for tid, number, kind, dept, status, due, accept_due, accepted_at, ext_until in cases:
            subj = f"t{tid}"
            if due is not None and due < now + _LOOKAHEAD:
                for n in notices_due(cal, due, now, by_kind[kind]):
                    add(n.kind, subj, due, number, ticket_id=tid, department_id=dept)
            if status is Status.dispatched and accept_due is not None and accept_due <= now and accepted_at is None:
                add("accept_overdue", subj, accept_due, number, ticket_id=tid, department_id=dept)
            if ext_until is not None:
                add("extension_waiting", subj, ext_until, number, ticket_id=tid, department_id=dept)
        late_callbacks = (await s.execute(
            select(Callback.id, Callback.due_at, Callback.ticket_id, Ticket.number, Callback.phone)
            .outerjoin(Ticket, Ticket.id == Callback.ticket_id)
            .where(Callback.status == CallbackTaskStatus.pending, Callback.due_at <= now)
        )).all()
        for cb_id, cb_due, cb_ticket, cb_number, _phone in late_callbacks:
            add("callback_overdue", f"c{cb_id}", cb_due, cb_number or f"回拨 #{cb_id}", ticket_id=cb_ticket,
                callback_id=cb_id)
        changed += await _insert_notices(s, want)

        # a moved deadline: the open notices of the old one are dropped (new keys were written)
        moved = exists().where(Ticket.id == Notification.ticket_id, Ticket.due_at != Notification.due_at)
        r = await s.execute(
            update(Notification).where(Notification.status == "open", _deadline_kind, moved)
            .values(status="dropped", closed_at=now).execution_options(synchronize_session=False))
        changed += rowcount(r)
        # the case left the open states (resolved, merged …), or the request was decided / moved
        left = exists().where(Ticket.id == Notification.ticket_id, Ticket.status.not_in(OPEN))
        decided = exists().where(
            Ticket.id == Notification.ticket_id,
            or_(Ticket.extension_requested_until.is_(None), Ticket.extension_requested_until != Notification.due_at))
        accepted = exists().where(Ticket.id == Notification.ticket_id, Ticket.status != Status.dispatched)
        done_cb = exists().where(Callback.id == Notification.callback_id, Callback.status != CallbackTaskStatus.pending)
        for cond in (
            and_(or_(Notification.kind.in_(CASE_KINDS), Notification.kind.like("remind_%")), left),
            and_(Notification.kind == "extension_waiting", decided),
            and_(Notification.kind == "accept_overdue", accepted),
            and_(Notification.kind == "callback_overdue", done_cb),
        ):
            r = await s.execute(
                update(Notification).where(Notification.status == "open", cond)
                .values(status="closed", closed_at=now).execution_options(synchronize_session=False))
            changed += rowcount(r)
    return changed > 0


async def open_notices(db: Database, *, department_id: int | None = None, audience: str | None = None,
                       limit: int = 200) -> list[Notification]:
    """What the console shows: open notices, newest first."""
    async with db.session() as s:
        q = select(Notification).where(Notification.status == "open")
        if department_id is not None:
            q = q.where(Notification.department_id == department_id)
        if audience is not None:
            q = q.where(Notification.audience == audience)
        return list((await s.scalars(q.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit))).all())


# ---- the daily summary per department --------------------------------------------------------------


async def department_summary(db: Database, day: date, now: datetime) -> dict[str, Any]:
    """Per department, as of `now`: open cases, overdue, due within one working day, escalated
    (open 督办 notices), extension requests waiting, resolved during `day` (Asia/Shanghai)."""
    cal = (await db.ref()).calendar
    lo = datetime.combine(day, datetime.min.time(), TZ).astimezone(UTC)
    hi = lo + timedelta(days=1)
    soon = cal.add_working_minutes(now, working_minutes_per_day(cal))
    T = Ticket
    async with db.session() as s:
        deps = (await s.execute(select(Department.id, Department.code, Department.name).order_by(Department.id))).all()
        counts = {
            row[0]: row[1:] for row in (await s.execute(
                select(
                    T.department_id,
                    func.count().filter(T.status.in_(OPEN)),
                    func.count().filter(T.status.in_(OPEN), T.due_at < now),
                    func.count().filter(T.status.in_(OPEN), T.due_at >= now, T.due_at <= soon),
                    func.count().filter(T.status.in_(OPEN), T.extension_requested_until.is_not(None)),
                    func.count().filter(T.resolved_at >= lo, T.resolved_at < hi),
                ).where(T.department_id.is_not(None)).group_by(T.department_id)
            )).all()
        }
        escalated = dict((await s.execute(
            select(Notification.department_id, func.count())
            .where(Notification.kind == "escalated", Notification.status == "open")
            .group_by(Notification.department_id)
        )).all())
    out = []
    for did, code, name in deps:
        c = counts.get(did, (0, 0, 0, 0, 0))
        out.append({"code": code, "name": name, "open": c[0], "overdue": c[1], "due_within_1_working_day": c[2],
                    "extension_waiting": c[3], "resolved_today": c[4], "escalated": escalated.get(did, 0)})
    return {"date": day.isoformat(), "as_of": now.astimezone(UTC).isoformat(), "timezone": TZ.key, "departments": out}


def summary_text(summary: dict[str, Any]) -> str:
    lines = [f"# 工单办理日报 {summary['date']}", ""]
    for d in summary["departments"]:
        lines.append(f"- {d['name']}：在办 {d['open']}，超期 {d['overdue']}，一个工作日内到期 "
                     f"{d['due_within_1_working_day']}，督办 {d['escalated']}，延期待批 {d['extension_waiting']}，"
                     f"今日办结 {d['resolved_today']}")
    return "\n".join(lines) + "\n"


async def daily_summary(db: Database, day: date, now: datetime, data_dir: Path | None,
                        worker: str = "scheduler") -> bool:
    """Generate `day`'s summary: a `daily_summary` notice per department (once: unique key) and,
    with `data_dir`, reports/deadline-summary-DAY.json and .md (rewritten atomically)."""
    summary = await department_summary(db, day, now)
    async with db.transaction() as s:
        ids = dict((await s.execute(select(Department.code, Department.id))).all())
        rows = [dict(key=notice_key("daily_summary", f"d{ids[d['code']]}", day), kind="daily_summary",
                     audience="department", department_id=ids[d["code"]], status="open",
                     message=f"{day.isoformat()} 日报：在办 {d['open']}，超期 {d['overdue']}，督办 {d['escalated']}",
                     data=d, created_at=now, created_by=worker)
                for d in summary["departments"]]
        created = await _insert_notices(s, rows)
    if data_dir is not None:
        out = Path(data_dir) / "reports"
        out.mkdir(parents=True, exist_ok=True)
        for suffix, text in ((".json", json.dumps(summary, ensure_ascii=False, indent=2)), (".md", summary_text(summary))):
            path = out / f"deadline-summary-{day.isoformat()}{suffix}"
            if created == 0 and path.exists():
                continue
            tmp = path.with_suffix(suffix + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
    return created > 0
