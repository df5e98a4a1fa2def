"""The audit log's writer: one append-only `audit_log` row in the caller's transaction.

Every area that changes or reveals something worth auditing (admin changes, caller look-ups,
session revocations, registry exports) writes through `record`; it lives with the store so
the case services and the admin pages both reach it without importing each other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.store.models import AuditEntry, utcnow

if TYPE_CHECKING:
    from callcenter.cases.workflow import Actor


@dataclass(frozen=True)
class Origin:
    """Where a change came from: the web request's id (as in its log lines) and the client's
    address (uvicorn's proxy headers applied). The CLI and tests pass none."""

    request_id: str | None = None
    ip: str | None = None


def record(s: AsyncSession, actor: Actor | None, action: str, target_type: str, target_id: Any,
           target_label: str | None, changes: dict[str, Any] | None, origin: Origin | None = None, *,
           actor_name: str | None = None, now: datetime | None = None) -> AuditEntry:
    """Add one audit_log row to the caller's transaction. `changes`: field → [old, new] (a
    create: old None) or field → a fact in words (PASSWORD_CHANGED). `actor` None: a local
    tool, named by `actor_name`."""
    o = origin or Origin()
    e = AuditEntry(
        at=now or utcnow(), actor_id=actor.id if actor else None,
        actor_name=(actor_name or (actor.name if actor else "系统"))[:100],
        actor_role=actor.role.value if actor and actor.id is not None else None,
        action=action, target_type=target_type, target_id=None if target_id is None else str(target_id)[:64],
        target_label=target_label[:200] if target_label else None, changes=changes,
        request_id=(o.request_id or None) and o.request_id[:32], ip=(o.ip or None) and o.ip[:64],
    )
    s.add(e)
    return e
