"""`hotline recordings …` from outside: collect, policy, retention, hold — and their errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from callcenter.store.db import Database
from callcenter.store.models import utcnow
from telephony.simulator import write_tone_wav
from tests.integration.test_recordings import add_call

HOTLINE = Path(sys.executable).parent / "hotline"


async def test_the_commands(tmp_path: Path) -> None:
    if not HOTLINE.exists():
        pytest.skip("no hotline console script in the venv (pip install -e .)")
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    spool = tmp_path / "monitor"
    env = {**os.environ, "HOTLINE_DATABASE_URL": url, "HOTLINE_DATA_DIR": str(tmp_path)}
    env.pop("HOTLINE_RECORDINGS_SPOOL", None)

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(HOTLINE), "recordings", *args], env={**env, **extra}, capture_output=True,
                              text=True, timeout=120)

    assert subprocess.run([str(HOTLINE), "db", "upgrade"], env=env, capture_output=True, timeout=120).returncode == 0
    db = Database(url)
    try:
        await add_call(db, "1796300000.1", at=utcnow() - timedelta(days=800))  # past the default 2 years
        await add_call(db, "1796300000.2", at=utcnow() - timedelta(minutes=5))
    finally:
        await db.dispose()
    spool.mkdir()
    write_tone_wav(spool / "default-1796300000.1.wav", 3)
    write_tone_wav(spool / "default-1796300000.2.wav", 3)

    r = run("collect")
    assert r.returncode == 2 and "HOTLINE_RECORDINGS_SPOOL" in r.stderr
    r = run("collect", HOTLINE_RECORDINGS_SPOOL=str(spool))
    assert r.returncode == 0, r.stderr
    assert sorted(json.loads(r.stdout)["collected"]) == ["default-1796300000.1.wav", "default-1796300000.2.wav"]
    assert list(spool.iterdir()) == []
    assert len([p for p in (tmp_path / "recordings").rglob("*.wav")]) == 2

    r = run("retention", "--dry-run")
    assert [x["linkedid"] for x in json.loads(r.stdout)] == ["1796300000.1"]
    assert len(list((tmp_path / "recordings").rglob("*.wav"))) == 2  # a dry run removes nothing
    r = run("policy", "*", "900")
    assert json.loads(r.stdout) == {"*": 900, "report": 3650}
    assert run("retention", "--dry-run").stdout.strip() == "[]"
    run("policy", "*", "730")
    r = run("retention")
    assert r.returncode == 0 and [x["linkedid"] for x in json.loads(r.stdout)] == ["1796300000.1"]
    assert "recording removed by retention" in r.stderr
    assert len(list((tmp_path / "recordings").rglob("*.wav"))) == 1

    r = run("policy", "bogus", "10")
    assert r.returncode == 2 and "unknown kind" in r.stderr
    r = run("hold", "GD20990101-0001")
    assert r.returncode == 2 and "--reason" in r.stderr
    r = run("hold", "GD20990101-0001", "--reason", "法院调取")
    assert r.returncode == 1 and "no case GD20990101-0001" in r.stderr
