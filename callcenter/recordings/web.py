"""Listening to a case's recordings in the console (issue 18): the audio file with HTTP range
requests (Starlette's FileResponse), and the case page's player and listen log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import FileResponse, Response

from callcenter.cases import services as cases
from callcenter.cases.workflow import Actor
from callcenter.core.settings import get_settings
from callcenter.recordings import services
from callcenter.store.db import Database
from callcenter.store.models import Ticket, TicketEvent
from callcenter.web.auth_web import ConsoleUser, require
from callcenter.web.render import OP, db_of, pages_router

router, _route = pages_router()


def _store(request: Request) -> Any:
    s = getattr(request.app.state, "settings", None) or get_settings()
    return s.recordings_store


def _first_fetch(range_header: str | None) -> bool:
    """A play (or the player's first load) fetches from byte 0; seeking fetches later ranges."""
    if not range_header:
        return True
    spec = range_header.strip().lower()
    return spec.startswith("bytes=0-") or spec == "bytes=0"


# clerks never hear recordings (issue 18): the route is the operators' and supervisors' only
@_route("GET", "/cases/{number}/recordings/{recording_id}.wav", OP)
async def recording_file(request: Request, number: str, recording_id: int,
                         user: Annotated[ConsoleUser, require(*OP)]) -> Response:
    db = db_of(request)
    t = await cases.get(db, user.actor, number, record_view=False)
    path = await services.open_for_listening(db, t, recording_id, user.actor, _store(request),
                                             record=_first_fetch(request.headers.get("range")))
    # private: a recording is never kept by a shared cache
    return FileResponse(path, media_type="audio/wav", headers={"Cache-Control": "private, no-store"})


async def case_context(db: Database, t: Ticket, actor: Actor, events: list[TicketEvent]) -> dict[str, Any]:
    """What the case page shows about recordings: the players the actor may use and, for those who
    may audit (supervisors, admin), who listened."""
    recs = await services.listenable(db, t, actor)
    listens = [e for e in events if e.action == services.LISTEN] if cases.may_audit_views(actor) else None
    return {"recordings": recs, "listens": listens}
