"""One submit, one case: requests carrying an idempotency key (the console's form key, made
when the form is opened; the API's `Idempotency-Key` header, per the IETF draft
draft-ietf-httpapi-idempotency-key-header).

The first request with a key inserts its row (unique on actor + key) *before* doing the work;
the same key again — a double click, a retry, back-and-resubmit, another web worker, after a
restart — finds the row and gets the stored answer (status + body) without writing anything.
A request arriving while the first is still running waits for its answer (polling the row).
If the first request fails, its row is removed, so the key can be used again. A row left
without an answer by a crashed worker is taken over after STALE_S.

The key is scoped to the actor: one operator's key never answers another's request. The same
key with a different request (another path or another body) is refused (422), as the draft asks.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from callcenter.core.errors import Conflict, Invalid
from callcenter.store.db import Database
from callcenter.store.models import IdempotencyKey, utcnow

STALE_S = 60.0  # a row with no answer this old belongs to a request that died with its worker
WAIT_S = 30.0  # how long a repeated request waits for the first one's answer
POLL_S = 0.05
KEEP = timedelta(days=2)  # answers are kept this long (the scheduler drops older ones)

Answer = tuple[int, Any]  # (HTTP status, JSON-able body)


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, sort_keys=True, default=str).encode()).hexdigest()


def check_key(key: str) -> str:
    key = (key or "").strip().strip('"')
    if not key or len(key) > 100 or not key.isprintable():
        raise Invalid("幂等键（Idempotency-Key）须为 1–100 个可打印字符", field="Idempotency-Key")
    return key


async def _claim(db: Database, actor_id: int, key: str, scope: str, fp: str) -> IdempotencyKey | None:
    """Insert our row; None when we won, else the existing row."""
    try:
        async with db.transaction() as s:
            s.add(IdempotencyKey(actor_id=actor_id, key=key, scope=scope, fingerprint=fp, created_at=utcnow()))
        return None
    except IntegrityError:
        async with db.session() as s:
            row = (await s.scalars(select(IdempotencyKey).where(IdempotencyKey.actor_id == actor_id,
                                                                IdempotencyKey.key == key))).first()
        if row is None:  # removed meanwhile (the first request failed): try again
            return await _claim(db, actor_id, key, scope, fp)
        return row


async def run(db: Database, actor_id: int, key: str, scope: str, fp: str,
              work: Callable[[], Awaitable[Answer]]) -> tuple[Answer, bool]:
    """The answer for this key: (answer, replayed). `work` runs at most once per key."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        row = await _claim(db, actor_id, key, scope, fp)
        if row is None:
            break
        if row.scope != scope or row.fingerprint != fp:
            raise Invalid("该幂等键已用于另一个请求（内容不同），请换一个新的键", field="Idempotency-Key")
        if row.status is not None:
            return (row.status, json.loads(row.body or "null")), True
        age = (utcnow() - row.created_at).total_seconds()
        if age > STALE_S:  # its request died with its worker: take the key over
            async with db.transaction() as s:
                await s.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row.id,
                                                             IdempotencyKey.status.is_(None)))
            continue
        if asyncio.get_running_loop().time() > deadline:
            raise Conflict("同一请求仍在处理中，请稍候再试")
        await asyncio.sleep(POLL_S)
    try:
        status, body = await work()
    except BaseException:
        async with db.transaction() as s:
            await s.execute(delete(IdempotencyKey).where(IdempotencyKey.actor_id == actor_id,
                                                         IdempotencyKey.key == key))
        raise
    async with db.transaction() as s:
        await s.execute(update(IdempotencyKey)
                        .where(IdempotencyKey.actor_id == actor_id, IdempotencyKey.key == key)
                        .values(status=status, body=json.dumps(body, ensure_ascii=False, default=str)))
    return (status, body), False


async def purge(db: Database, keep: timedelta = KEEP) -> int:
    async with db.transaction() as s:
        res = await s.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - keep))
    return int(res.rowcount or 0)  # type: ignore[attr-defined]
