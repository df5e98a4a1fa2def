"""Shared fixtures: a migrated database on SQLite and on a real PostgreSQL, and the personas.

Personas (STYLE.md): 话务员 李娜 (operator), 承办人 张伟 of 住建局 (clerk), 承办人 王芳 of
another department (must get 403), 班长 陈静 (supervisor), 管理员 admin.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from callcenter.entry import wire
from callcenter.store.db import Database
from callcenter.store.migrate import upgrade
from tests import pgserver

FIXTURES = Path(__file__).parent / "fixtures"
wire()  # the areas' hooks, as every entry point has them (callcenter/entry/__init__.py)
IN_CI = os.environ.get("CI") == "true"
_pg_skipped: list[str] = []

# tables a test may fill; the rest (alembic_version, sla_rules) keep their migrated data
DATA_TABLES = [
    "qa_inspections", "qa_items", "qa_checklists", "recordings", "legal_holds", "idempotency_keys", "form_drafts", "callback_requests", "notifications", "scheduler_leases", "process_heartbeats", "kb_uses", "kb_phrasings", "kb_entry_versions", "kb_entries",
    "report_case_days", "report_case_group_days", "report_call_days", "report_call_hours", "report_rollup_state", "disclosure_figures",
    "user_sessions", "login_failures", "audit_log", "ticket_events", "callbacks", "tickets", "calls", "routing_rules", "users",
    "categories", "departments", "calendar_days", "ticket_counters",
]


def pytest_report_header(config: pytest.Config) -> str:
    url = pgserver.admin_url()
    return f"PostgreSQL for tests: {url or 'NONE — PostgreSQL tests will be SKIPPED'}"


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    import sys

    schema = sys.modules.get("tests.integration.test_api_schema")
    if schema is not None and getattr(schema, "SUMMARY", None):
        terminalreporter.write_sep("-", "schemathesis tier")
        for line in schema.SUMMARY:
            terminalreporter.write_line(line)
    if _pg_skipped:
        tr = terminalreporter
        tr.write_sep("!", "PostgreSQL TESTS WERE SKIPPED", red=True, bold=True)
        tr.write_line(f"{len(_pg_skipped)} PostgreSQL test setups skipped: no server could be found or started.")
        tr.write_line("Install PostgreSQL (apt-get install postgresql) or set HOTLINE_TEST_PG=postgresql://…")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_url() -> str:
    if pgserver.admin_url() is None:
        if IN_CI:
            pytest.fail("CI=true but no PostgreSQL server could be found or started")
        _pg_skipped.append("pg")
        pytest.skip("no PostgreSQL server (see the summary)")
    url = pgserver.create_database()
    upgrade(url)
    return url


async def _truncate(db: Database) -> None:
    """Empty the data tables of the session's PostgreSQL database. TRUNCATE fires no row
    trigger, so it empties the append-only tables (audit_log, ticket_events) too. An SQLite
    store is emptied by copying the migrated template file instead (`database`): the database
    refuses DELETE on the append-only tables, and SQLite has no TRUNCATE."""
    if db.is_sqlite:
        raise RuntimeError("an SQLite store is emptied by copying sqlite_template, not by deleting rows")
    async with db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(DATA_TABLES)} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty database: a copy of a migrated SQLite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "hotline.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        db = Database(f"sqlite:///{path}")
    else:
        db = Database(request.getfixturevalue("pg_url"), pool_size=5)
        await _truncate(db)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[Database]:
    """The session's PostgreSQL database, emptied: for tests of real processes side by side (they
    need PostgreSQL: LISTEN/NOTIFY, advisory locks)."""
    db = Database(pg_url, pool_size=3)
    await _truncate(db)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def sqlite_database(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    path = tmp_path / "hotline.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    try:
        yield db
    finally:
        await db.dispose()


@dataclass
class Personas:
    """The named people of the tests, with their ids and bearer tokens."""

    lina: object  # operator 李娜
    zhangwei: object  # clerk 张伟, 住建局
    wangfang: object  # clerk 王芳, 城管局 (another department)
    chenjing: object  # supervisor 陈静
    admin: object
    tokens: dict[str, str]


@pytest.fixture
def tmp_data_dir() -> AsyncIterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="hotline-data-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


async def make_personas(db: Database) -> Personas:
    """Seed reference data and the named people; return them with bearer tokens."""
    from callcenter.entry.seed import seed_reference
    from callcenter.people.auth import add_user, issue_token
    from callcenter.store.models import Role

    await seed_reference(db)
    people = {
        "lina": await add_user(db, "lina", Role.operator, display_name="李娜", seat="8001"),
        "zhangwei": await add_user(db, "zhangwei", Role.clerk, display_name="张伟", department="zjj"),
        "wangfang": await add_user(db, "wangfang", Role.clerk, display_name="王芳", department="cgj"),
        "chenjing": await add_user(db, "chenjing", Role.supervisor, display_name="陈静"),
        "admin": await add_user(db, "admin", Role.admin, display_name="管理员"),
    }
    tokens = {name: await issue_token(db, name) for name in people}
    return Personas(tokens=tokens, **people)


@pytest.fixture
async def personas(database: Database) -> Personas:
    return await make_personas(database)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Playwright's sync API leaves its event loop installed in the main thread, after which
    # pytest-asyncio cannot run another loop there: run the browser tier last.
    items.sort(key=lambda it: it.get_closest_marker("browser") is not None)
