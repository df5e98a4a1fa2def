"""录音 on a real Asterisk (issue 18): the shipped `[record-call]` (MixMonitor) records an answered
Local-channel call into the monitor spool as `<HOTLINE_PBX>-<linkedid>.wav`, and the file's
length matches the CDR's billsec (±1 s).

The build in ../shared/pbx must include app_mixmonitor.so; without it the test is skipped,
loudly, in the tier's summary (the whole tier's skip rule applies otherwise).
"""

from __future__ import annotations

import asyncio
import time
import wave
from pathlib import Path

import pytest

from tests.pbx import conftest
from tests.pbx.asterisk import Asterisk, Driver

TALK_S = 4


def _duration(p: Path) -> float:
    with wave.open(str(p), "rb") as w:
        return w.getnframes() / float(w.getframerate())


async def test_mixmonitor_records_a_local_call_as_long_as_its_billsec(asterisk: Asterisk, driver: Driver) -> None:
    if not (asterisk.pkg / "modules" / "app_mixmonitor.so").exists():
        why = f"the Asterisk build at {asterisk.pkg} has no app_mixmonitor.so: recording cannot be tested"
        conftest._skipped.append(why)
        pytest.skip(why)
    await driver.setvar_global("HOTLINE_PBX", "hq-east")  # a PBX name with "-" (recordings.name_splits)
    reply = await driver.action({"Action": "Originate", "Channel": "Local/talk@record-test", "Application": "Wait",
                                 "Data": str(TALK_S + 5), "Async": "true", "Variable": f"RECORD_TALK={TALK_S}"})
    assert reply.get("Response") == "Success", reply
    monitor = asterisk.rundir / "spool" / "monitor"
    import psycopg

    deadline = time.monotonic() + TALK_S + 20
    row = None
    while time.monotonic() < deadline and row is None:
        await asyncio.sleep(0.5)
        with psycopg.connect(asterisk.cdr_admin_url) as c:
            row = c.execute("SELECT linkedid, billsec FROM cdr WHERE disposition = 'ANSWERED'"
                            " ORDER BY start DESC LIMIT 1").fetchone()
    assert row is not None, f"no CDR of the call; PBX log:\n{asterisk.messages()[-3000:]}"
    linkedid, billsec = row
    f = monitor / f"hq-east-{linkedid}.wav"
    assert f.is_file(), (sorted(p.name for p in monitor.glob("*")) if monitor.is_dir() else "no monitor dir",
                         asterisk.messages()[-3000:])
    assert abs(_duration(f) - billsec) <= 1.0, (_duration(f), billsec)
