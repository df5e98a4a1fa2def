"""Domain errors; the web layer maps them to HTTP status codes (403, 404, 409, 422)."""

from __future__ import annotations

from callcenter.core.glossary import ROLE_LABELS


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




def role_zh(role: object) -> str:
    """A role as the console names it, for messages."""
    value = getattr(role, "value", role)
    return ROLE_LABELS.get(str(value), str(value))
