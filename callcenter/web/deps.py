"""Typed dependencies: the Database, the bus and the acting user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from callcenter.cases.workflow import Actor
from callcenter.core.bus import InProcessBus
from callcenter.store.db import Database

_bearer = HTTPBearer(auto_error=False, description="hotline users token NAME")


async def get_db(request: Request) -> Database:
    return request.app.state.db


async def get_bus(request: Request) -> InProcessBus:
    return request.app.state.bus


async def get_actor(
    request: Request, cred: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Actor:
    if cred is None or not cred.credentials:
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    actor = await request.app.state.tokens.actor(request.app.state.db, cred.credentials)
    if actor is None:
        raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return actor


DbDep = Annotated[Database, Depends(get_db)]
BusDep = Annotated[InProcessBus, Depends(get_bus)]
ActorDep = Annotated[Actor, Depends(get_actor)]
