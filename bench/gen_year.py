"""Generate a large city's year: N cases and M calls, straight into a migrated database.

    .venv/bin/python bench/gen_year.py --url postgresql://postgres@127.0.0.1:5432/hotline_bench \
        --year 2025 --cases 1000000 --calls 2000000
    .venv/bin/python bench/gen_year.py --url sqlite:///var/bench.db --cases 1000000 --calls 2000000

The database is created (PostgreSQL) and migrated if needed, then its data tables are
emptied and refilled. Rows are bulk-loaded (COPY on PostgreSQL, executemany on SQLite)
rather than run through the workflow: the point is the report queries over a realistic
mix of states, not the write path. The data are deterministic for a given --seed.

Mix (roughly a large 12345 hotline): 60 % 民众诉求, 25 % 政策咨询 (most answered on the
call), 3 % merged, 1 % invalid, ~3 % still open at the end of the year, 8 % 不需回访, 85 %
of callbacks reached, 95 % of those satisfied or basically; inbound calls 88 % answered, 7 %
abandoned, 5 % refused by the line limit; 10 % of calls are outbound callbacks.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.engine import make_url  # noqa: E402

from callcenter.store.migrate import upgrade  # noqa: E402

CST = timezone(timedelta(hours=8))
AREAS = ["天河区", "越秀区", "海珠区", "荔湾区", "白云区", "黄埔区", "番禺区", "花都区", "南沙区", "从化区", "增城区", None]
SOURCES = [("phone", 85), ("web", 10), ("api", 5)]
KINDS = [("complaint", 60), ("consultation", 25), ("report", 3), ("suggestion", 7), ("help", 4), ("praise", 1)]
N_DEPTS = 60
N_CATS = 40

TICKET_COLS = [
    "id", "number", "source", "area", "kind", "category_id", "content", "urgent", "confidential",
    "no_callback", "department_id", "status", "registered_at", "dispatched_at", "ever_dispatched",
    "due_at", "resolved_at", "closed_at", "extensions_granted", "urge_count", "reopen_count",
    "callback_result", "satisfaction", "solved", "version", "created_at", "updated_at",
]
CALL_COLS = [
    "id", "pbx", "linkedid", "direction", "caller_number", "line", "offered_at", "answered_at",
    "ended_at", "outcome", "wait_s", "talk_s", "updated_at",
]
DATA_TABLES = ["ticket_events", "callbacks", "tickets", "calls", "routing_rules", "users", "categories",
               "departments"]


def pick(rng: random.Random, weighted: list[tuple[Any, int]]) -> Any:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def moment(rng: random.Random, year: int) -> datetime:
    """A time in the year, Asia/Shanghai, heavier in the day than at night."""
    day = datetime(year, 1, 1, tzinfo=CST) + timedelta(days=rng.randrange(365))
    hour = rng.choices(range(24), weights=[1, 1, 1, 1, 1, 2, 4, 8, 12, 14, 14, 12, 8, 10, 13, 13, 12, 10,
                                           8, 7, 6, 4, 3, 2])[0]
    return (day + timedelta(hours=hour, seconds=rng.randrange(3600))).astimezone(UTC)


def tickets(rng: random.Random, year: int, n: int) -> Iterator[tuple[Any, ...]]:
    year_end = datetime(year + 1, 1, 1, tzinfo=CST).astimezone(UTC)
    for i in range(1, n + 1):
        reg = moment(rng, year)
        kind = pick(rng, KINDS)
        cat = rng.randrange(1, N_CATS + 1)
        dept: int | None = (cat - 1) % N_DEPTS + 1 if rng.random() < 0.9 else rng.randrange(1, N_DEPTS + 1)
        due = reg + timedelta(days=7 if kind != "report" else 21)
        no_cb = rng.random() < 0.08
        r = rng.random()
        status, dispatched, resolved, closed = "closed", True, None, None
        cb = sat = solved = None
        reopen = 1 if rng.random() < 0.02 else 0
        if r < 0.03:
            status = "merged"
        elif r < 0.04:
            status, dispatched, dept = "invalid", False, None
        else:
            direct = kind == "consultation" and rng.random() < 0.7 or kind == "praise"
            if direct:
                dispatched, dept = False, None
                resolved = reg + timedelta(minutes=rng.randrange(2, 20))
            else:
                resolved = reg + timedelta(hours=rng.expovariate(1 / 90))
            if not direct and (r > 0.97 or resolved > year_end + timedelta(days=30)):
                status = rng.choice(["dispatched", "accepted", "accepted", "returned", "reopened"])
                resolved = None
            else:
                cb = "not_needed" if no_cb else pick(rng, [("reached", 85), ("unreachable", 5), ("pending", 10)])
                if cb == "reached":
                    sat = pick(rng, [("satisfied", 80), ("basically", 15), ("dissatisfied", 5)])
                    solved = rng.random() < 0.9
                    status = "closed"
                elif cb == "unreachable":
                    status = "closed"
                else:
                    status = "answered" if direct else "resolved"
                closed = resolved + timedelta(days=1) if status == "closed" else None
        yield (
            i, f"B{year}{i:08d}", pick(rng, SOURCES), rng.choice(AREAS), kind, cat, "基准测试工单",
            rng.random() < 0.03, kind == "report", no_cb, dept, status, reg,
            reg + timedelta(minutes=30) if dispatched else None, dispatched, due, resolved, closed,
            0, 0, reopen, cb, sat, solved, 1, reg, closed or resolved or reg,
        )


def calls(rng: random.Random, year: int, n: int, lines: int) -> Iterator[tuple[Any, ...]]:
    for i in range(1, n + 1):
        at = moment(rng, year)
        if rng.random() < 0.9:
            direction = "in"
            outcome = pick(rng, [("answered", 88), ("abandoned", 7), ("refused", 5)])
        else:
            direction = "out"
            outcome = pick(rng, [("callback_answered", 80), ("callback_unanswered", 17), ("callback_failed", 3)])
        wait = talk = line = answered = ended = None
        if outcome in ("answered", "callback_answered"):
            wait = round(rng.expovariate(1 / 9), 3)
            talk = round(rng.uniform(30, 600), 3)
            answered = at + timedelta(seconds=wait)
            ended = answered + timedelta(seconds=talk)
            line = rng.randint(1, lines)
        elif outcome in ("abandoned", "callback_unanswered"):
            wait = round(rng.uniform(3, 60), 3)
            ended = at + timedelta(seconds=wait)
            line = rng.randint(1, lines)
        yield (i, "default", f"b{year}-{i}", direction, "13800138000", line, at, answered, ended, outcome,
               wait, talk, ended or at)


def reference_rows() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    depts = [(i, f"d{i:03d}", f"承办单位{i:03d}") for i in range(1, N_DEPTS + 1)]
    cats = [(i, f"问题分类{i:02d}", (i - 1) % N_DEPTS + 1) for i in range(1, N_CATS + 1)]
    return depts, cats


def load_pg(url: str, year: int, n_cases: int, n_calls: int, lines: int, seed: int) -> None:
    import psycopg

    u = make_url(url)
    admin = u.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as c:
        if not c.execute("select 1 from pg_database where datname = %s", (u.database,)).fetchone():
            c.execute(f'create database "{u.database}"')
    upgrade(url)
    plain = u.set(drivername="postgresql").render_as_string(hide_password=False)
    rng = random.Random(seed)
    with psycopg.connect(plain) as c:
        c.execute(f"truncate {', '.join(DATA_TABLES)} restart identity cascade")
        depts, cats = reference_rows()
        with c.cursor() as cur:
            cur.executemany("insert into departments (id, code, name, active) values (%s, %s, %s, true)", depts)
            cur.executemany("insert into categories (id, name, default_department_id, callback_required, active) "
                            "values (%s, %s, %s, true, true)", cats)
        for table, cols, rows in (("tickets", TICKET_COLS, tickets(rng, year, n_cases)),
                                  ("calls", CALL_COLS, calls(rng, year, n_calls, lines))):
            t0 = time.perf_counter()
            with c.cursor() as cur, cur.copy(f"copy {table} ({', '.join(cols)}) from stdin") as cp:
                for row in rows:
                    cp.write_row(row)
            print(f"{table}: copied in {time.perf_counter() - t0:.1f} s", flush=True)
        for table in ("departments", "categories", "tickets", "calls"):
            c.execute(f"select setval(pg_get_serial_sequence('{table}', 'id'), (select max(id) from {table}))")
        c.commit()
    with psycopg.connect(plain, autocommit=True) as c:
        t0 = time.perf_counter()
        c.execute("vacuum analyze tickets")
        c.execute("vacuum analyze calls")
        print(f"vacuum analyze: {time.perf_counter() - t0:.1f} s", flush=True)


def _sqlite_value(v: Any) -> Any:
    if isinstance(v, datetime):
        # SQLAlchemy's SQLite DateTime format, naive UTC (models.UTCDateTime): range predicates
        # compare these strings, so they must match the format the ORM binds exactly
        return v.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, bool):
        return int(v)
    return v


def load_sqlite(url: str, year: int, n_cases: int, n_calls: int, lines: int, seed: int) -> None:
    upgrade(url)
    path = make_url(url).database
    rng = random.Random(seed)
    c = sqlite3.connect(path)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=OFF")
    for t in DATA_TABLES:
        c.execute(f"delete from {t}")
    depts, cats = reference_rows()
    c.executemany("insert into departments (id, code, name, active) values (?, ?, ?, 1)", depts)
    c.executemany("insert into categories (id, name, default_department_id, callback_required, active) "
                  "values (?, ?, ?, 1, 1)", cats)
    for table, cols, rows in (("tickets", TICKET_COLS, tickets(rng, year, n_cases)),
                              ("calls", CALL_COLS, calls(rng, year, n_calls, lines))):
        t0 = time.perf_counter()
        sql = f"insert into {table} ({', '.join(cols)}) values ({', '.join('?' * len(cols))})"
        c.executemany(sql, ([_sqlite_value(v) for v in row] for row in rows))
        c.commit()
        print(f"{table}: inserted in {time.perf_counter() - t0:.1f} s", flush=True)
    t0 = time.perf_counter()
    c.execute("analyze")
    c.commit()
    c.close()
    print(f"analyze: {time.perf_counter() - t0:.1f} s", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--year", type=int, default=2025)
    p.add_argument("--cases", type=int, default=1_000_000)
    p.add_argument("--calls", type=int, default=2_000_000)
    p.add_argument("--lines", type=int, default=120)
    p.add_argument("--seed", type=int, default=12345)
    a = p.parse_args()
    t0 = time.perf_counter()
    backend = make_url(a.url).get_backend_name()
    load = load_sqlite if backend == "sqlite" else load_pg
    load(a.url, a.year, a.cases, a.calls, a.lines, a.seed)
    print(f"{a.cases} cases and {a.calls} calls of {a.year} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
