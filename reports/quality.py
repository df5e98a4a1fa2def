"""Quality-inspection figures (质检, issue 18) per operator, team and month: calls answered,
calls inspected (scored), the share inspected, the average score and the fatal errors.

A call counts in the period it was offered. "Inspected" is a scored inspection (scored, under
appeal, or decided; an upheld appeal counts with its new score). A team is the seat group (技能组)
of the call's queue. Read by the QA page (callcenter/qa/web.py) and the monthly summary
(reports/annual.py `summary`), so both show the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select

from callcenter.store.db import Database
from callcenter.store.models import Call, QaInspection, QaState, SeatGroup, User

from .metrics import TZ, period_bounds, ratio

SCORED = (QaState.scored, QaState.appealed, QaState.final)
NO_TEAM = "（未分组）"


@dataclass
class QaRow:
    key: str
    label: str
    answered: int = 0
    inspected: int = 0
    pending: int = 0
    fatal: int = 0
    appeals: int = 0
    scores: list[float] = field(default_factory=list)

    @property
    def share(self) -> float | None:
        return ratio(self.inspected, self.answered)

    @property
    def average(self) -> float | None:
        return round(sum(self.scores) / len(self.scores), 1) if self.scores else None

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "answered": self.answered, "inspected": self.inspected,
                "pending": self.pending, "share": self.share, "average": self.average, "fatal": self.fatal,
                "appeals": self.appeals}


async def qa_figures(db: Database, d0: date, d1: date) -> dict[str, Any]:
    """{"total", "operators", "teams", "months"}: each a QaRow dict (module doc)."""
    lo, hi = period_bounds(d0, d1)
    async with db.session() as s:
        teams = dict((await s.execute(select(SeatGroup.queue, SeatGroup.name))).all())
        names = dict((await s.execute(select(User.id, User.display_name))).all())
        answered = (await s.execute(
            select(Call.operator_id, Call.queue, Call.offered_at)
            .where(Call.offered_at >= lo, Call.offered_at < hi, Call.answered_at.is_not(None),
                   Call.operator_id.is_not(None)))).all()
        insp = (await s.execute(
            select(QaInspection.operator_id, QaInspection.state, QaInspection.score, QaInspection.fatal,
                   QaInspection.appealed_at, Call.queue, Call.offered_at)
            .join(Call, Call.id == QaInspection.call_id)
            .where(Call.offered_at >= lo, Call.offered_at < hi))).all()
    total = QaRow("total", "合计")
    rows: dict[str, dict[str, QaRow]] = {"operators": {}, "teams": {}, "months": {}}

    def keys(op_id: int, queue: str | None, at: Any) -> list[tuple[str, str, str]]:
        team = teams.get(queue or "", queue) or NO_TEAM
        month = f"{at.astimezone(TZ):%Y-%m}"
        return [("operators", str(op_id), names.get(op_id, f"#{op_id}")), ("teams", team, team),
                ("months", month, month)]

    def targets(op_id: int, queue: str | None, at: Any) -> list[QaRow]:
        out = [total]
        for group, k, label in keys(op_id, queue, at):
            out.append(rows[group].setdefault(k, QaRow(k, label)))
        return out

    for op_id, queue, at in answered:
        for r in targets(op_id or 0, queue, at):
            r.answered += 1
    for op_id, state, score, fatal, appealed_at, queue, at in insp:
        for r in targets(op_id, queue, at):
            if state in SCORED:
                r.inspected += 1
                if score is not None:
                    r.scores.append(score)
                r.fatal += bool(fatal)
                r.appeals += appealed_at is not None
            else:
                r.pending += 1
    return {
        "period": {"from": d0.isoformat(), "to": d1.isoformat()},
        "total": total.as_dict(),
        "operators": [r.as_dict() for r in sorted(rows["operators"].values(), key=lambda r: r.label)],
        "teams": [r.as_dict() for r in sorted(rows["teams"].values(), key=lambda r: r.label)],
        "months": [r.as_dict() for r in sorted(rows["months"].values(), key=lambda r: r.key)],
    }


async def has_any(db: Database) -> bool:
    async with db.session() as s:
        return bool((await s.execute(select(func.count()).select_from(QaInspection))).scalar_one())
