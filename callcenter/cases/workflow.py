"""The case workflow as a pure state machine (DOMAIN.md, 'Case states').

`plan(state, action, actor, params, ctx)` checks the role, the case's state and the action's
fields and returns the `Change` to apply — the new status, the field updates and the audit
note — or raises Forbidden / Conflict / Invalid. It does no I/O: services.py loads the case,
applies the change and appends the TicketEvent in one transaction.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from callcenter.core.errors import Conflict, Forbidden, Invalid, role_zh
from callcenter.core.glossary import CASE_ACTION_LABELS, CASE_STATE_LABELS
from callcenter.store.models import (
    OPEN_STATES,
    CallbackResult,
    Kind,
    Role,
    Satisfaction,
    Status,
)


class Action(str, enum.Enum):
    register = "register"
    answer = "answer"  # 直接答复
    dispatch = "dispatch"  # 派单
    accept = "accept"  # 签收
    return_ = "return"  # 退单
    redispatch = "redispatch"
    request_extension = "request_extension"  # 延期申请
    decide_extension = "decide_extension"  # 延期审批
    resolve = "resolve"  # 办结
    callback = "callback"  # 回访结果
    reopen = "reopen"  # 重办
    close = "close"  # 归档
    merge = "merge"  # 重复件 / 并单
    invalidate = "invalidate"  # 无效
    urge = "urge"  # 督办
    chase = "chase"  # 催办: the citizen called again about the open case


_OP = frozenset({Role.operator, Role.supervisor})
_CLERK = frozenset({Role.clerk})
_SUP = frozenset({Role.supervisor})


@dataclass(frozen=True)
class Rule:
    from_states: frozenset[Status]
    to: Status | None  # None: the status does not change (or depends on the fields: callback)
    roles: frozenset[Role]


RULES: dict[Action, Rule] = {
    Action.answer: Rule(frozenset({Status.registered, Status.reopened}), Status.answered, _OP),
    Action.dispatch: Rule(frozenset({Status.registered, Status.reopened}), Status.dispatched, _OP),
    Action.accept: Rule(frozenset({Status.dispatched, Status.reopened}), Status.accepted, _CLERK),
    Action.return_: Rule(frozenset({Status.dispatched, Status.accepted}), Status.returned, _CLERK),
    Action.redispatch: Rule(frozenset({Status.returned}), Status.dispatched, _OP),
    Action.request_extension: Rule(
        frozenset({Status.dispatched, Status.accepted, Status.reopened}), None, _CLERK
    ),
    Action.decide_extension: Rule(
        frozenset({Status.dispatched, Status.accepted, Status.reopened}), None, _SUP
    ),
    Action.resolve: Rule(frozenset({Status.accepted, Status.reopened}), Status.resolved, _CLERK),
    Action.callback: Rule(frozenset({Status.resolved, Status.answered}), None, _OP),
    Action.reopen: Rule(frozenset({Status.resolved, Status.answered, Status.closed}), Status.reopened, _SUP),
    Action.close: Rule(frozenset({Status.resolved, Status.answered}), Status.closed, _SUP),
    Action.merge: Rule(frozenset(OPEN_STATES), Status.merged, _OP),
    Action.invalidate: Rule(frozenset({Status.registered}), Status.invalid, _OP),
    Action.urge: Rule(frozenset(OPEN_STATES), None, _SUP),
    Action.chase: Rule(frozenset(OPEN_STATES), None, _OP),
}

# who may take each action at all (403 otherwise); `register` is the operator's too
ROLES_FOR: dict[Action, frozenset[Role]] = {a: r.roles for a, r in RULES.items()} | {Action.register: _OP}

CALLBACK_OUTCOMES = {"satisfied", "basically", "dissatisfied", "unreachable"}


@dataclass(frozen=True)
class Actor:
    id: int | None
    name: str
    role: Role
    department_id: int | None = None

    @property
    def is_system(self) -> bool:
        return self.id is None


SYSTEM = Actor(id=None, name="系统", role=Role.supervisor)


@dataclass(frozen=True)
class CaseState:
    """What the rules need to know of a case."""

    status: Status
    kind: Kind
    urgent: bool
    department_id: int | None
    due_at: datetime | None
    extension_requested_until: datetime | None
    extensions_granted: int
    no_callback: bool
    callback_required_by_category: bool = True
    category_id: int = 0
    first_satisfaction: Satisfaction | None = None


@dataclass
class Context:
    """Time and deadline arithmetic given to the rules (pure functions of their inputs)."""

    now: datetime
    accept_due: Callable[[datetime, bool], datetime]  # (dispatched_at, urgent) → 签收 deadline
    max_extension_until: Callable[[datetime, Kind], datetime]  # (current due, kind) → latest new due
    department_exists: Callable[[int], bool] = lambda _id: True
    # (from, kind, category id, urgent) → resolve deadline: a reopened case's new one (重办)
    resolve_due: Callable[[datetime, Kind, int, bool], datetime] | None = None


@dataclass
class Change:
    action: Action
    from_status: Status
    to_status: Status
    updates: dict[str, Any] = field(default_factory=dict)
    note: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def _text(params: dict[str, Any], name: str, label: str) -> str:
    v = params.get(name)
    if not isinstance(v, str) or not v.strip():
        raise Invalid(f"请填写{label}", field=name)
    return v.strip()


def _dept(params: dict[str, Any], ctx: Context) -> int:
    v = params.get("department_id")
    if not isinstance(v, int) or isinstance(v, bool):
        raise Invalid("请选择承办单位", field="department")
    if not ctx.department_exists(v):
        raise Invalid("承办单位不存在", field="department")
    return v


def check_allowed(state: CaseState, action: Action, actor: Actor) -> Rule:
    """Raise Forbidden if the role may never take the action, Conflict if not from this state."""
    if action not in RULES:
        raise Invalid(f"没有“{action}”这种操作", field="action")
    rule = RULES[action]
    if actor.role not in rule.roles:
        raise Forbidden(f"{role_zh(actor.role)}不能{CASE_ACTION_LABELS.get(action, action.value)}")
    if actor.role is Role.clerk and state.department_id != actor.department_id:
        raise Forbidden("该工单属于其他承办单位，您无权查看或办理")
    if state.status not in rule.from_states:
        raise Conflict(f"工单当前为“{CASE_STATE_LABELS[state.status]}”，不能{CASE_ACTION_LABELS.get(action, action.value)}")
    return rule


def plan(state: CaseState, action: Action, actor: Actor, params: dict[str, Any], ctx: Context) -> Change:
    rule = check_allowed(state, action, actor)
    now = ctx.now
    ch = Change(action=action, from_status=state.status, to_status=rule.to or state.status)
    u = ch.updates

    if action is Action.answer:
        ch.note = _text(params, "answer", "答复内容")
        u.update(resolution=ch.note, resolved_at=now, department_id=None)
        u.update(_callback_required(state))
    elif action in (Action.dispatch, Action.redispatch):
        dept = params.get("department_id")
        if action is Action.redispatch and dept is None:
            dept = state.department_id  # the return was refused: back to the same department
            params = {**params, "department_id": dept}
        dept = _dept(params, ctx)
        u.update(
            department_id=dept,
            dispatched_at=now,
            ever_dispatched=True,
            accept_due_at=ctx.accept_due(now, state.urgent),
            accepted_at=None,
            return_reason=None,
        )
        ch.note = params.get("note")
        ch.data["department_id"] = dept
    elif action is Action.accept:
        u.update(accepted_at=now)
    elif action is Action.return_:
        ch.note = _text(params, "reason", "退单理由")
        u.update(return_reason=ch.note, extension_requested_until=None, extension_reason=None)
    elif action is Action.request_extension:
        if state.extension_requested_until is not None:
            raise Conflict("已有延期申请等待审批")
        if state.due_at is not None and now >= state.due_at:
            raise Conflict("延期须在办理期限届满前申请")
        until = params.get("until")
        if not isinstance(until, datetime):
            raise Invalid("请填写新的办理期限", field="until")
        if state.due_at is not None:
            if until <= state.due_at:
                raise Invalid("新的办理期限须晚于当前期限", field="until")
            if until > ctx.max_extension_until(state.due_at, state.kind):
                raise Invalid("延期超过了规定允许的最长天数", field="until")
        ch.note = _text(params, "reason", "延期理由")
        u.update(extension_requested_until=until, extension_reason=ch.note)
        ch.data["until"] = until.isoformat()
    elif action is Action.decide_extension:
        if state.extension_requested_until is None:
            raise Conflict("没有等待审批的延期申请")
        approve = params.get("approve")
        if not isinstance(approve, bool):
            raise Invalid("请选择批准或不批准", field="approve")
        ch.note = params.get("note")
        ch.data["approve"] = approve
        if approve:
            u.update(due_at=state.extension_requested_until, extensions_granted=state.extensions_granted + 1)
            ch.data["until"] = state.extension_requested_until.isoformat()
        u.update(extension_requested_until=None, extension_reason=None)
    elif action is Action.resolve:
        ch.note = _text(params, "resolution", "处理情况")
        u.update(resolution=ch.note, resolved_at=now, extension_requested_until=None, extension_reason=None)
        u.update(_callback_required(state))
    elif action is Action.callback:
        outcome = params.get("outcome")
        if outcome not in CALLBACK_OUTCOMES:
            raise Invalid(
                "回访结果须为：满意、基本满意、不满意或联系不上", field="outcome"
            )
        words = params.get("words")
        ch.note = words
        ch.data["outcome"] = outcome
        u.update(callback_at=now)
        if outcome == "unreachable":
            ch.to_status = Status.closed
            u.update(callback_result=CallbackResult.unreachable, closed_at=now)
        else:
            sat = Satisfaction(outcome)
            u.update(callback_result=CallbackResult.reached, satisfaction=sat)
            if isinstance(params.get("solved"), bool):
                u["solved"] = params["solved"]
            if state.first_satisfaction is None:
                u["first_satisfaction"] = sat  # 满意率 counts the first reached callback
            if sat is Satisfaction.dissatisfied:
                # 不满意 → 重办: back to the department with the citizen's words, a new deadline
                ch.to_status = Status.reopened
                u.update(resolved_at=None, closed_at=None)
                u.update(_reopen_deadline(state, ctx))
            else:
                ch.to_status = Status.closed
                u.update(closed_at=now)
    elif action is Action.reopen:
        ch.note = _text(params, "reason", "重办理由")
        u.update(resolved_at=None, closed_at=None)
        u.update(_reopen_deadline(state, ctx))
    elif action is Action.close:
        ch.note = params.get("note")
        u.update(closed_at=now)
    elif action is Action.merge:
        into = params.get("into_id")
        if not isinstance(into, int):
            raise Invalid("请填写要并入的工单号", field="into")
        ch.note = params.get("note")
        u.update(merged_into_id=into, closed_at=now)
        ch.data["into"] = params.get("into_number")
    elif action is Action.invalidate:
        ch.note = _text(params, "reason", "无效原因")
        u.update(closed_at=now)
    elif action is Action.urge:
        ch.note = _text(params, "note", "督办意见")
    elif action is Action.chase:
        note = params.get("note")
        ch.note = note.strip() if isinstance(note, str) and note.strip() else "市民来电催办"
    return ch


def _reopen_deadline(state: CaseState, ctx: Context) -> dict[str, Any]:
    """重办: a new resolve deadline from the reopening (the kind's rule, sla_rules), judged by it."""
    if ctx.resolve_due is None:
        return {}
    return {"due_at": ctx.resolve_due(ctx.now, state.kind, state.category_id, state.urgent),
            "extension_requested_until": None, "extension_reason": None}


def _callback_required(state: CaseState) -> dict[str, Any]:
    if state.no_callback or not state.callback_required_by_category:
        return {"callback_result": CallbackResult.not_needed}
    # the latest reached answer (satisfaction) stays until a new callback reaches the citizen
    return {"callback_result": CallbackResult.pending, "solved": None}
