"""Call recordings (issue 18): collection from the PBX's spool (checksums, crash mid-copy),
retention (exactly the expired files, legal holds), on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.cases import services as cases
from callcenter.cases.workflow import SYSTEM
from callcenter.recordings import services as rec
from callcenter.store.db import Database
from callcenter.store.models import Call, CallDirection, CallOutcome, Kind, Recording, RecordingState
from telephony.simulator import write_tone_wav

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


async def add_call(db: Database, linkedid: str, *, at: datetime, ended: bool = True, talk: float = 30.0,
                   pbx: str = "default") -> int:
    async with db.transaction() as s:
        c = Call(pbx=pbx, linkedid=linkedid, direction=CallDirection.inbound, caller_number="13800138000",
                 offered_at=at, answered_at=at + timedelta(seconds=5),
                 ended_at=at + timedelta(seconds=5 + talk) if ended else None,
                 outcome=CallOutcome.answered if ended else CallOutcome.in_progress, updated_at=at)
        s.add(c)
        await s.flush()
        return c.id


async def recordings(db: Database) -> dict[str, Recording]:
    async with db.session() as s:
        return {r.linkedid: r for r in (await s.execute(select(Recording))).scalars()}


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    spool, store = tmp_path / "spool", tmp_path / "store"
    spool.mkdir()
    return spool, store


async def test_collect_moves_verified_files_of_ended_calls(database: Database, dirs: tuple[Path, Path]) -> None:
    spool, store = dirs
    at = NOW - timedelta(minutes=30)
    await add_call(database, "1700000000.1", at=at, talk=7.5)
    await add_call(database, "1700000000.2", at=at, ended=False)  # still talking: MixMonitor is writing
    write_tone_wav(spool / "default-1700000000.1.wav", 7.5)
    write_tone_wav(spool / "default-1700000000.2.wav", 3)
    write_tone_wav(spool / "default-1700000000.9.wav", 3)  # the adapter has not written this call yet
    (spool / "notes.txt").write_text("not a recording")
    want = sha(spool / "default-1700000000.1.wav")
    size = (spool / "default-1700000000.1.wav").stat().st_size

    res = await rec.collect(database, spool, store, now=NOW)

    assert res.collected == ["default-1700000000.1.wav"]
    assert sorted(res.waiting) == ["default-1700000000.2.wav", "default-1700000000.9.wav"]
    r = (await recordings(database))["1700000000.1"]
    assert r.state is RecordingState.collected and r.sha256 == want and r.size == size
    assert r.duration_s == pytest.approx(7.5, abs=0.01)
    assert r.path == f"{at.astimezone(rec._TZ):%Y/%m/%d}/default-1700000000.1.wav"
    assert sha(store / r.path) == want
    assert not (spool / "default-1700000000.1.wav").exists()  # deleted only after the verified copy
    assert (spool / "default-1700000000.2.wav").exists() and (spool / "default-1700000000.9.wav").exists()
    assert set(await recordings(database)) == {"1700000000.1"}

    # the call ends: the next run takes it
    async with database.transaction() as s:
        c = (await s.execute(select(Call).where(Call.linkedid == "1700000000.2"))).scalar_one()
        c.ended_at = NOW - timedelta(minutes=1)
    res = await rec.collect(database, spool, store, now=NOW)
    assert res.collected == ["default-1700000000.2.wav"]


async def test_a_pbx_name_with_a_dash_links_its_files(database: Database, dirs: tuple[Path, Path]) -> None:
    """PBX names such as `hq-east` and Asterisk's `<systemname>-<epoch>.<seq>` linkedids hold "-":
    the file goes to the call its name stands for, and a name two calls could claim is left alone."""
    spool, store = dirs
    at = NOW - timedelta(minutes=30)
    await add_call(database, "1700000100.5", at=at, pbx="hq-east")
    await add_call(database, "pbx2-1700000100.6", at=at, pbx="hq-west")  # systemname in the linkedid
    await add_call(database, "1700000100.5", at=at, pbx="hq")  # "hq" + "east-1700000100.5"? not a call
    await add_call(database, "b-1700000100.7", at=at, pbx="a")  # "a-b-1700000100.7" …
    await add_call(database, "1700000100.7", at=at, pbx="a-b")  # … is ambiguous: never guessed
    for name in ("hq-east-1700000100.5", "hq-west-pbx2-1700000100.6", "a-b-1700000100.7", "-1700000100.8",
                 "nodash"):
        write_tone_wav(spool / f"{name}.wav", 2)
    assert rec.name_splits("hq-east-1.2.wav") == [("hq", "east-1.2"), ("hq-east", "1.2")]
    assert rec.name_splits("notes.txt") == [] and rec.name_splits("nodash.wav") == []

    res = await rec.collect(database, spool, store, now=NOW)

    assert sorted(res.collected) == ["hq-east-1700000100.5.wav", "hq-west-pbx2-1700000100.6.wav"]
    got = {(r.pbx, r.linkedid) for r in (await recordings_all(database))}
    assert got == {("hq-east", "1700000100.5"), ("hq-west", "pbx2-1700000100.6")}
    assert res.waiting == ["a-b-1700000100.7.wav"]  # "-1700000100.8" names no PBX: not a recording
    assert (spool / "a-b-1700000100.7.wav").exists()  # left in the spool, logged


async def recordings_all(db: Database) -> list[Recording]:
    async with db.session() as s:
        return list((await s.execute(select(Recording))).scalars())


async def test_a_copy_that_does_not_match_is_never_linked(database: Database, dirs: tuple[Path, Path],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    spool, store = dirs
    await add_call(database, "1700000001.1", at=NOW - timedelta(hours=1))
    src = spool / "default-1700000001.1.wav"
    write_tone_wav(src, 4)
    before = sha(src)
    real = rec._sha256_of
    # the storage returns other bytes than were written (a bad disk, a truncating mount)
    monkeypatch.setattr(rec, "_sha256_of", lambda p: (real(p)[0], "0" * 64) if p.name.endswith(".part") else real(p))
    res = await rec.collect(database, spool, store, now=NOW)
    assert res.failed == ["default-1700000001.1.wav"] and res.collected == []
    assert await recordings(database) == {}
    assert sha(src) == before  # kept on the PBX
    assert [p for p in store.rglob("*") if p.is_file()] == []
    monkeypatch.undo()
    res = await rec.collect(database, spool, store, now=NOW)
    assert res.collected == ["default-1700000001.1.wav"]


async def test_a_crash_mid_copy_loses_nothing_and_links_nothing(database: Database, dirs: tuple[Path, Path]) -> None:
    """SIGKILL while the file is half copied: the spool keeps it, the half copy (`.part`) is never
    linked, the next run removes it and collects the file whole."""
    spool, store = dirs
    at = NOW - timedelta(hours=2)
    await add_call(database, "1700000002.1", at=at, talk=80)
    src = spool / "default-1700000002.1.wav"
    write_tone_wav(src, 80)  # 1.28 MB: more than one copy chunk
    before = sha(src)
    dest = store / f"{at.astimezone(rec._TZ):%Y/%m/%d}" / src.name
    code = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from callcenter.recordings.services import copy_verified\n"
        "copy_verified(Path(sys.argv[1]), Path(sys.argv[2]),\n"
        "              write_hook=lambda n: os.kill(os.getpid(), signal.SIGKILL))\n"
    )
    p = subprocess.run([sys.executable, "-c", code, str(src), str(dest)], cwd=Path(__file__).parents[2], timeout=60)
    assert p.returncode == -signal.SIGKILL
    part = dest.with_name(dest.name + ".part")
    assert part.exists() and 0 < part.stat().st_size < src.stat().st_size  # really half copied
    assert not dest.exists()
    assert await recordings(database) == {}
    assert sha(src) == before

    res = await rec.collect(database, spool, store, now=NOW)
    assert res.collected == [src.name]
    assert not part.exists() and sha(dest) == before and not src.exists()
    assert (await recordings(database))["1700000002.1"].sha256 == before


async def test_crashes_between_the_steps(database: Database, dirs: tuple[Path, Path]) -> None:
    spool, store = dirs
    at = NOW - timedelta(hours=3)
    await add_call(database, "1700000003.1", at=at)
    src = spool / "default-1700000003.1.wav"
    write_tone_wav(src, 5)
    data = src.read_bytes()
    dest = store / f"{at.astimezone(rec._TZ):%Y/%m/%d}" / src.name
    # 1. crashed after the rename, before the row: copied again and linked
    rec.copy_verified(src, dest)
    assert await recordings(database) == {}
    assert (await rec.collect(database, spool, store, now=NOW)).collected == [src.name]
    assert not src.exists()
    # 2. crashed after the row, before the spool's copy was deleted: deleted now, not copied twice
    src.write_bytes(data)
    assert (await rec.collect(database, spool, store, now=NOW)).collected == [src.name]
    assert not src.exists() and dest.read_bytes() == data
    # … but a spool file that differs from the collected copy is kept and reported
    src.write_bytes(data[:-10] + b"\x01" * 10)
    res = await rec.collect(database, spool, store, now=NOW)
    assert res.failed == [src.name] and src.exists() and dest.read_bytes() == data


async def _case(db: Database, call_id: int, kind: Kind, at: datetime) -> str:
    t = await cases.register(db, SYSTEM, cases.NewTicket(kind=kind, category="物业管理", content="电梯坏了",
                                                        caller_phone="13800138000", call_id=call_id), now=at)
    return t.number


async def test_retention_removes_exactly_the_expired_files(database: Database, tmp_path: Path) -> None:
    from callcenter.entry.seed import seed_reference

    await seed_reference(database)
    store = tmp_path / "store"
    days = await rec.retention_days(database)
    assert days == {"*": 730, "report": 3650}  # the migration's policy: 2 years; 干部举报 10 years
    plan = {  # linkedid: (age in days, case kind or None, on legal hold, state)
        "A": (800, None, False, RecordingState.collected),  # no case, past 2 years → removed
        "B": (700, Kind.complaint, False, RecordingState.collected),  # within 2 years
        "C": (731, Kind.complaint, False, RecordingState.collected),  # just past → removed
        "D": (800, Kind.report, False, RecordingState.collected),  # 干部举报: kept 10 years
        "E": (3700, Kind.report, False, RecordingState.collected),  # past 10 years → removed
        "F": (900, Kind.complaint, True, RecordingState.collected),  # legal hold on the case
        "G": (900, None, False, RecordingState.removed),  # removed before
        "H": (729, None, False, RecordingState.collected),
    }
    for lid, (age, kind, held, state) in plan.items():
        at = NOW - timedelta(days=age)
        cid = await add_call(database, lid, at=at)
        path = f"{lid}.wav"
        if state is RecordingState.collected:
            store.mkdir(exist_ok=True)
            write_tone_wav(store / path, 1)
        async with database.transaction() as s:
            s.add(Recording(pbx="default", linkedid=lid, call_id=cid, state=state, path=path, size=1, sha256="x",
                            started_at=at, collected_at=at, created_at=at))
        if kind is not None:
            number = await _case(database, cid, kind, at)
            if held:
                assert await rec.hold(database, number, "信访复查 2026-17", "auditor")
    removed = await rec.apply_retention(database, store, NOW)
    assert sorted(r.linkedid for r in removed) == ["A", "C", "E"]
    assert sorted(p.name for p in store.iterdir()) == ["B.wav", "D.wav", "F.wav", "H.wav"]
    got = await recordings(database)
    assert {k for k, r in got.items() if r.state is RecordingState.removed} == {"A", "C", "E", "G"}
    assert got["A"].removed_at == NOW
    assert await rec.apply_retention(database, store, NOW) == []  # nothing twice

    # the policy is data: 干部举报 shortened to 3 years removes D (300 days on, with B and H);
    # lifting F's hold removes F
    await rec.set_retention(database, "report", 1095)
    async with database.session() as s:
        f_case = (await s.execute(select(Call.id).where(Call.linkedid == "F"))).scalar_one()
    from callcenter.store.models import Ticket

    async with database.session() as s:
        f_number = (await s.execute(select(Ticket.number).where(Ticket.call_id == f_case))).scalar_one()
    assert await rec.hold(database, f_number, "", "auditor", release=True)
    assert sorted(r.linkedid for r in await rec.apply_retention(database, store, NOW)) == ["F"]
    assert sorted(r.linkedid for r in await rec.apply_retention(database, store, NOW + timedelta(days=300))) == ["B", "D", "H"]
    with pytest.raises(ValueError):
        await rec.set_retention(database, "nonsense", 10)


def test_wav_of_the_simulator_has_the_calls_length(tmp_path: Path) -> None:
    write_tone_wav(tmp_path / "a.wav", 12.25)
    assert rec.wav_duration(tmp_path / "a.wav") == pytest.approx(12.25, abs=1e-3)
    assert (tmp_path / "a.wav").stat().st_size == 44 + 12.25 * 8000 * 2
    os.truncate(tmp_path / "a.wav", 10)
    assert rec.wav_duration(tmp_path / "a.wav") is None


async def test_the_schedulers_steps_collect_and_expire(database: Database, dirs: tuple[Path, Path]) -> None:
    from callbacks.scheduler import CallbackScheduler, SchedulerConfig

    spool, store = dirs
    old = NOW - timedelta(days=731)
    await add_call(database, "1700000009.1", at=old)
    await add_call(database, "1700000009.2", at=NOW - timedelta(hours=1))
    write_tone_wav(spool / "default-1700000009.1.wav", 2)
    write_tone_wav(spool / "default-1700000009.2.wav", 2)
    off = CallbackScheduler(database, SchedulerConfig(worker_id="w"))
    assert not await off.step_recordings(NOW) and not await off.step_retention(NOW)  # not configured: nothing
    sched = CallbackScheduler(database, SchedulerConfig(worker_id="w", recordings_spool=spool, recordings_dir=store))
    assert await sched.step_recordings(NOW)
    assert not await sched.step_recordings(NOW)  # nothing left
    assert await sched.step_retention(NOW)
    got = await recordings(database)
    assert (got["1700000009.1"].state, got["1700000009.2"].state) == (RecordingState.removed, RecordingState.collected)
    assert [p.name for p in store.rglob("*.wav")] == ["default-1700000009.2.wav"]
