"""`hotline recordings …` — collect call recordings from the PBX, apply retention, legal holds
(mounted by callcenter/entry/cli.py)."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="录音 call recordings", no_args_is_help=True)


def _run(fn: Any) -> Any:
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.entry.cli import run

    return run(fn)


def _json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@app.command("collect")
def collect_cmd(
    spool: Annotated[Path | None, typer.Option(help="the PBX's spool (default HOTLINE_RECORDINGS_SPOOL)")] = None,
    grace: Annotated[float, typer.Option(help="take a file this many seconds after its call ended")] = 10.0,
) -> None:
    """Copy the recordings of ended calls from the PBX's spool to the storage, verified by size
    and SHA-256; the spool's copy is deleted only after that."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.core.settings import get_settings
    from callcenter.recordings import services
    from callcenter.recordings.storage import store_of

    s = get_settings()
    src = spool or s.recordings_spool
    if src is None:
        typer.echo("error: no spool: set HOTLINE_RECORDINGS_SPOOL or pass --spool", err=True)
        raise typer.Exit(2)
    res = _run(lambda db: services.collect(db, src, store_of(s), grace=timedelta(seconds=grace)))
    _json({"collected": res.collected, "waiting": res.waiting, "failed": res.failed})
    if res.failed:
        raise typer.Exit(1)


@app.command("retention")
def retention_cmd(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="list what would be removed")] = False,
) -> None:
    """Remove the recordings past their kind's retention period (none of a case on legal hold)."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.core.settings import get_settings
    from callcenter.recordings import services
    from callcenter.recordings.storage import store_of
    from callcenter.store.models import utcnow

    s = get_settings()

    async def go(db: Any) -> Any:
        if dry_run:
            return await services.expired(db, utcnow())
        return await services.apply_retention(db, store_of(s))

    rows = _run(go)
    _json([{"path": r.path, "pbx": r.pbx, "linkedid": r.linkedid, "kinds": r.kinds,
            "call_at": r.started_at.isoformat()} for r in rows])


@app.command("policy")
def policy_cmd(
    kind: Annotated[str | None, typer.Argument(help="a case kind (complaint, report, …) or * for the default")] = None,
    days: Annotated[int | None, typer.Argument(help="keep recordings this many days")] = None,
) -> None:
    """Show the retention policy, or set one kind's period."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.recordings import services

    async def go(db: Any) -> Any:
        if kind is not None:
            if days is None:
                raise typer.BadParameter("give the days too")
            try:
                await services.set_retention(db, kind, days)
            except ValueError as e:
                raise typer.BadParameter(str(e)) from None
        return await services.retention_days(db)

    _json(_run(go))


@app.command("hold")
def hold_cmd(
    number: str,
    reason: Annotated[str, typer.Option(help="why (e.g. the court's or inspection's reference)")] = "",
    release: Annotated[bool, typer.Option("--release", help="lift the hold")] = False,
) -> None:
    """Put a case's recordings on legal hold (retention never removes them), or lift it."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    import getpass

    from callcenter.recordings import services

    if not release and not reason.strip():
        typer.echo("error (reason): a legal hold needs --reason", err=True)
        raise typer.Exit(2)
    changed = _run(lambda db: services.hold(db, number, reason.strip(), getpass.getuser(), release=release))
    typer.echo(f"{number}: {'hold lifted' if release else 'on legal hold'}{'' if changed else ' (unchanged)'}")
