"""Quality inspection (质检, issue 18): checklists, the weekly sample, scoring, appeals.

- The admin keeps checklists (质检表): items with a weight, and fatal items (致命项, e.g. 泄露举报人
  信息) — a fatal item not met scores the call 0. One checklist is active; an inspection keeps the
  checklist it was scored with.
- `sample(week)` picks, per operator, `size` random answered calls of the week that have a kept
  recording, plus every call picked by rule: the case's call of a 不满意 回访 completed that week,
  of a 催办 that week, and calls of at least `long_s` seconds. One inspection per call, so a rerun
  adds nothing twice (the scheduler runs it every Monday for the week before).
- A supervisor (班长 — the inspectors; there is no separate QA role) listens and scores: each
  item met or not, comments at a time offset in the recording. The operator sees their scored
  calls and may appeal once; a supervisor decides (upheld: re-scored, the first score kept;
  rejected: the score stands). Every score, comment, appeal and decision is in the audit log,
  every listen in the case's trail (or the audit log for a call without a case).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.cases.workdays import TZ
from callcenter.cases.workflow import Actor
from callcenter.core.errors import Conflict, Forbidden, Invalid, NotFound
from callcenter.recordings import services as recordings
from callcenter.recordings.storage import Store, StoredObject
from callcenter.store import audit
from callcenter.store.db import Database
from callcenter.store.models import (
    AuditEntry,
    Call,
    Callback,
    CallDirection,
    QaChecklist,
    QaInspection,
    QaItem,
    QaState,
    Recording,
    RecordingState,
    Role,
    Satisfaction,
    Ticket,
    TicketEvent,
    User,
    utcnow,
)

REASONS = {"sample": "随机抽检", "dissatisfied": "不满意回访", "chase": "催办", "long": "超长通话"}
STATE_LABELS = {QaState.pending: "待评分", QaState.scored: "已评分", QaState.appealed: "申诉中", QaState.final: "已定分"}
DECISIONS = {"upheld": "申诉成立（已改分）", "rejected": "申诉不成立（维持原分）"}
MAX_ITEMS = 40
MAX_TEXT = 2000


# ---- checklists ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemSpec:
    label: str
    weight: int
    fatal: bool


def parse_items(text: str) -> list[ItemSpec]:
    """The admin's item list, one item a line: `标签 | 分值` or `标签 | 致命`. Raises Invalid
    naming the line."""
    out: list[ItemSpec] = []
    lines = [ln.strip() for ln in (text or "").splitlines()]
    for n, ln in enumerate(lines, 1):
        if not ln:
            continue
        label, sep, rest = ln.replace("｜", "|").rpartition("|")
        label, rest = label.strip(), rest.strip()
        if not sep or not label:
            raise Invalid(f"第 {n} 行“{ln[:40]}”格式不对：应为“检查项 | 分值”或“检查项 | 致命”", field="items")
        if len(label) > 200:
            raise Invalid(f"第 {n} 行的检查项过长（最多 200 字）", field="items")
        if rest in ("致命", "致命项", "fatal"):
            out.append(ItemSpec(label, 0, True))
            continue
        try:
            w = int(rest)
        except ValueError:
            raise Invalid(f"第 {n} 行的分值“{rest[:10]}”不是整数（或写“致命”）", field="items") from None
        if not 1 <= w <= 100:
            raise Invalid(f"第 {n} 行的分值 {w} 超出 1–100", field="items")
        out.append(ItemSpec(label, w, False))
    if not any(not i.fatal for i in out):
        raise Invalid("至少要有一个计分的检查项（“检查项 | 分值”）", field="items")
    if len(out) > MAX_ITEMS:
        raise Invalid(f"检查项最多 {MAX_ITEMS} 个", field="items")
    if len({i.label for i in out}) != len(out):
        raise Invalid("检查项有重复", field="items")
    return out


async def create_checklist(db: Database, actor: Actor, name: str, items_text: str,
                           origin: audit.Origin | None = None) -> int:
    """A new checklist from the admin's form; it becomes the active one (inspections already
    scored keep theirs)."""
    if actor.role is not Role.admin and not actor.is_system:
        raise Forbidden("只有管理员可以维护质检表")
    name = (name or "").strip()
    if not name:
        raise Invalid("请填写质检表名称", field="name")
    if len(name) > 100:
        raise Invalid("质检表名称过长（最多 100 字）", field="name")
    items = parse_items(items_text)
    async with db.transaction() as s:
        await s.execute(update(QaChecklist).where(QaChecklist.active.is_(True)).values(active=False))
        c = QaChecklist(name=name, active=True, created_by=actor.name, created_at=utcnow())
        s.add(c)
        await s.flush()
        for pos, i in enumerate(items):
            s.add(QaItem(checklist_id=c.id, position=pos, label=i.label, weight=i.weight, fatal=i.fatal))
        audit.record(s, actor, "qa_checklist.create", "qa_checklist", c.id, name,
                     {"name": [None, name], "items": [None, "；".join(
                         f"{i.label}（{'致命' if i.fatal else i.weight}）" for i in items)]}, origin)
        return c.id


@dataclass
class ChecklistView:
    id: int
    name: str
    active: bool
    created_by: str
    created_at: datetime
    items: list[QaItem]

    @property
    def total(self) -> int:
        return sum(i.weight for i in self.items if not i.fatal)


async def checklists(db: Database) -> list[ChecklistView]:
    async with db.session() as s:
        cs = (await s.execute(select(QaChecklist).order_by(QaChecklist.id.desc()))).scalars().all()
        items = (await s.execute(select(QaItem).order_by(QaItem.checklist_id, QaItem.position))).scalars().all()
    by: dict[int, list[QaItem]] = {}
    for i in items:
        by.setdefault(i.checklist_id, []).append(i)
    return [ChecklistView(c.id, c.name, c.active, c.created_by, c.created_at, by.get(c.id, [])) for c in cs]


async def checklist(db: Database, checklist_id: int | None) -> ChecklistView | None:
    """The given checklist, or the active one."""
    for c in await checklists(db):
        if (checklist_id is None and c.active) or c.id == checklist_id:
            return c
    return None


def compute(cl: ChecklistView, met: dict[int, bool]) -> tuple[float, bool]:
    """(score 0–100, fatal): the met weights over all weights; a fatal item not met → 0."""
    fatal = any(i.fatal and not met.get(i.id, False) for i in cl.items)
    if fatal:
        return 0.0, True
    total = cl.total
    got = sum(i.weight for i in cl.items if not i.fatal and met.get(i.id, False))
    return round(100.0 * got / total, 1) if total else 0.0, False


# ---- the weekly sample -----------------------------------------------------------------------------


def week_of(d: date) -> date:
    """The Monday of `d`'s week."""
    return d - timedelta(days=d.weekday())


