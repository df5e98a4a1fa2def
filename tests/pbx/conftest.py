"""The `pbx` tier: the telephony adapter against a real Asterisk 22.10.1 (tests/pbx/asterisk.py).

Where the Asterisk build (../shared/pbx) is absent, or cannot run for want of its runtime
libraries (scripts/sysdeps.sh installs them), the tier is skipped — loudly, in the summary — and
under CI=true it fails instead.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from callcenter.store.db import Database
from tests import pgserver
from tests.pbx.asterisk import Asterisk, Driver, cleanup, find_package, make_asterisk, missing_libraries

IN_CI = os.environ.get("CI") == "true"
_skipped: list[str] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.pbx)


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    if _skipped:
        tr = terminalreporter
        tr.write_sep("!", "PBX TESTS WERE SKIPPED", red=True, bold=True)
        tr.write_line(f"{len(_skipped)} tests of the pbx tier skipped: {_skipped[0]}")
        tr.write_line("Put the Asterisk build at ../shared/pbx/asterisk-22.10.1 (or set HOTLINE_PBX_DIR) and run "
                      "scripts/sysdeps.sh as root for its runtime packages.")


@pytest.fixture(scope="session")
def pbx_package() -> Path:
    pkg = find_package()
    why = None
    if pkg is None:
        why = "no Asterisk build at ../shared/pbx (HOTLINE_PBX_DIR unset)"
    elif missing := missing_libraries(pkg):
        why = f"the Asterisk build at {pkg} lacks runtime libraries: {', '.join(missing)}"
    if why:
        if IN_CI:
            pytest.fail(f"CI=true and {why}")
        _skipped.append(why)
        pytest.skip(why)
    assert pkg is not None
    return pkg


@pytest.fixture
def asterisk(pbx_package: Path, pg_url: str) -> Iterator[Asterisk]:
    """A started Asterisk with a fresh CDR database (its own, not the store's)."""
    cdr_admin = pgserver.create_database("hotline_cdr")
    ast = make_asterisk(pbx_package, cdr_admin, cdr_admin)
    ast.start()
    try:
        yield ast
    finally:
        cleanup(ast)


@pytest.fixture
async def driver(asterisk: Asterisk) -> AsyncIterator[Driver]:
    d = Driver(asterisk.port)
    reply = await d.connect()
    assert reply.get("Response") == "Success", reply
    try:
        yield d
    finally:
        await d.close()


@pytest.fixture
async def store(pg: Database) -> AsyncIterator[Database]:
    yield pg
