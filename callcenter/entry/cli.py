"""`hotline` — the command line of Hotline 12345 (typer).

Every command that reads or writes the store takes the database from HOTLINE_DATABASE_URL
(default: SQLite under HOTLINE_DATA_DIR).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from callcenter.core.errors import DomainError
from callcenter.store.clirun import _db, run

T = TypeVar("T")

app = typer.Typer(help="Hotline 12345 市民热线", no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="数据库 database", no_args_is_help=True)
seed_app = typer.Typer(help="演示数据 demo data", no_args_is_help=True)
users_app = typer.Typer(help="用户 users", no_args_is_help=True)
import_app = typer.Typer(help="导入 import", no_args_is_help=True)
export_app = typer.Typer(help="导出 export", no_args_is_help=True)
tickets_app = typer.Typer(help="工单 cases", no_args_is_help=True)
calendar_app = typer.Typer(help="工作日历 working-day calendar", no_args_is_help=True)
ops_app = typer.Typer(help="运维 operations: the processes' heartbeats", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(seed_app, name="seed")
app.add_typer(users_app, name="users")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
app.add_typer(tickets_app, name="tickets")
app.add_typer(calendar_app, name="calendar")
app.add_typer(ops_app, name="ops")


def _version(value: bool) -> None:
    if value:
        # lazy: a command loads only what it runs (`hotline --help` stays fast)
        from callcenter import __version__

        typer.echo(f"hotline {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="print the version and exit")] = False) -> None:
    """Hotline 12345 市民热线"""


def _sub_apps() -> dict[str, Callable[[], Any]]:
    """Each area package owns its sub-commands; they are mounted here so `hotline` is one
    command. Imported only when used: the adapter process (`hotline telephony run`) must not
    carry the reports' or the knowledge base's modules (its memory target)."""

    def report() -> Any:
        # lazy: a command loads only what it runs (`hotline --help` stays fast)
        from reports.cli import app as a

        return a

    def disclosure() -> Any:
        # lazy: a command loads only what it runs (`hotline --help` stays fast)
        from reports.cli import disclosure_app as a

        return a

    def scheduler() -> Any:
        # lazy: a command loads only what it runs (`hotline --help` stays fast)
        from callbacks.cli import app as a

        return a

    def kb() -> Any:
        # lazy: a command loads only what it runs (`hotline --help` stays fast)
        from callcenter.kb.cli import app as a

        return a

    def telephony() -> Any:
        # lazy: a command loads only what it runs (`hotline --help` stays fast)
        from telephony.cli import app as a

        return a

    def recordings() -> Any:
        # lazy: a command loads only what it runs (`hotline --help` stays fast)
        from callcenter.recordings.cli import app as a

        return a

    def qa() -> Any:
        from callcenter.qa.cli import app as a

        return a

    return {"qa": qa, "recordings": recordings, "report": report, "disclosure": disclosure, "scheduler": scheduler, "kb": kb, "telephony": telephony}


_mounted = False


def mount(only: str | None = None) -> None:
    """Mount the sub-command `only` if it is one of the area packages', else all of them."""
    global _mounted
    if _mounted:
        return
    subs = _sub_apps()
    for name in [only] if only in subs else list(subs):
        app.add_typer(subs[name](), name=name)
    _mounted = True


class Fmt(str, Enum):
    json = "json"
    table = "table"


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the migrations (creates the database schema)."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.core.settings import get_settings
    from callcenter.store.migrate import upgrade

    url = get_settings().effective_database_url
    upgrade(url, revision)
    typer.echo(f"database at {revision}: {_safe_url(url)}")


