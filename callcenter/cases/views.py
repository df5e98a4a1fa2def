"""Case and event serialisation shared by the API, the CLI and the console (masking applied)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from callcenter.cases import phones
from callcenter.cases.services import shows_identity
from callcenter.cases.workflow import Actor
from callcenter.core.clock import TZ
from callcenter.core.glossary import CASE_STATE_LABELS, KIND_LABELS
from callcenter.store.models import Call, Kind, Ticket, TicketEvent
from callcenter.store.refdata import RefData


def iso(dt: datetime | None) -> str | None:
    return dt.astimezone(TZ).isoformat() if dt else None


def is_confidential(t: Ticket) -> bool:
    """A 干部举报 or a case marked confidential: its caller's identity is 保密."""
    return t.confidential or t.kind is Kind.report


def ticket_dict(t: Ticket, ref: RefData, actor: Actor | None = None, *, masked: bool = False) -> dict[str, Any]:
    """The case as the API shows it. `actor` None means a trusted local caller (the CLI).

    `masked`: the case as a list or a print of many shows it (search results, inboxes, the
    day's 来电登记表, the API's lists): the phone number masked (138****5678), and a
    confidential case's caller name and number never (identity_hidden, shown as （保密）) —
    whatever the role. Opening the case itself is the one way to its caller's identity, and
    that view is recorded (services.get)."""
    cat = ref.categories.get(t.category_id)
    dep = ref.departments.get(t.department_id) if t.department_id else None
    sug = ref.departments.get(t.suggested_department_id) if t.suggested_department_id else None
    identity = (actor is None or shows_identity(t, actor)) and not (masked and is_confidential(t))
    phone = t.caller_phone if identity else None
    name = t.caller_name if identity else None
    if masked and phone:
        phone = phones.mask(phone)
    return {
        "number": t.number,
        "status": t.status.value,
        "status_label": CASE_STATE_LABELS[t.status],
        "kind": t.kind.value,
        "kind_label": KIND_LABELS[t.kind],
        "category": cat.name if cat else None,
        "content": t.content,
        "caller_name": name,
        "caller_phone": phone,
        "identity_hidden": not identity,
        "address": t.address,
        "area": t.area,
        "urgent": t.urgent,
        "confidential": t.confidential,
        "no_callback": t.no_callback,
        "department": dep.name if dep else None,
        "department_code": dep.code if dep else None,
        "suggested_department": sug.name if sug else None,
        "suggested_department_code": sug.code if sug else None,
        "source": t.source,
        "external_ref": t.external_ref,
        "registered_at": iso(t.registered_at),
        "dispatched_at": iso(t.dispatched_at),
        "accept_due_at": iso(t.accept_due_at),
        "accepted_at": iso(t.accepted_at),
        "due_at": iso(t.due_at),
        "resolution": t.resolution,
        "resolved_at": iso(t.resolved_at),
        "closed_at": iso(t.closed_at),
        "return_reason": t.return_reason,
        "extension_requested_until": iso(t.extension_requested_until),
        "extension_reason": t.extension_reason,
        "extensions_granted": t.extensions_granted,
        "urge_count": t.urge_count,
        "reopen_count": t.reopen_count,
        "chase_count": t.chase_count or 0,
        "merged_into_id": t.merged_into_id,
        "callback_result": t.callback_result.value if t.callback_result else None,
        "satisfaction": t.satisfaction.value if t.satisfaction else None,
        "first_satisfaction": t.first_satisfaction.value if t.first_satisfaction else None,
        "solved": t.solved,
        "callback_at": iso(t.callback_at),
        "version": t.version,
    }


def event_dict(e: TicketEvent) -> dict[str, Any]:
    return {
        "at": iso(e.at),
        "actor": e.actor_name,
        "action": e.action,
        "from_status": e.from_status,
        "to_status": e.to_status,
        "note": e.note,
        "data": e.data,
    }


def call_dict(c: Call) -> dict[str, Any]:
    return {
        "id": c.id,
        "pbx": c.pbx,
        "direction": c.direction.value,
        "caller_number": c.caller_number,
        "offered_at": iso(c.offered_at),
        "answered_at": iso(c.answered_at),
        "ended_at": iso(c.ended_at),
        "outcome": c.outcome.value,
        "seat": c.seat,
        "line": c.line,
        "wait_s": c.wait_s,
        "talk_s": c.talk_s,
    }
