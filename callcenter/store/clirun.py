"""The CLI's one way to run a command against the store: a fresh Database, and domain errors
translated once for the terminal (exit 1 with the message). Used by `hotline` (callcenter/entry/cli.py)
and the area CLIs it mounts (callcenter/kb/cli.py), which must not import the entry point back."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer

from callcenter.core.errors import DomainError
from callcenter.core.settings import get_settings
from callcenter.store.db import Database

T = TypeVar("T")


def _db():  # type: ignore[no-untyped-def]

    s = get_settings()
    return Database(s.effective_database_url, pool_size=2)


def run(fn: Callable[[Any], Awaitable[T]]) -> T:
    """Run `fn(db)` on a fresh Database; domain errors exit 1 with their message."""

    async def main() -> T:
        db = _db()
        try:
            return await fn(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except DomainError as e:
        many = getattr(e, "errors", None)  # a file's validation: one line per problem
        if many:
            for line in many:
                typer.echo(line, err=True)
        else:
            where = f" ({e.field})" if e.field else ""
            typer.echo(f"error{where}: {e.message}", err=True)
        raise typer.Exit(1) from None
