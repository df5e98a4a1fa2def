"""Domain errors; the web layer maps them to HTTP status codes (403, 404, 409, 422)."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Forbidden(DomainError):
    """The actor's role may never take this action (or the case is not theirs to see)."""

    status_code = 403


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    """Allowed for the role, but not from the case's current state, or on a stale version."""

    status_code = 409


class Invalid(DomainError):
    """A field is missing or wrong; `field` names it."""

    status_code = 422


class FileErrors(Invalid):
    """A file (来电登记表, knowledge base) cannot be imported as it is: `.errors` lists every
    problem, one per line (`row N, column X: …`)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


# roles as the console names them, for messages (the web layer has its own copy for templates)
ROLE_ZH = {"operator": "话务员", "clerk": "承办人", "supervisor": "班长", "admin": "管理员"}


def role_zh(role: object) -> str:
    value = getattr(role, "value", role)
    return ROLE_ZH.get(str(value), str(value))
