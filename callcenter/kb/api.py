"""The knowledge base's JSON endpoints for the console (/api/v1/kb/…); the app includes
`router` (callcenter/entry/app.py). Bearer auth as the rest of /api/v1."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from callcenter.kb import services as kb
from callcenter.web.api import ERRORS
from callcenter.web.deps import ActorDep, BusDep, DbDep

router = APIRouter(prefix="/api/v1/kb", tags=["knowledge base"], responses={401: ERRORS[401]})
Code = Annotated[str, Path(min_length=1, max_length=32, description="entry code (编号), e.g. KB0001")]


class AnswerCaseIn(BaseModel):
    ticket: str = Field(min_length=1, max_length=32, description="the case number (工单编号)")
    version: int | None = Field(None, description="the entry version the operator saw (409 if no longer published)")
    ticket_version: int | None = Field(None, description="the case version the operator saw (409 if stale)")


@router.get("/search", summary="Ranked knowledge-base entries for what the operator typed")
async def search(
    db: DbDep,
    actor: ActorDep,
    q: Annotated[str, Query(max_length=500, description="the caller's words")] = "",
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[dict[str, Any]]:
    """Each hit: id (编号), title, score, expired (已失效: never answer with it), version,
    answer, phrasings, title_html / snippet_html (HTML-escaped, matches in <mark>)."""
    return await kb.search(db, q, limit=limit)


@router.post(
    "/{code}/answer-case",
    summary="Answer a case directly (直接答复) with an entry",
    responses={403: ERRORS[403], 404: ERRORS[404], 409: ERRORS[409]},
)
async def answer_case(code: Code, body: AnswerCaseIn, db: DbDep, actor: ActorDep, bus: BusDep) -> dict[str, Any]:
    t = await kb.answer_case(db, actor, code, body.ticket, version=body.version,
                             ticket_version=body.ticket_version, bus=bus)
    return {"number": t.number, "status": t.status.value, "version": t.version, "kb_entry": code}
