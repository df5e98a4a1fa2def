"""`hotline kb …` — the knowledge base from the command line (mounted by callcenter/entry/cli.py)."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from callcenter.store.clirun import run

app = typer.Typer(help="知识库 knowledge base", no_args_is_help=True)
synonyms_app = typer.Typer(help="同义词 synonym groups", no_args_is_help=True)
app.add_typer(synonyms_app, name="synonyms")


class OutFmt(str, Enum):
    json = "json"
    table = "table"


class FileFmt(str, Enum):
    csv = "csv"
    xlsx = "xlsx"


def _run(fn: Any) -> Any:
    return run(fn)


def _json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@app.command("import")
def import_(
    file: Path,
    create_missing: Annotated[bool, typer.Option("--create-missing", help="create unknown departments")] = False,
) -> None:
    """Import entries (CSV/XLSX, kb-README columns) as published versions. Checks the whole
    file first: any problem → every `row N, column X: …` listed and nothing imported."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.kb import services as kb

    rep = _run(lambda db: kb.import_file(db, file, create_missing=create_missing))
    msg = f"created {rep.created}, updated {rep.updated}, unchanged {rep.unchanged}"
    if rep.created_departments:
        msg += f"; created departments: {', '.join(rep.created_departments)}"
    typer.echo(msg)


@app.command("reindex")
def reindex(
    all_entries: Annotated[bool, typer.Option("--all", help="every entry, not only those without concepts")] = False,
) -> None:
    """Index the entries' thesaurus concepts (after upgrading from a version without them)."""
    from callcenter.kb import services as kb

    n = _run(lambda db: kb.reindex_concepts(db, all_entries=all_entries))
    typer.echo(f"concepts indexed for {n} entries")


@app.command("export")
def export(
    fmt: Annotated[FileFmt, typer.Option("--format")] = FileFmt.csv,
    out: Annotated[Path | None, typer.Option(help="output file (default under HOTLINE_DATA_DIR/exports)")] = None,
) -> None:
    """Export the published entries in the import's columns."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from datetime import datetime

    from callcenter.core.settings import get_settings
    from callcenter.kb import services as kb

    if out is None:
        d = get_settings().data_dir / "exports"
        d.mkdir(parents=True, exist_ok=True)
        out = d / f"kb-{datetime.now():%Y%m%d-%H%M%S}.{fmt.value}"
    n = _run(lambda db: kb.export(db, out, fmt.value))
    typer.echo(f"{out} ({n} entries)")


def _brief(h: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "title", "score", "expired", "version", "category", "valid_until", "snippet_html")
    return {k: h[k] for k in keys}


@app.command("search")
def search(
    text: Annotated[str | None, typer.Argument(help="the caller's words")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 5,
    fmt: Annotated[OutFmt, typer.Option("--format")] = OutFmt.table,
    file: Annotated[Path | None, typer.Option("--file", help="one query per line: a JSON array of arrays")] = None,
) -> None:
    """Ranked entries (JSON: id = 编号, title, score, expired …)."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.kb import services as kb

    if (text is None) == (file is None):
        typer.echo("error: give TEXT or --file F", err=True)
        raise typer.Exit(2)
    if file is not None:
        try:
            queries = [ln.strip() for ln in file.read_text(encoding="utf-8-sig").splitlines()]
        except OSError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(1) from None
        queries = [q for q in queries if q]
        res = _run(lambda db: kb.search_many(db, queries, limit=limit))
        if fmt is OutFmt.json:
            _json([[_brief(h) for h in r] for r in res])
        else:
            for q, r in zip(queries, res, strict=True):
                typer.echo(f"# {q}")
                _table(r)
        return
    hits = _run(lambda db: kb.search(db, text or "", limit=limit))
    if fmt is OutFmt.json:
        _json([_brief(h) for h in hits])
    else:
        _table(hits)


def _table(hits: list[dict[str, Any]]) -> None:
    for h in hits:
        mark = " [已失效]" if h["expired"] else ""
        typer.echo(f"{h['id']}\t{h['score']:.3f}\t{h['title']}{mark}")


@app.command("expiring")
def expiring(
    days: Annotated[int, typer.Option(help="entries ending within this many days")] = 30,
    fmt: Annotated[OutFmt, typer.Option("--format")] = OutFmt.table,
) -> None:
    """Published entries that expire soon (the departments' reminder)."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.kb import services as kb

    rows = _run(lambda db: kb.expiring_soon(db, days))
    if fmt is OutFmt.json:
        _json(rows)
    else:
        for r in rows:
            typer.echo(f"{r['code']}\t{r['valid_until']}\t{r['department'] or ''}\t{r['title']}")


@app.command("learn")
def learn(
    from_history: Annotated[bool, typer.Option("--from-history", help=(
        "the registry's 直接答复 cases: each case's 诉求内容 proposed as a phrasing of the entry that answered it"))] = False,
    since: Annotated[str | None, typer.Option(help="only cases answered from this date (YYYY-MM-DD)")] = None,
) -> None:
    """Propose callers' phrasings to the entries' departments for review (/kb/phrasings);
    published ones are searched like 常见问法. Confidential cases are never used."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from datetime import datetime

    from callcenter.cases.workflow import SYSTEM
    from callcenter.kb import learn as kb_learn

    if not from_history:
        typer.echo("nothing to learn from: give --from-history", err=True)
        raise typer.Exit(2)
    start = None
    if since:
        try:
            start = datetime.fromisoformat(since).replace(tzinfo=kb_learn.kb_search.TZ)
        except ValueError:
            typer.echo(f"--since {since!r}: not a date (YYYY-MM-DD)", err=True)
            raise typer.Exit(2) from None
    rep = _run(lambda db: kb_learn.learn_from_history(db, SYSTEM, since=start))
    typer.echo(f"direct answers read {rep.cases}: proposed {rep.proposed}, already proposed {rep.again}, "
               f"skipped {rep.skipped}")


@synonyms_app.command("list")
def synonyms_list() -> None:
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.kb import services as kb

    for g in _run(kb.synonym_groups):
        typer.echo(f"{g['id']}\t{' '.join(g['words'])}\t{g['note'] or ''}")


@synonyms_app.command("add")
def synonyms_add(words: list[str], note: Annotated[str | None, typer.Option()] = None) -> None:
    """Add a group: `hotline kb synonyms add 拆迁 征收`."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.cases.workflow import SYSTEM
    from callcenter.kb import services as kb

    gid = _run(lambda db: kb.add_synonyms(db, SYSTEM, words, note))
    typer.echo(f"group {gid}")


@synonyms_app.command("remove")
def synonyms_remove(group_id: int) -> None:
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.cases.workflow import SYSTEM
    from callcenter.kb import services as kb

    _run(lambda db: kb.remove_synonyms(db, SYSTEM, group_id))
    typer.echo(f"removed group {group_id}")
