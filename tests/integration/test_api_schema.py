"""The schemathesis tier: every /api/v1 operation from the API's own OpenAPI schema, as an
operator and as a supervisor, with every check schemathesis has (`--checks all`: server errors,
status codes, content types, headers, response schemas, negative data rejected, positive data
accepted, missing headers, unsupported methods, ignored auth, …) on valid and on invalid
(negative) data, against a real uvicorn on SQLite and on PostgreSQL. Bounded examples keep the
tier under 3 minutes; the run's summary (requests, statuses, failures) is printed at the end."""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig

from callcenter.core.settings import Settings
from callcenter.entry.app import create_app
from callcenter.store.db import Database
from tests import pgserver
from tests.conftest import IN_CI, make_personas
from tests.livesrv import serve


@pytest.fixture(scope="module", params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def live(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str], list[str]]]:
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

    async def seed() -> tuple[dict[str, str], list[str]]:
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
        return {"operator": p.tokens["lina"], "supervisor": p.tokens["chenjing"]}, numbers

    tokens, numbers = asyncio.run(seed())
    with serve(create_app, settings=Settings(data_dir=tmp, database_url=url)) as base:
        yield base, tokens, numbers


EXAMPLES = 12  # per operation, role and mode: ~12 operations × 2 roles × 2 modes × 12 ≈ 600 cases
SUMMARY: list[str] = []


# `--checks all` as configured for this API: a schema-valid request may still be refused with
# 422 for what no schema can say — a 问题分类 that is not in the reference data, a number that is
# not a phone number, text made only of invisible marks, a date outside 2000–2100, a call_id
# that does not exist. Everything else in positive data must be accepted (or 401/403/404/409).
CONFIG = SchemathesisConfig.from_dict({"checks": {"positive_data_acceptance": {
    "expected-statuses": ["2XX", "401", "403", "404", "409", "422"]}}})


def _operations(base: str) -> list:  # type: ignore[type-arg]
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json", config=CONFIG)
    return [op for op in (r.ok() for r in schema.get_all_operations()) if op.path.startswith("/api/v1/")]


@pytest.mark.parametrize("role", ["operator", "supervisor"])
def test_every_api_operation_passes_every_check(live: tuple[str, dict[str, str], list[str]], role: str,
                                                 request: pytest.FixtureRequest) -> None:
    base, tokens, numbers = live
    load_all_checks()
    checks = CHECKS.get_all()
    ops = _operations(base)
    assert len(ops) >= 8
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    sent = 0
    for op in ops:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            # random case numbers almost never exist: half the time use a real one, so the
            # handlers behind the 404 are exercised too
            @given(case=op.as_strategy(generation_mode=mode), real=st.sampled_from([None, *numbers]),
                   known=st.booleans())
            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def run(case, real, known) -> None:  # type: ignore[no-untyped-def]
                nonlocal sent
                # (positive data only: a negative case's bad number must stay bad)
                # (run at once, inside this iteration: `mode` is this loop's)
                if real and mode is GenerationMode.POSITIVE and case.path_parameters and (  # noqa: B023
                        "number" in case.path_parameters):
                    case.path_parameters["number"] = real
                # and half the new cases name a real category and a real number, so registration
                # itself (201) is exercised, not only its 422
                if known and mode is GenerationMode.POSITIVE and isinstance(case.body, dict) and (  # noqa: B023
                        "category" in case.body):
                    case.body.update(category="物业管理", caller_phone="13800138000", content="电梯坏了")
                    case.body.pop("call_id", None)
                headers = {"Authorization": f"Bearer {tokens[role]}"}
                response = case.call(base_url=base, headers=headers)
                sent += 1
                statuses[response.status_code] += 1
                case.validate_response(response, checks=checks, headers=headers,
                                       transport_kwargs={"base_url": base, "headers": headers})

            try:
                run()
            except Exception as e:  # collect every operation's failure, then fail once
                failures.append(f"{op.label} [{mode.value}]: {str(e)[:1500]}")
    server_errors = sum(n for s, n in statuses.items() if s >= 500)
    line = (f"schemathesis ({request.node.callspec.id}): {len(ops)} operations × positive/negative, "
            f"{sent} requests, statuses {dict(sorted(statuses.items()))}, {server_errors} server errors, "
            f"{len(failures)} failing operation(s), {len(checks)} checks")
    SUMMARY.append(line)
    print(line)
    assert server_errors == 0 and not failures, line + "\n\n" + "\n\n".join(failures)


def test_the_schema_documents_every_ticket_route(live: tuple[str, dict[str, str], list[str]]) -> None:
    labels = {op.label for op in _operations(live[0])}
    assert {"POST /api/v1/tickets", "GET /api/v1/tickets/{number}", "POST /api/v1/tickets/{number}/transitions"} <= labels
