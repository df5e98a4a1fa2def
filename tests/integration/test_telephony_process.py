"""The adapter process (`hotline telephony run`) imports no web framework (its memory budget)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from telephony.simulator import PBXSimulator, SimConfig

PROBE = """
import atexit, sys
atexit.register(lambda: print("WEB-MODULES", sorted({m.split('.')[0] for m in sys.modules}
                                                  & {'fastapi', 'starlette', 'uvicorn', 'jinja2'})))
sys.argv = ['hotline', 'telephony', 'run']
from callcenter.entry.cli import main
main()
"""


async def test_the_adapter_process_imports_no_web_framework(tmp_path: Path) -> None:
    # a wrong secret: the process goes the whole way (settings, database, adapter, AMI login) and exits 2
    sim = PBXSimulator(SimConfig(secret="other"))
    sim.generating = False
    port = await sim.start("127.0.0.1", 0)
    env = {**os.environ, "HOTLINE_DATA_DIR": str(tmp_path), "HOTLINE_AMI_PORT": str(port),
           "HOTLINE_AMI_SECRET": "hotline-secret"}
    try:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", PROBE, env=env,
                                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        await sim.stop()
    assert proc.returncode == 2, err.decode()[-2000:]
    assert b"refused" in err
    assert "WEB-MODULES []" in out.decode(), out.decode()
