"""Recordings in an S3-compatible object store (issue 18) — against a real S3 API on a local port
(moto's server: HTTP, signatures, checksums, ranges), through boto3 as in production: collection
verified by SHA-256 (a source that changes mid-copy is never linked), retention deletes the
objects, and the console streams the ranges a player asks for."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from callcenter.core.settings import Settings
from callcenter.entry.app import create_app
from callcenter.recordings import services as rec
from callcenter.recordings.storage import S3Store, store_of
from callcenter.store.db import Database
from callcenter.store.models import Recording, RecordingState
from telephony.simulator import write_tone_wav
from tests.console_people import seed_console_people, sign_in
from tests.integration.test_recordings import add_call
from tests.livesrv import free_port

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
BUCKET = "hotline-recordings"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    port = int(os.environ.get("HOTLINE_TEST_S3_PORT", "0")) or free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    url = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                 aws_secret_access_key="test").create_bucket(Bucket=BUCKET)
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> S3Store:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    prefix = f"t{uuid.uuid4().hex[:8]}/"  # each test its own prefix in the module's bucket
    return S3Store(BUCKET, prefix, s3_endpoint, "us-east-1")


def keys(s3: S3Store) -> set[str]:
    listed = s3.client.list_objects_v2(Bucket=BUCKET, Prefix=s3.prefix).get("Contents", [])
    return {o["Key"][len(s3.prefix):] for o in listed}


async def test_collect_uploads_verified_objects_and_retention_deletes_them(sqlite_database: Database, s3: S3Store,
                                                                           tmp_path: Path) -> None:
    db, spool = sqlite_database, tmp_path / "spool"
    spool.mkdir()
    old, recent = NOW - timedelta(days=800), NOW - timedelta(hours=2)
    await add_call(db, "1700000200.1", at=old, talk=3)
    await add_call(db, "1700000200.2", at=recent, talk=4)
    await add_call(db, "1700000200.3", at=recent, ended=False)
    for n, secs in ((1, 3), (2, 4), (3, 2)):
        write_tone_wav(spool / f"default-1700000200.{n}.wav", secs)
    want = {n: hashlib.sha256((spool / f"default-1700000200.{n}.wav").read_bytes()).hexdigest() for n in (1, 2)}

    res = await rec.collect(db, spool, s3, now=NOW)

    assert sorted(res.collected) == ["default-1700000200.1.wav", "default-1700000200.2.wav"]
    assert res.waiting == ["default-1700000200.3.wav"]
    async with db.session() as s:
        rows = {r.linkedid: r for r in (await s.execute(select(Recording))).scalars()}
    for n in (1, 2):
        r = rows[f"1700000200.{n}"]
        assert r.state is RecordingState.collected and r.sha256 == want[n]
        assert s3.hash_of(r.path or "") == (r.size, want[n])  # the object is the recording, byte for byte
        assert not (spool / f"default-1700000200.{n}.wav").exists()
    assert rows["1700000200.2"].duration_s == pytest.approx(4, abs=0.01)
    assert keys(s3) == {rows["1700000200.1"].path, rows["1700000200.2"].path}
    assert not list(spool.glob("*.part"))

    removed = await rec.apply_retention(db, s3, NOW)
    assert [r.linkedid for r in removed] == ["1700000200.1"]
    assert keys(s3) == {rows["1700000200.2"].path}


async def test_a_source_that_changes_mid_copy_is_never_linked(sqlite_database: Database, s3: S3Store,
                                                              tmp_path: Path) -> None:
    db, spool = sqlite_database, tmp_path / "spool"
    spool.mkdir()
    await add_call(db, "1700000300.1", at=NOW - timedelta(hours=1), talk=3)
    src = spool / "default-1700000300.1.wav"
    write_tone_wav(src, 3)

    def grows(_: int) -> None:  # MixMonitor still writing: the file is longer than what was sent
        with src.open("ab") as f:
            f.write(b"\0" * 320)

    res = await rec.collect(db, spool, s3, now=NOW, write_hook=grows)
    assert res.failed == [src.name] and src.exists()
    assert keys(s3) == set()  # the mismatching object was removed
    async with db.session() as s:
        assert (await s.execute(select(Recording))).first() is None
    res = await rec.collect(db, spool, s3, now=NOW)  # the next run takes the whole file
    assert res.collected == [src.name] and not src.exists() and len(keys(s3)) == 1


async def test_the_console_streams_an_objects_ranges(sqlite_database: Database, s3: S3Store, tmp_path: Path) -> None:
    from callcenter.cases import services as cases
    from callcenter.people.auth import actor_of
    from callcenter.store.models import Kind, User

    db, spool = sqlite_database, tmp_path / "spool"
    spool.mkdir()
    await seed_console_people(db)
    cid = await add_call(db, "1700000400.1", at=NOW - timedelta(hours=1), talk=5)
    write_tone_wav(spool / "default-1700000400.1.wav", 5)
    whole = (spool / "default-1700000400.1.wav").read_bytes()
    assert (await rec.collect(db, spool, s3, now=NOW)).collected
    async with db.session() as s:
        sup = (await s.execute(select(User).where(User.username == "chenjing"))).scalar_one()
        rid = (await s.execute(select(Recording.id))).scalar_one()
    t = await cases.register(db, actor_of(sup), cases.NewTicket(kind=Kind.complaint, category="物业管理",
                                                                 content="电梯坏了", caller_phone="13800138000",
                                                                 call_id=cid))
    settings = Settings(data_dir=tmp_path, database_url=db.url, recordings_s3_bucket=BUCKET,
                        recordings_s3_prefix=s3.prefix, recordings_s3_endpoint=s3.endpoint_url,
                        recordings_s3_region="us-east-1")
    assert isinstance(store_of(settings), S3Store)
    app = create_app(settings, db=db)
    url = f"/cases/{t.number}/recordings/{rid}.wav"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://console.test") as c:
        await sign_in(c, "chenjing")
        r = await c.get(url)
        assert r.status_code == 200 and r.content == whole and r.headers["accept-ranges"] == "bytes"
        r = await c.get(url, headers={"Range": "bytes=1000-1999"})
        assert r.status_code == 206 and r.content == whole[1000:2000]
        assert r.headers["content-range"] == f"bytes 1000-1999/{len(whole)}"
        r = await c.get(url, headers={"Range": "bytes=-100"})
        assert r.status_code == 206 and r.content == whole[-100:]
        r = await c.get(url, headers={"Range": f"bytes={len(whole) + 5}-"})
        assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(whole)}"
        assert "audio" in (await c.get(f"/cases/{t.number}")).text
