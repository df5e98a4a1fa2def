"""The 来电登记 store: typed SQLAlchemy 2 models.

Times are stored in UTC (timezone-aware in Python; naive UTC on SQLite) and shown in
Asia/Shanghai. Enums are stored by value (strings), never by member name, so the database
reads the same identifiers as the API and DOMAIN.md.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from callcenter.core.glossary import KIND_ALIASES, KIND_LABELS

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone: store naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def table_of(cls: type[Any]) -> Table:
    """A mapped class's Table, typed as one (SQLAlchemy types `__table__` as a FromClause)."""
    return cast(Table, cls.__table__)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=False,
        length=24,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class Role(str, enum.Enum):
    operator = "operator"
    clerk = "clerk"
    supervisor = "supervisor"
    admin = "admin"


class Kind(str, enum.Enum):
    complaint = "complaint"  # 民众诉求/投诉
    consultation = "consultation"  # 政策咨询
    report = "report"  # 干部举报/举报
    suggestion = "suggestion"  # 建议意见
    help = "help"  # 求助
    praise = "praise"  # 表扬
    disclosure = "disclosure"  # 依申请公开


# a kind by its label (registry import); the labels are the glossary's
KIND_BY_LABEL: dict[str, Kind] = {v: Kind(k) for k, v in KIND_LABELS.items()} | {
    label: Kind(k) for label, k in KIND_ALIASES.items()}


class Status(str, enum.Enum):
    registered = "registered"  # 已登记
    answered = "answered"  # 已答复 (直接答复)
    dispatched = "dispatched"  # 已派单
    accepted = "accepted"  # 已签收
    returned = "returned"  # 已退单
    resolved = "resolved"  # 已办结
    reopened = "reopened"  # 重办
    closed = "closed"  # 已归档
    merged = "merged"  # 重复件
    invalid = "invalid"  # 无效


# a case still being worked on: the one definition (workflow's rules, the deadlines, the likely
# duplicates, the figures all read it), in the order of the partial index's predicate
OPEN_STATES: tuple[Status, ...] = (Status.registered, Status.dispatched, Status.accepted, Status.returned,
                                   Status.reopened)
# the same as SQL, for the partial index on open cases (queries repeat it literally so both planners use it)
OPEN_STATES_SQL = "status IN (" + ", ".join(f"'{s.value}'" for s in OPEN_STATES) + ")"


class Satisfaction(str, enum.Enum):
    satisfied = "satisfied"  # 满意
    basically = "basically"  # 基本满意
    dissatisfied = "dissatisfied"  # 不满意


class CallbackResult(str, enum.Enum):
    """The callback state of a case, as the reports count it."""

    pending = "pending"  # required, not done yet
    reached = "reached"  # reached the citizen with an answer
    unreachable = "unreachable"  # 未接通 after the attempts
    not_needed = "not_needed"  # 不需回访 (anonymous or declined)


class CallDirection(str, enum.Enum):
    inbound = "in"
    outbound = "out"


class CallOutcome(str, enum.Enum):
    in_progress = "in_progress"  # offered, not yet ended
    answered = "answered"  # connected to an operator
    abandoned = "abandoned"  # hung up before an operator answered
    refused = "refused"  # refused by the line limit (never held a line)
    callback_answered = "callback_answered"  # outbound callback, citizen answered
    callback_unanswered = "callback_unanswered"  # outbound callback, rang out / busy
    callback_failed = "callback_failed"  # outbound callback refused by the line limit / congestion


class CallbackKind(str, enum.Enum):
    case = "case"  # 回访 of a resolved case
    missed = "missed"  # 回拨 of an abandoned or refused call


class CallbackTaskStatus(str, enum.Enum):
    pending = "pending"
    done = "done"  # reached (with an outcome) or closed by a later answered call
    unreachable = "unreachable"
    cancelled = "cancelled"


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # 属地: the street / township / community names (and aliases) this department answers for,
    # separated by spaces or commas; an address naming one matches a rule's 属地 (routing.py)
    areas: Mapped[str | None] = mapped_column(String(500))


