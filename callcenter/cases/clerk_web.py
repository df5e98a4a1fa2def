"""Console pages for the clerk (承办人): the department's inbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Request
from fastapi.responses import Response

from callcenter.cases import services
from callcenter.cases.views import ticket_dict
from callcenter.store.models import (
    Status,
)
from callcenter.web.auth_web import ConsoleUser, require
from callcenter.web.render import CLERK, db_of, page, pages_router, ref

router, _route = pages_router()

# ---------------------------------------------------------------------------------------------
# clerk: the department's inbox
# ---------------------------------------------------------------------------------------------
INBOX = [Status.dispatched, Status.accepted, Status.reopened]


@_route("GET", "/clerk", CLERK)
async def clerk_inbox(request: Request, user: Annotated[ConsoleUser, require(*CLERK)]) -> Response:
    db = db_of(request)
    r = await ref(request)
    rows, total = await services.search(db, user.actor, services.TicketFilter(status=INBOX, limit=200))
    done, _ = await services.search(db, user.actor, services.TicketFilter(
        status=[Status.resolved, Status.closed, Status.returned], limit=20))
    rows.sort(key=lambda t: (t.accept_due_at if t.status is Status.dispatched and t.accept_due_at else t.due_at)
              or datetime.max.replace(tzinfo=UTC))
    now = datetime.now(UTC)
    items = []
    for t in rows:
        d = ticket_dict(t, r, user.actor, masked=True)
        deadline = t.accept_due_at if t.status is Status.dispatched and t.accept_due_at else t.due_at
        d.update(deadline=deadline, deadline_kind="签收期限" if deadline is t.accept_due_at else "办结期限",
                 overdue=bool(deadline and deadline < now),
                 soon=bool(deadline and now <= deadline < now + timedelta(days=1)))
        items.append(d)
    return page(request, "clerk.html", {"items": items, "total": total,
                                        "done": [ticket_dict(t, r, user.actor, masked=True) for t in done]})
