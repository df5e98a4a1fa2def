"""`make demo`, shortened: the same three commands (db upgrade, seed demo, demo) on a fresh data
directory, the demo run for DEMO_SECONDS with its PBX simulator answering calls and a supervisor
opening the pages the scheduler's notices feed; its log must hold no traceback and no ERROR line
(issue 13: the deadlines tick failed every minute of a 21-minute run)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.livesrv import free_port

pytestmark = pytest.mark.slow
HOTLINE = str(Path(sys.executable).parent / "hotline")
DEMO_SECONDS = float(os.environ.get("HOTLINE_TEST_DEMO_SECONDS", "100"))


def test_make_demo_runs_without_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "HOTLINE_DATA_DIR": str(tmp_path / "var"), "HOTLINE_AMI_PORT": str(free_port())}
    env.pop("HOTLINE_DATABASE_URL", None)  # the embedded default, as `make demo`
    for cmd in (["db", "upgrade"], ["seed", "demo"]):
        done = subprocess.run([HOTLINE, *cmd], env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([HOTLINE, "demo", "--port", str(port), "--rate", "20", "--speed", "4"], env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        with httpx.Client(base_url=base, timeout=20, follow_redirects=True) as c:
            page = c.get("/login")
            token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0] if "csrf_token" in page.text \
                else ""
            c.post("/login", data={"username": "chenjing", "password": "hotline-demo", "csrf_token": token})
            end = time.monotonic() + DEMO_SECONDS
            while time.monotonic() < end:
                for path in ("/notices", "/wall", "/callbacks", "/cases"):
                    r = c.get(path)
                    assert r.status_code < 500, (path, r.status_code)
                assert proc.poll() is None, log.read_text()[-4000:]
                time.sleep(10)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in text, text[-6000:]
    errors = [line for line in text.splitlines() if " ERROR " in line]
    assert not errors, "\n".join(errors[:20])
    assert "leads" in text  # the scheduler did take the lead and tick