def last_week(now: datetime) -> date:
    return week_of(now.astimezone(TZ).date()) - timedelta(days=7)


def _bounds(week: date) -> tuple[datetime, datetime]:
    start = datetime.combine(week, time(0), tzinfo=TZ)
    return start, start + timedelta(days=7)


@dataclass
class SampleResult:
    week: date
    picked: dict[str, int] = field(default_factory=lambda: {r: 0 for r in REASONS})

    @property
    def total(self) -> int:
        return sum(self.picked.values())


ANSWERED = (Call.answered_at.is_not(None), Call.operator_id.is_not(None))


async def sample(db: Database, week: date, *, size: int, long_s: int, rng: random.Random | None = None,
                 now: datetime | None = None) -> SampleResult:
    """Pick the week's calls for inspection (module doc). Idempotent per call; the random draw
    tops each operator up to `size` sampled calls of the week."""
    if week.weekday() != 0:
        raise Invalid(f"{week} 不是星期一：抽检按周（周一至周日）", field="week")
    rng = rng or random.Random()
    start, end = _bounds(week)
    res = SampleResult(week)
    kept = and_(Recording.state == RecordingState.collected, *ANSWERED)
    rec_call = select(Recording.id, Call.id.label("call_id"), Call.operator_id).join(Call, Call.id == Recording.call_id)
    async with db.transaction() as s:
        done = set((await s.execute(select(QaInspection.call_id))).scalars().all())
        picks: list[tuple[int, int, int, str]] = []  # recording, call, operator, reason

        def take(rows: Any, reason: str) -> None:
            for r in rows:
                if r.call_id not in done:
                    done.add(r.call_id)
                    picks.append((r.id, r.call_id, r.operator_id, reason))

        # by rule: the registering call of a case with a 不满意 回访 / a 催办 this week; long calls
        unhappy = (select(Ticket.call_id).join(Callback, Callback.ticket_id == Ticket.id)
                   .where(Callback.satisfaction == Satisfaction.dissatisfied, Callback.completed_at >= start,
                          Callback.completed_at < end, Ticket.call_id.is_not(None)))
        take((await s.execute(rec_call.where(kept, Call.id.in_(unhappy)).order_by(Call.id))).all(), "dissatisfied")
        chased = (select(Ticket.call_id).join(TicketEvent, TicketEvent.ticket_id == Ticket.id)
                  .where(TicketEvent.action == "chase", TicketEvent.at >= start, TicketEvent.at < end,
                         Ticket.call_id.is_not(None)))
        take((await s.execute(rec_call.where(kept, Call.id.in_(chased)).order_by(Call.id))).all(), "chase")
        long_ = (await s.execute(rec_call.where(kept, Call.offered_at >= start, Call.offered_at < end,
                                                or_(Call.talk_s >= long_s, Recording.duration_s >= long_s))
                                 .order_by(Call.id))).all()
        take(long_, "long")
        # the random draw: per operator, up to `size` sampled calls of the week
        have = dict((await s.execute(
            select(QaInspection.operator_id, func.count()).where(QaInspection.week == week, QaInspection.reason == "sample")
            .group_by(QaInspection.operator_id))).all())
        pool: dict[int, list[Any]] = {}
        for r in (await s.execute(rec_call.where(kept, Call.offered_at >= start, Call.offered_at < end)
                                  .order_by(Call.operator_id, Call.id))).all():
            if r.call_id not in done:
                pool.setdefault(r.operator_id, []).append(r)
        for op_id in sorted(pool):
            want = max(0, size - have.get(op_id, 0))
            take(rng.sample(pool[op_id], min(want, len(pool[op_id]))), "sample")
        at = now or utcnow()
        for rec_id, call_id, op_id, reason in picks:
            await s.execute(insert(QaInspection).values(
                call_id=call_id, recording_id=rec_id, operator_id=op_id, week=week, reason=reason,
                state=QaState.pending, picked_at=at))
            res.picked[reason] += 1
        if picks:
            audit.record(s, None, "qa.sample", "qa_week", week.isoformat(), f"{week} 当周抽检",
                         {r: n for r, n in res.picked.items() if n}, actor_name="系统（质检抽样）", now=at)
    return res


