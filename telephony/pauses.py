"""Queue members' pause state (示忙) as the PBX has it: pure, fed with AMI messages in wire order.

The PBX is the truth. What tells us:

- `QueueMemberPause` (class `agent`): every QueuePause (ours or another AMI client's), and
  `PauseQueueMember` / `UnpauseQueueMember` from the dialplan (a phone's feature code). Asterisk
  sends it on every pause request, even one that changes nothing, so each is reported: it is
  the PBX's answer to a request;
- `QueueMember` rows of a QueueStatus listing (fields `Name` / `Location`, not `MemberName` /
  `Interface`); the adapter lists the queue at every login, so a pause made while it was away,
  or reset by a PBX restart, is seen. When the listing we started completes, a seat it did not
  list is no longer a member;
- `QueueMemberStatus` / `QueueMemberAdded` (they carry `Paused` too) and `QueueMemberRemoved`;
- whether the member is on a queue call (`InCall` of the member events; `AgentConnect` starts
  it, `AgentComplete` ends it — the seat is free then, even before the channels hang up).

The seat is the extension of the member interface `Local/<seat>@agents` (else of the state
interface, e.g. `PJSIP/<seat>`). Members of other queues are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# the same seat pattern as the call tracker: Local/8001@agents, PJSIP/8001
SEAT_PATTERN = r"^(?:Local|PJSIP|SIP|IAX2)/(\d{3,6})(?:[@\-;]|$)"
MEMBER_EVENTS = frozenset({"QueueMemberPause", "QueueMember", "QueueMemberStatus", "QueueMemberAdded",
                           "QueueMemberRemoved", "QueueStatusComplete", "AgentConnect", "AgentComplete"})


@dataclass(frozen=True, slots=True)
class SeatPause:
    seat: str
    paused: bool
    reason: str | None
    at: float  # epoch seconds: when the adapter received what told it
    interface: str
    member: bool = True  # False: the seat is no longer a member of the queue
    in_call: bool = False  # on a call of the queue (InCall; AgentConnect … AgentComplete)

    def as_dict(self) -> dict[str, Any]:
        return {"paused": self.paused, "reason": self.reason, "at": self.at, "in_call": self.in_call}


@dataclass(frozen=True, slots=True)
class PauseChange:
    state: SeatPause
    source: str  # "event": a QueueMemberPause (the PBX's answer); "status": a listing or member status;
    # "call": AgentConnect / AgentComplete (the member's queue call began / is complete)


def _truthy(v: Any) -> bool:
    return str(v or "").strip().lower() in ("1", "true", "yes", "on")


class PauseBook:
    """seat → SeatPause for one queue of one PBX."""

    def __init__(self, queue: str = "hotline", seat_pattern: str = SEAT_PATTERN) -> None:
        self.queue = queue
        self._seat_re = re.compile(seat_pattern)
        self.seats: dict[str, SeatPause] = {}
        self._listing: str | None = None  # ActionID of the QueueStatus we are reading in full
        self._listed: set[str] = set()
        self.listed_at: float | None = None  # when our last full listing completed

    # ---- listing -------------------------------------------------------------------------------

    def begin_listing(self, action_id: str) -> None:
        """A full QueueStatus of our queue is being sent with this ActionID."""
        self._listing = action_id
        self._listed = set()

    def abandon_listing(self) -> None:
        self._listing = None
        self._listed = set()

    # ---- feeding -------------------------------------------------------------------------------

    def seat_of(self, *names: Any) -> str | None:
        for name in names:
            if name:
                m = self._seat_re.match(str(name))
                if m:
                    return m.group(1)
        return None

    def feed(self, msg: Mapping[str, Any], now: float) -> list[PauseChange]:
        """Apply one AMI message received at `now`; return what to publish."""
        ev = msg.get("Event")
        if ev not in MEMBER_EVENTS:
            return []
        if ev == "QueueStatusComplete":
            return self._listing_complete(msg, now)
        if ev in ("AgentConnect", "AgentComplete"):
            return self._call(msg, ev == "AgentConnect", now)
        if msg.get("Queue") != self.queue:
            return []
        interface = str(msg.get("Interface") or msg.get("Location") or "")
        seat = self.seat_of(interface, msg.get("StateInterface"))
        if seat is None:
            return []
        if ev == "QueueMember" and self._listing is not None and msg.get("ActionID") == self._listing:
            self._listed.add(seat)
        if ev == "QueueMemberRemoved":
            gone = self.seats.pop(seat, None)
            if gone is None:
                return []
            return [PauseChange(SeatPause(seat, False, None, now, gone.interface, member=False), "status")]
        paused = _truthy(msg.get("Paused"))
        reason = (str(msg.get("PausedReason") or "").strip() or None) if paused else None
        state = SeatPause(seat, paused, reason, now, interface, in_call=_truthy(msg.get("InCall")))
        old = self.seats.get(seat)
        self.seats[seat] = state
        if ev == "QueueMemberPause":
            return [PauseChange(state, "event")]  # always: it answers a pause request
        if old is not None and (old.paused, old.reason, old.in_call) == (paused, reason, state.in_call):
            self.seats[seat] = old  # unchanged: keep when it was learnt
            return []
        return [PauseChange(state, "status")]

    def _call(self, msg: Mapping[str, Any], in_call: bool, now: float) -> list[PauseChange]:
        """AgentConnect / AgentComplete of a member of our queue (published even if InCall said
        so already: an AgentComplete ends the seat's call on the boards)."""
        if msg.get("Queue") != self.queue:
            return []
        seat = self.seat_of(msg.get("Interface"))
        old = self.seats.get(seat) if seat else None
        if seat is None or old is None:
            return []  # not a member we know: its listing row tells
        state = SeatPause(seat, old.paused, old.reason, now, old.interface, in_call=in_call)
        self.seats[seat] = state
        return [PauseChange(state, "call")]

    def apply_row(self, msg: Mapping[str, Any], now: float) -> PauseChange | None:
        """A QueueMember row read outside the ordered stream (a confirming QueueStatus): the
        state it shows, published whether it changed or not."""
        changes = self.feed(msg, now)
        if changes:
            return changes[0]
        seat = self.seat_of(msg.get("Location") or msg.get("Interface"), msg.get("StateInterface"))
        state = self.seats.get(seat) if seat else None
        return PauseChange(state, "status") if state is not None else None

    def _listing_complete(self, msg: Mapping[str, Any], now: float) -> list[PauseChange]:
        if self._listing is None or msg.get("ActionID") != self._listing:
            return []
        out = []
        for seat in sorted(set(self.seats) - self._listed):
            gone = self.seats.pop(seat)
            out.append(PauseChange(SeatPause(seat, False, None, now, gone.interface, member=False), "status"))
        self.abandon_listing()
        self.listed_at = now
        return out

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """seat → {paused, reason, at}: the heartbeat's and `agent.pause_map`'s form."""
        return {seat: s.as_dict() for seat, s in sorted(self.seats.items())}
