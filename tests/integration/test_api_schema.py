"""Property-based run of the API from its own OpenAPI schema (schemathesis), against a real
uvicorn on SQLite and on PostgreSQL: no server error (5xx), no response that breaks the schema."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from callcenter.core.settings import Settings
from callcenter.entry.app import create_app
from callcenter.store.db import Database
from tests import pgserver
from tests.conftest import IN_CI, make_personas
from tests.livesrv import serve


@pytest.fixture(scope="module", params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, list[str]]]:
    tmp = tmp_path_factory.mktemp("schema")
    if request.param == "sqlite":
        path = tmp / "hotline.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        if pgserver.admin_url() is None:
            if IN_CI:
                pytest.fail("CI=true but no PostgreSQL")
            pytest.skip("no PostgreSQL server")
        from callcenter.store.migrate import upgrade

        url = pgserver.create_database("hotline_schema")
        upgrade(url)

    async def seed() -> str:
        db = Database(url)
        p = await make_personas(db)
        # a few cases for the read endpoints to find
        from callcenter.cases import services
        from callcenter.people.auth import TokenCache
        from callcenter.store.models import Kind

        actor = await TokenCache().actor(db, p.tokens["chenjing"])
        assert actor
        numbers = []
        for i in range(3):
            t = await services.register(
                db, actor, services.NewTicket(kind=Kind.complaint, category="物业管理", content=f"测试{i}",
                                               caller_phone="13812345678")
            )
            numbers.append(t.number)
        await db.dispose()
        return p.tokens["chenjing"], numbers

    token, numbers = asyncio.run(seed())
    with serve(create_app, settings=Settings(data_dir=tmp, database_url=url)) as base:
        yield base, token, numbers


def _operations(base: str) -> list:  # type: ignore[type-arg]
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    return [r.ok() for r in schema.get_all_operations()]


def test_the_api_honours_its_own_schema(live: tuple[str, str, list[str]]) -> None:
    base, token, numbers = live
    ops = _operations(base)
    assert len(ops) >= 8
    failures: list[str] = []
    for op in ops:

        # random case numbers almost never exist: half the time use a real one, so the
        # handlers behind the 404 are exercised too
        @given(case=op.as_strategy(), real=st.sampled_from([None, *numbers]))
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case, real) -> None:  # type: ignore[no-untyped-def]
            if real and case.path_parameters and "number" in case.path_parameters:
                case.path_parameters["number"] = real
            case.call_and_validate(
                base_url=base,
                headers={"Authorization": f"Bearer {token}"},
                checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                        response_schema_conformance],
            )

        try:
            run()
        except Exception as e:  # collect every operation's failure, then fail once
            failures.append(f"{op.label}: {str(e)[:1500]}")
    assert not failures, "\n\n".join(failures)


def test_the_schema_documents_every_ticket_route(live: tuple[str, str, list[str]]) -> None:
    labels = {op.label for op in _operations(live[0])}
    assert {"POST /api/v1/tickets", "GET /api/v1/tickets/{number}", "POST /api/v1/tickets/{number}/transitions"} <= labels