# ---- reading ---------------------------------------------------------------------------------------


@dataclass
class InspectionView:
    i: QaInspection
    operator: str
    scorer: str | None
    decider: str | None
    call: Call
    duration_s: float | None
    case_number: str | None
    confidential: bool

    @property
    def reason_label(self) -> str:
        return REASONS.get(self.i.reason, self.i.reason)

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.i.state]


async def _case_of(s: AsyncSession, call: Call) -> Ticket | None:
    """The case the call belongs to: registered from it, or the callback's case."""
    t = (await s.execute(select(Ticket).where(Ticket.call_id == call.id).order_by(Ticket.id).limit(1))).scalar_one_or_none()
    if t is None and call.ticket_ref:
        t = (await s.execute(select(Ticket).where(Ticket.number == call.ticket_ref))).scalar_one_or_none()
    return t


def may_see(actor: Actor, i: QaInspection) -> bool:
    """Supervisors see every inspection; an operator their own once scored; nobody else."""
    if actor.role is Role.supervisor:
        return True
    return actor.role is Role.operator and actor.id == i.operator_id and i.state is not QaState.pending


async def get(db: Database, actor: Actor, inspection_id: int) -> InspectionView:
    async with db.session() as s:
        i = (await s.execute(select(QaInspection).where(QaInspection.id == inspection_id))).scalar_one_or_none()
        if i is None:
            raise NotFound("没有这条质检记录")
        if not may_see(actor, i):
            raise Forbidden("无权查看这条质检记录")
        call = (await s.execute(select(Call).where(Call.id == i.call_id))).scalar_one()
        names = dict((await s.execute(select(User.id, User.display_name).where(
            User.id.in_([x for x in (i.operator_id, i.scored_by, i.decided_by) if x is not None])))).all())
        dur = (await s.execute(select(Recording.duration_s).where(Recording.id == i.recording_id))).scalar_one()
        t = await _case_of(s, call)
    return InspectionView(i, names.get(i.operator_id, "?"), names.get(i.scored_by) if i.scored_by else None,
                          names.get(i.decided_by) if i.decided_by else None, call, dur,
                          t.number if t else None, bool(t and recordings.case_is_confidential(t)))


async def listing(db: Database, actor: Actor, *, states: tuple[QaState, ...] | None = None,
                  limit: int = 200) -> list[InspectionView]:
    """Supervisors: every inspection (newest week first); an operator: their own scored ones."""
    if actor.role not in (Role.supervisor, Role.operator):
        return []
    async with db.session() as s:
        q = select(QaInspection.id).order_by(QaInspection.week.desc(), QaInspection.id.desc()).limit(limit)
        if actor.role is Role.operator:
            q = q.where(QaInspection.operator_id == actor.id, QaInspection.state != QaState.pending)
        if states:
            q = q.where(QaInspection.state.in_(states))
        ids = (await s.execute(q)).scalars().all()
    return [await get(db, actor, x) for x in ids]


