"""Request and response bodies of the JSON API (/api/v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

KindId = Literal["complaint", "consultation", "report", "suggestion", "help", "praise", "disclosure"]
StatusId = Literal[
    "registered", "answered", "dispatched", "accepted", "returned", "resolved", "reopened", "closed", "merged", "invalid"
]
ActionId = Literal[
    "answer", "dispatch", "accept", "return", "redispatch", "request_extension", "decide_extension",
    "resolve", "callback", "reopen", "close", "merge", "invalidate", "urge",
]


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: KindId = Field(description="诉求类型")
    category: str = Field(min_length=1, max_length=100, description="问题分类 (its name)")
    content: str = Field(min_length=1, max_length=20000, description="诉求内容")
    caller_phone: str = Field(min_length=1, max_length=40, description="来电号码")
    caller_name: str | None = Field(default=None, max_length=100, description="来电人姓名")
    address: str | None = Field(default=None, max_length=300)
    area: str | None = Field(default=None, max_length=100)
    urgent: bool = False
    confidential: bool = False
    no_callback: bool = Field(default=False, description="不需回访 (anonymous or declined)")
    call_id: int | None = Field(default=None, ge=1, le=2**62, description="the Call this case was registered from")


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: ActionId
    version: int = Field(ge=1, le=2**31, description="the version of the case the client saw")
    department: str | None = Field(default=None, max_length=100, description="dispatch / redispatch: code or name")
    answer: str | None = Field(default=None, max_length=20000, description="answer: 答复内容")
    resolution: str | None = Field(default=None, max_length=20000, description="resolve: 处理情况")
    reason: str | None = Field(default=None, max_length=5000, description="return / request_extension / reopen / invalidate")
    until: datetime | None = Field(default=None, description="request_extension: the new deadline")
    approve: bool | None = Field(default=None, description="decide_extension")
    outcome: Literal["satisfied", "basically", "dissatisfied", "unreachable"] | None = Field(
        default=None, description="callback"
    )
    words: str | None = Field(default=None, max_length=5000, description="callback: the citizen's words")
    solved: bool | None = Field(default=None, description="callback: the citizen says it is solved")
    into: str | None = Field(default=None, max_length=32, description="merge: the earlier case's number")
    note: str | None = Field(default=None, max_length=5000)


class TicketOut(BaseModel):
    number: str
    status: StatusId
    status_label: str
    kind: KindId
    kind_label: str
    category: str | None
    content: str
    caller_name: str | None
    caller_phone: str | None
    identity_hidden: bool
    address: str | None
    area: str | None
    urgent: bool
    confidential: bool
    no_callback: bool
    department: str | None
    department_code: str | None
    suggested_department: str | None
    suggested_department_code: str | None
    source: str
    external_ref: str | None
    registered_at: datetime
    dispatched_at: datetime | None
    accept_due_at: datetime | None
    accepted_at: datetime | None
    due_at: datetime | None
    resolution: str | None
    resolved_at: datetime | None
    closed_at: datetime | None
    return_reason: str | None
    extension_requested_until: datetime | None
    extension_reason: str | None
    extensions_granted: int
    urge_count: int
    reopen_count: int
    chase_count: int = Field(0, description="催办次数: how often the citizen called again about the open case")
    merged_into_id: int | None
    callback_result: Literal["pending", "reached", "unreachable", "not_needed"] | None
    satisfaction: Literal["satisfied", "basically", "dissatisfied"] | None  # the latest reached callback
    first_satisfaction: Literal["satisfied", "basically", "dissatisfied"] | None = None  # the first one
    solved: bool | None
    callback_at: datetime | None
    version: int


class TicketPage(BaseModel):
    items: list[TicketOut]
    total: int


class EventOut(BaseModel):
    at: datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    note: str | None
    data: dict | None


class ErrorOut(BaseModel):
    detail: str
    field: str | None = None


class NamedOut(BaseModel):
    id: int
    name: str
    code: str | None = None


class SuggestOut(BaseModel):
    department: str | None
    department_code: str | None


class CallOut(BaseModel):
    id: int
    pbx: str
    direction: Literal["in", "out"]
    caller_number: str | None
    offered_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    outcome: str
    seat: str | None
    line: int | None
    wait_s: float | None
    talk_s: float | None


class CallerHistoryOut(BaseModel):
    calls: list[CallOut]
    tickets: list[TicketOut]
