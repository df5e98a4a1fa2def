"""Recordings: collect the PBX's files into the hotline's storage, apply retention, decide who
may listen, record each listen.

The PBX (MixMonitor, deploy/asterisk/extensions.conf) writes one file per answered call into
its spool, named `<pbx>-<linkedid>.wav`; that name links the file to the call (calls are keyed
by (pbx, linkedid)). `collect` copies each file of an ended call to a temporary name in the
storage directory, fsyncs it, checks its size and SHA-256 against the source, renames it into
place and only then records it (state `collected`) and deletes the spool's copy. A crash at any
point leaves the spool file where it was and at most a `*.part` file that is never linked (the
next run removes it and copies again). The storage may be an S3-compatible bucket instead
(recordings/storage.py): one verified PUT, read back and hashed, with the same rule.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update

from callcenter.cases.workdays import TZ as _TZ
from callcenter.cases.workflow import Actor
from callcenter.core.errors import Forbidden, NotFound
from callcenter.recordings.storage import CHUNK, Store, StoredObject, sha256_of
from callcenter.store.db import Database
from callcenter.store.models import (
    Call,
    Kind,
    LegalHold,
    Recording,
    RecordingRetention,
    RecordingState,
    Role,
    Ticket,
    TicketEvent,
    utcnow,
)

log = logging.getLogger("callcenter.recordings")

# `<pbx>-<linkedid>.wav`: both parts may hold "-" (a PBX named `hq-east`; Asterisk's linkedid is
# `<systemname>-<epoch>.<seq>` when systemname is set), so the split is the one naming a call
NAME_RE = re.compile(r"^(?P<stem>[A-Za-z0-9_.-]+)\.wav$")
# the audit trail's action for "listened to a call's recording" (ticket_events)
LISTEN = "listen"
# a browser fetches a recording in several range requests per play: one listen per user and
# recording within this window
LISTEN_WINDOW = timedelta(minutes=10)


def spool_name(pbx: str, linkedid: str) -> str:
    return f"{pbx}-{linkedid}.wav"


def name_splits(file_name: str) -> list[tuple[str, str]]:
    """Every (pbx, linkedid) a spool file's name can stand for, at each "-" (none if the name is
    not a recording's)."""
    m = NAME_RE.match(file_name)
    if not m:
        return []
    stem = m["stem"]
    return [(stem[:i], stem[i + 1:]) for i, ch in enumerate(stem) if ch == "-" and 0 < i < len(stem) - 1]


async def call_of_file(db: Database, file_name: str) -> Call | None:
    """The call a spool file records: the split of its name that names a known call."""
    splits = name_splits(file_name)
    if not splits:
        return None
    async with db.session() as s:
        calls = (await s.execute(select(Call).where(or_(*[and_(Call.pbx == p, Call.linkedid == lid)
                                                          for p, lid in splits])))).scalars().all()
    if len(calls) > 1:  # two calls whose names join the same way: never link a file to the wrong one
        log.error("recording %s matches %d calls (%s): not collected", file_name, len(calls),
                  ", ".join(f"{c.pbx}/{c.linkedid}" for c in calls))
        return None
    return calls[0] if calls else None


def _sha256_of(path: Path) -> tuple[int, str]:
    return sha256_of(path)


def wav_duration(path: Path) -> float | None:
    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / float(w.getframerate())
    except (wave.Error, EOFError, OSError, ZeroDivisionError):
        return None


