"""Knowledge-base search quality on the labelled sample (kb-README.md): the 100 entries of
kb-entries.csv imported, the 60 queries of kb-queries-sample.csv searched, on SQLite and on
PostgreSQL. Bars: precision@1 ≥ 0.8, recall@5 ≥ 0.95; MRR reported beside the character-bigram
baseline of kb-README.md (implemented here, and checked against the README's own figures).

Run: .venv/bin/python -m pytest tests/integration/test_kb_quality.py -s   (prints the figures)
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from callcenter.entry.seed import seed_reference
from callcenter.kb import services as kb
from callcenter.store.db import Database
from tests.conftest import FIXTURES

SAMPLES = FIXTURES / "samples"
ENTRIES = SAMPLES / "kb-entries.csv"
QUERIES = SAMPLES / "kb-queries-sample.csv"
P1_BAR, R5_BAR = 0.8, 0.95
# kb-README.md's baseline figures (character-bigram overlap)
BASELINE_README = (0.733, 0.917, 0.805)


def load_queries(path: Path = QUERIES) -> list[tuple[str, set[str], bool]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [(r["问法"], set(r["正确编号"].split("|")), r["备注"] == "已失效") for r in csv.DictReader(f)]


def metrics(ranked: list[list[str]], queries: list[tuple[str, set[str], bool]]) -> tuple[float, float, float]:
    """(precision@1, recall@5, MRR) as kb-README.md defines them."""
    p1 = r5 = mrr = 0.0
    for ids, (_q, gold, _exp) in zip(ranked, queries, strict=True):
        rank = next((i + 1 for i, x in enumerate(ids) if x in gold), None)
        if rank is None:
            continue
        p1 += rank == 1
        r5 += rank <= 5
        mrr += 1 / rank
    n = len(queries)
    return p1 / n, r5 / n, mrr / n


_STRIP = re.compile(r"[\s\W_]+")


def baseline_rank(entries_csv: Path, queries: list[str]) -> list[list[str]]:
    """kb-README.md's baseline: text stripped of whitespace and punctuation; entry text =
    标题 + 常见问法 + 答复内容; score = distinct character bigrams shared; ties by ascending id."""

    def grams(s: str) -> set[str]:
        s = _STRIP.sub("", s)
        return {s[i : i + 2] for i in range(len(s) - 1)}

    with entries_csv.open(encoding="utf-8-sig", newline="") as f:
        docs = [(r["编号"], grams(r["标题"] + r["常见问法"] + r["答复内容"])) for r in csv.DictReader(f)]
    out = []
    for q in queries:
        g = grams(q)
        scored = sorted(((-len(g & d), code) for code, d in docs))
        out.append([code for s, code in scored if s < 0])
    return out


def test_baseline_matches_readme() -> None:
    qs = load_queries()
    got = metrics(baseline_rank(ENTRIES, [q for q, _, _ in qs]), qs)
    assert tuple(round(x, 3) for x in got) == BASELINE_README


async def test_search_quality(database: Database, request: pytest.FixtureRequest) -> None:
    await seed_reference(database)
    rep = await kb.import_file(database, ENTRIES)
    assert rep.created == 100
    qs = load_queries()
    results = await kb.search_many(database, [q for q, _, _ in qs], limit=10)
    ranked = [[h["id"] for h in r] for r in results]
    p1, r5, mrr = metrics(ranked, qs)
    b = metrics(baseline_rank(ENTRIES, [q for q, _, _ in qs]), qs)
    backend = "SQLite" if database.is_sqlite else "PostgreSQL"
    print(f"\n[kb quality {backend}] search   P@1 {p1:.3f}  R@5 {r5:.3f}  MRR {mrr:.3f}")
    print(f"[kb quality {backend}] baseline P@1 {b[0]:.3f}  R@5 {b[1]:.3f}  MRR {b[2]:.3f}")
    misses = [(q, sorted(gold), ids[:5]) for ids, (q, gold, _e) in zip(ranked, qs, strict=True)
              if not ids or ids[0] not in gold]
    for m in misses:
        print("   not first:", m)
    # expired answers are found and marked: the operator tells the caller the policy ended
    for r, (_q, gold, exp) in zip(results, qs, strict=True):
        for h in r:
            if h["id"] in gold:
                assert h["expired"] is exp
    assert p1 >= P1_BAR, f"precision@1 {p1:.3f} < {P1_BAR}"
    assert r5 >= R5_BAR, f"recall@5 {r5:.3f} < {R5_BAR}"
    assert mrr > b[2], f"MRR {mrr:.3f} not above the baseline's {b[2]:.3f}"


# the project's own development phrasings (issue 16): colloquial, dialect, near-duplicates and
# expired entries, written away from the sample's wording — what the ranking is developed on —
# and a second set written later from callers' situations (not from entry titles), which the
# thesaurus-concept re-rank was checked on. Floors: the figures measured on both databases
# (docs/benchmarks.md), less a margin — a ranking change that loses them fails here.
DEV = FIXTURES / "kb-dev-phrasings.csv"
DEV2 = FIXTURES / "kb-dev2-situations.csv"
DEV_BARS = {
    DEV.name: {"all": (0.74, 0.86), "colloquial": (0.60, 0.78)},
    DEV2.name: {"all": (0.66, 0.84), "colloquial": (0.60, 0.80)},
}


@pytest.mark.parametrize("path", [DEV, DEV2], ids=["dev", "dev2"])
async def test_dev_phrasings_quality(database: Database, path: Path) -> None:
    await seed_reference(database)
    await kb.import_file(database, ENTRIES)
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    results = await kb.search_many(database, [r["问法"] for r in rows], limit=10)
    kinds: dict[str, list[tuple[list[str], tuple[str, set[str], bool]]]] = {}
    for r, res in zip(rows, results, strict=True):
        item = ([h["id"] for h in res], (r["问法"], set(r["正确编号"].split("|")), r["备注"] == "已失效"))
        kinds.setdefault("all", []).append(item)
        kinds.setdefault(r["类型"], []).append(item)
    backend = "SQLite" if database.is_sqlite else "PostgreSQL"
    bars = DEV_BARS[path.name]
    for kind, items in kinds.items():
        p1, r5, mrr = metrics([i for i, _ in items], [q for _, q in items])
        print(f"[kb {path.stem} {backend}] {kind:10} n={len(items):3}  P@1 {p1:.3f}  R@5 {r5:.3f}  MRR {mrr:.3f}")
        if kind in bars:
            assert p1 >= bars[kind][0] and r5 >= bars[kind][1], (kind, p1, r5)