class Category(Base):
    """A topic (问题分类) with its default department, deadline and callback rule."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    default_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    # overrides the kind's default deadline (working days) when set
    resolve_working_days: Mapped[int | None] = mapped_column(Integer)
    callback_required: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    default_department: Mapped[Department | None] = relationship(lazy="raise")


class SlaRule(Base):
    """Deadline defaults per kind (DOMAIN.md 'Deadlines'); admins change them per city."""

    __tablename__ = "sla_rules"

    kind: Mapped[Kind] = mapped_column(_enum(Kind, "kind"), primary_key=True)
    resolve_working_days: Mapped[int] = mapped_column(Integer)
    urgent_resolve_working_days: Mapped[int] = mapped_column(Integer)
    max_extension_working_days: Mapped[int] = mapped_column(Integer, default=10)
    accept_working_minutes: Mapped[int] = mapped_column(Integer, default=120)
    urgent_accept_working_minutes: Mapped[int] = mapped_column(Integer, default=30)
    return_working_days: Mapped[int] = mapped_column(Integer, default=2)
    # 待派: dispatched by the end of the n-th working day after registration (0: the same working day)
    dispatch_working_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    callback_working_days: Mapped[int] = mapped_column(Integer, default=1)
    # callbacks (callbacks/due.py CallbackRules); missed calls (no case yet) use the complaint row
    callback_max_attempts: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    callback_attempt_gap_minutes: Mapped[int] = mapped_column(Integer, default=120, server_default="120")
    missed_callback_working_minutes: Mapped[int] = mapped_column(Integer, default=60, server_default="60")
    remind_before_working_days: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    remind_before_working_minutes: Mapped[int] = mapped_column(Integer, default=120, server_default="120")
    escalate_after_working_days: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    callback_script: Mapped[str | None] = mapped_column(Text)  # 回访话术, read while dialling


class RoutingRule(Base):
    """Category and/or keywords → suggested department. Higher priority wins."""

    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    # words separated by spaces or commas; matched against jieba tokens of the content
    keywords: Mapped[str] = mapped_column(String(500), default="")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # 属地: the rule applies only when the address names this area (or an alias of it, from the
    # departments' `areas`); None: anywhere
    area: Mapped[str | None] = mapped_column(String(100))


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # sha256 of the bearer token (the token itself is shown once)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    seat: Mapped[str | None] = mapped_column(String(32), unique=True)  # extension, e.g. 8001
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    department: Mapped[Department | None] = relationship(lazy="raise")


class UserSession(Base):
    """A console sign-in (issue 14): the signed cookie holds a random secret, this row its
    sha256. A request is signed in only while its row is neither revoked (退出, a password
    change, the account deactivated, or the admin's 注销) nor expired, so a copied cookie stops
    working the moment the session ends."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user", "user_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the cookie's secret
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(32))  # logout, password, deactivated, admin
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))