# ---- listening -------------------------------------------------------------------------------------


def may_listen(actor: Actor, v: InspectionView) -> bool:
    """Supervisors; the operator of the call unless its case is confidential (the case rule)."""
    if actor.role is Role.supervisor:
        return True
    return actor.role is Role.operator and actor.id == v.i.operator_id and not v.confidential


async def open_recording(db: Database, actor: Actor, inspection_id: int, store: Store, *,
                         record: bool) -> Path | StoredObject:
    """The inspected call's recording, if `actor` may hear it; with `record`, the listen is
    written to the case's trail like a listen from the case page (or, for a call without a
    case, to the audit log)."""
    v = await get(db, actor, inspection_id)
    if not may_listen(actor, v):
        raise Forbidden("无权收听这段录音")
    async with db.session() as s:
        rec = (await s.execute(select(Recording).where(Recording.id == v.i.recording_id))).scalar_one()
        t = await _case_of(s, v.call)
    if rec.state is not RecordingState.collected or rec.path is None or (
            isinstance(store, Path) and not (store / rec.path).is_file()):
        raise NotFound("录音已不在保存期内")
    if t is not None:
        return await recordings.open_for_listening(db, t, rec.id, actor, store, record=record)
    if record and actor.id is not None:
        async with db.transaction() as s:
            since = utcnow() - recordings.LISTEN_WINDOW
            recent = (await s.execute(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.action == "recording.listen", AuditEntry.actor_id == actor.id,
                AuditEntry.target_id == str(rec.id), AuditEntry.at > since))).scalar_one()
            if not recent:
                audit.record(s, actor, "recording.listen", "recording", rec.id,
                             f"{'来电' if v.call.direction is CallDirection.inbound else '回访'} "
                             f"{v.call.offered_at.astimezone(TZ):%Y-%m-%d %H:%M}",
                             {"via": "质检"})
    return store / rec.path if isinstance(store, Path) else StoredObject(store, rec.path, rec.size or 0)


# ---- scoring, comments, appeals --------------------------------------------------------------------


def _sup(actor: Actor) -> None:
    if actor.role is not Role.supervisor:
        raise Forbidden("只有班长可以评分和处理申诉")


def parse_offset(v: str) -> float:
    """'1:23', '83', '83.5' → seconds into the recording."""
    v = (v or "").strip().replace("：", ":")
    if not v:
        raise Invalid("请填写录音中的时间点（如 1:23）", field="at")
    try:
        if ":" in v:
            m, sec = v.split(":", 1)
            out = int(m) * 60 + float(sec)
            if not 0 <= float(sec) < 60:
                raise ValueError
        else:
            out = float(v)
    except ValueError:
        raise Invalid(f"时间点“{v[:12]}”有误，请写成 分:秒（如 1:23）", field="at") from None
    if out < 0 or out > 24 * 3600:
        raise Invalid(f"时间点“{v[:12]}”超出录音长度", field="at")
    return round(out, 1)


async def _load(s: AsyncSession, inspection_id: int) -> QaInspection:
    i = (await s.execute(select(QaInspection).where(QaInspection.id == inspection_id).with_for_update())
         ).scalar_one_or_none()
    if i is None:
        raise NotFound("没有这条质检记录")
    return i


def _label(i: QaInspection) -> str:
    return f"质检 #{i.id}（{REASONS.get(i.reason, i.reason)}，{i.week} 周）"


async def score(db: Database, actor: Actor, inspection_id: int, met_ids: set[int],
                origin: audit.Origin | None = None) -> tuple[float, bool]:
    """Score a picked call against the active checklist: `met_ids` are the items met."""
    _sup(actor)
    cl = await checklist(db, None)
    if cl is None:
        raise Conflict("还没有启用的质检表：请管理员先在“质检表”中建立")
    unknown = met_ids - {i.id for i in cl.items}
    if unknown:
        raise Invalid("勾选的检查项不属于当前质检表，请刷新页面后重试", field="items")
    met = {i.id: i.id in met_ids for i in cl.items}
    value, fatal = compute(cl, met)
    async with db.transaction() as s:
        i = await _load(s, inspection_id)
        if i.state is not QaState.pending:
            raise Conflict(f"这条质检已{STATE_LABELS[i.state]}，不能再次评分")
        i.checklist_id, i.results, i.score, i.fatal = cl.id, {str(k): v for k, v in met.items()}, value, fatal
        i.scored_by, i.scored_at, i.state = actor.id, utcnow(), QaState.scored
        audit.record(s, actor, "qa.score", "qa_inspection", i.id, _label(i),
                     {"score": [None, value], "fatal": [None, fatal],
                      "missed": [None, "；".join(x.label for x in cl.items if not met[x.id]) or "无"]}, origin)
    return value, fatal


