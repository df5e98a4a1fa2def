"""The demo is a working hotline on first start (issue 12): `hotline seed demo` imports the
knowledge-base sample and prints the demo accounts — the same accounts the README lists."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from callcenter.entry.seed import PEOPLE, demo_accounts

HOTLINE = str(Path(sys.executable).parent / "hotline")
ROOT = Path(__file__).resolve().parents[2]


def test_seed_demo_imports_the_knowledge_base_and_prints_the_accounts(tmp_path: Path) -> None:
    env = {**os.environ, "HOTLINE_DATA_DIR": str(tmp_path)}
    env.pop("HOTLINE_DATABASE_URL", None)
    subprocess.run([HOTLINE, "db", "upgrade"], env=env, check=True, capture_output=True)
    r = subprocess.run([HOTLINE, "seed", "demo", "--no-cases", "--no-calls"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "知识库示例：导入 100 条" in r.stdout
    assert demo_accounts() in r.stdout
    again = subprocess.run([HOTLINE, "seed", "demo", "--no-cases", "--no-calls"], env=env, capture_output=True, text=True)
    assert "知识库示例：已有条目，未导入" in again.stdout


def test_the_readme_lists_the_demo_accounts() -> None:
    readme = (ROOT / "README.md").read_text()
    for username, name, _role, _dep, seat in PEOPLE:
        row = next((line for line in readme.splitlines() if line.startswith(f"| {username} |")), None)
        assert row is not None and name in row, username
        if seat:
            assert seat in row
    assert "hotline-demo" in readme and "HOTLINE_PORT" in readme


def test_hotline_demo_takes_its_port_like_serve() -> None:
    from typer.testing import CliRunner

    from callcenter.entry import cli

    seen = {}

    async def fake_run_demo(host: str, port: int, rate: float, speed: float) -> None:
        seen.update(host=host, port=port)

    import callcenter.entry.demo as demo_mod

    orig = demo_mod.run_demo
    demo_mod.run_demo = fake_run_demo  # type: ignore[assignment]
    try:
        from callcenter.core.settings import get_settings

        get_settings.cache_clear()
        r = CliRunner().invoke(cli.app, ["demo"], env={"HOTLINE_PORT": "8123"})
        assert r.exit_code == 0, r.output
        assert seen["port"] == 8123 and "演示账户" in r.output
        get_settings.cache_clear()
        r = CliRunner().invoke(cli.app, ["demo", "--port", "8124"], env={"HOTLINE_PORT": "8123"})
        assert seen["port"] == 8124
    finally:
        demo_mod.run_demo = orig  # type: ignore[assignment]
        get_settings.cache_clear()
