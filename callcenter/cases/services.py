"""Use cases on cases (工单): register, act on, read, search. Each takes the Database (or a
session), an Actor and the time, and raises domain errors (errors.py).

Every applied action writes the case and its TicketEvent in one transaction; the case's
version column makes a concurrent or stale write fail as a Conflict with nothing written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import Select, and_, exists, func, or_, select, true
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from callcenter.cases import numbering, phones, routing
from callcenter.cases.workflow import ROLES_FOR, Action, Actor, CaseState, Change, Context, plan
from callcenter.core.bus import NullBus, Publisher
from callcenter.core.errors import Conflict, Forbidden, Invalid, NotFound, role_zh
from callcenter.core.glossary import CASE_ACTION_LABELS, CASE_STATE_LABELS
from callcenter.store import audit
from callcenter.store.db import Database
from callcenter.store.models import (
    OPEN_STATES,
    Call,
    Kind,
    Notification,
    Role,
    Status,
    Ticket,
    TicketEvent,
    table_of,
    utcnow,
)
from callcenter.store.refdata import RefData

T = TypeVar("T")


@dataclass
class NewTicket:
    kind: Kind
    category: str  # the category's name (问题分类)
    content: str
    caller_phone: str | None = None
    caller_name: str | None = None
    address: str | None = None
    area: str | None = None
    urgent: bool = False
    confidential: bool = False
    no_callback: bool = False
    call_id: int | None = None
    source: str = "api"


def case_state(t: Ticket, ref: RefData) -> CaseState:
    cat = ref.categories.get(t.category_id)
    return CaseState(
        status=t.status,
        kind=t.kind,
        urgent=t.urgent,
        department_id=t.department_id,
        due_at=t.due_at,
        extension_requested_until=t.extension_requested_until,
        extensions_granted=t.extensions_granted,
        no_callback=t.no_callback,
        callback_required_by_category=cat.callback_required if cat else True,
        category_id=t.category_id,
        first_satisfaction=t.first_satisfaction,
    )


def make_context(ref: RefData, now: datetime) -> Context:
    cal = ref.calendar

    def accept_due(at: datetime, urgent: bool) -> datetime:
        sla = ref.sla_for(Kind.complaint)
        return cal.add_working_minutes(at, sla.urgent_accept_working_minutes if urgent else sla.accept_working_minutes)

    def max_extension_until(due: datetime, kind: Kind) -> datetime:
        return cal.add_working_days(due, ref.sla_for(kind).max_extension_working_days)

    return Context(
        now=now,
        accept_due=accept_due,
        max_extension_until=max_extension_until,
        department_exists=lambda i: i in ref.departments and ref.departments[i].active,
        resolve_due=lambda at, kind, category_id, urgent: resolve_due(ref, kind, category_id, urgent, at),
    )


def resolve_due(ref: RefData, kind: Kind, category_id: int, urgent: bool, registered_at: datetime) -> datetime:
    return ref.calendar.add_working_days(registered_at, ref.resolve_days(kind, category_id, urgent))


# Who follows a case's changes inside act()'s transaction: each hook gets (session, case, the
# TicketEvent just added, now, reference data), after the change is applied to the case.
# callbacks/service.py registers the callback rows' hook when imported; the entry points
# (callcenter/entry) import it, so every process that changes cases runs it.
CaseChangeHook = Callable[[AsyncSession, Ticket, TicketEvent, datetime, RefData], Awaitable[None]]
CASE_CHANGE_HOOKS: list[CaseChangeHook] = []


def on_case_change(hook: CaseChangeHook) -> CaseChangeHook:
    """Register `hook` to run on every case change (a decorator; registering twice is a no-op)."""
    if hook not in CASE_CHANGE_HOOKS:
        CASE_CHANGE_HOOKS.append(hook)
    return hook


async def refdata(db: Database, session: AsyncSession | None = None) -> RefData:
    return await db.ref()


def _check_new(data: NewTicket, ref: RefData) -> tuple[int, int | None]:
    if not isinstance(data.content, str) or not phones.visible_text(data.content):
        # empty, or only spaces and zero-width marks
        raise Invalid("请填写诉求内容", field="content")
    cat = ref.categories_by_name.get(data.category)
    if cat is None or not cat.active:
        raise Invalid(f"问题分类“{data.category}”不存在或已停用", field="category")
    if data.caller_phone and phones.normalize(data.caller_phone) is None:
        raise Invalid(f"来电号码“{data.caller_phone}”不是有效的电话号码", field="caller_phone")
    suggested = routing.suggest(ref.rules, cat.id, cat.default_department_id, data.content,
                                " ".join(x for x in (data.area, data.address) if x), ref.areas)
    return cat.id, suggested


# prepared once: the statement's shape never changes, so SQLAlchemy compiles and caches it
# once and each case only binds parameters (the ORM bulk path re-derived it per case)
_INSERT_TICKET = table_of(Ticket).insert().returning(table_of(Ticket).c.id)
_INSERT_EVENT = table_of(TicketEvent).insert()

# PostgreSQL: the whole registration is one statement, sent through plain asyncpg (no
# SQLAlchemy greenlet switch, no BEGIN/COMMIT round trips: a single statement is its own
# transaction). The INSERT takes the case number from the sequence itself (numbering.py) and
# the audit event is written by a data-modifying CTE from the new row — both rows or neither.
_TICKET_COLS = (
    "source", "call_id", "caller_name", "caller_phone", "caller_norm", "address", "area", "kind", "category_id",
    "content", "urgent", "confidential", "no_callback", "suggested_department_id", "status", "registered_at",
    "due_at", "ever_dispatched", "extensions_granted", "urge_count", "reopen_count", "chase_count", "version",
    "created_at", "updated_at",
)
_N = len(_TICKET_COLS)
# (the event's data is sent as JSON text; None becomes JSON null, as SQLAlchemy's JSON type writes it)
_REGISTER_PG = (
    f"WITH t AS (INSERT INTO tickets ({', '.join(_TICKET_COLS)}, number) "
    f"VALUES ({', '.join(f'${i + 1}' for i in range(_N))}, "
    f"{numbering.pg_number_sql(f'${_N + 1}', f'${_N + 2}', f'${_N + 3}')}) RETURNING id, number), "
    "e AS (INSERT INTO ticket_events (ticket_id, at, actor_id, actor_name, action, from_status, to_status, note, data) "
    f"SELECT t.id, ${_N + 4}, ${_N + 5}, ${_N + 6}, '{Action.register.value}', NULL, "
    f"'{Status.registered.value}', NULL, ${_N + 7}::json FROM t) "
    "SELECT id, number FROM t"
)
# the connection went away under the statement (PostgreSQL restarted): tried once more on a
# fresh connection, as retry_on_disconnect does for the engine (a statement cut before its
# commit wrote nothing; one cut between the commit and its answer is the rare ambiguous case)
_PG_GONE = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.exceptions.OperatorInterventionError,
            ConnectionError, OSError)


def _pg_arg(v: Any) -> Any:
    return v.value if isinstance(v, Kind | Status) else v


async def _register_pg(db: Database, values: dict[str, Any], actor: Actor, event_data: dict[str, Any] | None,
                       now: datetime) -> tuple[int, str]:
    day = numbering.day_of(now)
    args = [_pg_arg(values[c]) for c in _TICKET_COLS]
    for attempt in (1, 2):
        pool = await db.raw_pool()
        try:
            async with pool.acquire() as con:
                base = await numbering.pg_base_raw(con, str(db.engine.url), day)
                row = await con.fetchrow(_REGISTER_PG, *args, db.ticket_prefix, day, base, now, actor.id,
                                         actor.name, json.dumps(event_data))
        except _PG_GONE:
            if attempt == 2:
                raise
            db.expire_raw()  # every pooled connection may be as dead: replace them all
            continue
        return int(row["id"]), str(row["number"])
    raise AssertionError("unreachable")


async def retry_on_disconnect(fn: Callable[[], Awaitable[T]]) -> T:
    """Run `fn` again once if its connection turned out dead (PostgreSQL restarted): the
    pool has been invalidated by then, so the second try gets a fresh connection. Only for
    work whose transaction rolled back as a whole (nothing half-written)."""
    try:
        return await fn()
    except DBAPIError as e:
        if not e.connection_invalidated:
            raise
        return await fn()


async def register(
    db: Database, actor: Actor, data: NewTicket, now: datetime | None = None, bus: Publisher | None = None
) -> Ticket:
    """Register a new case (登记): number, routing suggestion, deadline, audit event — one
    transaction (this is the hot write path: on PostgreSQL one statement through asyncpg, on
    SQLite two Core INSERTs). Every domain error (Forbidden, Invalid) is raised before anything
    is written, so a caller may try the request again elsewhere (web/api.py's fast path does)."""
    if actor.role not in ROLES_FOR[Action.register]:
        raise Forbidden(f"{role_zh(actor.role)}不能登记工单")
    now = now or utcnow()
    ref = await db.ref()
    category_id, suggested = _check_new(data, ref)
    if data.call_id is not None:
        async with db.session() as s:
            if (await s.execute(select(Call.id).where(Call.id == data.call_id))).first() is None:
                raise Invalid(f"no call {data.call_id}", field="call_id")
    values: dict[str, Any] = dict(
        source=data.source,
        call_id=data.call_id,
        caller_name=phones.visible_text(data.caller_name) or None,
        caller_phone=phones.clean(data.caller_phone) or None,
        caller_norm=phones.normalize(data.caller_phone),
        address=data.address,
        area=data.area,
        kind=data.kind,
        category_id=category_id,
        content=data.content.strip(),
        urgent=data.urgent,
        confidential=data.confidential or data.kind is Kind.report,
        no_callback=data.no_callback,
        suggested_department_id=suggested,
        status=Status.registered,
        registered_at=now,
        due_at=resolve_due(ref, data.kind, category_id, data.urgent, now),
        ever_dispatched=False,
        extensions_granted=0,
        urge_count=0,
        reopen_count=0,
        chase_count=0,
        version=1,
        created_at=now,
        updated_at=now,
    )

    event_data = {"suggested_department_id": suggested} if suggested else None

    async def write() -> Ticket:
        if not db.is_sqlite:
            tid, number = await _register_pg(db, values, actor, event_data, now)
            return Ticket(id=tid, number=number, **values)
        # SQLite: a Core connection, not an ORM session: nothing here needs the unit of work
        async with db.engine.begin() as conn:
            async with AsyncSession(bind=conn) as s:
                number = await numbering.in_transaction(s, now, db.ticket_prefix)
            tid = (await conn.execute(_INSERT_TICKET, {"number": number, **values})).scalar_one()
            await conn.execute(
                _INSERT_EVENT,
                {
                    "ticket_id": tid,
                    "at": now,
                    "actor_id": actor.id,
                    "actor_name": actor.name,
                    "action": Action.register.value,
                    "from_status": None,
                    "to_status": Status.registered.value,
                    "note": None,
                    "data": event_data,
                },
            )
        return Ticket(id=tid, number=number, **values)

    t = await retry_on_disconnect(write)
    await (bus or NullBus()).publish("ticket.changed", {"number": t.number, "status": t.status.value})
    return t


def visible_to(t: Ticket, actor: Actor) -> bool:
    if actor.role is Role.clerk:
        return t.department_id is not None and t.department_id == actor.department_id
    return True


IDENTITY_ROLES = (Role.operator, Role.supervisor)


def shows_identity(t: Ticket, actor: Actor) -> bool:
    """举报人信息保密: a report's or a confidential case's caller is shown only to the hotline's
    operators and supervisors (DOMAIN.md, Privacy) — never to a department's clerk, and never
    to the admin, who manages data, not cases."""
    if t.kind is Kind.report or t.confidential:
        return actor.role in IDENTITY_ROLES
    return actor.role in (Role.operator, Role.supervisor, Role.clerk, Role.admin)


async def _load(s: AsyncSession, number: str) -> Ticket:
    t = (await s.execute(select(Ticket).where(Ticket.number == number))).scalar_one_or_none()
    if t is None:
        raise NotFound(f"工单 {number} 不存在")
    return t


# the audit trail's action for "opened a confidential case with its caller's identity shown"
VIEW = "view"
# where a view was made (TicketEvent.data["via"]): the console's case page, its print form, the API
VIEW_PAGES = ("case", "print", "api")


def may_audit_views(actor: Actor) -> bool:
    # The rule (who sees who viewed a whistleblower's identity): supervisors (班长) and the admin
    # only, on the case page, the cross-case list and the API's trail alike. Who looked is itself
    # confidential — it tells who investigates — so operators and clerks never see view entries,
    # not even their own (events() drops them for those roles).
    return actor.role in (Role.supervisor, Role.admin)


async def get(db: Database, actor: Actor, number: str, *, record_view: bool = True, via: str | None = None) -> Ticket:
    """The case, if the actor may see it. Opening a confidential case (a 干部举报 or one marked
    confidential) with its caller's identity shown is recorded in the audit trail (DOMAIN.md,
    Privacy): who viewed it, when, in which role and from which page (`via`, one of
    VIEW_PAGES). Local tools (the system actor) are not recorded."""
    if via is not None and via not in VIEW_PAGES:
        raise ValueError(f"via must be one of {VIEW_PAGES}, not {via!r}")
    async with db.session() as s:
        t = await _load(s, number)
    if not visible_to(t, actor):
        raise Forbidden("该工单属于其他承办单位，您无权查看或办理")
    if record_view and actor.id is not None and t.confidential and shows_identity(t, actor):
        async with db.transaction() as s:
            # an event only: the case itself (and its version) is untouched
            await s.execute(
                _INSERT_EVENT,
                {
                    "ticket_id": t.id,
                    "at": utcnow(),
                    "actor_id": actor.id,
                    "actor_name": actor.name,
                    "action": VIEW,
                    "from_status": t.status.value,
                    "to_status": t.status.value,
                    "note": "查看保密件（含来电人信息）",
                    # the role at the time (a user's role may change later) and the page
                    "data": {"role": actor.role.value, "via": via},
                },
            )
    return t


def _coerce_params(action: Action, params: dict[str, Any], ref: RefData) -> dict[str, Any]:
    p = dict(params)
    if action in (Action.dispatch, Action.redispatch) and p.get("department") is not None:
        dep = ref.department(p["department"])
        if dep is None:
            raise Invalid(f"承办单位“{p['department']}”不存在", field="department")
        p["department_id"] = dep.id
    return p


async def act(
    db: Database,
    actor: Actor,
    number: str,
    action: Action | str,
    version: int | None,
    params: dict[str, Any] | None = None,
    now: datetime | None = None,
    bus: Publisher | None = None,
) -> Ticket:
    """Apply one workflow action. `version` is the version the client saw (None: the current one)."""
    try:
        action = Action(action)
    except ValueError:
        raise Invalid(f"没有“{action}”这种操作", field="action") from None
    if action is Action.register:
        raise Conflict("登记会新建工单：请用 POST /api/v1/tickets")
    now = now or utcnow()
    params = params or {}
    try:
        async with db.transaction() as s:
            ref = await refdata(db, s)
            t = await _load(s, number)
            if actor.role is Role.clerk and not visible_to(t, actor):
                raise Forbidden("该工单属于其他承办单位，您无权查看或办理")
            if version is not None and version != t.version:
                # check the role before the version: a role that may never act gets 403, not 409
                if actor.role not in ROLES_FOR.get(action, frozenset()):
                    raise Forbidden(f"{role_zh(actor.role)}不能{CASE_ACTION_LABELS.get(action, action.value)}")
                raise Conflict(f"工单已被他人修改（您看到的是第 {version} 版，现为第 {t.version} 版），请刷新后重试")
            p = _coerce_params(action, params, ref)
            if action is Action.merge:
                p.update(await _merge_target(s, t, p))
            change = plan(case_state(t, ref), action, actor, p, make_context(ref, now))
            _apply(t, change, now)
            event = TicketEvent(
                ticket_id=t.id,
                at=now,
                actor_id=actor.id,
                actor_name=actor.name,
                action=action.value,
                from_status=change.from_status.value,
                to_status=change.to_status.value,
                note=change.note,
                data=change.data or None,
            )
            s.add(event)
            # issue 5: the case's callback row changes in the same transaction (callbacks/service.py)
            for hook in CASE_CHANGE_HOOKS:
                await hook(s, t, event, now, ref)
            if change.action is Action.chase:
                _chase_notices(s, t, change.note, now, actor)
            await s.flush()
    except StaleDataError:
        raise Conflict("工单已被他人修改，请刷新后重试") from None
    except IntegrityError as e:
        raise Conflict(f"修改与已保存的数据冲突：{e.orig}") from None
    await (bus or NullBus()).publish(
        "ticket.changed", {"number": t.number, "status": t.status.value, "action": action.value}
    )
    return t


async def _merge_target(s: AsyncSession, t: Ticket, p: dict[str, Any]) -> dict[str, Any]:
    into = p.get("into")
    if not isinstance(into, str) or not into:
        raise Invalid("请填写要并入的工单号", field="into")
    if into == t.number:
        raise Invalid("工单不能并入它自己", field="into")
    target = (await s.execute(select(Ticket).where(Ticket.number == into))).scalar_one_or_none()
    if target is None:
        raise Invalid(f"工单 {into} 不存在", field="into")
    if target.status in (Status.merged, Status.invalid):
        raise Conflict(f"工单 {into} 已{CASE_STATE_LABELS[target.status]}，请并入它所并入的工单")
    return {"into_id": target.id, "into_number": target.number}


def _chase_notices(s: AsyncSession, t: Ticket, note: str | None, now: datetime, actor: Actor) -> None:
    """催办: a notice to the case's department at once; from the second 催办 on, to the supervisors
    too. Keys are per case and count: never doubled. Closed when the case leaves the open states."""
    n = t.chase_count
    data = {"number": t.number, "chases": n}
    words = f"（{note}）" if note and note != "市民来电催办" else ""
    if t.department_id is not None:
        s.add(Notification(key=f"chase:t{t.id}:{n}", kind="chase", audience="department", ticket_id=t.id,
                           department_id=t.department_id, due_at=t.due_at, status="open", created_at=now,
                           created_by=actor.name, data=data,
                           message=f"催办：市民再次来电催问工单 {t.number}（第 {n} 次）{words}，请加快办理"))
    if n >= 2:
        s.add(Notification(key=f"chase_sup:t{t.id}:{n}", kind="chase", audience="supervisor", ticket_id=t.id,
                           department_id=t.department_id, due_at=t.due_at, status="open", created_at=now,
                           created_by=actor.name, data=data,
                           message=f"催办：工单 {t.number} 已被市民催办 {n} 次{words}"))


def _apply(t: Ticket, change: Change, now: datetime) -> None:
    for k, v in change.updates.items():
        setattr(t, k, v)
    if change.action is Action.urge:
        t.urge_count = (t.urge_count or 0) + 1
    if change.action is Action.chase:
        t.chase_count = (t.chase_count or 0) + 1
    if change.to_status is Status.reopened and change.from_status is not Status.reopened:
        t.reopen_count = (t.reopen_count or 0) + 1
    t.status = change.to_status
    t.updated_at = now


async def events(db: Database, actor: Actor, number: str) -> list[TicketEvent]:
    """The case's audit trail in order; its view entries (and recordings' listens, issue 18) only
    for those who may audit them (may_audit_views)."""
    async with db.session() as s:
        t = await _load(s, number)
        if not visible_to(t, actor):
            raise Forbidden("该工单属于其他承办单位，您无权查看或办理")
        q = select(TicketEvent).where(TicketEvent.ticket_id == t.id)
        if not may_audit_views(actor):
            q = q.where(TicketEvent.action.notin_((VIEW, "listen")))
        return list((await s.scalars(q.order_by(TicketEvent.id))).all())


@dataclass
class TicketFilter:
    q: str | None = None  # words in content, a number, a phone, a name
    phone: str | None = None
    status: list[Status] | None = None
    kind: Kind | None = None
    department_id: int | None = None
    category_id: int | None = None
    registered_from: datetime | None = None
    registered_to: datetime | None = None
    overdue_at: datetime | None = None  # only open cases past due at this time
    limit: int | None = None
    offset: int = 0


def _filtered(f: TicketFilter, actor: Actor) -> Select[Ticket]:
    q = select(Ticket)
    if actor.role is Role.clerk:
        q = q.where(Ticket.department_id == actor.department_id)
    if f.status:
        q = q.where(Ticket.status.in_(f.status))
    if f.kind:
        q = q.where(Ticket.kind == f.kind)
    if f.department_id:
        q = q.where(Ticket.department_id == f.department_id)
    if f.category_id:
        q = q.where(Ticket.category_id == f.category_id)
    if f.registered_from:
        q = q.where(Ticket.registered_at >= f.registered_from)
    if f.registered_to:
        q = q.where(Ticket.registered_at < f.registered_to)
    # a confidential case is never found by its caller's name or number (only by its number,
    # content or address): a hit would tie a guessed identity to the case without opening it,
    # which is the one recorded way to the identity (get). Local tools (no user) search all.
    by_caller = (and_(Ticket.confidential.is_(False), Ticket.kind != Kind.report) if actor.id is not None
                 else true())
    if f.phone:
        q = q.where(Ticket.caller_norm == (phones.normalize(f.phone) or f.phone), by_caller)
    if f.overdue_at:
        q = q.where(Ticket.status.in_(OPEN_FOR_DEADLINE), Ticket.due_at < f.overdue_at)
    if f.q:
        term = f.q.strip()
        norm = phones.normalize(term)
        conds = [Ticket.number == term, Ticket.content.contains(term, autoescape=True), and_(Ticket.caller_name == term, by_caller),
                 Ticket.external_ref == term, Ticket.address.contains(term, autoescape=True)]
        if norm:
            conds.append(and_(Ticket.caller_norm == norm, by_caller))
        q = q.where(or_(*conds))
    return q


OPEN_FOR_DEADLINE = OPEN_STATES


async def search(db: Database, actor: Actor, f: TicketFilter) -> tuple[list[Ticket], int]:
    """Matching cases, newest first, and the total count (before limit/offset)."""
    base = _filtered(f, actor)
    async with db.session() as s:
        total = (await s.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
        q = base.order_by(Ticket.registered_at.desc(), Ticket.id.desc()).offset(f.offset)
        if f.limit is not None:
            q = q.limit(f.limit)
        rows = list((await s.scalars(q)).all())
    return rows, total


async def caller_history(db: Database, actor: Actor, phone: str, limit: int = 20, *, via: str = "api",
                         origin: Any = None) -> dict[str, list[Any]]:
    """Earlier calls and cases of a number (normalised, landlines with area code included).

    A confidential case (a 干部举报 or one marked confidential) is never found by its caller's
    number: neither it nor the call that registered it is listed or counted (DOMAIN.md,
    Privacy). Every lookup by a user is recorded in the audit log like an identity view: who,
    when, in which role, from where (`via`: the operator's screen pop or the API) and which
    number (masked, plus a keyed digest an investigator can match a number against)."""
    norm = phones.normalize(phone)
    if actor.id is not None:
        async with db.transaction() as s:
            audit.record(s, actor, "caller.lookup", "caller", lookup_key(phone),
                         phones.mask(norm or phone.strip()), {"via": via}, origin)
    if norm is None:
        return {"calls": [], "tickets": []}
    secret = or_(Ticket.confidential.is_(True), Ticket.kind == Kind.report)
    async with db.session() as s:
        calls = (
            await s.scalars(
                select(Call).where(Call.caller_norm == norm,
                                   ~exists().where(Ticket.call_id == Call.id, secret))
                .order_by(Call.offered_at.desc()).limit(limit))
        ).all()
        tickets = (
            await s.scalars(
                select(Ticket).where(Ticket.caller_norm == norm, ~secret)
                .order_by(Ticket.registered_at.desc()).limit(limit)
            )
        ).all()
    return {"calls": list(calls), "tickets": list(tickets)}


def lookup_key(number: str) -> str:
    """A digest of a looked-up number for the audit log: the same number always gives the same
    key (an investigator can check "was this number looked up?") without the log showing it."""

    key = phones.normalize(number) or number.strip()
    return hashlib.sha256(("hotline-lookup:" + key).encode()).hexdigest()[:32]
