"""Routing: category and keywords → a suggested department (rules live in `routing_rules`).

Content is segmented with jieba (imported lazily: it builds its dictionary on first use, ~0.6 s,
which must not land on the CLI's or the adapter's start-up path). A rule matches when its
category matches (or it has none) and, if it lists keywords, at least one keyword is among the
content's tokens. The best match has the highest (priority, keyword hits, category-specific);
without a match the category's default department is suggested.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass

_SPLIT = re.compile(r"[\s,，、;；|]+")
_jieba_lock = threading.Lock()
_jieba = None


def _segmenter():  # type: ignore[no-untyped-def]
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba  # lazy: loading jieba's dictionary costs seconds and ~40 MB

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba = jieba
    return _jieba


def warm_up() -> None:
    """Build jieba's dictionary now (call at server start, not on the first request)."""
    _segmenter()


_known_words: set[str] = set()


def add_words(words: tuple[str, ...]) -> None:
    """Teach the segmenter the rules' keywords (a user dictionary): without it jieba splits
    e.g. 路灯不亮 as 路 / 灯不亮, and the 路灯 rule would never see its word."""
    new = [w for w in words if w not in _known_words]
    if not new:
        return
    jieba = _segmenter()
    for w in new:
        # a high frequency: a configured keyword wins over a dictionary word overlapping it
        jieba.add_word(w, freq=max(jieba.get_FREQ(w) or 0, 50_000))
        _known_words.add(w)


def tokens(text: str) -> set[str]:
    jieba = _segmenter()
    # search mode yields the words inside compounds too (物业公司 → 物业, 公司); no HMM: rule
    # keywords are dictionary words or phrases matched whole, unknown-word guessing adds nothing
    return {t for t in jieba.lcut_for_search(text, HMM=False) if t.strip()}


def blocks_with(text: str, words: tuple[str, ...]) -> str:
    """The parts of `text` a word of `words` could be a token of, for `tokens`: jieba segments
    each run of Han characters, letters and digits (its blocks) on its own, and a token is a
    substring of its block — so a block in which none of the words occurs adds no token that
    is one of them, and need not be segmented at all (most of a long complaint, usually)."""
    jieba = _segmenter()
    return " ".join(b for b in jieba.re_han_default.split(text) if b and any(w in b for w in words))


def split_keywords(s: str) -> list[str]:
    return [k for k in _SPLIT.split(s or "") if k]


@dataclass(frozen=True)
class Rule:
    id: int
    department_id: int
    category_id: int | None
    keywords: tuple[str, ...]
    priority: int
    area: str | None = None  # 属地: the address must name this street / township / community


def area_names(areas: dict[str, tuple[str, ...]], area: str) -> tuple[str, ...]:
    """The names an address may use for `area`: itself and the aliases listed with it in a
    department's 属地 (`Department.areas`), longest first."""
    names = {area, *areas.get(area, ())}
    return tuple(sorted((n for n in names if n), key=len, reverse=True))


def alias_map(department_areas: list[str | None]) -> dict[str, tuple[str, ...]]:
    """area name → the other names it goes by: each department's `areas` lists one place's
    names (e.g. "和平街道 和平街 和平街道办事处"); every name maps to the whole list."""
    out: dict[str, set[str]] = {}
    for raw in department_areas:
        names = split_keywords(raw or "")
        for n in names:
            out.setdefault(n, set()).update(names)
    return {k: tuple(sorted(v)) for k, v in out.items()}


def address_matches(address: str, area: str, areas: dict[str, tuple[str, ...]]) -> bool:
    return bool(address) and any(n in address for n in area_names(areas, area))


def suggest(rules: list[Rule], category_id: int | None, default_department_id: int | None, content: str,
            address: str = "", areas: dict[str, tuple[str, ...]] | None = None) -> int | None:
    return suggest_match(rules, category_id, default_department_id, content, address, areas)[0]


def suggest_match(rules: list[Rule], category_id: int | None, default_department_id: int | None, content: str,
                  address: str = "", areas: dict[str, tuple[str, ...]] | None = None,
                  ) -> tuple[int | None, Rule | None]:
    """The suggested department and the rule that chose it (None: the category's default).
    A rule with a 属地 applies only when the address names that area (or an alias of it); among
    matching rules the highest (priority, 属地 matched, keyword hits, category-specific) wins."""
    best: tuple[tuple[int, int, int, int], Rule] | None = None
    toks: set[str] | None = None
    areas = areas or {}
    for r in rules:
        if r.category_id is not None and r.category_id != category_id:
            continue
        placed = 0
        if r.area:
            if not address_matches(address, r.area, areas):
                continue
            placed = 1
        hits = 0
        if r.keywords:
            # a keyword that is not even a substring cannot be a token: skip the segmenter
            # (most of a registration's CPU otherwise) when no keyword of the rule occurs
            if not any(k in content for k in r.keywords):
                continue
            if toks is None:
                words = tuple(k for rule in rules for k in rule.keywords)
                add_words(words)
                # only the words of the rules are looked up among the tokens: the blocks of the
                # content that hold none of them are left out (the same hits, less segmenting)
                toks = tokens(blocks_with(content, words))
            # a keyword jieba would split (e.g. a long place name) still matches as one phrase
            hits = sum(1 for k in r.keywords if k in toks or (len(k) > 2 and k in content))
            if hits == 0:
                continue
        score = (r.priority, placed, hits, 1 if r.category_id is not None else 0)
        if best is None or score > best[0]:
            best = (score, r)
    if best is not None:
        return best[1].department_id, best[1]
    return default_department_id, None
