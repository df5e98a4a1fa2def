"""The knowledge base learns how callers ask (issue 16): candidate phrasings (kb_phrasings).

- When an operator answers a case with an entry after searching, the text they searched
  becomes a candidate phrasing of that entry (kb.answer_case(search_text=…)).
- `hotline kb learn --from-history` does the same from the registry: every case answered
  directly (直接答复, kb_uses) proposes its 诉求内容 for the entry that answered it. Confidential
  (whistleblower) cases are never used.
- A candidate is proposed to the entry's department: its clerks (and supervisors, admins)
  publish or reject it (/kb/phrasings). A published one joins kb_entries.learned and its tokens
  the entry's tok_phrasings: the search treats it like the entry's 常见问法.

The same wording proposed again for the same entry counts once more (`seen`) instead of adding
a row. Digits runs that may be a telephone, ID or house number are masked before anything is
stored, and the text is cut to MAX_LEN characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.cases.workflow import SYSTEM, Actor
from callcenter.core.errors import Conflict, Forbidden, NotFound, role_zh
from callcenter.core.glossary import KB_PHRASING_STATUS_LABELS
from callcenter.kb import search as kb_search
from callcenter.store.db import Database
from callcenter.store.models import Department, KbEntry, KbPhrasing, KbStatus, KbUse, Role, Ticket, utcnow

MAX_LEN = 120
MIN_CHARS = 4  # fewer word characters than this: not a phrasing (a code, "电梯")
REVIEWERS = (Role.clerk, Role.supervisor, Role.admin)
_DIGITS = re.compile(r"\d{5,}")
_SPACE = re.compile(r"\s+")
_WORDCH = re.compile(r"[0-9A-Za-z\u3400-\u9fff]")


def clean(text: str) -> str:
    """The phrasing as stored: one line, long digit runs masked, at most MAX_LEN characters."""
    t = _SPACE.sub(" ", text or "").strip()
    t = _DIGITS.sub("…", t)
    if len(t) > MAX_LEN:
        cut = max(t.rfind(p, 0, MAX_LEN) for p in "。！？；!?;")
        t = t[: cut + 1] if cut >= MAX_LEN // 2 else t[:MAX_LEN]
    return t.strip()


def _norm(text: str) -> str:
    return "".join(c for c in kb_search.normalize(text) if _WORDCH.match(c))[:200]


def _known(e: KbEntry) -> set[str]:
    return {_norm(p) for p in [e.title, *(e.phrasings or "").split("|"), *(e.learned or "").split("|")] if p}


async def propose(s: AsyncSession, e: KbEntry, text: str, *, source: str, actor: Actor,
                  ticket_id: int | None = None, now: datetime | None = None) -> KbPhrasing | None:
    """Propose `text` as a phrasing of entry `e` (in the caller's transaction). None when it is
    too short or already the entry's title or a phrasing of it."""
    t = clean(text)
    norm = _norm(t)
    if len(norm) < MIN_CHARS or norm in _known(e):
        return None
    row = (await s.execute(select(KbPhrasing).where(KbPhrasing.entry_id == e.id, KbPhrasing.norm == norm))
           ).scalar_one_or_none()
    if row is not None:
        row.seen += 1
        return row
    row = KbPhrasing(entry_id=e.id, text=t, norm=norm, source=source, status="proposed", seen=1,
                     ticket_id=ticket_id, proposed_by=actor.name, proposed_at=now or utcnow())
    s.add(row)
    await s.flush()
    return row


def _may_review(actor: Actor, dep_id: int | None) -> None:
    if actor.role not in REVIEWERS:
        raise Forbidden(f"{role_zh(actor.role)}无权审核来电问法")
    if actor.role is Role.clerk and dep_id != actor.department_id:
        raise Forbidden("该条目属于其他单位")


async def pending(db: Database, actor: Actor, status: str = "proposed", limit: int = 200) -> list[dict[str, Any]]:
    """The candidates the actor's department (a clerk), or every department, has to review."""
    if actor.role not in REVIEWERS:
        raise Forbidden(f"{role_zh(actor.role)}无权审核来电问法")
    q = (select(KbPhrasing, KbEntry.code, KbEntry.title, KbEntry.department_id, Department.name)
         .join(KbEntry, KbEntry.id == KbPhrasing.entry_id)
         .outerjoin(Department, Department.id == KbEntry.department_id)
         .where(KbPhrasing.status == status)
         .order_by(KbPhrasing.seen.desc(), KbPhrasing.proposed_at.desc(), KbPhrasing.id.desc()).limit(limit))
    if actor.role is Role.clerk:
        q = q.where(KbEntry.department_id == actor.department_id)
    async with db.session() as s:
        rows = (await s.execute(q)).all()
    return [{"id": p.id, "text": p.text, "source": p.source, "seen": p.seen, "status": p.status,
             "proposed_by": p.proposed_by, "proposed_at": p.proposed_at, "reviewed_by": p.reviewed_by,
             "code": code, "title": title, "department": dep or ""}
            for p, code, title, _dep_id, dep in rows]


def retokenize(e: KbEntry) -> None:
    """The entry's tok_phrasings from its official and learned phrasings (the index follows)."""
    phr = [p for p in (e.phrasings or "").split("|") if p.strip()]
    phr += [p for p in (e.learned or "").split("|") if p.strip()]
    e.tok_phrasings = " | ".join(kb_search.index_text(p) for p in phr)
    e.con_head = kb_search.entry_concepts(e.tok_title, e.tok_phrasings, "")["con_head"]


async def review(db: Database, actor: Actor, phrasing_id: int, publish: bool,
                 now: datetime | None = None) -> KbPhrasing:
    """Publish (searched from now on) or reject a proposed phrasing."""
    async with db.transaction() as s:
        p = await s.get(KbPhrasing, phrasing_id)
        if p is None:
            raise NotFound(f"没有待审核的来电问法 {phrasing_id}")
        e = await s.get(KbEntry, p.entry_id)
        assert e is not None
        _may_review(actor, e.department_id)
        if p.status != "proposed":
            raise Conflict(f"来电问法 {phrasing_id} 已处理（{KB_PHRASING_STATUS_LABELS.get(p.status, p.status)}）")
        p.status = "published" if publish else "rejected"
        p.reviewed_by, p.reviewed_at = actor.name, now or utcnow()
        if publish:
            learned = [x for x in (e.learned or "").split("|") if x]
            text = p.text.replace("|", " ")
            if _norm(text) not in _known(e):
                e.learned = "|".join([*learned, text])
                retokenize(e)
                e.updated_at = p.reviewed_at
    return p


@dataclass
class LearnReport:
    cases: int = 0  # direct answers read
    proposed: int = 0  # new candidates
    again: int = 0  # already a candidate (not counted again)
    skipped: int = 0  # too short, already a phrasing, confidential, entry not searchable


async def learn_from_history(db: Database, actor: Actor = SYSTEM, since: datetime | None = None) -> LearnReport:
    """Every case answered directly with an entry (kb_uses) proposes its 诉求内容 for it."""
    rep = LearnReport()
    q = (select(KbUse.entry_id, Ticket.id, Ticket.content, Ticket.confidential)
         .join(Ticket, Ticket.id == KbUse.ticket_id).order_by(KbUse.id))
    if since is not None:
        q = q.where(KbUse.at >= since)
    async with db.transaction() as s:
        rows = (await s.execute(q)).all()
        entries: dict[int, KbEntry | None] = {}
        for entry_id, ticket_id, content, confidential in rows:
            rep.cases += 1
            if entry_id not in entries:
                entries[entry_id] = await s.get(KbEntry, entry_id)
            e = entries[entry_id]
            if confidential or e is None or e.status not in (KbStatus.published, KbStatus.expired):
                rep.skipped += 1
                continue
            # already a candidate (a re-run, or the search text was the same): counted once
            known = (await s.execute(select(KbPhrasing.id).where(
                KbPhrasing.entry_id == e.id, KbPhrasing.norm == _norm(clean(content or ""))))).scalar_one_or_none()
            if known is not None:
                rep.again += 1
            elif await propose(s, e, content or "", source="history", actor=actor, ticket_id=ticket_id) is None:
                rep.skipped += 1
            else:
                rep.proposed += 1
    return rep
