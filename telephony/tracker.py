"""The call tracker: AMI messages in, call facts out. Pure: no I/O, time is an input.

Built against the traffic of a real Asterisk 22 (tests/fixtures/ami/README.md). A call is the
set of channels sharing one `Linkedid`; its *line channel* is the channel that holds a trunk
line: the trunk channel of an inbound call (Newchannel in the trunk context, e.g. the `;2`
half of `Local/N@inbound`, or a SIP trunk channel in production) or the outbound channel of a
callback (context `trunk-out`). Inbound calls and their outcomes come only from channel and
queue events — never from OriginateResponse, which a production trunk does not send:

- answered  = QueueCallerJoin then AgentConnect (seat from the member Interface, wait from
  the PBX's HoldTime, talk from AgentComplete's TalkTime)
- abandoned = QueueCallerAbandon (wait = its HoldTime), or a hang-up before any operator
- refused   = the trunk channel goes Busy / hangs up with cause 17 without answering

Callbacks: citizen first → the OriginateResponse of an Originate *this adapter sent*
(registered with `expect_originate`), else the state of the outbound line channel;
operator first (click-to-call) → the DialEnd on the operator's channel towards the citizen.

`feed` returns `Update`s: the call's latest `CallFact` and the bus topics it triggers. The
latest fact of a call is its state; re-feeding a finished call's events changes nothing.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from telephony.lines import LineOccupancy
from telephony.ports import CallFact

log = logging.getLogger(__name__)

# Events the tracker reads; everything else (VarSet of other variables, CEL, Cdr, Newexten …)
# is skipped by one set lookup, which matters: two thirds of a read=all stream is noise.
_HANDLED = frozenset({
    "Newchannel", "Newstate", "Hangup", "VarSet", "Newexten", "QueueCallerJoin",
    "QueueCallerAbandon", "AgentConnect", "AgentComplete", "AgentRingNoAnswer", "DialBegin",
    "DialEnd", "BlindTransfer", "AttendedTransfer", "OriginateResponse", "CoreShowChannel",
    "CoreShowChannelsComplete", "NewCallerid",
})
_UNKNOWN = ("", "<unknown>", "none", None)
_LINE_LIMIT_NOOP = re.compile(r"All (\d+) trunk lines busy")
_FINISHED_MEMORY = 50_000


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    pbx: str = "default"
    trunk_context: str = "inbound"  # the dialplan context a trunk channel starts in
    outbound_context: str = "trunk-out"  # the context that carries callbacks out on the trunk
    queue: str = "hotline"
    lines: int = 10
    # operator extension from a channel or interface name: Local/8001@agents, PJSIP/8001-0000a
    seat_pattern: str = r"^(?:Local|PJSIP|SIP|IAX2)/(\d{3,6})(?:[@\-;]|$)"


@dataclass(frozen=True, slots=True)
class Update:
    fact: CallFact
    topics: tuple[str, ...]


@dataclass(slots=True)
class _Originate:
    action_id: str
    number: str | None
    style: str  # 'citizen_first' | 'operator_first'
    seat: str | None = None
    ticket_ref: str | None = None
    key: str | None = None
    linkedid: str | None = None


@dataclass(slots=True)
class _Call:
    linkedid: str
    first_t: float
    direction: str | None = None
    line_uid: str | None = None
    line_channel: str | None = None
    offered_at: datetime | None = None
    offered_t: float = 0.0
    caller_number: str | None = None
    exten: str | None = None
    channels: set[str] = field(default_factory=set)
    up: bool = False  # the line channel answered (inbound: trunk answered; outbound: citizen answered)
    busy: bool = False
    congestion: bool = False
    joined: bool = False
    queue: str | None = None
    answered: bool = False
    answered_t: float | None = None
    wait_s: float | None = None
    talk_s: float | None = None
    complete_t: float | None = None
    complete_reason: str | None = None
    abandoned: bool = False
    seat: str | None = None
    operator_name: str | None = None
    interface: str | None = None
    line: int | None = None
    transferred_to: str | None = None
    ticket_ref: str | None = None
    hangup_cause: str | None = None
    orig: _Originate | None = None
    orig_outcome: str | None = None
    dial_outcome: str | None = None
    line_ended_t: float | None = None
    line_released: bool = False
    last_msg: int = 0
    published: set[str] = field(default_factory=set)
    data: dict[str, Any] = field(default_factory=dict)
    last: CallFact | None = None


def _epoch_of(uniqueid: str | None) -> float | None:
    """Asterisk's default Uniqueid is `<epoch seconds>.<sequence>`: the channel's creation second."""
    if not uniqueid:
        return None
    head, _, _ = uniqueid.partition(".")
    try:
        v = float(head)
    except ValueError:
        return None
    return v if v > 1e9 else None


def _num(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _is_first_local_half(channel: str) -> bool:
    return channel.startswith("Local/") and channel.endswith(";1")


class CallTracker:
    """Follows calls through AMI messages; see the module docstring for the rules."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.lines = LineOccupancy(self.config.lines)
        self._seat_re = re.compile(self.config.seat_pattern)
        self._calls: dict[str, _Call] = {}
        self._by_interface: dict[str, str] = {}  # member interface → linkedid while connected
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._originates: dict[str, _Originate] = {}
        self._listing: dict[str, set[str]] = {}
        self._listing_from: tuple[int, set[str]] | None = None
        self._adopted_up: list[_Call] = []  # adopted during our listing: they take a line at its end
        self.messages = 0
        self.skipped = 0

    # ---- inputs from the adapter -------------------------------------------------------------

    def expect_originate(self, action_id: str, *, number: str | None, style: str = "citizen_first",
                         seat: str | None = None, ticket_ref: str | None = None,
                         key: str | None = None) -> None:
        """Register an Originate this adapter sends, so its OriginateResponse is read."""
        self._originates[action_id] = _Originate(action_id, number, style, seat, ticket_ref, key)

    def restore(self, fact: CallFact, now: float) -> None:
        """Take back a call that was in progress when the adapter stopped (from the spool's
        journal); a following CoreShowChannels listing keeps it or closes it."""
        if fact.is_final or fact.linkedid in self._calls:
            return
        c = _Call(fact.linkedid, now, direction=fact.direction, line_uid=fact.uniqueid,
                  offered_at=fact.offered_at, offered_t=now - (_utc_now_from(now) - fact.offered_at).total_seconds(),
                  caller_number=fact.caller_number, queue=fact.queue, seat=fact.seat,
                  operator_name=fact.operator_name, line=fact.line, ticket_ref=fact.ticket_ref,
                  transferred_to=fact.transferred_to, wait_s=fact.wait_s, data=dict(fact.data))
        c.answered = fact.answered_at is not None
        c.up = fact.line is not None
        if c.answered and fact.answered_at is not None:
            c.answered_t = c.offered_t + (fact.answered_at - fact.offered_at).total_seconds()
        if fact.uniqueid:
            c.channels.add(fact.uniqueid)
        if c.up and fact.uniqueid:
            self.lines.acquire(fact.uniqueid, now)
        c.published = {"call.offered"} | ({"call.answered"} if c.answered else set())
        c.last = fact
        self._calls[fact.linkedid] = c

    def begin_listing(self) -> None:
        """A CoreShowChannels request goes out now: the calls known at this point are the ones
        its listing can close. A call seen after this point is alive whatever the listing says
        (the PBX may have taken its snapshot before the call began)."""
        self._listing_from = (self.messages, set(self._calls))

    def open_calls(self) -> list[CallFact]:
        return [c.last for c in self._calls.values() if c.last is not None]

    def is_open(self, linkedid: str) -> bool:
        """The tracker follows this call now (it has not ended, as far as it knows)."""
        return linkedid in self._calls

    def open_linkedids(self) -> set[str]:
        return set(self._calls)

    # ---- the message entry point -------------------------------------------------------------

    def feed(self, msg: Mapping[str, Any], now: float) -> list[Update]:
        """Apply one AMI message received at `now` (epoch seconds); return what changed."""
        self.messages += 1
        ev = msg.get("Event")
        if ev not in _HANDLED:
            return []
        handler = getattr(self, "_on_" + ev)
        return handler(msg, now) or []

    # ---- helpers -------------------------------------------------------------------------------

    def _call_for(self, msg: Mapping[str, Any], now: float, create: bool = False) -> _Call | None:
        lid = msg.get("Linkedid")
        if lid in _UNKNOWN or lid in self._finished:
            return None
        c = self._calls.get(lid)
        if c is None and create:
            c = self._calls[lid] = _Call(lid, now)
        if c is not None:
            c.last_msg = self.messages
        return c

    def _seat_of(self, name: str | None) -> str | None:
        if not name:
            return None
        m = self._seat_re.match(name)
        return m.group(1) if m else None

    def _at(self, c: _Call, seconds_after_offer: float | None) -> datetime | None:
        if seconds_after_offer is None or c.offered_at is None:
            return None
        return c.offered_at + timedelta(seconds=seconds_after_offer)

    def _make_line(self, c: _Call, msg: Mapping[str, Any], now: float, direction: str) -> None:
        c.direction = direction
        c.line_uid = msg.get("Uniqueid")
        c.line_channel = msg.get("Channel")
        c.offered_t = now
        epoch = _epoch_of(c.line_uid)
        c.offered_at = datetime.fromtimestamp(epoch if epoch is not None else now, UTC)
        exten = msg.get("Exten")
        c.exten = exten if exten not in _UNKNOWN else None
        self._caller(c, msg)
        if direction == "out":
            # the citizen is the number dialled out on the trunk
            c.caller_number = c.exten or c.caller_number
            for o in self._originates.values():
                if o.linkedid is None and o.number and o.number == c.exten:
                    self._bind_originate(c, o)
                    break

    def _bind_originate(self, c: _Call, o: _Originate) -> None:
        o.linkedid = c.linkedid
        c.orig = o
        c.ticket_ref = c.ticket_ref or o.ticket_ref
        c.seat = c.seat or o.seat
        if o.key:
            c.data["callback_key"] = o.key
        c.data["style"] = o.style

    def _caller(self, c: _Call, msg: Mapping[str, Any]) -> None:
        if c.direction == "in":
            num = msg.get("CallerIDNum")
            if num not in _UNKNOWN:
                c.caller_number = num

    def _fact(self, c: _Call) -> CallFact:
        offered_at = c.offered_at or datetime.fromtimestamp(c.first_t, UTC)
        answered_at = self._at(c, c.wait_s) if c.answered else None
        if c.answered and answered_at is None:
            # taken over already answered (adopted at a listing): no wait known, but answered all the
            # same — a restart must not restore it as unanswered (the CDR gives its times later)
            answered_at = datetime.fromtimestamp(c.answered_t if c.answered_t is not None else c.first_t, UTC)
        return CallFact(
            pbx=self.config.pbx, linkedid=c.linkedid, uniqueid=c.line_uid, direction=c.direction or "in",
            caller_number=c.caller_number, offered_at=offered_at, answered_at=answered_at,
            ended_at=None, outcome="in_progress", seat=c.seat, operator_name=c.operator_name,
            queue=c.queue, line=c.line, wait_s=c.wait_s, talk_s=c.talk_s,
            transferred_to=c.transferred_to, ticket_ref=c.ticket_ref, data=dict(c.data),
        )

    def _emit(self, c: _Call, *topics: str) -> list[Update]:
        if c.direction is None:
            return []
        fact = self._fact(c)
        if c.last is not None and fact == c.last and not topics:
            return []
        out_topics = []
        if "call.offered" not in c.published:
            out_topics.append("call.offered")
            c.published.add("call.offered")
        for t in topics:
            if t not in c.published or t == "lines.changed":
                out_topics.append(t)
                c.published.add(t)
        c.last = fact
        return [Update(fact, tuple(out_topics))]

    def _finish(self, c: _Call, now: float, *, reconciled: bool = False) -> list[Update]:
        """Decide the outcome, release the line, forget the call."""
        if (c.line_uid and self.lines.release(c.line_uid, now)) or c.line_released:
            line_topic: tuple[str, ...] = ("lines.changed",)
        else:
            line_topic = ()
        self._calls.pop(c.linkedid, None)
        self._finished[c.linkedid] = None
        if len(self._finished) > _FINISHED_MEMORY:
            self._finished.popitem(last=False)
        if c.interface and self._by_interface.get(c.interface) == c.linkedid:
            self._by_interface.pop(c.interface, None)
        if c.direction is None:
            if c.orig is not None:  # our Originate never reached the trunk
                c.direction = "out"
                c.caller_number = c.orig.number
            else:
                return []  # an internal call: no trunk line, not a hotline call
        end_t = c.line_ended_t if c.line_ended_t is not None else now
        since_offer = max(end_t - c.offered_t, 0.0)
        if c.direction == "in":
            if c.answered:
                outcome = "answered"
                if c.talk_s is None or c.complete_reason == "transfer":
                    # no AgentComplete (cut off), or the citizen went on talking after a transfer
                    start = c.complete_t if c.talk_s is not None else c.answered_t
                    extra = max(end_t - (start if start is not None else end_t), 0.0)
                    c.talk_s = round((c.talk_s or 0.0) + extra, 3)
            elif c.joined or c.abandoned or c.up:
                outcome = "abandoned"
                if c.wait_s is None:
                    c.wait_s = round(since_offer, 3)
            elif c.busy or c.hangup_cause == "17":
                outcome = "refused"
                self.lines.refuse()
            else:
                outcome = "abandoned"
                if c.wait_s is None:
                    c.wait_s = round(since_offer, 3)
        else:
            outcome = self._callback_outcome(c)
            if c.answered and c.talk_s is None and c.answered_t is not None:
                c.talk_s = round(max(end_t - c.answered_t, 0.0), 3)
        if reconciled:
            c.data["reconciled"] = True
        fact = self._fact(c)
        if outcome == "answered" or outcome == "callback_answered":
            ended_at = fact.answered_at + timedelta(seconds=c.talk_s or 0.0) if fact.answered_at else None
        elif c.wait_s is not None and c.direction == "in":
            ended_at = fact.offered_at + timedelta(seconds=c.wait_s)
        else:
            ended_at = fact.offered_at + timedelta(seconds=since_offer)
        fact = replace(fact, outcome=outcome, ended_at=ended_at)
        topics = ["call.ended", *line_topic]
        if "call.offered" not in c.published:
            topics.insert(0, "call.offered")
        c.last = fact
        return [Update(fact, tuple(topics))]

    def _callback_outcome(self, c: _Call) -> str:
        if c.orig_outcome is not None:
            return c.orig_outcome
        if c.dial_outcome is not None:
            return c.dial_outcome
        if c.answered:
            return "callback_answered"
        if c.congestion or c.hangup_cause in ("34", "38", "42"):
            return "callback_failed"
        if c.line_uid is None:
            return "callback_failed"
        return "callback_unanswered"

    # ---- channel events ---------------------------------------------------------------------

    def _on_Newchannel(self, msg: Mapping[str, Any], now: float) -> list[Update]:
        c = self._call_for(msg, now, create=True)
        if c is None:
            return []
        uid = msg.get("Uniqueid") or ""
        c.channels.add(uid)
        if c.direction is not None:
            if c.direction == "out" and c.seat is None:
                c.seat = self._seat_of(msg.get("Channel"))
            return []
        channel = msg.get("Channel") or ""
        ctx = msg.get("Context")
        if _is_first_local_half(channel):
            return []
        if ctx == self.config.trunk_context:
            self._make_line(c, msg, now, "in")
            return []  # announced once the trunk answers (or at the end if refused)
        if ctx == self.config.outbound_context:
            self._make_line(c, msg, now, "out")
            return self._emit(c)
        if c.seat is None:
            c.seat = self._seat_of(channel)  # e.g. the operator phone of a click-to-call
        return []

    def _on_NewCallerid(self, msg: Mapping[str, Any], now: float) -> list[Update]:
        c = self._call_for(msg, now)
        if c is not None and msg.get("Uniqueid") == c.line_uid:
            self._caller(c, msg)
        return []

    def _on_Newstate(self, msg: Mapping[str, Any], now: float) -> list[Update]:
        c = self._call_for(msg, now)
        if c is None or msg.get("Uniqueid") != c.line_uid:
            return []
        self._caller(c, msg)
        state = msg.get("ChannelStateDesc")
        if state == "Up" and not c.up:
            c.up = True
            c.line = self.lines.acquire(c.line_uid or c.linkedid, now)
            if c.direction == "out":
                c.answered = True
                c.answered_t = now
                c.wait_s = round(max(now - c.offered_t, 0.0), 3)
                return self._emit(c, "call.answered", "lines.changed")
            return self._emit(c, "lines.changed")
        if state == "Busy":
            c.busy = True
        return []

    def _on_Newexten(self, msg: Mapping[str, Any], now: float) -> list[Update]:
        app = msg.get("Application")
        if app not in ("Busy", "Congestion", "NoOp"):
            return []
        if app == "NoOp":
            m = _LINE_LIMIT_NOOP.search(msg.get("AppData") or "")
            if m:
                self.lines.set_limit(int(m.group(1)), now)
            return []
        c = self._call_for(msg, now)
        if c is not None and msg.get("Uniqueid") == c.line_uid:
            if app == "Busy":
                c.busy = True
            elif c.direction == "out":
                c.congestion = True
        return []

    def _on_VarSet(self, msg: Mapping[str, Any], now: float) -> list[Update]:
        var = msg.get("Variable") or ""
        if not var.startswith("HOTLINE_"):
            return []
        c = self._call_for(msg, now, create=True)
        if c is None:
            return []
        value = msg.get("Value")
        if var == "HOTLINE_TICKET" and value and c.ticket_ref != value:
            c.ticket_ref = value
            return self._emit(c) if c.last is not None else []
        if var == "HOTLINE_CALLBACK_KEY" and value:
            for o in self._originates.values():
                if o.key == value and o.linkedid is None:
                    self._bind_originate(c, o)
        return []

    def _on_Hangup(self, msg: Mapping[str, Any], now: float) -> list[Update]:
        c = self._call_for(msg, now)
        if c is None:
            return []
        uid = msg.get("Uniqueid") or ""
        c.channels.discard(uid)
        if uid == c.line_uid:
            c.hangup_cause = msg.get("Cause")
            c.line_ended_t = now
            if c.direction == "in":
                return self._finish(c, now)
            if self.lines.release(uid, now):
                c.line_released = True
        if not c.channels:
            return self._finish(c, now)
        return []

    # ---- queue events -------------------------------------------------------------------------

    def _on_QueueCallerJoin(self, msg: Mapping[str, Any], now: float) -> list[Update]:
        c = self._call_for(msg, now)
        if c is None:
            return []
        c.joined = True
        c.queue = msg.get("Queue") or c.queue
        self._caller(c, msg)
        return self._emit(c)

    def _on_QueueCallerAbandon(self, msg: Mapping[str, Any], now: float) -> list[Update]:
        c = self._call_for(msg, now)
        if c is None:
            return []
        c.abandoned = True
        c.wait_s = _num(msg.get("HoldTime"))
        return []

    def _on_AgentRingNoAnswer(self, msg: Mapping[str, Any], now: float) -> list[Update]:
        c = self._call_for(msg, now)
        if c is not None:
            seat = self._seat_of(msg.get("Interface"))
            c.data.setdefault("ring_no_answer", []).append(seat or msg.get("MemberName"))
        return []

    def _on_AgentConnect(self, msg: Mapping[str, Any], now: float) -> list[Update]:
        c = self._call_for(msg, now)
        if c is None or c.answered:
            return []
        c.answered = True
        c.answered_t = now
        c.queue = msg.get("Queue") or c.queue
        c.interface = msg.get("Interface")
        c.seat = self._seat_of(c.interface) or self._seat_of(msg.get("DestChannel"))
        c.operator_name = msg.get("MemberName") or None
        hold = _num(msg.get("HoldTime"))
        c.wait_s = hold if hold is not None else round(max(now - c.offered_t, 0.0), 3)
        if c.interface:
            self._by_interface[c.interface] = c.linkedid
        return self._emit(c, "call.answered")

    def _on_AgentComplete(self, msg: Mapping[str, Any], now: float) -> list[Update]:
        c = self._call_for(msg, now)
        if c is None:
            # during a PBX shutdown AgentComplete can come without any channel fields (capture 07a)
            lid = self._by_interface.get(msg.get("Interface") or "")
            c = self._calls.get(lid) if lid else None
        if c is None or c.complete_t is not None:
            return []
        c.complete_t = now
        c.complete_reason = msg.get("Reason")
        c.talk_s = _num(msg.get("TalkTime"))
        return []

    # ---- dialling and transfers --------------------------------------------------------------

    def _on_DialBegin(self, msg: Mapping[str, Any], now: float) -> list[Update]:
        c = self._call_for(msg, now)
        if c is None:
            return []
        if c.direction == "in" and c.answered and msg.get("Uniqueid") == c.line_uid \
                and msg.get("Context") != self.config.trunk_context:
            # the citizen's trunk channel dials out of a transfer context (Redirect, BlindTransfer)
            target = msg.get("Exten")
            if target not in _UNKNOWN and c.transferred_to != target:
                c.transferred_to = target
                return self._emit(c)
        elif c.direction == "out" and c.seat is None:
            c.seat = self._seat_of(msg.get("DestChannel"))
        return []

    def _on_DialEnd(self, msg: Mapping[str, Any], now: float) -> list[Update]:
        c = self._call_for(msg, now)
        if c is None or c.direction != "out":
            return []
        dest = msg.get("DestUniqueid")
        dest_channel = msg.get("DestChannel") or ""
        status = msg.get("DialStatus") or ""
        if status == "CONGESTION":
            c.congestion = True
        # operator first: the operator's channel dials the citizen out on the trunk
        if f"@{self.config.outbound_context}" in dest_channel and msg.get("Uniqueid") not in _UNKNOWN \
                and dest != msg.get("Uniqueid"):
            c.dial_outcome = {"ANSWER": "callback_answered", "CONGESTION": "callback_failed",
                              "CHANUNAVAIL": "callback_failed"}.get(status, "callback_unanswered")
        return []

    def _on_BlindTransfer(self, msg: Mapping[str, Any], now: float) -> list[Update]:
        return self._transfer(msg.get("TransfereeLinkedid"), msg.get("Extension"), msg, now)

    def _on_AttendedTransfer(self, msg: Mapping[str, Any], now: float) -> list[Update]:
        return self._transfer(msg.get("TransfereeLinkedid"), msg.get("TransferTargetExten"), msg, now)

    def _transfer(self, lid: str | None, target: str | None, msg: Mapping[str, Any], now: float) -> list[Update]:
        if msg.get("Result") != "Success" or lid in _UNKNOWN:
            return []
        c = self._calls.get(lid)  # type: ignore[arg-type]
        if c is None or target in _UNKNOWN or c.transferred_to == target:
            return []
        c.transferred_to = target
        return self._emit(c)

    # ---- callbacks we originated ------------------------------------------------------------

    def _on_OriginateResponse(self, msg: Mapping[str, Any], now: float) -> list[Update]:
        o = self._originates.pop(msg.get("ActionID") or "", None)
        if o is None:
            return []  # not ours: an inbound call is never read from OriginateResponse
        c = self._calls.get(o.linkedid) if o.linkedid else None
        if c is None:
            uid = msg.get("Uniqueid")
            c = self._calls.get(uid) if uid not in _UNKNOWN else None
            if c is not None:
                self._bind_originate(c, o)
        ok = msg.get("Response") == "Success"
        reason = msg.get("Reason") or ""
        outcome: str | None
        if o.style == "citizen_first":
            outcome = "callback_answered" if ok else {"3": "callback_unanswered", "5": "callback_unanswered",
                                                      "1": "callback_unanswered"}.get(reason, "callback_failed")
        else:
            outcome = None if ok else "callback_failed"  # the operator's phone did not answer
        if c is None:
            if ok:
                return []
            # refused before any channel existed: a failed callback all the same
            c = _Call(f"originate-{o.action_id}", now, direction="out", caller_number=o.number,
                      offered_at=datetime.fromtimestamp(now, UTC), offered_t=now)
            self._bind_originate(c, o)
            c.orig_outcome = outcome
            self._calls[c.linkedid] = c
            return self._finish(c, now)
        if outcome is not None:
            c.orig_outcome = outcome
        c.data["originate_reason"] = reason
        return []

    # ---- reconciliation --------------------------------------------------------------------

    def _on_CoreShowChannel(self, msg: Mapping[str, Any], now: float) -> list[Update]:
        uid = msg.get("Uniqueid") or ""
        self._listing.setdefault(msg.get("ActionID") or "", set()).add(uid)
        c = self._call_for(msg, now)
        if c is not None and c.direction is not None:
            c.channels.add(uid)
            return self._listed_bridged(c, msg, now)
        # a call that began while we were away: adopt it as it is now (its citizen ;1 may have
        # been listed first, which made the call but not its line)
        c = c or self._call_for(msg, now, create=True)
        if c is None:
            return []
        c.channels.add(uid)
        channel = msg.get("Channel") or ""
        if _is_first_local_half(channel):
            return []
        ctx = msg.get("Context")
        direction = "in" if ctx == self.config.trunk_context else "out" if ctx == self.config.outbound_context else None
        if direction is None:
            return []
        self._make_line(c, msg, now, direction)
        up = msg.get("ChannelStateDesc") == "Up"
        deferred = up and self._listing_from is not None
        if up:
            c.up = True
            if deferred:
                # our reconciliation listing: the lines are rebuilt from it when it completes, after
                # the calls it no longer holds have freed theirs (never above the PBX's limit)
                self._adopted_up.append(c)
            else:
                c.line = self.lines.acquire(uid, now)
        if direction == "in" and msg.get("Application") == "Queue":
            c.joined = True
            c.queue = (msg.get("ApplicationData") or "").split(",")[0] or self.config.queue
            if msg.get("BridgeId"):
                c.answered = True
                c.answered_t = now
        elif direction == "out" and up:
            c.answered = True
            c.answered_t = now
        c.data["adopted"] = True
        return self._emit(c, "lines.changed") if up and not deferred else self._emit(c)

    def _listed_bridged(self, c: _Call, msg: Mapping[str, Any], now: float) -> list[Update]:
        """A listed channel of a known inbound call is bridged: an operator took the call while
        we could not see it (adapter restarted, connection lost) — it is answered, not abandoned."""
        if c.direction != "in" or not msg.get("BridgeId"):
            return []
        seat = self._seat_of(msg.get("Channel")) if msg.get("Uniqueid") != c.line_uid else None
        if seat and c.seat is None:
            c.seat = seat
        if c.answered:
            return self._emit(c) if seat else []
        c.answered = True
        c.answered_t = now
        c.joined = True
        c.wait_s = round(max(now - c.offered_t, 0.0), 3)
        c.data["answered_unseen"] = True
        return self._emit(c, "call.answered")

    def _on_CoreShowChannelsComplete(self, msg: Mapping[str, Any], now: float) -> list[Update]:
        listed = self._listing.pop(msg.get("ActionID") or "", set())
        if self._listing_from is None:
            return []  # a listing someone else asked for (a supervisor's view): no reconciliation
        mark, known = self._listing_from
        self._listing_from = None
        adopted, self._adopted_up = self._adopted_up, []
        out: list[Update] = []
        for c in [self._calls[k] for k in known if k in self._calls]:
            if c.direction is None or c.last_msg > mark:
                continue
            if not (c.channels & listed) and (c.line_uid not in listed):
                # it ended while we could not see it (adapter down, connection lost, PBX restart)
                out.extend(self._finish(c, now, reconciled=True))
        # the lines in use are the listing's: reset to the lines of listed calls (and of calls
        # seen live since the listing was asked for), then the adopted calls take theirs
        taken = {id(c) for c in adopted}
        live = {c.line_uid for c in self._calls.values() if c.line_uid and c.last_msg > mark and id(c) not in taken}
        self.lines.reset({k for k in self.lines.holders() if k in listed or k in live}, now)
        for c in adopted:
            if c.linkedid in self._calls and c.line_uid:
                c.line = self.lines.acquire(c.line_uid, now)
                out.extend(self._emit(c, "lines.changed"))
        return out

    def expire_originate(self, action_id: str) -> None:
        """Forget an Originate whose response will never come (action timed out)."""
        self._originates.pop(action_id, None)


def _utc_now_from(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC)
