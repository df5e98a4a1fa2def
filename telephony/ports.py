"""The telephony port: what the adapter hands to the rest of the system.

`telephony/` turns AMI traffic into `CallFact`s; `callcenter/` implements `CallSink` to store
them (callcenter.calls.services.StoreCallSink) and a `Publisher` to announce them (callcenter.core.bus).
Nothing here imports panoramisk or the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

OUTCOMES = (
    "in_progress",
    "answered",
    "abandoned",
    "refused",
    "callback_answered",
    "callback_unanswered",
    "callback_failed",
)
FINAL_OUTCOMES = frozenset(OUTCOMES) - {"in_progress"}


@dataclass(frozen=True, slots=True)
class CallFact:
    """The state of one call as the tracker knows it now; the latest fact of a call wins.

    Keyed by (pbx, linkedid). Times are aware UTC datetimes. `line` is how many trunk lines were
    in use when the call took its line (itself included); None for a call that never held one
    (refused, or a callback that was not answered). `wait_s` is offered → answered for
    answered calls and offered → hang-up for abandoned ones; `talk_s` answered → ended.
    """

    pbx: str
    linkedid: str
    uniqueid: str | None
    direction: str  # 'in' | 'out'
    caller_number: str | None
    offered_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: str = "in_progress"
    seat: str | None = None
    operator_name: str | None = None
    queue: str | None = None
    line: int | None = None
    wait_s: float | None = None
    talk_s: float | None = None
    transferred_to: str | None = None
    ticket_ref: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown call outcome {self.outcome!r}")
        if self.direction not in ("in", "out"):
            raise ValueError(f"unknown call direction {self.direction!r}")
        if self.offered_at.tzinfo is None:
            raise ValueError("offered_at must be an aware datetime")

    @property
    def key(self) -> tuple[str, str]:
        return (self.pbx, self.linkedid)

    @property
    def is_final(self) -> bool:
        return self.outcome in FINAL_OUTCOMES

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (datetimes as ISO 8601); `from_json` reverses it exactly."""
        d = asdict(self)
        for k in ("offered_at", "answered_at", "ended_at"):
            if d[k] is not None:
                d[k] = d[k].isoformat()
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CallFact:
        d = dict(d)
        for k in ("offered_at", "answered_at", "ended_at"):
            if d.get(k) is not None:
                d[k] = datetime.fromisoformat(d[k])
        return cls(**d)


class CallSink(Protocol):
    """Where call facts are stored.

    `write` is an idempotent upsert keyed by (pbx, linkedid): the last fact given for a key is
    the stored state, and writing the same facts again changes nothing. It raises on any
    database trouble, so that the caller can spool the facts and retry later.
    """

    async def write(self, facts: Sequence[CallFact]) -> None: ...


class Publisher(Protocol):
    """The event bus surface the adapter uses (callcenter.core.bus.InProcessBus and friends)."""

    async def publish(self, topic: str, payload: dict[str, Any]) -> None: ...
