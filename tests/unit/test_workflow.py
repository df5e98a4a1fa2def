"""Every legal and illegal transition of the pure workflow (DOMAIN.md 'Case states').

The expected table is written out here by hand from DOMAIN.md, not derived from workflow.RULES,
so a wrong rule in the code fails a test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.cases.workflow import Action, Actor, CaseState, Context, plan
from callcenter.core.errors import Conflict, Forbidden, Invalid
from callcenter.store.models import CallbackResult, Kind, Role, Satisfaction, Status

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
DUE = NOW + timedelta(days=5)
DEPT = 7

LINA = Actor(1, "李娜", Role.operator)
ZHANGWEI = Actor(2, "张伟", Role.clerk, department_id=DEPT)
WANGFANG = Actor(3, "王芳", Role.clerk, department_id=99)
CHENJING = Actor(4, "陈静", Role.supervisor)
ADMIN = Actor(5, "管理员", Role.admin)

OPEN = {"registered", "dispatched", "accepted", "returned", "reopened"}
# action → {from state: to state}; everything else is a conflict
LEGAL: dict[str, dict[str, str]] = {
    "answer": {"registered": "answered", "reopened": "answered"},
    "dispatch": {"registered": "dispatched", "reopened": "dispatched"},
    "accept": {"dispatched": "accepted", "reopened": "accepted"},
    "return": {"dispatched": "returned", "accepted": "returned"},
    "redispatch": {"returned": "dispatched"},
    "request_extension": {s: s for s in ("dispatched", "accepted", "reopened")},
    "decide_extension": {s: s for s in ("dispatched", "accepted", "reopened")},
    "resolve": {"accepted": "resolved", "reopened": "resolved"},
    "callback": {"resolved": "closed", "answered": "closed"},
    "reopen": {"resolved": "reopened", "answered": "reopened", "closed": "reopened"},
    "close": {"resolved": "closed", "answered": "closed"},
    "merge": {s: "merged" for s in OPEN},
    "invalidate": {"registered": "invalid"},
    "urge": {s: s for s in OPEN},
}
# who may take each action (DOMAIN.md 'Who may do what')
ROLES = {
    "answer": {Role.operator, Role.supervisor},
    "dispatch": {Role.operator, Role.supervisor},
    "redispatch": {Role.operator, Role.supervisor},
    "merge": {Role.operator, Role.supervisor},
    "invalidate": {Role.operator, Role.supervisor},
    "callback": {Role.operator, Role.supervisor},
    "accept": {Role.clerk},
    "return": {Role.clerk},
    "request_extension": {Role.clerk},
    "resolve": {Role.clerk},
    "decide_extension": {Role.supervisor},
    "urge": {Role.supervisor},
    "reopen": {Role.supervisor},
    "close": {Role.supervisor},
}
ACTOR_FOR = {Role.operator: LINA, Role.clerk: ZHANGWEI, Role.supervisor: CHENJING, Role.admin: ADMIN}

PARAMS = {
    "answer": {"answer": "按政策答复来电人"},
    "dispatch": {"department_id": DEPT},
    "redispatch": {"department_id": DEPT},
    "return": {"reason": "不属于本单位职责"},
    "request_extension": {"until": DUE + timedelta(days=3), "reason": "需现场勘查"},
    "decide_extension": {"approve": True},
    "resolve": {"resolution": "已现场处理"},
    "callback": {"outcome": "satisfied", "words": "满意"},
    "reopen": {"reason": "市民反映未解决"},
    "close": {},
    "merge": {"into_id": 42, "into_number": "GD20261126-0001"},
    "invalidate": {"reason": "骚扰电话"},
    "urge": {"note": "请尽快办理"},
    "accept": {},
}


def ctx(now: datetime = NOW) -> Context:
    return Context(
        now=now,
        accept_due=lambda at, urgent: at + timedelta(minutes=30 if urgent else 120),
        max_extension_until=lambda due, kind: due + timedelta(days=14),
        department_exists=lambda i: i in (DEPT, 99),
    )


def state(status: str, **kw) -> CaseState:  # type: ignore[no-untyped-def]
    base = dict(
        status=Status(status),
        kind=Kind.complaint,
        urgent=False,
        department_id=DEPT,
        due_at=DUE,
        extension_requested_until=DUE + timedelta(days=3) if status != "registered" else None,
        extensions_granted=0,
        no_callback=False,
    )
    base.update(kw)
    return CaseState(**base)  # type: ignore[arg-type]


def _state_for(action: str, status: str) -> CaseState:
    # a request_extension needs no pending request; decide_extension needs one
    if action == "request_extension":
        return state(status, extension_requested_until=None)
    return state(status)


@pytest.mark.parametrize("action", sorted(LEGAL))
@pytest.mark.parametrize("status", [s.value for s in Status])
def test_each_action_from_each_state_is_applied_or_refused_as_a_conflict(action: str, status: str) -> None:
    role = sorted(ROLES[action], key=lambda r: r.value)[0]
    actor = ACTOR_FOR[role]
    st = _state_for(action, status)
    if status in LEGAL[action]:
        ch = plan(st, Action(action), actor, dict(PARAMS[action]), ctx())
        assert ch.to_status.value == LEGAL[action][status]
        assert ch.from_status.value == status
    else:
        with pytest.raises(Conflict):
            plan(st, Action(action), actor, dict(PARAMS[action]), ctx())


@pytest.mark.parametrize("action", sorted(LEGAL))
@pytest.mark.parametrize("role", list(Role))
def test_a_role_that_may_never_take_an_action_is_forbidden(action: str, role: Role) -> None:
    status = next(iter(LEGAL[action]))
    st = _state_for(action, status)
    if role in ROLES[action]:
        plan(st, Action(action), ACTOR_FOR[role], dict(PARAMS[action]), ctx())
    else:
        with pytest.raises(Forbidden):
            plan(st, Action(action), ACTOR_FOR[role], dict(PARAMS[action]), ctx())


def test_a_forbidden_role_gets_403_even_from_a_wrong_state() -> None:
    with pytest.raises(Forbidden):
        plan(state("closed"), Action.accept, LINA, {}, ctx())


@pytest.mark.parametrize("action", ["accept", "return", "request_extension", "resolve"])
def test_a_clerk_of_another_department_is_forbidden(action: str) -> None:
    status = next(iter(LEGAL[action]))
    with pytest.raises(Forbidden):
        plan(_state_for(action, status), Action(action), WANGFANG, dict(PARAMS[action]), ctx())


@pytest.mark.parametrize(
    "action,params,field",
    [
        ("answer", {}, "answer"),
        ("answer", {"answer": "   "}, "answer"),
        ("dispatch", {}, "department"),
        ("dispatch", {"department_id": 12345}, "department"),
        ("return", {}, "reason"),
        ("resolve", {"resolution": ""}, "resolution"),
        ("callback", {"outcome": "happy"}, "outcome"),
        ("reopen", {}, "reason"),
        ("merge", {}, "into"),
        ("invalidate", {}, "reason"),
        ("urge", {}, "note"),
        ("decide_extension", {}, "approve"),
        ("request_extension", {"reason": "x"}, "until"),
    ],
)
def test_a_missing_or_wrong_field_is_named(action: str, params: dict, field: str) -> None:
    status = next(iter(LEGAL[action]))
    role = sorted(ROLES[action], key=lambda r: r.value)[0]
    with pytest.raises(Invalid) as e:
        plan(_state_for(action, status), Action(action), ACTOR_FOR[role], params, ctx())
    assert e.value.field == field


def test_dissatisfied_callback_reopens_the_case_to_its_department() -> None:
    ch = plan(state("resolved"), Action.callback, LINA, {"outcome": "dissatisfied", "words": "没解决"}, ctx())
    assert ch.to_status is Status.reopened
    assert ch.updates["satisfaction"] is Satisfaction.dissatisfied
    assert ch.updates["resolved_at"] is None
    assert ch.note == "没解决"


def test_unreachable_callback_closes_the_case_marked_unreachable() -> None:
    ch = plan(state("resolved"), Action.callback, LINA, {"outcome": "unreachable"}, ctx())
    assert ch.to_status is Status.closed
    assert ch.updates["callback_result"] is CallbackResult.unreachable


def test_resolving_a_case_marked_no_callback_needs_no_callback() -> None:
    ch = plan(state("accepted", no_callback=True), Action.resolve, ZHANGWEI, {"resolution": "已办"}, ctx())
    assert ch.updates["callback_result"] is CallbackResult.not_needed
    ch = plan(state("accepted"), Action.resolve, ZHANGWEI, {"resolution": "已办"}, ctx())
    assert ch.updates["callback_result"] is CallbackResult.pending


def test_an_extension_must_be_asked_before_the_deadline() -> None:
    late = ctx(DUE + timedelta(minutes=1))
    with pytest.raises(Conflict):
        plan(state("accepted", extension_requested_until=None), Action.request_extension, ZHANGWEI,
             dict(PARAMS["request_extension"]), late)


def test_an_extension_longer_than_the_rules_allow_is_refused() -> None:
    with pytest.raises(Invalid) as e:
        plan(state("accepted", extension_requested_until=None), Action.request_extension, ZHANGWEI,
             {"until": DUE + timedelta(days=30), "reason": "x"}, ctx())
    assert e.value.field == "until"


def test_a_second_extension_request_while_one_waits_is_a_conflict() -> None:
    with pytest.raises(Conflict):
        plan(state("accepted"), Action.request_extension, ZHANGWEI, dict(PARAMS["request_extension"]), ctx())


def test_an_approved_extension_moves_the_deadline_and_a_refused_one_does_not() -> None:
    st = state("accepted")
    ok = plan(st, Action.decide_extension, CHENJING, {"approve": True}, ctx())
    assert ok.updates["due_at"] == st.extension_requested_until
    assert ok.updates["extensions_granted"] == 1
    no = plan(st, Action.decide_extension, CHENJING, {"approve": False}, ctx())
    assert "due_at" not in no.updates
    assert no.updates["extension_requested_until"] is None


def test_deciding_with_no_request_waiting_is_a_conflict() -> None:
    with pytest.raises(Conflict):
        plan(state("accepted", extension_requested_until=None), Action.decide_extension, CHENJING,
             {"approve": True}, ctx())


def test_redispatch_without_a_department_sends_it_back_to_the_same_one() -> None:
    ch = plan(state("returned"), Action.redispatch, LINA, {}, ctx())
    assert ch.updates["department_id"] == DEPT


def test_dispatch_sets_the_accept_deadline_shorter_when_urgent() -> None:
    normal = plan(state("registered"), Action.dispatch, LINA, {"department_id": DEPT}, ctx())
    urgent = plan(state("registered", urgent=True), Action.dispatch, LINA, {"department_id": DEPT}, ctx())
    assert normal.updates["accept_due_at"] - NOW == timedelta(minutes=120)
    assert urgent.updates["accept_due_at"] - NOW == timedelta(minutes=30)