def _safe_url(url: str) -> str:
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@seed_app.command("demo")
def seed_demo(
    cases: Annotated[bool, typer.Option(help="also a few weeks of cases (only into a store without cases)")] = True,
    calls: Annotated[bool, typer.Option(help="also half a year of call history for 容量规划 (once)")] = True,
) -> None:
    """Departments, categories, routing rules, demo users (password hotline-demo), a few
    weeks of cases moved through the workflow and half a year of call history."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.entry.demo_calls import seed_calls
    from callcenter.entry.demo_cases import seed_cases
    from callcenter.entry.seed import DEMO_PASSWORD, demo_accounts, seed_demo_kb
    from callcenter.entry.seed import seed_demo as _seed

    added = run(_seed)
    typer.echo(f"demo data in place; users added: {', '.join(added) or 'none'} (password {DEMO_PASSWORD})")
    n_kb = run(seed_demo_kb)
    typer.echo(f"知识库示例：导入 {n_kb} 条" if n_kb else "知识库示例：已有条目，未导入")
    typer.echo(demo_accounts())
    if cases:
        n = run(seed_cases)
        typer.echo(f"demo cases: {n} added" if n else "demo cases: the store has cases already, none added")
    if calls:
        n = run(seed_calls)
        typer.echo(f"demo call history: {n} calls added" if n else "demo call history: in place already")


@seed_app.command("reference")
def seed_reference() -> None:
    """Departments, categories and routing rules only (no users)."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.entry.seed import seed_reference as _seed

    run(_seed)
    typer.echo("reference data in place")


class RoleOpt(str, Enum):
    operator = "operator"
    clerk = "clerk"
    supervisor = "supervisor"
    admin = "admin"


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[RoleOpt, typer.Option(help="operator|clerk|supervisor|admin")],
    department: Annotated[str | None, typer.Option(help="department code (clerks)")] = None,
    password: Annotated[str | None, typer.Option(help="login password for the console")] = None,
    display_name: Annotated[str | None, typer.Option(help="the name shown (e.g. 李娜)")] = None,
    seat: Annotated[str | None, typer.Option(help="operator seat / extension, e.g. 8001")] = None,
) -> None:
    """Add a user."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.people.admin import cli_add_user
    from callcenter.store.models import Role

    u = run(
        lambda db: cli_add_user(
            db, name, Role(role.value), display_name=display_name, department=department, password=password, seat=seat
        )
    )
    typer.echo(f"user {u.username} ({u.role.value}) added")


@users_app.command("token")
def users_token(name: str) -> None:
    """Issue a bearer token for the JSON API (printed alone on the last line)."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.people.admin import cli_issue_token

    token = run(lambda db: cli_issue_token(db, name))
    typer.echo(f"API token for {name} (shown once; it replaces any earlier token):", err=True)
    typer.echo(token)


