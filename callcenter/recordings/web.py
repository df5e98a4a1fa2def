"""Listening to a case's recordings in the console (issue 18): the audio file with HTTP range
requests (Starlette's FileResponse), and the case page's player and listen log."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from callcenter.cases import services as cases
from callcenter.cases.workflow import Actor
from callcenter.core.settings import get_settings
from callcenter.recordings import services
from callcenter.recordings.storage import Store, StoredObject, store_of
from callcenter.store.db import Database
from callcenter.store.models import Ticket, TicketEvent
from callcenter.web.auth_web import ConsoleUser, require
from callcenter.web.render import OP, db_of, pages_router

router, _route = pages_router()


def _store(request: Request) -> Store:
    s = getattr(request.app.state, "settings", None) or get_settings()
    return store_of(s)


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def audio_response(request: Request, target: Path | StoredObject) -> Response:
    """The recording with HTTP range requests: a file through Starlette's FileResponse; an
    object-store recording streamed range by range from the store. Never kept by a shared cache."""
    headers = {"Cache-Control": "private, no-store", "Accept-Ranges": "bytes"}
    if isinstance(target, Path):
        return FileResponse(target, media_type="audio/wav", headers={"Cache-Control": "private, no-store"})
    size = target.size
    rng = (request.headers.get("range") or "").strip().lower()
    if not rng:
        start, end, status = 0, size - 1, 200
    else:
        m = _RANGE.match(rng)
        if m is None or not (m[1] or m[2]):
            return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
        if m[1]:
            start, end = int(m[1]), min(int(m[2]) if m[2] else size - 1, size - 1)
        else:  # the last n bytes
            start, end = max(0, size - int(m[2])), size - 1
        if start >= size or end < start:
            return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    if size == 0:
        return Response(b"", media_type="audio/wav", headers=headers)
    return StreamingResponse(target.store.read_range(target.rel, start, end), status_code=status,
                             media_type="audio/wav", headers=headers)


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
    return audio_response(request, path)


async def case_context(db: Database, t: Ticket, actor: Actor, events: list[TicketEvent]) -> dict[str, Any]:
    """What the case page shows about recordings: the players the actor may use and, for those who
    may audit (supervisors, admin), who listened."""
    recs = await services.listenable(db, t, actor)
    listens = [e for e in events if e.action == services.LISTEN] if cases.may_audit_views(actor) else None
    return {"recordings": recs, "listens": listens}