class LoginFailure(Base):
    """A failed sign-in from an address (issue 14): the per-address limit counts these rows of
    the last window, in the database so every web worker sees the same count."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_ip_at", "ip", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


class Call(Base):
    """One call on the PBX (来电登记), keyed by (pbx, linkedid) so a replay adds nothing."""

    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("pbx", "linkedid", name="uq_calls_pbx_linkedid"),
        Index("ix_calls_offered_at", "offered_at"),
        Index("ix_calls_caller_norm", "caller_norm"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    pbx: Mapped[str] = mapped_column(String(40), default="default")
    linkedid: Mapped[str] = mapped_column(String(64))
    uniqueid: Mapped[str | None] = mapped_column(String(64))  # the trunk channel's Uniqueid
    direction: Mapped[CallDirection] = mapped_column(_enum(CallDirection, "call_direction"))
    caller_number: Mapped[str | None] = mapped_column(String(40))  # as the PBX gave it
    caller_norm: Mapped[str | None] = mapped_column(String(20))  # E.164 (phones.normalize)
    line: Mapped[int | None] = mapped_column(Integer)  # lines in use when it arrived, itself included
    queue: Mapped[str | None] = mapped_column(String(40))
    # 话后整理 after the call (seconds from its end until the form was saved / discarded / the maximum)
    acw_s: Mapped[int | None] = mapped_column(Integer)
    seat: Mapped[str | None] = mapped_column(String(32))  # operator extension that answered
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    offered_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    outcome: Mapped[CallOutcome] = mapped_column(_enum(CallOutcome, "call_outcome"))
    wait_s: Mapped[float | None]
    talk_s: Mapped[float | None]
    transferred_to: Mapped[str | None] = mapped_column(String(64))
    ticket_ref: Mapped[str | None] = mapped_column(String(40))  # outbound: HOTLINE_TICKET
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Ticket(Base):
    """One case (工单). Every change goes through callcenter.cases.workflow and appends a TicketEvent."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_registered_at", "registered_at"),
        Index("ix_tickets_status_due", "status", "due_at"),
        Index("ix_tickets_department_status", "department_id", "status"),
        Index("ix_tickets_caller_norm", "caller_norm"),
        # open cases by deadline: the live count of open cases past their deadline (overdue_open)
        Index("ix_tickets_open_due", "due_at", "registered_at", "department_id", "category_id",
              postgresql_where=text(OPEN_STATES_SQL), sqlite_where=text(OPEN_STATES_SQL)),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True)  # 登记编号 of an import
    source: Mapped[str] = mapped_column(String(16), default="phone")  # phone | web | api | import
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    caller_name: Mapped[str | None] = mapped_column(String(100))
    caller_phone: Mapped[str | None] = mapped_column(String(40))
    caller_norm: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(300))
    area: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[Kind] = mapped_column(_enum(Kind, "kind"))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    content: Mapped[str] = mapped_column(Text)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    no_callback: Mapped[bool] = mapped_column(Boolean, default=False)  # 不需回访
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    suggested_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    status: Mapped[Status] = mapped_column(_enum(Status, "status"))
    registered_at: Mapped[datetime]
    dispatched_at: Mapped[datetime | None]  # the latest dispatch
    ever_dispatched: Mapped[bool] = mapped_column(Boolean, default=False)
    accept_due_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]  # resolve deadline (after approved extensions)
    resolution: Mapped[str | None] = mapped_column(Text)  # 处理情况
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    return_reason: Mapped[str | None] = mapped_column(Text)
    extension_requested_until: Mapped[datetime | None]
    extension_reason: Mapped[str | None] = mapped_column(Text)
    extensions_granted: Mapped[int] = mapped_column(Integer, default=0)
    urge_count: Mapped[int] = mapped_column(Integer, default=0)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    callback_result: Mapped[CallbackResult | None] = mapped_column(_enum(CallbackResult, "callback_result"))
    # the latest reached callback's answer (最终满意率); kept when the case is resolved again
    satisfaction: Mapped[Satisfaction | None] = mapped_column(_enum(Satisfaction, "satisfaction"))
    # the first reached callback's answer (满意率): a 不满意 stays counted after the reopening
    first_satisfaction: Mapped[Satisfaction | None] = mapped_column(_enum(Satisfaction, "satisfaction"))
    solved: Mapped[bool | None] = mapped_column(Boolean)  # 解决率: the citizen says it is solved
    chase_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 催办次数
    callback_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    category: Mapped[Category] = relationship(lazy="raise")
    department: Mapped[Department | None] = relationship(foreign_keys=[department_id], lazy="raise")

    # optimistic locking: every UPDATE says WHERE version = <loaded>; a concurrent writer's
    # change makes it match no row and SQLAlchemy raises StaleDataError (→ HTTP 409)
    __mapper_args__ = {"version_id_col": version}


