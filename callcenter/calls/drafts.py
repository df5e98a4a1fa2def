"""Drafts of the 来电登记 form (issue 12): autosaved server-side per operator and form (a form
is one call's registration, named by the key made when the form was opened — the same key
that makes its submit idempotent). A failed submit, an expired session, a reload or a crashed
tab bring the newest draft back; a saved or discarded form's draft is deleted; the scheduler
drops drafts older than a day (`purge`)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select

from callcenter.store.db import Database
from callcenter.store.models import FormDraft, utcnow

MAX_AGE = timedelta(days=1)
# the form's fields a draft keeps (everything the operator types or picks)
FIELDS = ("caller_phone", "caller_name", "address", "kind", "category", "content", "urgent", "confidential",
          "no_callback", "department", "department_manual", "answer", "into", "linkedid", "call_time")
MAX_VALUE = 5000


def clean(fields: dict[str, Any]) -> dict[str, str]:
    return {k: str(fields.get(k) or "")[:MAX_VALUE] for k in FIELDS if fields.get(k) not in (None, "")}


async def save(db: Database, user_id: int, form_key: str, fields: dict[str, Any]) -> None:
    data = clean(fields)
    now = utcnow()
    body = json.dumps(data, ensure_ascii=False)
    async with db.transaction() as s:
        row = (await s.scalars(select(FormDraft).where(FormDraft.user_id == user_id,
                                                       FormDraft.form_key == form_key).with_for_update())).first()
        if row is None:
            s.add(FormDraft(user_id=user_id, form_key=form_key, linkedid=data.get("linkedid"), fields=body,
                            updated_at=now))
        else:
            row.fields, row.linkedid, row.updated_at = body, data.get("linkedid"), now


async def latest(db: Database, user_id: int) -> dict[str, Any] | None:
    """The operator's newest draft younger than a day: {form_key, fields, updated_at}."""
    async with db.session() as s:
        row = (await s.scalars(select(FormDraft).where(FormDraft.user_id == user_id,
                                                       FormDraft.updated_at > utcnow() - MAX_AGE)
                               .order_by(FormDraft.updated_at.desc(), FormDraft.id.desc()))).first()
    if row is None:
        return None
    return {"form_key": row.form_key, "fields": json.loads(row.fields), "updated_at": row.updated_at}


async def discard(db: Database, user_id: int, form_key: str) -> None:
    async with db.transaction() as s:
        await s.execute(delete(FormDraft).where(FormDraft.user_id == user_id, FormDraft.form_key == form_key))


async def purge(db: Database, max_age: timedelta = MAX_AGE) -> int:
    async with db.transaction() as s:
        res = await s.execute(delete(FormDraft).where(FormDraft.updated_at < utcnow() - max_age))
    return int(res.rowcount or 0)  # type: ignore[attr-defined]
