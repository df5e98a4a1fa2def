"""Console sessions and CSRF.

The session is a cookie signed with settings.secret_key (Starlette's SessionMiddleware,
itsdangerous underneath) holding the user's id, a per-session CSRF token and a flash
message; the user row is read again on every request, so a deactivated user or a changed
role takes effect at once. Every POST of the console carries the token (form field
`csrf_token` or header `X-CSRF-Token`) and is refused with 403 without it. The bearer-token
JSON API (/api/v1) has no cookies and needs no CSRF token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from starlette.middleware.sessions import SessionMiddleware

from callcenter.cases.workflow import Actor
from callcenter.core.errors import Forbidden
from callcenter.core.settings import Settings
from callcenter.people import admin
from callcenter.people.auth import actor_of
from callcenter.store.models import Role

SESSION_COOKIE = "hotline_session"
SESSION_MAX_AGE = 12 * 3600  # one long shift


class LoginRequired(Exception):
    """No valid session: GET pages redirect to the login page."""


class CsrfRefused(Exception):
    """A console POST without the session's CSRF token."""


class ConsoleSessionMiddleware(SessionMiddleware):
    """Sessions for the console only: the bearer-token JSON API (/api/v1, the hot path of
    integrations) never reads or writes a session cookie, so it skips the signing work."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith("/api/"):
            scope["session"] = {}
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def install(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(
        ConsoleSessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=settings.env == "production",
    )


def csrf_token(request: Request) -> str:
    tok = request.session.get("csrf")
    if not tok:
        tok = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(tok)


async def check_csrf(request: Request) -> None:
    """Router dependency: every unsafe request must carry the session's token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = request.session.get("csrf")
    sent = request.headers.get("x-csrf-token")
    if not sent:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            # Starlette caches the parsed form on the request: the endpoint's Form() reads it again
            sent = (await request.form()).get("csrf_token")  # type: ignore[assignment]
    if not expected or not isinstance(sent, str) or not secrets.compare_digest(sent, str(expected)):
        raise CsrfRefused()


def flash(request: Request, message: str, kind: str = "info") -> None:
    request.session["flash"] = {"message": message, "kind": kind}


def pop_flash(request: Request) -> dict[str, str] | None:
    return request.session.pop("flash", None)


def login(request: Request, user_id: int) -> None:
    # a fresh session (and CSRF token) at login: nothing carried over from before it
    request.session.clear()
    request.session["uid"] = user_id
    csrf_token(request)


def logout(request: Request) -> None:
    request.session.clear()


@dataclass(frozen=True)
class ConsoleUser:
    actor: Actor
    username: str
    seat: str | None
    department_name: str | None

    @property
    def role(self) -> Role:
        return self.actor.role

    @property
    def name(self) -> str:
        return self.actor.name


async def current_user(request: Request) -> ConsoleUser:
    uid = request.session.get("uid")
    if not isinstance(uid, int):
        raise LoginRequired()
    u = await admin.user_by_id(request.app.state.db, uid)
    if u is None:
        request.session.clear()
        raise LoginRequired()
    ref = await request.app.state.db.ref()
    dep = ref.departments.get(u.department_id) if u.department_id else None
    user = ConsoleUser(actor=actor_of(u), username=u.username, seat=u.seat, department_name=dep.name if dep else None)
    request.state.user = user
    return user


def require(*roles: Role) -> Any:
    """A dependency giving the signed-in user if their role is one of `roles` (403 otherwise)."""

    async def dep(user: Annotated[ConsoleUser, Depends(current_user)]) -> ConsoleUser:
        if user.role not in roles:
            raise Forbidden("您的角色无权访问此页面")
        return user

    return Depends(dep)


UserDep = Annotated[ConsoleUser, Depends(current_user)]