class TicketEvent(Base):
    """The append-only audit trail: one row per applied action (and per confidential view)."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# the identity views (services.VIEW) as SQL: the partial index below and the queries that must
# match its predicate literally (a bound parameter would not prove it on either store)
VIEW_EVENTS_SQL = "action = 'view'"
# who viewed a confidential case's identity, across cases, newest first (admin.identity_views)
Index("ix_ticket_events_views", TicketEvent.at, TicketEvent.id,
      postgresql_where=text(VIEW_EVENTS_SQL), sqlite_where=text(VIEW_EVENTS_SQL))


class AuditEntry(Base):
    """The admin's audit log: one row per admin change (users and their roles and seats,
    departments, categories, routing rules, sla_rules) and per registry export, written in the
    change's own transaction (callcenter/people/admin.py `record`).

    Append-only like ticket_events: the database refuses UPDATE and DELETE of either table
    (triggers of migration 6969cb17e4e0). `changes` holds field → [old, new] (a create: old
    None), or field → a fact in words; a password or its hash is never written ("password
    changed"). The actor's name and role are as they were at the time.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"), Index("ix_audit_log_target", "target_type", "target_id"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the CLI, the system
    actor_name: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str | None] = mapped_column(String(24))
    action: Mapped[str] = mapped_column(String(48))  # <target>.<verb>: user.create, sla.update, …
    target_type: Mapped[str] = mapped_column(String(32))  # user, department, category, routing_rule, sla_rule, registry
    target_id: Mapped[str | None] = mapped_column(String(64))  # the row's id or key
    target_label: Mapped[str | None] = mapped_column(String(200))  # its name at the time
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(32))  # the web request's id, as in its log lines
    ip: Mapped[str | None] = mapped_column(String(64))


