"""`hotline qa …` — quality inspection (质检): the weekly sample, the figures, a checklist
(mounted by callcenter/entry/cli.py)."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="质检 quality inspection", no_args_is_help=True)


def _run(fn: Any) -> Any:
    from callcenter.entry.cli import run

    return run(fn)


def _json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


@app.command("sample")
def sample_cmd(
    week: Annotated[str | None, typer.Option(help="the week's Monday YYYY-MM-DD (default: last week)")] = None,
    size: Annotated[int | None, typer.Option(help="random calls per operator (default HOTLINE_QA_SAMPLE_SIZE)")] = None,
) -> None:
    """Pick a week's calls for inspection: random calls per operator plus 不满意回访, 催办 and long
    calls. Running it again adds only what was not picked yet."""
    from callcenter.core.settings import get_settings
    from callcenter.qa import services
    from callcenter.store.models import utcnow

    s = get_settings()
    try:
        monday = date.fromisoformat(week) if week else services.last_week(utcnow())
    except ValueError:
        typer.echo(f"error (week): “{week}” is not a date YYYY-MM-DD", err=True)
        raise typer.Exit(2) from None
    # a refused week (not a Monday) ends with "error (week): …" and status 1, like every domain error
    res = _run(lambda db: services.sample(db, monday, size=s.qa_sample_size if size is None else size,
                                          long_s=s.qa_long_call_s))
    _json({"week": res.week.isoformat(), "picked": res.picked, "total": res.total})


@app.command("figures")
def figures_cmd(month: Annotated[str, typer.Option("--month", help="YYYY-MM")]) -> None:
    """The month's figures per operator, team and month (average score, fatal errors, share inspected)."""
    from reports.annual import month_bounds
    from reports.quality import qa_figures

    d0, d1, _ = month_bounds(month)
    _json(_run(lambda db: qa_figures(db, d0, d1)))


@app.command("checklist")
def checklist_cmd(
    name: Annotated[str, typer.Option(help="the checklist's name")],
    items: Annotated[Path, typer.Option(help="a file, one item a line: `label | weight` or `label | 致命`")],
) -> None:
    """Create a checklist and make it the active one (the admin's page does the same)."""
    import dataclasses
    import getpass

    from callcenter.cases.workflow import SYSTEM
    from callcenter.qa import services

    actor = dataclasses.replace(SYSTEM, name=getpass.getuser())
    cid = _run(lambda db: services.create_checklist(db, actor, name, items.read_text(encoding="utf-8")))
    typer.echo(f"checklist {cid} “{name}” active")
