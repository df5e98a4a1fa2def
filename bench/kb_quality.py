"""Knowledge-base search quality by kind of phrasing (issue 16).

Imports the 100 entries of tests/fixtures/samples/kb-entries.csv into a fresh SQLite database
searches every phrasing of a labelled file, and prints precision@1,
recall@5 and MRR overall and per kind (column 类型; the sample has none: its kinds are
已失效 / other), beside kb-README.md's character-bigram baseline.

    .venv/bin/python bench/kb_quality.py                      # both dev sets + sample test set
    .venv/bin/python bench/kb_quality.py --file F --misses    # one file, listing the misses

The dev set (tests/fixtures/kb-dev-phrasings.csv) is what the ranking is developed on; the
sample (kb-queries-sample.csv) is a test set only reported on, never tuned on.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from callcenter.entry.seed import seed_reference  # noqa: E402
from callcenter.kb import services as kb  # noqa: E402
from callcenter.store.db import Database  # noqa: E402
from callcenter.store.migrate import upgrade  # noqa: E402

FIX = ROOT / "tests" / "fixtures"
ENTRIES = FIX / "samples" / "kb-entries.csv"
DEV = FIX / "kb-dev-phrasings.csv"
DEV2 = FIX / "kb-dev2-situations.csv"  # written from callers' situations, after DEV (issue 16)
SAMPLE = FIX / "samples" / "kb-queries-sample.csv"


def load(path: Path) -> list[tuple[str, set[str], str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        out = []
        for r in csv.DictReader(f):
            kind = r.get("类型") or ("expired" if r.get("备注") == "已失效" else "other")
            out.append((r["问法"], set(r["正确编号"].split("|")), kind))
        return out


def rank_of(ids: list[str], gold: set[str]) -> int | None:
    return next((i + 1 for i, x in enumerate(ids) if x in gold), None)


def figures(ranks: list[int | None]) -> tuple[float, float, float]:
    n = len(ranks) or 1
    return (sum(r == 1 for r in ranks) / n, sum(r is not None and r <= 5 for r in ranks) / n,
            sum(1 / r for r in ranks if r) / n)


def report(name: str, qs: list[tuple[str, set[str], str]], ranked: list[list[str]], misses: bool) -> None:
    ranks = [rank_of(ids, gold) for ids, (_q, gold, _k) in zip(ranked, qs, strict=True)]
    by: dict[str, list[int | None]] = defaultdict(list)
    for r, (_q, _g, k) in zip(ranks, qs, strict=True):
        by[k].append(r)
    p1, r5, mrr = figures(ranks)
    print(f"\n{name}: {len(qs)} phrasings   P@1 {p1:.3f}  R@5 {r5:.3f}  MRR {mrr:.3f}")
    print("| phrasing | n | P@1 | R@5 | MRR |\n|---|---|---|---|---|")
    for k in sorted(by, key=lambda k: -len(by[k])):
        a, b, c = figures(by[k])
        print(f"| {k} | {len(by[k])} | {a:.2f} | {b:.2f} | {c:.2f} |")
    if misses:
        for ids, (q, gold, k), r in zip(ranked, qs, ranks, strict=True):
            if r != 1:
                print(f"   [{k}] {q}  want {'|'.join(sorted(gold))} got rank {r}: {ids[:5]}")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--file", action="append", type=Path)
    ap.add_argument("--misses", action="store_true")
    a = ap.parse_args()
    files = a.file or [DEV, DEV2, SAMPLE]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/kb.db"
        upgrade(url)
        db = Database(url)
        try:
            await seed_reference(db)
            await kb.import_file(db, ENTRIES, create_missing=True)
            for path in files:
                qs = load(path)
                res = await kb.search_many(db, [q for q, _g, _k in qs], limit=10)
                report(path.name, qs, [[h["id"] for h in r] for r in res], a.misses)
        finally:
            await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
