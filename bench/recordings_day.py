"""Recording storage and collection CPU for a day of a 10-line hotline (issue 18).

    .venv/bin/python bench/recordings_day.py --runs 5

The day: a weekday (2025-03-05) of bench/capacity.py's hotline (reports/simweek.py: 10 lines,
7 seats, 200 s mean talk, 80 s patience, a city hotline's day profile). Storage is exact from
the day's answered calls: MixMonitor's wav, 8 kHz 16-bit mono = 16,000 bytes a second of talk
plus a 44-byte header a file. CPU is measured: the day's first answered calls (up to
--sample-mb of audio) are written as real WAV files into a spool, their calls into a migrated
SQLite store, and `recordings.services.collect` moves them (copy, fsync, read back, SHA-256 of
both, rename, row, delete) — process CPU and wall time per GB, median of --runs [min–max],
scaled to the day's bytes. The PBX's own cost (MixMonitor mixing and writing) is not measured
here: that needs the real Asterisk.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callcenter.recordings import services as rec  # noqa: E402
from callcenter.store.db import Database  # noqa: E402
from callcenter.store.migrate import upgrade  # noqa: E402
from callcenter.store.models import Call, CallDirection, CallOutcome  # noqa: E402
from reports import simweek  # noqa: E402
from reports.capacity import TZ  # noqa: E402
from telephony.simulator import write_tone_wav  # noqa: E402

HOTLINE = simweek.Hotline(lines=10, seats=7, talk_s=200.0, patience_s=80.0, scale=1.25)
BYTES_PER_S = 8000 * 2
HEADER = 44


async def one_run(work: Path, sample: list[dict], template: Path) -> tuple[float, float, int]:
    spool, store = work / "spool", work / "store"
    shutil.rmtree(work, ignore_errors=True)
    spool.mkdir(parents=True)
    shutil.copy(template, work / "hotline.db")
    db = Database(f"sqlite:///{work / 'hotline.db'}")
    async with db.transaction() as s:
        for r in sample:
            s.add(Call(pbx="sim", linkedid=r["linkedid"], direction=CallDirection.inbound,
                       caller_number=r["caller_number"], offered_at=r["offered_at"], answered_at=r["answered_at"],
                       ended_at=r["ended_at"], outcome=CallOutcome.answered, talk_s=r["talk_s"],
                       updated_at=r["offered_at"]))
    for r in sample:
        write_tone_wav(spool / f"sim-{r['linkedid']}.wav", r["talk_s"])
    nbytes = sum(p.stat().st_size for p in spool.iterdir())
    c0, t0 = time.process_time(), time.perf_counter()
    res = await rec.collect(db, spool, store, now=max(r["ended_at"] for r in sample) + timedelta(minutes=1))
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    assert len(res.collected) == len(sample) and not res.failed, res
    await db.dispose()
    return cpu, wall, nbytes


async def main(runs: int, sample_mb: float) -> None:
    day = [r for r in simweek.simulate(datetime(2025, 3, 5, tzinfo=TZ), 1, HOTLINE, seed=18)]
    answered = [r for r in day if r["outcome"] == "answered"]
    talk = sum(r["talk_s"] for r in answered)
    day_bytes = sum(HEADER + round(r["talk_s"] * 8000) * 2 for r in answered)
    print(f"the day: {len(day)} calls offered, {len(answered)} answered, {talk / 3600:.1f} h of talk "
          f"→ {day_bytes / 1e9:.2f} GB of wav ({day_bytes / len(answered) / 1e6:.2f} MB a call); "
          f"a year at this rate ≈ {day_bytes * 365 / 1e12:.2f} TB, 2 years kept ≈ {day_bytes * 730 / 1e12:.2f} TB")
    sample, total = [], 0.0
    for r in answered:
        if total >= sample_mb * 1e6:
            break
        sample.append(r)
        total += HEADER + r["talk_s"] * BYTES_PER_S
    base = Path(tempfile.mkdtemp(prefix="bench-rec-"))
    try:
        template = base / "template.db"
        upgrade(f"sqlite:///{template}")
        cpus, walls = [], []
        for _ in range(runs):
            cpu, wall, nbytes = await one_run(base / "run", sample, template)
            cpus.append(cpu / nbytes * 1e9)
            walls.append(wall / nbytes * 1e9)
        cpu_gb, wall_gb = statistics.median(cpus), statistics.median(walls)
        print(f"collect: {len(sample)} files, {nbytes / 1e6:.0f} MB a run, {runs} runs: CPU {cpu_gb:.2f} s/GB "
              f"[{min(cpus):.2f}–{max(cpus):.2f}], wall {wall_gb:.2f} s/GB [{min(walls):.2f}–{max(walls):.2f}]")
        print(f"the day's collection: CPU ≈ {cpu_gb * day_bytes / 1e9:.0f} s, wall ≈ {wall_gb * day_bytes / 1e9:.0f} s")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--sample-mb", type=float, default=200.0)
    a = p.parse_args()
    asyncio.run(main(a.runs, a.sample_mb))