class Callback(Base):
    """A callback task: 回访 of a case or 回拨 of a missed call. Rows the scheduler ticks over."""

    __tablename__ = "callbacks"
    __table_args__ = (Index("ix_callbacks_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[CallbackKind] = mapped_column(_enum(CallbackKind, "callback_kind"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    phone: Mapped[str | None] = mapped_column(String(40))
    phone_norm: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[CallbackTaskStatus] = mapped_column(_enum(CallbackTaskStatus, "callback_task_status"))
    due_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    satisfaction: Mapped[Satisfaction | None] = mapped_column(_enum(Satisfaction, "satisfaction"))
    solved: Mapped[bool | None] = mapped_column(Boolean)
    words: Mapped[str | None] = mapped_column(Text)  # the citizen's words
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    completed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CalendarDay(Base):
    """Working-day overrides for years the calendar package does not cover (hotline calendar set)."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str | None] = mapped_column(String(50))


class TicketCounter(Base):
    """Per-day sequence behind ticket numbers (GD20261126-0001)."""

    __tablename__ = "ticket_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class TicketNumberDay(Base):
    """PostgreSQL: the ticket_number_seq value at a day's first case (see numbering.py)."""

    __tablename__ = "ticket_number_days"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    base: Mapped[int] = mapped_column(BigInteger)


# ---------------------------------------------------------------------------------------------
# Reports (issue 6): figures entered per year for the disclosure report, and the rollups that
# keep `hotline report metrics` fast (reports/rollup.py refreshes them; nothing else writes them)
# ---------------------------------------------------------------------------------------------
class DisclosureFigure(Base):
    """A figure of the annual disclosure report the hotline data does not hold, entered per year.

    `report_table` is "2", "3", "4" (DISCLOSURE.md's tables), "n" (the narrative's proactive
    items by category), "6" (other matters: fees) or "text" (narrative paragraphs); the keys are
    reports/annual.py's. `value` is a decimal number as text (or the paragraph for "text").
    """

    __tablename__ = "disclosure_figures"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_table: Mapped[str] = mapped_column(String(8), primary_key=True)
    row_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    column_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(200))
    entered_by: Mapped[str | None] = mapped_column(String(100))
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReportCaseDay(Base):
    """Cases registered on a day (Asia/Shanghai) counted by the atoms of reports.metrics."""

    __tablename__ = "report_case_days"
    __table_args__ = (Index("ix_report_case_days_day", "day"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[Status] = mapped_column(_enum(Status, "status"))
    dispatched: Mapped[bool] = mapped_column(Boolean)
    callback_result: Mapped[CallbackResult | None] = mapped_column(_enum(CallbackResult, "callback_result"))
    satisfaction: Mapped[Satisfaction | None] = mapped_column(_enum(Satisfaction, "satisfaction"))
    solved: Mapped[bool | None] = mapped_column(Boolean)
    reopened: Mapped[bool] = mapped_column(Boolean)
    first_satisfaction: Mapped[Satisfaction | None] = mapped_column(_enum(Satisfaction, "satisfaction"))
    chases: Mapped[int] = mapped_column(Integer, server_default="0")
    in_time: Mapped[bool] = mapped_column(Boolean)
    late: Mapped[bool] = mapped_column(Boolean)
    n: Mapped[int] = mapped_column(Integer)


class ReportCaseGroupDay(Base):
    """Registered cases of a day per breakdown key (dim: kind, category, department, area, source)."""

    __tablename__ = "report_case_group_days"
    __table_args__ = (Index("ix_report_case_group_days_day", "day"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    dim: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[int | None] = mapped_column(Integer)  # category / department id
    key_text: Mapped[str | None] = mapped_column(String(200))  # kind, area, source
    n: Mapped[int] = mapped_column(Integer)  # registered
    # the counts behind each key's rates (reports.metrics.CASE_FIGURES of the same names)
    resolved: Mapped[int] = mapped_column(Integer, server_default="0")
    on_time: Mapped[int] = mapped_column(Integer, server_default="0")
    callbacks_required: Mapped[int] = mapped_column(Integer, server_default="0")
    callbacks_reached: Mapped[int] = mapped_column(Integer, server_default="0")
    satisfied: Mapped[int] = mapped_column(Integer, server_default="0")
    rated: Mapped[int] = mapped_column(Integer, server_default="0")
    overdue_late: Mapped[int] = mapped_column(Integer, server_default="0")


class ReportCallDay(Base):
    """Calls offered on a day (Asia/Shanghai) by the call atoms of reports.metrics, with sums."""

    __tablename__ = "report_call_days"
    __table_args__ = (Index("ix_report_call_days_day", "day"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    direction: Mapped[CallDirection] = mapped_column(_enum(CallDirection, "call_direction"))
    outcome: Mapped[CallOutcome] = mapped_column(_enum(CallOutcome, "call_outcome"))
    was_answered: Mapped[bool] = mapped_column(Boolean)
    ended: Mapped[bool] = mapped_column(Boolean)
    has_wait: Mapped[bool] = mapped_column(Boolean)
    has_talk: Mapped[bool] = mapped_column(Boolean)
    within_15s: Mapped[bool] = mapped_column(Boolean)
    n: Mapped[int] = mapped_column(Integer)
    wait: Mapped[float | None]
    talk: Mapped[float | None]
    line: Mapped[int | None] = mapped_column(Integer)


class ReportCallHour(Base):
    """Inbound (and outbound) call traffic of one hour, for capacity planning (reports/traffic_rollup.py).

    `hour` is the hour's start as whole hours since 1970-01-01 UTC; the other columns are the
    sums reports.capacity plans from (offered incl. refused, answered, abandoned, talk and
    after-call work, waits, line holding) and the seats that answered in the hour.
    """

    __tablename__ = "report_call_hours"

    hour: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                      autoincrement=False)
    offered: Mapped[int] = mapped_column(Integer)
    refused: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    abandoned: Mapped[int] = mapped_column(Integer)
    within_15s: Mapped[int] = mapped_column(Integer)
    talked: Mapped[int] = mapped_column(Integer)
    talk_sum: Mapped[float]
    acw_n: Mapped[int] = mapped_column(Integer)
    acw_sum: Mapped[float]
    wait_answered_sum: Mapped[float]
    patience_n: Mapped[int] = mapped_column(Integer)
    wait_abandoned_sum: Mapped[float]
    held_n: Mapped[int] = mapped_column(Integer)
    hold_sum: Mapped[float]
    out_hold_sum: Mapped[float]
    seats: Mapped[int] = mapped_column(Integer)


class ReportRollupState(Base):
    """Per rollup ("cases", "calls"): rows updated after `watermark` are not trusted in it."""

    __tablename__ = "report_rollup_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    watermark: Mapped[datetime | None]
    refreshed_at: Mapped[datetime | None]


# the rollup refresh finds the days changed since its watermark through these (migration c3d4e5f6a7b8)
Index("ix_tickets_updated_at", Ticket.updated_at)
Index("ix_calls_updated_at", Call.updated_at)


# ---- callbacks/ (issue 5): click-to-call requests, notices, the scheduler's leader lease ----


class CallbackRequest(Base):
    """An operator's click-to-call (回访/回拨) waiting for the telephony process to place it.

    The web writes the row (it never opens AMI); the telephony process claims it, sends the
    Originate with `key` as the channel variable HOTLINE_CALLBACK_KEY, and the scheduler reads
    the outcome back from the Call row whose data.callback_key is `key`.
    status: requested → placing (claimed) → placed → done (outcome known) | failed | expired.
    """

    __tablename__ = "callback_requests"
    __table_args__ = (Index("ix_callback_requests_status", "status", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("callbacks.id"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    seat: Mapped[str] = mapped_column(String(32))
    phone: Mapped[str] = mapped_column(String(40))
    ticket_ref: Mapped[str | None] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]
    placed_at: Mapped[datetime | None]
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    outcome: Mapped[str | None] = mapped_column(String(24))  # the Call's callback_* outcome
    error: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(64))


class Notification(Base):
    """A deadline notice for the console (提醒, 超期, 督办, 回访超期, 延期待批, daily summary).

    `key` = kind:subject:due time, unique: a restart or a second scheduler never doubles a
    notice; a moved deadline gives new keys and the old open notices are dropped.
    status: open (shown) | dropped (deadline moved) | closed (the case left the state).
    """

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_status_department", "status", "department_id"),
        Index("ix_notifications_ticket", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    audience: Mapped[str] = mapped_column(String(16))  # department | supervisor | operator
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    callback_id: Mapped[int | None] = mapped_column(ForeignKey("callbacks.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    due_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="open")
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(String(64))  # the scheduler worker
    closed_at: Mapped[datetime | None]


class IdempotencyKey(Base):
    """One answered (or in-flight) request per (actor, Idempotency-Key): the same key again
    gets the stored answer and writes nothing (callcenter/idempotency.py)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("actor_id", "key", name="uq_idempotency_keys_actor_key"),
                      Index("ix_idempotency_keys_created_at", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer)  # None while the first request runs
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FormDraft(Base):
    """The 来电登记 form as typed (autosaved per operator and form; callcenter/drafts.py)."""

    __tablename__ = "form_drafts"
    __table_args__ = (UniqueConstraint("user_id", "form_key", name="uq_form_drafts_user_form"),
                      Index("ix_form_drafts_updated_at", "updated_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    form_key: Mapped[str] = mapped_column(String(100))
    linkedid: Mapped[str | None] = mapped_column(String(64))
    fields: Mapped[str] = mapped_column(Text)  # JSON: field name → value
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SeatGroup(Base):
    """A seat group (技能组) by its PBX queue: the maximum after-call work (话后整理) of its
    seats; the `default` row applies to every queue without its own."""

    __tablename__ = "seat_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    acw_max_s: Mapped[int] = mapped_column(Integer, default=60, server_default="60")


class SchedulerLease(Base):
    """The scheduler's leader lease on SQLite (PostgreSQL uses an advisory lock and records the
    holder here for the console only)."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime | None]
    renewed_at: Mapped[datetime | None]


# ---- knowledge base (知识库, issue 8; callcenter/kb/services.py, callcenter/kb/search.py) ----


class KbStatus(str, enum.Enum):
    draft = "draft"  # 草稿: never published yet
    in_review = "in_review"  # 待审核
    published = "published"  # 已发布
    expired = "expired"  # 已失效 (withdrawn, or past valid_until)


class KbEntry(Base):
    """A knowledge-base entry (知识库条目). Its text columns hold the published version (what
    search offers); a revision in progress lives in kb_entry_versions until it is published.

    tok_* hold the space-joined jieba tokens of the text (kb_search.index_text); SQLite indexes
    them in the FTS5 table kb_fts, PostgreSQL in the generated tsvector column `tsv` (GIN),
    which the ORM does not map (the migration creates it).
    """

    __tablename__ = "kb_entries"
    __table_args__ = (Index("ix_kb_entries_valid_until", "valid_until"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # 编号
    title: Mapped[str] = mapped_column(String(300))
    phrasings: Mapped[str] = mapped_column(Text, default="")  # 常见问法, joined by |
    answer: Mapped[str] = mapped_column(Text)  # 答复内容
    category: Mapped[str | None] = mapped_column(String(100))  # 问题分类 (a category's name)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)  # last day in force; None: open-ended
    basis: Mapped[str | None] = mapped_column(Text)  # 依据
    status: Mapped[KbStatus] = mapped_column(_enum(KbStatus, "kb_status"))
    version: Mapped[int] = mapped_column(Integer, default=0)  # the published version (0: none yet)
    draft_version: Mapped[int | None] = mapped_column(Integer)  # a revision in progress
    tok_title: Mapped[str] = mapped_column(Text, default="")
    tok_phrasings: Mapped[str] = mapped_column(Text, default="")
    tok_answer: Mapped[str] = mapped_column(Text, default="")
    # the thesaurus concepts (atom and word-group codes) of tok_title + tok_phrasings and of
    # tok_answer (kb_search.entry_concepts); PostgreSQL indexes them in the generated `csv` (GIN)
    con_head: Mapped[str] = mapped_column(Text, default="", server_default="")
    con_body: Mapped[str] = mapped_column(Text, default="", server_default="")
    # callers' phrasings the hotline learned and the department published (kb_phrasings), joined
    # by |: searched like 常见问法 (their tokens follow the official ones in tok_phrasings)
    learned: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class KbEntryVersion(Base):
    """Every version of an entry, as written (the full history). status: draft | in_review |
    published (the live one) | superseded | rejected."""

    __tablename__ = "kb_entry_versions"
    __table_args__ = (UniqueConstraint("entry_id", "version", name="uq_kb_entry_versions_entry_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("kb_entries.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    phrasings: Mapped[str] = mapped_column(Text, default="")
    answer: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(100))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    basis: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)  # why (a reviewer's remark, the source case)
    source_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))  # proposed from a case
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    reviewed_at: Mapped[datetime | None]


class KbSynonym(Base):
    """A group of words searched as one (拆迁 征收; 物业 物管; dialect 么子 什么), admin-kept.
    `words`: space-separated; a query containing any of them also searches the others."""

    __tablename__ = "kb_synonyms"

    id: Mapped[int] = mapped_column(primary_key=True)
    words: Mapped[str] = mapped_column(String(500))
    note: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class KbPhrasing(Base):
    """A caller's phrasing learned for an entry (issue 16): the text an operator searched before
    answering a case with the entry (source "search"), or a 直接答复 case's 诉求内容 (source
    "history", `hotline kb learn --from-history`). Proposed to the entry's department, which
    publishes it (then searched like 常见问法, kb_entries.learned) or rejects it. `norm` (the
    normalised text) keeps one row per entry and wording; `seen` counts how often it came."""

    __tablename__ = "kb_phrasings"
    __table_args__ = (
        UniqueConstraint("entry_id", "norm", name="uq_kb_phrasings_entry_norm"),
        Index("ix_kb_phrasings_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("kb_entries.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(String(200))
    norm: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))  # search | history
    status: Mapped[str] = mapped_column(String(16))  # proposed | published | rejected
    seen: Mapped[int] = mapped_column(Integer, default=1)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    proposed_by: Mapped[str] = mapped_column(String(100))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    reviewed_at: Mapped[datetime | None]


class KbUse(Base):
    """A case answered directly (直接答复) with an entry: which entry, which version."""

    __tablename__ = "kb_uses"
    __table_args__ = (Index("ix_kb_uses_entry", "entry_id"), Index("ix_kb_uses_ticket", "ticket_id"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("kb_entries.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime]


# ---- operations (issue 7; callcenter/ops/heartbeat.py, callcenter/ops/web.py) ----


class ProcessHeartbeat(Base):
    """What each long-running process last said about itself, every few seconds: the telephony
    adapter (AMI link, lines, queue, spool depth), each web worker (its request counters, for
    /metrics across workers). /readyz and /metrics read these rows; a row not renewed for a
    while means the process is gone."""

    __tablename__ = "process_heartbeats"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)  # telephony:<pbx>, web:<host>:<pid>
    kind: Mapped[str] = mapped_column(String(16))  # telephony | web
    host: Mapped[str] = mapped_column(String(64))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# ---- call recordings (录音, issue 18) -------------------------------------------------------------


class RecordingState(str, enum.Enum):
    on_pbx = "on_pbx"  # seen in the PBX's spool, not yet copied
    collected = "collected"  # copied to the hotline's storage, size and SHA-256 verified
    removed = "removed"  # deleted by the retention policy


class Recording(Base):
    """One call's recording (MixMonitor's `<pbx>-<linkedid>.wav`), linked to the call by that name.
    `path` is relative to HOTLINE_RECORDINGS_DIR once collected."""

    __tablename__ = "recordings"
    __table_args__ = (
        UniqueConstraint("pbx", "linkedid", name="uq_recordings_pbx_linkedid"),
        Index("ix_recordings_call", "call_id"),
        Index("ix_recordings_ticket_ref", "ticket_ref"),
        Index("ix_recordings_state_started", "state", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    pbx: Mapped[str] = mapped_column(String(40))
    linkedid: Mapped[str] = mapped_column(String(64))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    ticket_ref: Mapped[str | None] = mapped_column(String(40))  # a callback's case (the call's ticket_ref)
    state: Mapped[RecordingState] = mapped_column(_enum(RecordingState, "recording_state"))
    path: Mapped[str | None] = mapped_column(String(300))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    duration_s: Mapped[float | None]
    started_at: Mapped[datetime]  # the call's offered time: retention counts from it
    collected_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecordingRetention(Base):
    """How long recordings are kept, per case kind (`*` = calls of any other kind or no case)."""

    __tablename__ = "recording_retention"

    kind: Mapped[str] = mapped_column(String(24), primary_key=True)
    days: Mapped[int] = mapped_column(Integer)


class LegalHold(Base):
    """A legal hold on a case: the retention policy never removes its calls' recordings."""

    __tablename__ = "legal_holds"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    set_by: Mapped[str] = mapped_column(String(100))
    set_at: Mapped[datetime]


# ---- quality inspection (质检, issue 18; callcenter/qa/services.py) -----------------------------------


class QaChecklist(Base):
    """A checklist (质检表) the admin keeps: items with weights; a fatal item (致命项) failed scores
    the whole call 0. New inspections use the active checklist; a scored one keeps its own."""

    __tablename__ = "qa_checklists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QaItem(Base):
    __tablename__ = "qa_items"
    __table_args__ = (Index("ix_qa_items_checklist", "checklist_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    checklist_id: Mapped[int] = mapped_column(ForeignKey("qa_checklists.id"))
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200))
    weight: Mapped[int] = mapped_column(Integer)  # points when met; a fatal item has weight 0
    fatal: Mapped[bool] = mapped_column(Boolean, default=False)


class QaState(str, enum.Enum):
    pending = "pending"  # picked, not yet scored
    scored = "scored"  # scored; the operator may appeal once
    appealed = "appealed"  # the operator appealed; a supervisor decides
    final = "final"  # the appeal decided (upheld: re-scored; rejected: the score stands)


class QaInspection(Base):
    """One call picked for inspection (质检): by the weekly random sample or by a rule (不满意
    回访, 催办, a long call), scored against a checklist by a supervisor. One per call."""

    __tablename__ = "qa_inspections"
    __table_args__ = (
        UniqueConstraint("call_id", name="uq_qa_inspections_call"),
        Index("ix_qa_inspections_operator", "operator_id", "state"),
        Index("ix_qa_inspections_week", "week"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"))
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"))
    operator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    week: Mapped[date] = mapped_column(Date)  # the Monday (Asia/Shanghai) of the sample's week
    reason: Mapped[str] = mapped_column(String(24))  # sample, dissatisfied, chase, long
    state: Mapped[QaState] = mapped_column(_enum(QaState, "qa_state"))
    checklist_id: Mapped[int | None] = mapped_column(ForeignKey("qa_checklists.id"))
    # item id (str) → true when met; comments: [{"at_s": seconds into the call, "text", "by"}]
    results: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    comments: Mapped[list[Any] | None] = mapped_column(JSON)
    score: Mapped[float | None]  # 0–100
    fatal: Mapped[bool | None] = mapped_column(Boolean)
    first_score: Mapped[float | None]  # the score before an upheld appeal changed it
    scored_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    scored_at: Mapped[datetime | None]
    appeal_text: Mapped[str | None] = mapped_column(Text)
    appealed_at: Mapped[datetime | None]
    decision: Mapped[str | None] = mapped_column(String(16))  # upheld, rejected
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    picked_at: Mapped[datetime] = mapped_column(default=utcnow)