@import_app.command("registry")
def import_registry(
    file: Path,
    create_missing: Annotated[bool, typer.Option("--create-missing", help="create unknown topics and departments")] = False,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="import good rows, write bad ones to a rejects file")] = False,
    rejects: Annotated[Path | None, typer.Option(help="where rejected rows go (with --skip-invalid)")] = None,
) -> None:
    """Import a 来电登记表 (CSV or XLSX). Validates the whole file first: any bad row → nothing imported."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.cases import registry_io

    if not file.exists():
        typer.echo(f"error: no such file {file}", err=True)
        raise typer.Exit(1)

    async def go(db):  # type: ignore[no-untyped-def]
        return await registry_io.import_file(
            db, file, create_missing=create_missing, skip_invalid=skip_invalid, rejects_path=rejects
        )

    try:
        rep = asyncio.run(_with_db(go))
    except registry_io.RegistryErrors as e:
        for line in e.errors:
            typer.echo(line, err=True)
        typer.echo(f"{len(e.errors)} problem(s): nothing imported", err=True)
        raise typer.Exit(1) from None
    except DomainError as e:
        typer.echo(f"error: {e.message}", err=True)
        raise typer.Exit(1) from None
    msg = f"imported {rep.imported}, already present {rep.skipped_existing}, rejected {rep.rejected}"
    if rep.created_categories or rep.created_departments:
        msg += f"; created categories {rep.created_categories} departments {rep.created_departments}"
    if rep.rejected:
        msg += f"; rejects in {rep.rejects_path}"
    typer.echo(msg)


async def _with_db(fn: Callable[[Any], Awaitable[T]]) -> T:
    db = _db()
    try:
        return await fn(db)
    finally:
        await db.dispose()


class ExportFmt(str, Enum):
    csv = "csv"
    xlsx = "xlsx"


@export_app.command("registry")
def export_registry(
    fmt: Annotated[ExportFmt, typer.Option("--format")] = ExportFmt.csv,
    out: Annotated[Path | None, typer.Option(help="output file (default under HOTLINE_DATA_DIR/exports)")] = None,
    date_from: Annotated[datetime | None, typer.Option("--from", formats=["%Y-%m-%d"])] = None,
    date_to: Annotated[datetime | None, typer.Option("--to", formats=["%Y-%m-%d"])] = None,
    unmask: Annotated[bool, typer.Option("--unmask", help="full phone numbers (hotline staff only)")] = False,
    with_confidential: Annotated[bool, typer.Option(
        "--with-confidential", help="name the callers of confidential cases (干部举报) instead of （保密）")] = False,
) -> None:
    """Export the 来电登记表 as CSV or XLSX (phone numbers masked unless --unmask; a confidential
    case's caller shown as （保密） unless --with-confidential). Every export is recorded in the
    audit log with what it included."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.cases import registry_io
    from callcenter.core.settings import get_settings

    if out is None:
        d = get_settings().data_dir / "exports"
        d.mkdir(parents=True, exist_ok=True)
        out = d / f"registry-{datetime.now():%Y%m%d-%H%M%S}.{fmt.value}"
    f = date_from.date() if date_from else None
    t = date_to.date() if date_to else None
    run(lambda db: registry_io.export(db, out, fmt.value, date_from=f, date_to=t, unmask=unmask,
                                      include_confidential=with_confidential))
    typer.echo(str(out))


@tickets_app.command("list")
def tickets_list(
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    status: Annotated[list[str] | None, typer.Option(help="filter by status (repeatable)")] = None,
    q: Annotated[str | None, typer.Option(help="words, number, phone or name")] = None,
    limit: Annotated[int | None, typer.Option(help="at most this many (default: all)")] = None,
) -> None:
    """List cases, newest first (JSON: an array of every matching case unless --limit)."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.cases import services
    from callcenter.cases.views import ticket_dict
    from callcenter.cases.workflow import SYSTEM
    from callcenter.store.models import Status

    try:
        sts = [Status(s) for s in status] if status else None
    except ValueError as e:
        typer.echo(f"error (status): {e}", err=True)
        raise typer.Exit(2) from None

    async def go(db):  # type: ignore[no-untyped-def]
        rows, _total = await services.search(db, SYSTEM, services.TicketFilter(q=q, status=sts, limit=limit))
        async with db.session() as s:
            ref = await services.refdata(db, s)
        return [ticket_dict(t, ref) for t in rows]

    items = run(go)
    if fmt is Fmt.json:
        _print_json(items)
        return
    for t in items:
        typer.echo(
            f"{t['number']}  {t['registered_at'][:16]}  {t['status_label']:<4}  {t['kind_label']:<4}  "
            f"{t['category'] or '':<6}  {t['department'] or '—':<10}  {t['content'][:30]}"
        )
    typer.echo(f"{len(items)} case(s)", err=True)


@tickets_app.command("show")
def tickets_show(number: str, fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table) -> None:
    """One case with its audit trail."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.cases import services
    from callcenter.cases.views import event_dict, ticket_dict
    from callcenter.cases.workflow import SYSTEM

    async def go(db):  # type: ignore[no-untyped-def]
        t = await services.get(db, SYSTEM, number)
        evs = await services.events(db, SYSTEM, number)
        async with db.session() as s:
            ref = await services.refdata(db, s)
        return {**ticket_dict(t, ref), "events": [event_dict(e) for e in evs]}

    d = run(go)
    if fmt is Fmt.json:
        _print_json(d)
        return
    for k, v in d.items():
        if k != "events" and v not in (None, ""):
            typer.echo(f"{k:>26}: {v}")
    typer.echo("audit trail:")
    for e in d["events"]:
        typer.echo(f"  {e['at'][:19]}  {e['actor']:<8} {e['action']:<18} {e['from_status'] or '':>10} → {e['to_status'] or ''}  {e['note'] or ''}")


class DayKind(str, Enum):
    workday = "workday"
    holiday = "holiday"


@calendar_app.command("set")
def calendar_set(
    day: Annotated[datetime, typer.Argument(formats=["%Y-%m-%d"], help="YYYY-MM-DD")],
    kind: DayKind,
    name: Annotated[str | None, typer.Option(help="e.g. 春节, 国庆节调休")] = None,
) -> None:
    """Mark a day as a working day or a holiday (years the calendar package does not cover, or fixes)."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.store.models import CalendarDay

    async def go(db):  # type: ignore[no-untyped-def]
        async with db.transaction() as s:
            row = await s.get(CalendarDay, day.date())
            if row is None:
                s.add(CalendarDay(day=day.date(), is_workday=kind is DayKind.workday, name=name))
            else:
                row.is_workday = kind is DayKind.workday
                row.name = name

    run(go)
    typer.echo(f"{day.date()} is a {kind.value}")


@calendar_app.command("check")
def calendar_check(ahead_days: int = 60) -> None:
    """Warn about years a deadline may reach that have no holiday data (exit 1 if any)."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.cases import services

    async def go(db):  # type: ignore[no-untyped-def]
        async with db.session() as s:
            ref = await services.refdata(db, s)
        return ref.calendar.missing_years(date.today(), ahead_days)

    missing = run(go)
    if missing:
        typer.echo(
            f"warning: no holiday data for {', '.join(map(str, missing))}: enter them with `hotline calendar set`", err=True
        )
        raise typer.Exit(1)
    typer.echo(f"holiday data covers the next {ahead_days} days")


@ops_app.command("processes")
def ops_processes(fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table) -> None:
    """Every process's last heartbeat: name, kind, host, pid, seconds since it reported."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.ops.heartbeat import rows
    from callcenter.store.models import utcnow

    beats = run(rows)
    now = utcnow()
    out = [{"name": b.name, "kind": b.kind, "host": b.host, "pid": b.pid,
            "age_s": round((now - b.beat_at).total_seconds(), 1)} for b in beats]
    if fmt is Fmt.json:
        _print_json(out)
        return
    for r in out:
        typer.echo(f"{r['name']:<40} {r['kind']:<10} {r['host']:<20} {r['pid']:>8} {r['age_s']:>8}s")


@ops_app.command("retire")
def ops_retire(name: Annotated[str, typer.Argument(help="telephony:<pbx>, scheduler:<host> (hotline ops processes)")]) -> None:
    """Forget a process taken out of service (a retired PBX, a scheduler machine gone), so that
    /readyz?strict=1 and the "process gone" alert stop counting it. A live process writes its
    row again within seconds: stop it first."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    from callcenter.ops.heartbeat import forget

    async def go(db: Any) -> bool:
        return await forget(db, name)

    if not run(go):
        typer.echo(f"error: no process named {name!r} (see `hotline ops processes`)", err=True)
        raise typer.Exit(1)
    typer.echo(f"retired {name}")


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Run the web console and JSON API (uvicorn)."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    import uvicorn

    from callcenter.core.settings import get_settings

    s = get_settings()
    uvicorn.run(
        "callcenter.entry.app:create_app",
        factory=True,
        host=host or s.host,
        port=port or s.port,
        workers=workers or s.workers,
        log_level="info",
        access_log=False,
        proxy_headers=True,
        server_header=False,  # no `server: uvicorn` banner
    )


@app.command("demo")
def demo(
    host: Annotated[str | None, typer.Option(help="default: HOTLINE_HOST, else 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="default: HOTLINE_PORT, else 8000")] = None,
    rate: Annotated[float, typer.Option(help="simulated inbound calls per minute")] = 4.0,
    speed: Annotated[float, typer.Option(help="simulated seconds per real second")] = 1.0,
) -> None:
    """Everything in one process: PBX simulator, telephony adapter, console and API (SQLite default)."""
    # lazy: a command loads only what it runs (`hotline --help` stays fast)
    import logging

    from callcenter.core.settings import get_settings
    from callcenter.entry.demo import run_demo
    from callcenter.entry.seed import demo_accounts

    s = get_settings()
    host = host or ("127.0.0.1" if "HOTLINE_HOST" not in os.environ else s.host)
    port = port or s.port
    typer.echo(demo_accounts())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("panoramisk").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    asyncio.run(run_demo(host, port, rate, speed))


def main() -> None:
    first = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    mount(first)
    app()


if __name__ == "__main__":
    main()
