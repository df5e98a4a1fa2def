"""`hotline report metrics` from outside, the way contract.sh runs it, on a fresh SQLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLES = Path(__file__).parent.parent / "fixtures" / "samples"
HOTLINE = Path(sys.executable).parent / "hotline"


@pytest.fixture(scope="module")
def hotline(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if not HOTLINE.exists():
        pytest.skip("no hotline console script in the venv (pip install -e .)")
    d = tmp_path_factory.mktemp("report-cli")
    env = {**os.environ, "HOTLINE_DATABASE_URL": f"sqlite:///{d / 'hotline.db'}", "HOTLINE_DATA_DIR": str(d)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(HOTLINE), *args], env=env, capture_output=True, text=True, timeout=120)

    assert run("db", "upgrade").returncode == 0
    r = run("import", "registry", str(SAMPLES / "registry-sample.csv"), "--create-missing")
    assert r.returncode == 0, r.stderr
    return run


def test_it_prints_the_sample_figures_as_json(hotline) -> None:  # type: ignore[no-untyped-def]
    r = hotline("report", "metrics", "--from", "2012-01-01", "--to", "2012-12-31", "--format", "json")
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    want = json.loads((SAMPLES / "registry-sample.expect.json").read_text(encoding="utf-8"))
    c = m["cases"]
    assert (c["registered"], c["answered_directly"], c["dispatched"], c["resolved"]) == (60, 9, 50, 57)
    assert c["completion_rate"] == 57 / 60
    assert c["satisfaction_rate"] == pytest.approx(want["satisfaction_rate"], abs=0.0006)
    assert c["by_category"] == want["by_category"]
    assert "拆迁补偿" in r.stdout  # ensure_ascii=False: names as users read them
    assert set(m["calls"]) >= {"offered", "answered", "abandoned", "refused", "answer_rate",
                               "answered_within_15s_rate", "avg_wait_s", "avg_talk_s", "peak_lines"}


def test_it_prints_a_chinese_table(hotline) -> None:  # type: ignore[no-untyped-def]
    r = hotline("report", "metrics", "--from", "2012-01-01", "--to", "2012-12-31", "--format", "table")
    assert r.returncode == 0, r.stderr
    assert "办结率" in r.stdout and "95.00%" in r.stdout and "接通率" in r.stdout


def test_an_unknown_department_exits_2(hotline) -> None:  # type: ignore[no-untyped-def]
    r = hotline("report", "metrics", "--from", "2012-01-01", "--to", "2012-12-31", "--department", "nope")
    assert r.returncode == 2
    assert "nope" in r.stderr


def test_a_drill_down_lists_as_many_cases_as_the_figure(hotline) -> None:  # type: ignore[no-untyped-def]
    r = hotline("report", "drill", "resolved", "--from", "2012-01-01", "--to", "2012-12-31")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.split()) == 57
