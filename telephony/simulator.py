"""A PBX simulator that speaks AMI like the captured Asterisk 22 (tests/fixtures/ami).

It listens on 127.0.0.1, sends the banner, takes Login, and generates hotline calls in the
same event sequences and fields as the recordings of the hotline dialplan: inbound calls on a
`Local/N@inbound` pair (trunk `;2` in context `inbound`), the 10-line limit (`Busy`, cause 17),
queue `hotline` with members `Local/800X@agents` (QueueCallerJoin, AgentCalled, DialBegin,
AgentConnect, AgentComplete, QueueCallerAbandon), callbacks on `Local/N@trunk-out`. It answers
Ping, Originate (Async), QueuePause, QueueStatus, CoreShowChannels, Getvar, Redirect,
BlindTransfer and Logoff. Only the events the adapter's tracker and a supervisor need are
generated (no CEL/Cdr/VarSet noise unless `noise=True`).

The call model is a discrete-event schedule driven by a seeded RNG and a clock: `speed`
compresses time (speed 10 plays a minute in 6 s), so the same seed gives the same calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)
BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def frame(pairs: list[tuple[str, str]]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode()


@dataclass
class SimConfig:
    rate_per_min: float = 6.0
    abandon_pct: float = 10.0
    lines: int = 10
    operators: int = 5
    ring_s: float = 2.0
    talk_min_s: float = 4.0
    talk_max_s: float = 9.0
    patience_min_s: float = 5.0  # impatient callers hang up after this many seconds at least
    patience_max_s: float = 20.0
    duration_s: float | None = None  # stop generating calls after this long (simulated time)
    speed: float = 1.0
    seed: int = 12345
    username: str = "hotline"
    secret: str = "hotline-secret"
    epoch: float | None = None  # simulated start time (default: now)
    noise: bool = False


@dataclass
class _Chan:
    name: str
    uid: str
    linkedid: str
    context: str
    exten: str
    caller: str = "<unknown>"
    state: str = "Down"
    app: str = ""

    def fields(self) -> list[tuple[str, str]]:
        code = {"Down": "0", "Ring": "4", "Ringing": "5", "Up": "6", "Busy": "7"}[self.state]
        return [("Channel", self.name), ("ChannelState", code), ("ChannelStateDesc", self.state),
                ("CallerIDNum", self.caller), ("CallerIDName", self.caller), ("ConnectedLineNum", "<unknown>"),
                ("ConnectedLineName", "<unknown>"), ("Language", "en"), ("AccountCode", ""),
                ("Context", self.context), ("Exten", self.exten), ("Priority", "1"), ("Uniqueid", self.uid),
                ("Linkedid", self.linkedid)]

    def dest(self) -> list[tuple[str, str]]:
        return [("Dest" + k, v) for k, v in self.fields()]


@dataclass
class _Member:
    seat: str
    paused: bool = False
    busy_until: float = 0.0
    reason: str = ""

    @property
    def interface(self) -> str:
        return f"Local/{self.seat}@agents"

    @property
    def name(self) -> str:
        return f"operator {self.seat}"


@dataclass
class _Caller:
    number: str
    trunk: _Chan
    citizen: _Chan
    joined_at: float
    patience: float
    position: int = 0
    member: _Member | None = None
    ringing: _Chan | None = None


@dataclass(order=True)
class _Timer:
    at: float
    seq: int
    fn: Callable[[], None] = field(compare=False)


class PBXSimulator:
    """The simulated PBX. `await start(host, port)`; `await stop()`. Stats in `self.stats`."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.rng = random.Random(self.config.seed)
        self.members = [_Member(str(8001 + i)) for i in range(self.config.operators)]
        self._rr = 0
        self.channels: dict[str, _Chan] = {}
        self.queue: list[_Caller] = []
        self.trunk_in_use: set[str] = set()
        self._seq = itertools.count()
        self._chan_seq = itertools.count()
        self._timers: list[_Timer] = []
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._t0_real = 0.0
        self._epoch = self.config.epoch
        self.generating = True
        self.stats = {"offered": 0, "answered": 0, "abandoned": 0, "refused": 0, "callbacks": 0, "events": 0}

    # ---- clock ---------------------------------------------------------------------------------

    def now(self) -> float:
        """Simulated seconds since the start."""
        return (time.monotonic() - self._t0_real) * self.config.speed

    def epoch_now(self) -> float:
        return (self._epoch or 0.0) + self.now()

    def _at(self, delay: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._timers, _Timer(self.now() + delay, next(self._seq), fn))

    def _uid(self) -> str:
        return f"{int(self.epoch_now())}.{next(self._seq)}"

    # ---- network -------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 5038) -> int:
        self._t0_real = time.monotonic()
        if self._epoch is None:
            self._epoch = time.time()
        self._server = await asyncio.start_server(self._client, host, port)
        self._task = asyncio.create_task(self._run())
        if self.generating:
            self._at(self._next_gap(), self._arrival)
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._server:
            self._server.close()
            for w in self._writers:
                w.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _run(self) -> None:
        while True:
            now = self.now()
            while self._timers and self._timers[0].at <= now:
                heapq.heappop(self._timers).fn()
            nxt = self._timers[0].at if self._timers else now + 0.5
            await asyncio.sleep(max(min((nxt - now) / self.config.speed, 0.5), 0.0005))

    def _emit(self, pairs: list[tuple[str, str]]) -> None:
        data = frame(pairs)
        self.stats["events"] += 1
        for w in list(self._writers):
            if getattr(w, "_hotline_logged_in", False) and not w.is_closing():
                w.write(data)

    def _event(self, name: str, chan: _Chan | None, *extra: tuple[str, str], privilege: str = "call,all") -> None:
        pairs = [("Event", name), ("Privilege", privilege)]
        if chan is not None:
            pairs += chan.fields()
        pairs += list(extra)
        self._emit(pairs)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(BANNER)
        self._writers.append(writer)
        buf = b""
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                buf += chunk
                while b"\r\n\r\n" in buf:
                    raw, buf = buf.split(b"\r\n\r\n", 1)
                    action: dict[str, Any] = {}
                    for line in raw.decode("utf-8", "replace").split("\r\n"):
                        k, sep, v = line.partition(": ")
                        if sep:
                            if k in action:
                                prev = action[k]
                                action[k] = (prev if isinstance(prev, list) else [prev]) + [v]
                            else:
                                action[k] = v
                    self._action(action, writer)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            with contextlib.suppress(ValueError):
                self._writers.remove(writer)
            writer.close()

    def _reply(self, writer: asyncio.StreamWriter, pairs: list[tuple[str, str]]) -> None:
        writer.write(frame(pairs))

    # ---- actions -------------------------------------------------------------------------------

    def _action(self, a: dict[str, Any], w: asyncio.StreamWriter) -> None:
        act, aid = str(a.get("Action", "")).lower(), str(a.get("ActionID", ""))
        logged_in = getattr(w, "_hotline_logged_in", False)
        if act == "login":
            if a.get("Username") == self.config.username and a.get("Secret") == self.config.secret:
                self._reply(w, [("Response", "Success"), ("ActionID", aid), ("Message", "Authentication accepted")])
                w._hotline_logged_in = True  # type: ignore[attr-defined]
                self._reply(w, [("Event", "FullyBooted"), ("Privilege", "system,all"),
                                ("Uptime", str(int(self.now()))), ("LastReload", str(int(self.now()))),
                                ("Status", "Fully Booted")])
            else:
                self._reply(w, [("Response", "Error"), ("ActionID", aid), ("Message", "Authentication failed")])
                asyncio.get_running_loop().call_later(0.2, w.close)
            return
        if not logged_in:
            self._reply(w, [("Response", "Error"), ("ActionID", aid), ("Message", "Permission denied")])
            return
        ok = [("Response", "Success"), ("ActionID", aid)]
        if act == "ping":
            self._reply(w, ok + [("Ping", "Pong"), ("Timestamp", f"{self.epoch_now():.6f}")])
        elif act == "logoff":
            self._reply(w, [("Response", "Goodbye"), ("ActionID", aid), ("Message", "Thanks for all the fish.")])
            w.close()
        elif act == "getvar":
            value = str(self.config.lines) if a.get("Variable") == "TRUNK_LINES" else ""
            self._reply(w, ok + [("Variable", str(a.get("Variable", ""))), ("Value", value)])
        elif act == "coreshowchannels":
            self._reply(w, ok + [("EventList", "start"), ("Message", "Channels will follow")])
            for c in self.channels.values():
                self._reply(w, [("Event", "CoreShowChannel"), ("ActionID", aid), *c.fields(),
                                ("Application", c.app), ("ApplicationData", ""), ("Duration", "00:00:01"),
                                ("BridgeId", "")])
            self._reply(w, [("Event", "CoreShowChannelsComplete"), ("ActionID", aid), ("EventList", "Complete"),
                            ("ListItems", str(len(self.channels)))])
        elif act == "queuestatus":
            self._queue_status(w, aid, a.get("Member"))
        elif act == "queuepause":
            m = next((m for m in self.members if m.interface == a.get("Interface")), None)
            if m is None:
                self._reply(w, [("Response", "Error"), ("ActionID", aid), ("Message", "Interface not found")])
                return
            m.paused = str(a.get("Paused", "")).lower() in ("true", "1", "yes")
            m.reason = str(a.get("Reason", "")) if m.paused else ""
            self._reply(w, ok + [("Message", "Interface paused successfully" if m.paused
                                  else "Interface unpaused successfully")])
            self._event("QueueMemberPause", None, ("Queue", "hotline"), ("MemberName", m.name),
                        ("Interface", m.interface), ("StateInterface", m.interface), ("Membership", "static"),
                        ("Penalty", "0"), ("CallsTaken", "0"), ("LastCall", "0"), ("LastPause", "0"),
                        ("LoginTime", "0"), ("InCall", "0"), ("Status", "1"), ("Paused", "1" if m.paused else "0"),
                        ("PausedReason", m.reason), ("Ringinuse", "0"), ("Wrapuptime", "2"),
                        privilege="agent,all")
        elif act == "originate":
            if str(a.get("Async", "")).lower() != "true":
                self._reply(w, [("Response", "Error"), ("ActionID", aid), ("Message", "Use Async: true")])
                return
            self._reply(w, ok + [("Message", "Originate successfully queued")])
            self._originate(a, aid)
        elif act in ("redirect", "blindtransfer"):
            chan = next((c for c in self.channels.values() if c.name == a.get("Channel")), None)
            if chan is None:
                self._reply(w, [("Response", "Error"), ("ActionID", aid), ("Message", "Channel specified does not exist")])
                return
            msg = "Redirect successful" if act == "redirect" else "Transfer succeeded"
            self._reply(w, ok + [("Message", msg)])
            self._transfer(chan, str(a.get("Context", "transfer")), str(a.get("Exten", "")), blind=act != "redirect")
        else:
            self._reply(w, [("Response", "Error"), ("ActionID", aid),
                            ("Message", f"Invalid/unknown command: {a.get('Action')}. Use Action: ListCommands "
                                        "to show available commands.")])

    def _queue_status(self, w: asyncio.StreamWriter, aid: str, member: str | None) -> None:
        self._reply(w, [("Response", "Success"), ("ActionID", aid), ("EventList", "start"),
                        ("Message", "Queue status will follow")])
        items = 1
        self._reply(w, [("Event", "QueueParams"), ("Queue", "hotline"), ("Max", "0"), ("Strategy", "rrmemory"),
                        ("Calls", str(len(self.queue))), ("Holdtime", "0"), ("TalkTime", "0"),
                        ("Completed", str(self.stats["answered"])), ("Abandoned", str(self.stats["abandoned"])),
                        ("ServiceLevel", "20"), ("ServicelevelPerf", "0.0"), ("ServicelevelPerf2", "0.0"),
                        ("Weight", "0"), ("ActionID", aid)])
        for m in self.members:
            if member and member not in (m.interface, m.name):
                continue
            items += 1
            in_call = m.busy_until > self.now()
            self._reply(w, [("Event", "QueueMember"), ("Queue", "hotline"), ("Name", m.name),
                            ("Location", m.interface), ("StateInterface", m.interface), ("Membership", "static"),
                            ("Penalty", "0"), ("CallsTaken", "0"), ("LastCall", "0"), ("LastPause", "0"),
                            ("LoginTime", "0"), ("InCall", "1" if in_call else "0"),
                            ("Status", "2" if in_call else "1"), ("Paused", "1" if m.paused else "0"),
                            ("PausedReason", m.reason), ("Wrapuptime", "2"), ("ActionID", aid)])
        for pos, c in enumerate(self.queue, 1):
            items += 1
            self._reply(w, [("Event", "QueueEntry"), ("Queue", "hotline"), ("Position", str(pos)),
                            ("Channel", c.trunk.name), ("Uniqueid", c.trunk.uid), ("CallerIDNum", c.number),
                            ("CallerIDName", c.number), ("ConnectedLineNum", "<unknown>"),
                            ("ConnectedLineName", "<unknown>"), ("Wait", str(int(self.now() - c.joined_at))),
                            ("Priority", "0"), ("ActionID", aid)])
        self._reply(w, [("Event", "QueueStatusComplete"), ("ActionID", aid), ("EventList", "Complete"),
                        ("ListItems", str(items))])

    # ---- channels ------------------------------------------------------------------------------

    def _local_pair(self, exten: str, context: str, linkedid: str | None = None) -> tuple[_Chan, _Chan]:
        n = f"{next(self._chan_seq):08x}"
        uid1 = self._uid()
        lid = linkedid or uid1
        one = _Chan(f"Local/{exten}@{context}-{n};1", uid1, lid, context, exten, state="Down")
        two = _Chan(f"Local/{exten}@{context}-{n};2", self._uid(), lid, context, exten, state="Ring")
        for c in (one, two):
            self.channels[c.uid] = c
            self._event("Newchannel", c)
        self._event("LocalBridge", None, ("Context", context), ("Exten", exten))
        return one, two

    def _state(self, c: _Chan, state: str) -> None:
        c.state = state
        self._event("Newstate", c)

    def _hangup(self, c: _Chan, cause: int = 16) -> None:
        if self.channels.pop(c.uid, None) is None:
            return
        self.trunk_in_use.discard(c.uid)
        text = {16: "Normal Clearing", 17: "User busy", 19: "User alerting, no answer", 0: "Unknown",
                34: "Circuit/channel congestion"}.get(cause, "Normal Clearing")
        self._event("Hangup", c, ("Cause", str(cause)), ("Cause-txt", text))

    def _newexten(self, c: _Chan, app: str, data: str) -> None:
        c.app = app
        if self.config.noise or app in ("Busy", "Congestion", "Queue", "Dial"):
            self._event("Newexten", c, ("Extension", c.exten), ("Application", app), ("AppData", data),
                        privilege="dialplan,all")

    # ---- inbound calls -------------------------------------------------------------------------

    def _next_gap(self) -> float:
        rate = max(self.config.rate_per_min, 0.001) / 60.0
        return self.rng.expovariate(rate)

    def _number(self) -> str:
        prefix = self.rng.choice(["138", "139", "159", "186", "177", "0731"])
        return prefix + "".join(self.rng.choice("0123456789") for _ in range(11 - len(prefix) + (prefix == "0731")))

    def _arrival(self) -> None:
        if self.config.duration_s is not None and self.now() >= self.config.duration_s:
            return
        self.inbound_call(self._number())
        self._at(self._next_gap(), self._arrival)

    def inbound_call(self, number: str, patience: float | None = None) -> None:
        """A citizen calls the hotline (like the capture client's Originate Local/N@inbound)."""
        self.stats["offered"] += 1
        citizen, trunk = self._local_pair(number, "inbound")
        citizen.caller = trunk.caller = number
        self._event("DialBegin", None, *citizen.dest(), ("DialString", f"{number}@inbound"))
        self._state(citizen, "Up")
        trunk.caller = number
        self._newexten(trunk, "NoOp", f"12345 hotline: inbound call from {number}")
        if len(self.trunk_in_use) >= self.config.lines:
            self.stats["refused"] += 1
            self._newexten(trunk, "NoOp", f"All {self.config.lines} trunk lines busy - refusing call from {number}")
            self._newexten(trunk, "Busy", "5")
            self._state(trunk, "Busy")
            self._event("DialEnd", None, *citizen.dest(), ("DialStatus", "BUSY"))
            self._hangup(trunk, 17)
            self._hangup(citizen, 0)
            return
        self.trunk_in_use.add(trunk.uid)
        self._state(trunk, "Up")
        self._event("DialEnd", None, *citizen.dest(), ("DialStatus", "ANSWER"))
        if patience is None:
            impatient = self.rng.random() * 100 < self.config.abandon_pct
            patience = (self.rng.uniform(self.config.patience_min_s, self.config.patience_max_s) if impatient
                        else self.rng.uniform(600, 900))
        self._at(0.5, lambda: self._join(number, citizen, trunk, patience))

    def _join(self, number: str, citizen: _Chan, trunk: _Chan, patience: float) -> None:
        if trunk.uid not in self.channels:
            return
        self._newexten(trunk, "Queue", "hotline,t,,,600")
        caller = _Caller(number, trunk, citizen, self.now(), patience, position=len(self.queue) + 1)
        self.queue.append(caller)
        self._event("QueueCallerJoin", trunk, ("Queue", "hotline"), ("Position", str(caller.position)),
                    ("Count", str(len(self.queue))), privilege="agent,all")
        self._event("MusicOnHoldStart", trunk, ("Class", "default"))
        self._at(max(patience - 0.5, 0.01), lambda: self._citizen_gives_up(caller))
        self._dispatch()

    def _citizen_gives_up(self, caller: _Caller) -> None:
        if caller not in self.queue:
            return
        self.stats["abandoned"] += 1
        pos = self.queue.index(caller) + 1
        self._hangup(caller.citizen, 16)
        if caller.ringing is not None:
            self._event("DialEnd", caller.trunk, *caller.ringing.dest(), ("DialStatus", "CANCEL"))
            self._hangup(caller.ringing, 0)
            caller.member = None
        self.queue.remove(caller)
        self._event("QueueCallerAbandon", caller.trunk, ("Queue", "hotline"), ("Position", str(pos)),
                    ("OriginalPosition", str(caller.position)), ("HoldTime", str(int(self.now() - caller.joined_at))),
                    privilege="agent,all")
        self._event("QueueCallerLeave", caller.trunk, ("Queue", "hotline"), ("Count", str(len(self.queue))),
                    ("Position", str(pos)), privilege="agent,all")
        self._hangup(caller.trunk, 16)
        self._dispatch()

    def _free_member(self) -> _Member | None:
        now = self.now()
        ringing = {c.member.seat for c in self.queue if c.member is not None}
        free = [m for m in self.members if not m.paused and m.busy_until <= now and m.seat not in ringing]
        if not free:
            return None
        free.sort(key=lambda m: (self.members.index(m) - self._rr) % len(self.members))
        return free[0]

    def _dispatch(self) -> None:
        for caller in list(self.queue):
            if caller.member is not None:
                continue
            m = self._free_member()
            if m is None:
                return
            self._rr = (self.members.index(m) + 1) % len(self.members)
            caller.member = m
            phone1, phone2 = self._local_pair(m.seat, "agents", linkedid=caller.trunk.linkedid)
            phone1.caller = phone2.caller = caller.number
            phone1.exten = caller.number
            caller.ringing = phone1
            self._event("AgentCalled", caller.trunk, *phone1.dest(), ("Queue", "hotline"),
                        ("Interface", m.interface), ("MemberName", m.name), privilege="agent,all")
            self._event("DialBegin", caller.trunk, *phone1.dest(), ("DialString", f"{m.seat}@agents"))
            self._state(phone1, "Ringing")
            self._at(self.config.ring_s, lambda c=caller, p1=phone1, p2=phone2: self._connect(c, p1, p2))

    def _connect(self, caller: _Caller, phone1: _Chan, phone2: _Chan) -> None:
        if caller not in self.queue or caller.ringing is not phone1 or caller.member is None:
            return
        m = caller.member
        self._state(phone2, "Up")
        self._state(phone1, "Up")
        pos = self.queue.index(caller) + 1
        self.queue.remove(caller)
        hold = int(self.now() - caller.joined_at)
        self._event("DialEnd", caller.trunk, *phone1.dest(), ("DialStatus", "ANSWER"))
        self._event("QueueCallerLeave", caller.trunk, ("Queue", "hotline"), ("Count", str(len(self.queue))),
                    ("Position", str(pos)), privilege="agent,all")
        self._event("AgentConnect", caller.trunk, *phone1.dest(), ("Queue", "hotline"), ("Interface", m.interface),
                    ("MemberName", m.name), ("HoldTime", str(hold)), ("RingTime", str(int(self.config.ring_s))),
                    privilege="agent,all")
        self._event("MusicOnHoldStop", caller.trunk)
        self._event("BridgeEnter", phone1)
        self._event("BridgeEnter", caller.trunk)
        self.stats["answered"] += 1
        talk = self.rng.uniform(self.config.talk_min_s, self.config.talk_max_s)
        m.busy_until = self.now() + talk + 2  # wrapuptime 2
        start = self.now()
        self._at(talk, lambda: self._complete(caller, m, phone1, phone2, hold, start))
        self._at(talk + 2.01, self._dispatch)

    def _complete(self, caller: _Caller, m: _Member, phone1: _Chan, phone2: _Chan, hold: int, start: float) -> None:
        if caller.trunk.uid not in self.channels:
            return
        self._hangup(phone2, 16)
        self._event("AgentComplete", caller.trunk, *phone1.dest(), ("Queue", "hotline"), ("Interface", m.interface),
                    ("MemberName", m.name), ("HoldTime", str(hold)), ("TalkTime", str(int(round(self.now() - start)))),
                    ("Reason", "agent"), privilege="agent,all")
        self._event("BridgeLeave", phone1)
        self._hangup(phone1, 16)
        self._event("BridgeLeave", caller.trunk)
        self._hangup(caller.citizen, 16)
        self._hangup(caller.trunk, 16)

    def _transfer(self, chan: _Chan, context: str, exten: str, blind: bool) -> None:
        # the citizen's trunk channel dials the target from the transfer context, as in 04a/04b
        chan.context, chan.exten = context, exten
        target1, target2 = self._local_pair(exten, "agents-direct", linkedid=chan.linkedid)
        self._event("DialBegin", chan, *target1.dest(), ("DialString", f"{exten}@agents-direct"))
        self._state(target1, "Up")
        self._event("DialEnd", chan, *target1.dest(), ("DialStatus", "ANSWER"))

    # ---- callbacks -----------------------------------------------------------------------------

    def _originate(self, a: dict[str, Any], aid: str) -> None:
        self.stats["callbacks"] += 1
        channel = str(a.get("Channel", ""))
        number = channel.split("/", 1)[-1].split("@", 1)[0]
        variables = a.get("Variable", [])
        variables = variables if isinstance(variables, list) else [variables]
        one, two = self._local_pair(number, "trunk-out")
        for var in variables:
            k, _, v = str(var).partition("=")
            for c in (one, two):
                self._event("VarSet", c, ("Variable", k), ("Value", v), privilege="dialplan,all")
        if len(self.trunk_in_use) >= self.config.lines:
            self._newexten(two, "Congestion", "5")
            self._state(two, "Busy")
            self._event("DialEnd", None, *one.dest(), ("DialStatus", "CONGESTION"))
            self._hangup(two, 34)
            self._emit([("Event", "OriginateResponse"), ("Privilege", "call,all"), ("ActionID", aid),
                        ("Response", "Failure"), ("Channel", f"Local/{number}@trunk-out"),
                        ("Context", str(a.get("Context", ""))), ("Exten", str(a.get("Exten", ""))),
                        ("Reason", "8"), ("Uniqueid", "<unknown>"), ("CallerIDNum", "12345")])
            self._hangup(one, 0)
            return
        self.trunk_in_use.add(two.uid)
        self._state(one, "Ringing")

        def answered() -> None:
            self._state(two, "Up")
            self._emit([("Event", "OriginateResponse"), ("Privilege", "call,all"), ("ActionID", aid),
                        ("Response", "Success"), ("Channel", one.name), ("Context", str(a.get("Context", ""))),
                        ("Exten", str(a.get("Exten", ""))), ("Reason", "4"), ("Uniqueid", one.uid),
                        ("CallerIDNum", "12345")])
            self._state(one, "Up")
            self._at(self.rng.uniform(4, 9), lambda: (self._hangup(two, 16), self._hangup(one, 16)))

        self._at(3.0, answered)
