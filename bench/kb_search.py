"""Knowledge-base search benchmark: p50/p99 latency of `kb.search` with N entries in PostgreSQL.

    .venv/bin/python bench/kb_search.py [--entries 50000] [--runs 5] [--pg postgresql://postgres@127.0.0.1:5432/postgres]
                                        [--keep | --reuse kb_bench_xxxxxxxx]

A fresh PostgreSQL database gets the 100 sample entries (kb-entries.csv) and N-100 generated
ones, recombined from the samples: a title and phrasings of one entry with a place or
population qualifier, phrasings borrowed from entries of the same category, an answer made of
sentences of several answers of that category. Then the 60 labelled queries of
kb-queries-sample.csv are searched one by one (limit 10, what the console asks for), `--runs`
times after a warm-up; so are the prefixes of the dev phrasings (kb-dev-phrasings.csv) every 3
characters, limit 6 — the suggestions while an operator types, first sight and warm — and the
warm-up's time and the process's memory (RSS) before and after it are printed; each run's p50/p99 is printed, then their medians, and the quality of
the ranking among the N entries (the generated entries are distractors: the labelled answer
is still the sample entry).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import re
import statistics
import sys
import time
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from callcenter.entry.seed import seed_reference  # noqa: E402
from callcenter.kb import search as kb_search
from callcenter.kb import services as kb  # noqa: E402
from callcenter.store.db import Database  # noqa: E402
from callcenter.store.migrate import upgrade  # noqa: E402
from callcenter.store.models import KbEntry, utcnow  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "samples"
DEV = SAMPLES.parent / "kb-dev-phrasings.csv"
PLACES = ["九华", "和平", "响水", "双马", "白石", "杉山", "吉利", "金霞", "楠竹山", "姜畲", "昭山", "易俗河",
          "板塘", "湘江", "雨湖", "岳塘", "荷塘", "先锋", "红旗", "向阳"]
WHO = ["老年人", "残疾人", "外来务工人员", "个体户", "退役军人", "大学生", "独生子女家庭", "低收入家庭", "企业职工", "农户"]
_SENT = re.compile(r"(?<=[。；！？])")


def generate(rows: list[dict[str, str]], n: int, seed: int = 8) -> list[dict[str, object]]:
    rnd = random.Random(seed)
    by_cat: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_cat.setdefault(r["问题分类"], []).append(r)
    out = []
    for i in range(n):
        base = rnd.choice(rows)
        peers = by_cat[base["问题分类"]]
        place, who = rnd.choice(PLACES), rnd.choice(WHO)
        title = f"{place}片区{who}{base['标题']}" if i % 2 else f"{base['标题'].rstrip('？')}（{place}{who}）？"
        phr = [p for p in base["常见问法"].split("|") if rnd.random() < 0.6]
        phr += [p for p in rnd.choice(peers)["常见问法"].split("|") if rnd.random() < 0.3]
        phr = [f"{place}{p}" if rnd.random() < 0.5 else p for p in phr] or [f"{place}{who}怎么办"]
        sents = []
        for src in [base, *rnd.sample(peers, min(2, len(peers)))]:
            ss = [s for s in _SENT.split(src["答复内容"]) if s]
            sents += rnd.sample(ss, min(len(ss), rnd.randint(1, 2)))
        answer = f"{place}片区{who}：" + "".join(sents)
        e = {"code": f"G{i:06d}-{base['编号']}", "title": title[:300], "phrasings": "|".join(phr), "answer": answer,
             "category": base["问题分类"], "valid_from": date(2024, 1, 1),
             "valid_until": date(2027, 12, 31) if rnd.random() < 0.9 else date(2025, 6, 30)}
        out.append(e)
    return out


def _toks(title: str, phr: list[str], answer: str) -> dict[str, str]:
    t = {"tok_title": kb_search.index_text(title), "tok_phrasings": " | ".join(kb_search.index_text(p) for p in phr),
         "tok_answer": kb_search.index_text(answer)}
    return {**t, **kb_search.entry_concepts(t["tok_title"], t["tok_phrasings"], t["tok_answer"])}


async def load(db: Database, n: int) -> float:
    await seed_reference(db)
    await kb.import_file(db, SAMPLES / "kb-entries.csv")
    with (SAMPLES / "kb-entries.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    t0 = time.perf_counter()
    gen = generate(rows, n - len(rows))
    now = utcnow()
    batch = []
    for e in gen:
        phr = [p for p in str(e["phrasings"]).split("|") if p]
        batch.append({**e, "status": "expired" if e["valid_until"] < date.today() else "published",
                      "version": 1, "department_id": None, "basis": None, "draft_version": None,
                      **_toks(str(e["title"]), phr, str(e["answer"])),
                      "created_at": now, "updated_at": now})
    async with db.engine.begin() as conn:
        for i in range(0, len(batch), 2000):
            await conn.execute(KbEntry.__table__.insert(), batch[i : i + 2000])
    async with db.engine.begin() as conn:
        await conn.execute(text("ANALYZE kb_entries"))
    return time.perf_counter() - t0


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


async def bench(url: str, n: int, runs: int, reuse: bool = False) -> None:
    db = Database(url, pool_size=2)
    try:
        took = 0.0 if reuse else await load(db, n)
        async with db.session() as s:
            count = (await s.execute(text("SELECT count(*) FROM kb_entries"))).scalar()
        print(f"{count} entries loaded (generation + segmentation + insert {took:.1f} s)")
        with (SAMPLES / "kb-queries-sample.csv").open(encoding="utf-8-sig", newline="") as f:
            qs = [(r["问法"], set(r["正确编号"].split("|"))) for r in csv.DictReader(f)]
        with DEV.open(encoding="utf-8", newline="") as f:
            dev = [r["问法"] for r in csv.DictReader(f)]
        # what the console asks while an operator types (kb.js: debounced, about every 3 characters)
        typing = [q[:i] for q in dev for i in range(3, len(q) + 3, 3)]
        rss0 = rss_mb()
        t = time.perf_counter()
        kb_search.warm_up()  # the web worker's start: jieba, its IDF table, the thesaurus
        warm = time.perf_counter() - t
        rss1 = rss_mb()
        kb_search.forget_synonyms()
        kb_search.forget_term_stats()
        async with db.read_engine.connect() as conn:
            t = time.perf_counter()  # a new process's first search: synonyms and term statistics read
            await kb_search.search(conn, dev[0], limit=10)
            print(f"warm-up (jieba, IDF, thesaurus) {warm * 1000:.0f} ms; first search after it "
                  f"(synonyms, term statistics, thesaurus look-ups cold): {(time.perf_counter() - t) * 1000:.1f} ms")
            for q, _ in qs:  # warm-up: caches, plans
                await kb_search.search(conn, q, limit=10)
            tl = []
            for q in typing:  # the dev phrasings as typed, thesaurus look-ups cold on first sight
                t = time.perf_counter()
                await kb_search.search(conn, q, limit=6)
                tl.append((time.perf_counter() - t) * 1000)
            print(f"typing: {len(typing)} prefixes of the {len(dev)} dev phrasings, limit 6, first sight: "
                  f"p50 {pct(tl, 50):.1f} ms  p99 {pct(tl, 99):.1f} ms  max {max(tl):.1f} ms")
            tp50s, tp99s = [], []
            for _run in range(runs):
                tl = []
                for q in typing:
                    t = time.perf_counter()
                    await kb_search.search(conn, q, limit=6)
                    tl.append((time.perf_counter() - t) * 1000)
                tp50s.append(pct(tl, 50))
                tp99s.append(pct(tl, 99))
            print(f"typing, median of {runs} runs: p50 {statistics.median(tp50s):.1f} ms  "
                  f"p99 {statistics.median(tp99s):.1f} ms [p99 {min(tp99s):.1f}–{max(tp99s):.1f}]")
            print(f"memory (RSS): {rss0:.0f} MB before the warm-up, {rss1:.0f} MB after it, "
                  f"{rss_mb():.0f} MB after {len(typing) * (runs + 1)} searches")
            p50s, p99s = [], []
            for run in range(runs):
                lat = []
                for q, _ in qs:
                    t = time.perf_counter()
                    await kb_search.search(conn, q, limit=10)
                    lat.append((time.perf_counter() - t) * 1000)
                p50s.append(pct(lat, 50))
                p99s.append(pct(lat, 99))
                print(f"run {run + 1}: p50 {p50s[-1]:.1f} ms  p99 {p99s[-1]:.1f} ms  max {max(lat):.1f} ms")
            ranked = [[h.code for h in await kb_search.search(conn, q, limit=10)] for q, _ in qs]
        # a generated entry G…-KB0045 is a variant of KB0045: it answers KB0045's queries too
        ranked = [[c.split("-")[-1] for c in ids] for ids in ranked]
        p1 = sum(1 for ids, (_, g) in zip(ranked, qs, strict=True) if ids and ids[0] in g) / len(qs)
        r5 = sum(1 for ids, (_, g) in zip(ranked, qs, strict=True) if set(ids[:5]) & g) / len(qs)
        mrr = sum(next((1 / (i + 1) for i, x in enumerate(ids) if x in g), 0)
                  for ids, (_, g) in zip(ranked, qs, strict=True)) / len(qs)
        print(f"median of {runs} runs: p50 {statistics.median(p50s):.1f} ms  p99 {statistics.median(p99s):.1f} ms "
              f"[p99 {min(p99s):.1f}–{max(p99s):.1f}]")
        print(f"ranking among {count} entries (an entry or its variants): P@1 {p1:.3f}  R@5 {r5:.3f}  MRR {mrr:.3f}")
    finally:
        await db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--keep", action="store_true", help="keep the benchmark database")
    ap.add_argument("--reuse", metavar="DB", help="search a database kept by --keep (no loading)")
    ap.add_argument("--prefix", default="kb_bench", help="the new database's name prefix (yours on a shared server)")
    a = ap.parse_args()
    admin = make_url(a.pg)
    if a.reuse:
        asyncio.run(bench(admin.set(database=a.reuse).render_as_string(hide_password=False), a.entries, a.runs,
                          reuse=True))
        return
    name = f"{a.prefix}_{uuid.uuid4().hex[:8]}"
    import psycopg

    with psycopg.connect(admin.set(drivername="postgresql").render_as_string(hide_password=False),
                         autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        asyncio.run(bench(url, a.entries, a.runs))
    finally:
        if not a.keep:
            with psycopg.connect(admin.set(drivername="postgresql").render_as_string(hide_password=False),
                                 autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
