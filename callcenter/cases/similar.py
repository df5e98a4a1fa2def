"""Likely duplicates (并单 proposals): while an operator fills 来电登记, the open cases that are
probably the same matter, each with a score and the reasons shown to the operator.

Candidates come from one query (two index-bounded branches, UNION ALL):

* the same caller (`caller_norm`, its index): open cases of any age, and cases resolved or
  answered within RESOLVED_DAYS — a caller chasing an earlier case;
* open cases registered in the last RECENT_DAYS (the partial index on open cases, or
  `registered_at`) of the same category or area, at the same address, or whose content holds
  one of the draft's rarest keywords — the newest POOL_LIMIT of them.

Each is then scored in Python: same caller, same / near address, content similarity (cosine
of TF-IDF-weighted keyword sets, jieba as routing.py segments it, IDF over the candidate
pool), same category, same area, combined as a noisy-OR in [0, 1]. Only a candidate with a
real signal (caller, address or content) is proposed; category and area only add weight.

Never proposed: merged, invalid and closed cases (a merge target must be live); cases the
actor may not see (a clerk sees only their department's). 举报人信息保密: a 干部举报 or
confidential case is never matched by the caller's number (typing a number must not reveal
that it filed a report) and never shows a name, phone, address or content excerpt — only
number, category, status and time.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import false, func, or_, select, union_all

from callcenter.cases import phones, routing
from callcenter.cases.services import shows_identity
from callcenter.cases.workflow import Actor
from callcenter.core.errors import Invalid
from callcenter.core.glossary import CASE_STATE_LABELS
from callcenter.store.db import Database
from callcenter.store.models import OPEN_STATES, Kind, Role, Status, Ticket, table_of, utcnow

# Open cases registered within this many days are compared with the draft: DOMAIN.md's rule
# (same number, or same address and topic, within 30 days; similar text). Older open cases
# still reach the operator through the caller's own history.
RECENT_DAYS = 30
# The caller's cases resolved / answered within this many days are still proposed (the caller
# rings again about the same matter); later ones are closed by then or a new matter.
RESOLVED_DAYS = 7
POOL_LIMIT = 300  # the newest open cases of the pool scored per request (bounds CPU)
CALLER_LIMIT = 20  # the caller's newest cases considered
LIMIT = 5  # candidates shown
KEYWORDS_IN_QUERY = 3  # the draft's rarest keywords that pull cases of other categories/areas in
CONTENT_CHARS = 400  # content compared (and cached) per case: the head of a long text suffices
# Segmenting costs ~0.1 ms per text: only the pool's SEGMENT_TOP texts sharing the most
# character bigrams with the draft (and at least BIGRAMS_MIN) are segmented and compared
SEGMENT_TOP = 60
BIGRAMS_MIN = 2
SIM_MIN = 0.2  # content similarity that counts as a reason on its own

# weights of the signals (noisy-OR: score = 1 - Π(1 - w))
W_CALLER = 0.5
W_ADDRESS_SAME = 0.45
W_ADDRESS_NEAR = 0.25
W_CONTENT = 0.9  # × similarity
W_CATEGORY = 0.1
W_AREA = 0.05

# in the order of the partial index's predicate (models.OPEN_STATES_SQL): PostgreSQL then
# sees the query's clause is the index's and does not AND a second index in
_OPEN = OPEN_STATES
TARGET_STATES = (*_OPEN, Status.resolved, Status.answered)  # never merged/invalid/closed
_CALLER_TARGETS = TARGET_STATES

# words every 12345 record says: they make unrelated cases look alike
STOPWORDS = frozenset("""
市民 来电 反映 反应 投诉 举报 咨询 诉求 要求 希望 请求 问题 情况 事情 处理 解决 相关 部门 有关 单位
现在 目前 已经 一直 没有 什么 怎么 如何 为什么 是否 可以 能否 不能 能够 还是 但是 而且 因为 所以 如果
我们 你们 他们 自己 这个 那个 这里 那里 这边 那边 这样 那样 一个 一些 很多 非常 特别 比较 还有 以及
今天 昨天 明天 每天 时候 时间 之前 以后 然后 本人 家里 谢谢 麻烦 尽快 及时 马上 立即 严重 影响
""".split())

_ADDR_DROP = re.compile(r"[\s\-—_,，、。.;；:：()（）\[\]【】#号]+")
_WORDLIKE = re.compile(r"\w{2,}")


@dataclass(frozen=True)
class Draft:
    """What the operator has typed so far (every field optional)."""

    phone: str | None = None
    address: str | None = None
    area: str | None = None
    category: str | None = None  # the category's name (问题分类)
    text: str = ""  # 诉求内容


@dataclass
class Candidate:
    number: str
    score: float
    reasons: list[str]
    status: str
    status_label: str
    kind: str
    category: str | None
    department: str | None
    registered_at: datetime
    confidential: bool  # 干部举报 or marked confidential: identity and content withheld
    excerpt: str | None = None  # None when withheld
    address: str | None = None
    caller_name: str | None = None
    caller_phone: str | None = None  # masked
    similarity: float = 0.0
    signals: set[str] = field(default_factory=set)  # caller, address, content, category, area


def normalize_address(a: str | None) -> str:
    """Full-width → half-width, lower case, no spaces or punctuation: 幸福小区 3 栋 = 幸福小区3栋."""
    if not a:
        return ""
    return _ADDR_DROP.sub("", unicodedata.normalize("NFKC", a).lower())


def address_match(a: str, b: str) -> str | None:
    """'same', 'near' (one contains the other, or a long common head: 3栋 / 5栋 of one estate) or None."""
    if not a or not b:
        return None
    if a == b:
        return "same"
    short, long_ = sorted((a, b), key=len)
    if len(short) >= 6 and short in long_:
        return "near"
    head = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        head += 1
    if head >= 6 and head >= 0.7 * max(len(a), len(b)):
        return "near"
    return None


def keywords(text: str) -> frozenset[str]:
    """The content's keywords: routing.tokens (jieba search mode), words of two characters or
    more, no digits-only tokens, no stop words."""
    if not text or not text.strip():
        return frozenset()
    return _keywords(unicodedata.normalize("NFKC", text[:CONTENT_CHARS]).lower())


@lru_cache(maxsize=8192)
def _keywords(text: str) -> frozenset[str]:
    # cached: the pool changes slowly while an operator types, so each case is segmented once
    return frozenset(
        t for t in routing.tokens(text)
        if len(t) >= 2 and not t.isdigit() and t not in STOPWORDS and _WORDLIKE.fullmatch(t)
    )


def cosine(a: frozenset[str], b: frozenset[str], idf: dict[str, float]) -> float:
    """Cosine of two keyword sets weighted by IDF (binary term frequency; unknown words 1)."""
    return _cosine(a, math.sqrt(sum(idf.get(w, 1.0) ** 2 for w in a)), b, idf)


def pool_idf(docs: list[frozenset[str]]) -> dict[str, float]:
    """Smoothed IDF over the candidate pool: words many candidates share weigh less."""
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d)
    n = len(docs)
    return {w: 1.0 + math.log((n + 1) / (c + 1)) for w, c in df.items()}


def _cols() -> list[Any]:
    t = table_of(Ticket).c
    return [t.id, t.number, t.status, t.kind, t.confidential, t.category_id, t.department_id, t.area,
            t.address, t.caller_norm, t.caller_name, t.caller_phone, t.registered_at, t.resolved_at,
            func.substr(t.content, 1, CONTENT_CHARS).label("content")]


def _rarest(words: frozenset[str], n: int) -> list[str]:
    # longer words are the more specific ones; among equals, the rarer in jieba's dictionary
    jieba = routing._segmenter()  # loaded already: keywords() segmented the draft
    picked: list[str] = []
    for w in sorted(words, key=lambda w: (-len(w), jieba.get_FREQ(w) or 0, w)):
        if len(picked) == n:
            break
        if not any(w in p for p in picked):  # 不着 adds nothing once 睡不着 is in
            picked.append(w)
    return picked


def query(actor: Actor, draft: Draft, category_id: int | None, now: datetime, days: int = RECENT_DAYS) -> Any:
    """The candidate query: one statement, each branch bounded by an index."""
    t = table_of(Ticket).c
    seen = [t.department_id == actor.department_id] if actor.role is Role.clerk else []
    branches = []
    norm = phones.normalize(draft.phone) if draft.phone else None
    if norm:
        caller = (
            select(*_cols())
            .where(t.caller_norm == norm, t.status.in_([s.value for s in _CALLER_TARGETS]),
                   # 举报人信息保密: a number never finds a report or a confidential case
                   t.confidential.is_(false()), t.kind != Kind.report.value,
                   or_(t.status.in_([s.value for s in _OPEN]), t.resolved_at >= now - timedelta(days=RESOLVED_DAYS)),
                   *seen)
            .order_by(t.registered_at.desc()).limit(CALLER_LIMIT)
        )
        branches.append(caller.subquery("by_caller"))
    near = []
    if category_id is not None:
        near.append(t.category_id == category_id)
    if draft.area and draft.area.strip():
        near.append(t.area == draft.area.strip())
    addr = (draft.address or "").strip()
    if addr:
        near.append(t.address == addr)
        head = normalize_address(addr)[:6]  # the same street and estate: scoring tells same from near
        if len(head) == 6:
            near.append(t.address.startswith(head, autoescape=True))
    for w in _rarest(keywords(draft.text), KEYWORDS_IN_QUERY):
        near.append(t.content.contains(w, autoescape=True))
    if near:  # nothing to compare with: no pool (the caller's cases may still come)
        recent = (
            select(*_cols())
            .where(t.status.in_([s.value for s in _OPEN]), t.registered_at >= now - timedelta(days=days),
                   or_(*near), *seen)
            .order_by(t.registered_at.desc()).limit(POOL_LIMIT)
        )
        branches.append(recent.subquery("recent_open"))
    if not branches:
        return None
    return union_all(*(select(b) for b in branches))


async def find(db: Database, actor: Actor, draft: Draft, now: datetime | None = None, *, limit: int = LIMIT,
               days: int = RECENT_DAYS) -> list[Candidate]:
    """Up to `limit` likely duplicates of the draft, best first. An unknown category is an error
    (field `category`); everything else may be partial — the operator is still typing."""
    now = now or utcnow()
    ref = await db.ref()
    category_id = None
    if draft.category and draft.category.strip():
        cat = ref.categories_by_name.get(draft.category.strip())
        if cat is None:
            raise Invalid(f"问题分类“{draft.category}”不存在", field="category")
        category_id = cat.id
    stmt = query(actor, draft, category_id, now, days)
    if stmt is None:
        return []
    async with db.session() as s:
        rows = (await s.execute(stmt)).mappings().all()
    return score(rows, actor, draft, category_id, now, ref, limit)


def _bigram_ranked(text: str, by_id: dict[int, Any], top: int) -> list[int]:
    """The ids whose content shares the most character bigrams with the text (at least
    BIGRAMS_MIN), best `top` first: a cheap pass so only the closest texts are segmented."""
    mine = _bigrams(text)
    if not mine:
        return []
    overlap = [(len(mine & _bigrams(r["content"] or "")), i) for i, r in by_id.items()]
    return [i for n, i in sorted(overlap, reverse=True)[:top] if n >= BIGRAMS_MIN]


@lru_cache(maxsize=8192)
def _bigrams(text: str) -> frozenset[str]:
    t = unicodedata.normalize("NFKC", text[:CONTENT_CHARS]).lower()
    return frozenset(t[k:k + 2] for k in range(len(t) - 1))


def score(rows: Any, actor: Actor, draft: Draft, category_id: int | None, now: datetime, ref: Any,
          limit: int = LIMIT) -> list[Candidate]:
    """Score and explain the candidate rows (deduplicated by id), best `limit` first; rows
    without a real signal (caller, address, content) are dropped."""
    by_id: dict[int, Any] = {}
    for r in rows:
        by_id.setdefault(r["id"], r)
    norm = phones.normalize(draft.phone) if draft.phone else None
    addr = normalize_address(draft.address)
    area = (draft.area or "").strip()
    mine = keywords(draft.text)
    docs: dict[int, frozenset[str]] = {}
    if mine:
        docs = {i: keywords(by_id[i]["content"] or "") for i in _bigram_ranked(draft.text, by_id, SEGMENT_TOP)}
    idf = pool_idf(list(docs.values())) if docs else {}
    mine_norm = math.sqrt(sum(idf.get(w, 1.0) ** 2 for w in mine))
    scored: list[tuple[float, float, int, list[str], set[str], float]] = []
    for i, r in by_id.items():
        if r["status"] not in TARGET_STATES:
            continue
        if actor.role is Role.clerk and r["department_id"] != actor.department_id:
            continue
        secret = r["kind"] is Kind.report or bool(r["confidential"])
        weights: list[float] = []
        reasons: list[str] = []
        signals: set[str] = set()
        if norm and not secret and r["caller_norm"] == norm:
            age = max(1, math.ceil((now - _aware(r["registered_at"])).total_seconds() / 86400))
            weights.append(W_CALLER)
            reasons.append(f"同一来电号码 {age} 天内")
            signals.add("caller")
        m = address_match(addr, normalize_address(r["address"])) if addr and r["address"] else None
        if m:
            weights.append(W_ADDRESS_SAME if m == "same" else W_ADDRESS_NEAR)
            reasons.append("地址相同" if m == "same" else "地址相近")
            signals.add("address")
        doc = docs.get(i)
        sim = _cosine(mine, mine_norm, doc, idf) if doc else 0.0
        if sim >= SIM_MIN:
            weights.append(W_CONTENT * sim)
            reasons.append(f"内容相似 {sim:.2f}")
            signals.add("content")
        if not signals:
            continue
        if category_id is not None and r["category_id"] == category_id:
            weights.append(W_CATEGORY)
            reasons.append("同一问题分类")
            signals.add("category")
        if area and r["area"] == area:
            weights.append(W_AREA)
            reasons.append("同一区域")
            signals.add("area")
        p = 1.0
        for w in weights:
            p *= 1.0 - w
        scored.append((round(1.0 - p, 3), _aware(r["registered_at"]).timestamp(), i, reasons, signals, sim))
    scored.sort(key=lambda x: (-x[0], -x[1]))
    return [_candidate(by_id[i], sc, reasons, signals, sim, actor, ref)
            for sc, _, i, reasons, signals, sim in scored[:limit]]


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)  # naive UTC, should a driver hand one back


def _cosine(a: frozenset[str], a_norm: float, b: frozenset[str], idf: dict[str, float]) -> float:
    common = a & b
    if not common or not a_norm:
        return 0.0
    nb = math.sqrt(sum(idf.get(w, 1.0) ** 2 for w in b))
    return sum(idf.get(w, 1.0) ** 2 for w in common) / (a_norm * nb) if nb else 0.0


def _candidate(r: Any, sc: float, reasons: list[str], signals: set[str], sim: float, actor: Actor,
               ref: Any) -> Candidate:
    """What the operator is shown of one case: of a 干部举报 / confidential one, no identity,
    address or content."""
    status, kind = Status(r["status"]), Kind(r["kind"])
    secret = kind is Kind.report or bool(r["confidential"])
    identity = not secret and shows_identity(Ticket(kind=kind, confidential=False), actor)
    cat = ref.categories.get(r["category_id"])
    dep = ref.departments.get(r["department_id"]) if r["department_id"] else None
    content = r["content"] or ""
    return Candidate(
        number=r["number"], score=sc, reasons=reasons, status=status.value, status_label=CASE_STATE_LABELS[status],
        kind=kind.value, category=cat.name if cat else None, department=dep.name if dep else None,
        registered_at=_aware(r["registered_at"]), confidential=secret,
        excerpt=None if secret else (content[:60] + ("…" if len(content) > 60 else "")),
        address=None if secret else r["address"],
        caller_name=r["caller_name"] if identity else None,
        caller_phone=phones.mask(r["caller_phone"]) if identity and r["caller_phone"] else None,
        similarity=round(sim, 3), signals=signals,
    )
