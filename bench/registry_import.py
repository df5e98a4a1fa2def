"""Registry import benchmark: a generated 来电登记表 of N rows into a fresh store.

    .venv/bin/python bench/registry_import.py [--rows 10000] [--pg postgresql://postgres@127.0.0.1:5432/postgres]

Measures, on a freshly migrated SQLite file and (if reachable) a fresh PostgreSQL database:
the first import (validation, numbering, one transaction of bulk inserts, unknown topics and
departments created), the re-import of the same file (adds nothing) and a CSV export.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callcenter.cases.registry_io import COLUMNS, export, import_file  # noqa: E402
from callcenter.store.db import Database  # noqa: E402
from callcenter.store.migrate import upgrade  # noqa: E402

TOPICS = {
    "拆迁补偿": "征地拆迁办公室", "物业管理": "住房和城乡建设局", "办理证照": "政务服务中心",
    "民政救助": "社会事务局", "供水供电": "响水乡人民政府", "道路交通": "和平街道办事处",
    "环境保护": "环境保护局", "医疗养老保险": "人力资源和社会保障局", "财税补贴": "财政局",
    "市场监管": "市场监督管理局", "劳动就业": "人力资源和社会保障局",
}
KINDS = ["民众诉求"] * 13 + ["政策咨询"] * 5 + ["建议意见"] * 2 + ["干部举报"]
RESULTS = ["满意"] * 12 + ["基本满意"] * 3 + ["不满意", "未接通"]


def generate(path: Path, n: int, seed: int = 12345) -> None:
    rnd = random.Random(seed)
    start = datetime(2024, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for i in range(n):
            at = start + timedelta(minutes=rnd.randrange(0, 2 * 365 * 24 * 60))
            topic = rnd.choice(list(TOPICS))
            kind = rnd.choice(KINDS)
            phone = f"{rnd.choice(['138', '151', '187'])}{rnd.randrange(10**8):08d}" if rnd.random() < 0.8 else \
                f"0731-{rnd.randrange(5 * 10**7, 6 * 10**7)}"
            state = rnd.random()
            dept = "" if state < 0.15 else TOPICS[topic]
            resolved = "" if state > 0.95 else (at + timedelta(minutes=rnd.randrange(5, 10 * 24 * 60)))
            row = [f"B{i:08d}", at.strftime("%Y-%m-%d %H:%M"), phone, "" if kind == "干部举报" else "张三",
                   kind, topic, f"第{i}号诉求：{topic}问题", dept]
            if resolved:
                cb = resolved + timedelta(hours=rnd.randrange(1, 48))
                result = "不需回访" if kind == "干部举报" else rnd.choice(RESULTS)
                row += [resolved.strftime("%Y-%m-%d %H:%M"), "已处理并答复来电人",
                        "" if result == "不需回访" else cb.strftime("%Y-%m-%d %H:%M"), result]
            else:
                row += ["", "", "", ""]
            w.writerow(row)


async def run(url: str, label: str, src: Path, out_dir: Path) -> None:
    await asyncio.to_thread(upgrade, url)  # alembic runs its own event loop
    db = Database(url)
    try:
        t = time.perf_counter()
        r = await import_file(db, src, create_missing=True)
        first = time.perf_counter() - t
        t = time.perf_counter()
        again = await import_file(db, src)
        second = time.perf_counter() - t
        t = time.perf_counter()
        e = await export(db, out_dir / f"export-{label}.csv", "csv")
        exp = time.perf_counter() - t
    finally:
        await db.dispose()
    assert r.imported == again.skipped_existing and again.imported == 0
    print(f"{label:10} import {r.imported} rows: {first:6.2f} s ({r.imported / first:,.0f} rows/s); "
          f"re-import (adds nothing): {second:5.2f} s; export {e.rows} rows: {exp:5.2f} s")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres", help="admin URL ('' to skip)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    src = tmp / f"registry-{args.rows}.csv"
    generate(src, args.rows)
    print(f"{args.rows} rows, {src.stat().st_size / 1e6:.1f} MB CSV")
    await run(f"sqlite:///{tmp / 'bench.db'}", "SQLite", src, tmp)
    if args.pg:
        import psycopg

        name = f"hotline_bench_{uuid.uuid4().hex[:8]}"
        try:
            with psycopg.connect(args.pg, autocommit=True, connect_timeout=3) as c:
                c.execute(f'CREATE DATABASE "{name}"')
        except psycopg.OperationalError as e:
            print(f"PostgreSQL skipped: {e}")
            return
        url = args.pg.rsplit("/", 1)[0] + "/" + name
        try:
            await run(url, "PostgreSQL", src, tmp)
        finally:
            with psycopg.connect(args.pg, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