def _mmss(seconds: float) -> str:
    """A time offset in the recording as m:ss."""
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


async def comment(db: Database, actor: Actor, inspection_id: int, at: str, text: str,
                  origin: audit.Origin | None = None) -> None:
    """A supervisor's comment at a time offset in the recording."""
    _sup(actor)
    text = (text or "").strip()
    at_s = parse_offset(at)
    if not text:
        raise Invalid("请填写点评内容", field="text")
    if len(text) > MAX_TEXT:
        raise Invalid(f"点评过长（最多 {MAX_TEXT} 字）", field="text")
    async with db.transaction() as s:
        i = await _load(s, inspection_id)
        if i.state is QaState.final:
            raise Conflict("这条质检已定分，不能再添加点评")
        dur = (await s.execute(select(Recording.duration_s).where(Recording.id == i.recording_id))).scalar_one()
        if dur is not None and at_s > dur + 1:
            raise Invalid(f"时间点 {_mmss(at_s)} 超出录音长度（{_mmss(dur)}）", field="at")
        i.comments = [*(i.comments or []), {"at_s": at_s, "text": text, "by": actor.name,
                                            "at": utcnow().isoformat(timespec="seconds")}]
        audit.record(s, actor, "qa.comment", "qa_inspection", i.id, _label(i),
                     {"comment": [None, f"{_mmss(at_s)} {text}"]}, origin)


async def appeal(db: Database, actor: Actor, inspection_id: int, text: str, origin: audit.Origin | None = None) -> None:
    """The operator's one appeal against a score."""
    if actor.role is not Role.operator:
        raise Forbidden("只有被质检的话务员本人可以申诉")
    text = (text or "").strip()
    if not text:
        raise Invalid("请写明申诉理由", field="reason")
    if len(text) > MAX_TEXT:
        raise Invalid(f"申诉理由过长（最多 {MAX_TEXT} 字）", field="reason")
    async with db.transaction() as s:
        i = await _load(s, inspection_id)
        if i.operator_id != actor.id:
            raise Forbidden("只能对自己的质检结果申诉")
        if i.appealed_at is not None:
            raise Conflict("每条质检结果只能申诉一次，已申诉过")
        if i.state is not QaState.scored:
            raise Conflict(f"这条质检{STATE_LABELS[i.state]}，不能申诉")
        i.appeal_text, i.appealed_at, i.state = text, utcnow(), QaState.appealed
        audit.record(s, actor, "qa.appeal", "qa_inspection", i.id, _label(i), {"appeal": [None, text]}, origin)


async def decide(db: Database, actor: Actor, inspection_id: int, upheld: bool, note: str,
                 met_ids: set[int] | None = None, origin: audit.Origin | None = None) -> None:
    """A supervisor decides an appeal. Upheld: the call is re-scored with `met_ids` against the
    checklist it was scored with (the first score kept); rejected: the score stands."""
    _sup(actor)
    note = (note or "").strip()
    if not note:
        raise Invalid("请写明处理意见", field="note")
    async with db.transaction() as s:
        i = await _load(s, inspection_id)
        if i.state is not QaState.appealed:
            raise Conflict(f"这条质检{STATE_LABELS[i.state]}，没有待处理的申诉")
        cl_id = i.checklist_id
    cl = await checklist(db, cl_id)
    if cl is None:
        raise Conflict("原质检表已不存在")
    changes: dict[str, Any] = {"decision": [None, DECISIONS["upheld" if upheld else "rejected"]], "note": [None, note]}
    async with db.transaction() as s:
        i = await _load(s, inspection_id)
        if i.state is not QaState.appealed:
            raise Conflict("申诉已被他人处理，请刷新页面")
        if upheld:
            met = {x.id: x.id in (met_ids or set()) for x in cl.items}
            value, fatal = compute(cl, met)
            changes["score"] = [i.score, value]
            i.first_score, i.score, i.fatal, i.results = i.score, value, fatal, {str(k): v for k, v in met.items()}
        i.decision, i.decision_note = "upheld" if upheld else "rejected", note
        i.decided_by, i.decided_at, i.state = actor.id, utcnow(), QaState.final
        audit.record(s, actor, "qa.decide", "qa_inspection", i.id, _label(i), changes, origin)