def _fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_verified(src: Path, dest: Path, *, write_hook: Callable[[int], None] | None = None) -> tuple[int, str]:
    """Copy `src` to `dest` crash-safely: into `dest.part`, fsync, verify size and SHA-256 by
    reading the copy back, rename, fsync the directory. Returns (size, sha256). Raises OSError
    (the `.part` removed) if the copy does not match. `write_hook(bytes_written)` is for tests."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    h = hashlib.sha256()
    size = 0
    try:
        with src.open("rb") as fi, part.open("wb") as fo:
            while chunk := fi.read(CHUNK):
                h.update(chunk)
                fo.write(chunk)
                size += len(chunk)
                if write_hook is not None:
                    fo.flush()
                    write_hook(size)
            fo.flush()
            os.fsync(fo.fileno())
        src_size = src.stat().st_size
        got_size, got_sha = _sha256_of(part)
        if src_size != size or got_size != size or got_sha != h.hexdigest():
            raise OSError(f"copy of {src} does not match: size {got_size}/{src_size}, sha256 {got_sha}/{h.hexdigest()}")
        os.replace(part, dest)
        _fsync_dir(dest.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            part.unlink()
        raise
    return size, h.hexdigest()


@dataclass
class CollectResult:
    collected: list[str] = field(default_factory=list)  # file names copied and verified
    waiting: list[str] = field(default_factory=list)  # the call not ended (or not yet known)
    failed: list[str] = field(default_factory=list)  # copy or check failed: left in the spool


async def collect(db: Database, spool: Path, store: Store, *, now: datetime | None = None,
                  grace: timedelta = timedelta(seconds=10),
                  write_hook: Callable[[int], None] | None = None) -> CollectResult:
    """Move the recordings of ended calls from the PBX's spool to the storage (module doc).
    A file is taken once its call ended at least `grace` ago (MixMonitor closes it at hangup)."""
    now = now or utcnow()
    res = CollectResult()
    if not spool.is_dir():
        return res
    if isinstance(store, Path):
        store.mkdir(parents=True, exist_ok=True)
        for stale in store.rglob("*.part"):  # a crash mid-copy: never linked, copy again
            with contextlib.suppress(OSError):
                stale.unlink()
    for src in sorted(spool.iterdir()):
        if not name_splits(src.name) or not src.is_file():
            continue
        call = await call_of_file(db, src.name)
        if call is None or call.ended_at is None or call.ended_at > now - grace:
            res.waiting.append(src.name)
            continue
        pbx, linkedid = call.pbx, call.linkedid
        async with db.session() as s:
            rec = (await s.execute(select(Recording).where(Recording.pbx == pbx, Recording.linkedid == linkedid))
                   ).scalar_one_or_none()
        local = call.offered_at.astimezone(_TZ)
        rel = f"{local:%Y/%m/%d}/{src.name}"
        try:
            kept = (store / rel).is_file() if isinstance(store, Path) else await asyncio.to_thread(store.exists, rel)
            if rec is not None and rec.state is RecordingState.collected and rec.sha256 and kept:
                # collected before a crash that kept the spool's copy: delete it only if it matches
                size, sha = _sha256_of(src)
                if (size, sha) != (rec.size, rec.sha256):
                    raise OSError(f"{src} differs from the collected copy {rel}")
            else:
                if isinstance(store, Path):
                    size, sha = copy_verified(src, store / rel, write_hook=write_hook)
                    duration = wav_duration(store / rel)
                else:
                    size, sha = await asyncio.to_thread(store.put_verified, src, rel, write_hook=write_hook)
                    duration = wav_duration(src)  # the same bytes, verified
                values: dict[str, Any] = {
                    "call_id": call.id, "ticket_ref": call.ticket_ref, "state": RecordingState.collected, "path": rel, "size": size,
                    "sha256": sha, "duration_s": duration, "started_at": call.offered_at,
                    "collected_at": utcnow(),
                }
                async with db.transaction() as s:
                    if rec is None:
                        await s.execute(insert(Recording).values(pbx=pbx, linkedid=linkedid, created_at=utcnow(),
                                                                 **values))
                    else:
                        await s.execute(update(Recording).where(Recording.id == rec.id).values(**values))
            src.unlink()  # only now: the copy is verified and linked
        except OSError as e:
            log.error("recording %s not collected: %s", src.name, e)
            res.failed.append(src.name)
            continue
        log.info("recording %s collected: %s (%d bytes, sha256 %s)", src.name, rel, size, sha)
        res.collected.append(src.name)
    return res




# ---- retention ---------------------------------------------------------------------------------


async def retention_days(db: Database) -> dict[str, int]:
    async with db.session() as s:
        return {k: d for k, d in (await s.execute(select(RecordingRetention.kind, RecordingRetention.days))).all()}


async def set_retention(db: Database, kind: str, days: int) -> None:
    if kind != "*" and kind not in {k.value for k in Kind}:
        raise ValueError(f"unknown kind {kind!r}: one of *, {', '.join(k.value for k in Kind)}")
    if days < 1:
        raise ValueError("days must be at least 1")
    async with db.transaction() as s:
        had = (await s.execute(select(RecordingRetention.kind).where(RecordingRetention.kind == kind))).first()
        if had:
            await s.execute(update(RecordingRetention).where(RecordingRetention.kind == kind).values(days=days))
        else:
            await s.execute(insert(RecordingRetention).values(kind=kind, days=days))


@dataclass
class Removed:
    id: int
    pbx: str
    linkedid: str
    path: str
    kinds: list[str]
    started_at: datetime


async def expired(db: Database, now: datetime) -> list[Removed]:
    """The collected recordings past their retention: the longest period of the kinds of the
    cases on their call (or the default `*`), none of those cases on legal hold."""
    days = await retention_days(db)
    default = days.get("*", 730)
    async with db.session() as s:
        rows = (await s.execute(
            select(Recording.id, Recording.pbx, Recording.linkedid, Recording.path, Recording.started_at,
                   Recording.call_id)
            .where(Recording.state == RecordingState.collected,
                   Recording.started_at < now - timedelta(days=min([default, *days.values()])))
        )).all()
        call_ids = [r.call_id for r in rows if r.call_id is not None]
        cases: dict[int, list[tuple[str, bool]]] = {}
        if call_ids:
            q = (select(Ticket.call_id, Ticket.kind, LegalHold.ticket_id)
                 .outerjoin(LegalHold, LegalHold.ticket_id == Ticket.id)
                 .where(Ticket.call_id.in_(call_ids)))
            for cid, kind, held in (await s.execute(q)).all():
                if cid is None:
                    continue
                cases.setdefault(cid, []).append((kind.value, held is not None))
    out = []
    for r in rows:
        on = cases.get(r.call_id, []) if r.call_id is not None else []
        if any(held for _, held in on):
            continue
        keep = max([days.get(k, default) for k, _ in on] or [default])
        if r.started_at < now - timedelta(days=keep):
            out.append(Removed(r.id, r.pbx, r.linkedid, r.path or "", [k for k, _ in on], r.started_at))
    return out


async def apply_retention(db: Database, store: Store, now: datetime | None = None) -> list[Removed]:
    """Remove the expired recordings' files (module `expired`) and mark them removed; each
    removal is logged."""
    now = now or utcnow()
    done = []
    for r in await expired(db, now):
        if isinstance(store, Path):
            with contextlib.suppress(FileNotFoundError):
                (store / r.path).unlink()
        else:
            await asyncio.to_thread(store.remove, r.path)
        async with db.transaction() as s:
            await s.execute(update(Recording).where(Recording.id == r.id, Recording.state == RecordingState.collected)
                            .values(state=RecordingState.removed, removed_at=now))
        log.warning("recording removed by retention: %s (%s-%s, call of %s, kinds %s)", r.path, r.pbx, r.linkedid,
                    r.started_at.isoformat(), ",".join(r.kinds) or "-")
        done.append(r)
    return done


async def hold(db: Database, number: str, reason: str, by: str, *, release: bool = False) -> bool:
    async with db.transaction() as s:
        tid = (await s.execute(select(Ticket.id).where(Ticket.number == number))).scalar_one_or_none()
        if tid is None:
            raise NotFound(f"no case {number}")
        had = (await s.execute(select(LegalHold.ticket_id).where(LegalHold.ticket_id == tid))).first() is not None
        if release:
            if had:
                await s.execute(delete(LegalHold).where(LegalHold.ticket_id == tid))
            return had
        if not had:
            await s.execute(insert(LegalHold).values(ticket_id=tid, reason=reason, set_by=by, set_at=utcnow()))
        return not had


# ---- listening -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseRecording:
    id: int
    linkedid: str
    direction: str
    offered_at: datetime
    duration_s: float | None
    operator_id: int | None
    state: RecordingState


def case_is_confidential(t: Ticket) -> bool:
    return bool(t.confidential) or t.kind is Kind.report


def may_listen(t: Ticket, rec: CaseRecording, actor: Actor) -> bool:
    """Supervisors; the operator on that call, unless the case is confidential; clerks (and
    everyone else) never."""
    if actor.role is Role.supervisor:
        return True
    if actor.role is Role.operator and not case_is_confidential(t):
        return actor.id is not None and rec.operator_id == actor.id
    return False


async def case_recordings(db: Database, t: Ticket) -> list[CaseRecording]:
    """The recordings of the case's calls: the call it was registered from and its callbacks
    (outbound calls carrying the case number)."""
    # from the recordings' side (both columns indexed): the calls table has no index on ticket_ref
    conds = [Recording.ticket_ref == t.number]
    if t.call_id is not None:
        conds.append(Recording.call_id == t.call_id)
    async with db.session() as s:
        q = (select(Recording.id, Recording.linkedid, Call.direction, Call.offered_at, Recording.duration_s,
                    Call.operator_id, Recording.state)
             .join(Call, Call.id == Recording.call_id).where(or_(*conds)).order_by(Call.offered_at))
        return [CaseRecording(r.id, r.linkedid, r.direction.value, r.offered_at, r.duration_s, r.operator_id, r.state)
                for r in (await s.execute(q)).all()]


async def listenable(db: Database, t: Ticket, actor: Actor) -> list[CaseRecording]:
    return [r for r in await case_recordings(db, t)
            if r.state is RecordingState.collected and may_listen(t, r, actor)]


async def open_for_listening(db: Database, t: Ticket, recording_id: int, actor: Actor, store: Store,
                             *, record: bool) -> Path | StoredObject:
    """The file of one of the case's recordings, if `actor` may hear it (Forbidden otherwise,
    NotFound if it is not the case's or no longer kept). With `record`, the listen is appended to
    the case's audit trail (who, role then, which call), once per LISTEN_WINDOW."""
    recs = {r.id: r for r in await case_recordings(db, t)}
    rec = recs.get(recording_id)
    if rec is None:
        raise NotFound("no such recording on this case")
    if not may_listen(t, rec, actor):
        raise Forbidden("not allowed to listen to this recording")
    async with db.session() as s:
        path, size = (await s.execute(select(Recording.path, Recording.size).where(Recording.id == recording_id))).one()
    if rec.state is not RecordingState.collected or path is None or (
            isinstance(store, Path) and not (store / path).is_file()):
        raise NotFound("the recording is not kept")
    if record and actor.id is not None:
        now = utcnow()
        async with db.transaction() as s:
            recent = (await s.execute(
                select(TicketEvent.data).where(
                    TicketEvent.ticket_id == t.id, TicketEvent.action == LISTEN, TicketEvent.actor_id == actor.id,
                    TicketEvent.at > now - LISTEN_WINDOW)
            )).scalars().all()
            mine = any((d or {}).get("recording_id") == recording_id for d in recent)
            if not mine:
                await s.execute(insert(TicketEvent).values(
                    ticket_id=t.id, at=now, actor_id=actor.id, actor_name=actor.name, action=LISTEN,
                    from_status=t.status.value, to_status=t.status.value,
                    note=f"收听录音（{'来电' if rec.direction == 'in' else '回访'} {rec.offered_at.astimezone(_TZ):%Y-%m-%d %H:%M}）",
                    data={"role": actor.role.value, "recording_id": recording_id, "linkedid": rec.linkedid}))
    return store / path if isinstance(store, Path) else StoredObject(store, path, size or 0)
