"""A PBX simulator that speaks AMI like the captured Asterisk 22 (tests/fixtures/ami).

It listens on 127.0.0.1, sends the banner, takes Login (Response, FullyBooted, SuccessfulAuth)
and generates hotline calls with the event sequences, field names, field order and value
formats of the recordings of the hotline dialplan (tests/unit/test_ami_contract.py holds it
to them, over the same suite as the recordings):

- inbound calls on a `Local/N@inbound` pair: the citizen `;1` (Linkedid = its Uniqueid), the
  trunk `;2` in context `inbound`, which answers and enters queue `hotline`;
- the line limit: past `lines` trunk channels the `;2` runs `Busy(5)` (Newstate Busy, Hangup
  cause 17) and never reaches the queue; callbacks count in the same group (Congestion, 34);
- queue members `Local/800X@agents` rung round-robin (AgentCalled, DialBegin, AgentConnect
  with HoldTime/RingTime in seconds, AgentComplete with Reason agent/caller/transfer);
- abandons: `abandon_pct` % of callers are impatient. One who must wait gives up after
  `patience_min_s`…`patience_max_s` in the queue (02_queue_abandon); one rung at once hangs
  up while the phone rings (02b_abandon_while_ringing). Either way QueueCallerAbandon +
  QueueCallerLeave, so the demo always has abandons;
- actions: Ping, Originate (Async; citizen first `Local/N@trunk-out` → OriginateResponse is
  the citizen's result, 05a; operator first `Local/<seat>@operator-phone` → OriginateResponse
  when the operator answers, the citizen's result in DialEnd on the operator's `;1`, 05b),
  QueuePause (`Paused: true|false`, QueueMemberPause events), QueueStatus, CoreShowChannels,
  Getvar, Redirect (04a), BlindTransfer (04b), Logoff. Citizens in `noanswer_numbers` /
  `busy_numbers` do not answer / are busy, like the captured AstDB `pstnsim/<number>`.

The call model is a discrete-event schedule driven by a seeded RNG and a clock: `speed`
compresses time (speed 10 plays a minute in 6 s), so the same seed gives the same calls.
Only the events the adapter and a supervisor need are generated (no CEL/Cdr/VarSet noise).
`record` keeps one entry per call placed (its Linkedid and outcome) for end-to-end checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
import logging
import math
import random
import struct
import time
import uuid
import wave
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
BANNER = b"Asterisk Call Manager/11.0.0\r\n"
STATE_CODES = {"Down": "0", "Rsrvd": "1", "OffHook": "2", "Dialing": "3", "Ring": "4", "Ringing": "5",
               "Up": "6", "Busy": "7"}
CAUSES = {0: "Unknown", 16: "Normal Clearing", 17: "User busy", 19: "User alerting, no answer",
          34: "Circuit/channel congestion"}
QUEUE_APP_DATA = "hotline,t,,,600"


def write_tone_wav(path: Path, seconds: float, freq: int = 440, rate: int = 8000) -> None:
    """A WAV file of `seconds` of a sine tone (8 kHz 16-bit mono, like MixMonitor's wav)."""

    period = rate // math.gcd(rate, freq)  # samples in a whole number of cycles
    cycle = struct.pack(f"<{period}h", *(int(8000 * math.sin(2 * math.pi * freq * i / rate)) for i in range(period)))
    frames = max(0, int(round(seconds * rate)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        whole, rest = divmod(frames, period)
        w.writeframes(cycle * whole + cycle[: rest * 2])


def frame(pairs: list[tuple[str, str]]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode()


@dataclass
class SimConfig:
    rate_per_min: float = 6.0
    abandon_pct: float = 10.0  # % of callers who are impatient and always give up (see module doc)
    lines: int = 10
    operators: int = 5
    ring_s: float = 2.0
    talk_min_s: float = 4.0
    talk_max_s: float = 9.0
    patience_min_s: float = 5.0  # an impatient caller who has to wait gives up after this many seconds at least
    patience_max_s: float = 20.0
    duration_s: float | None = None  # stop generating calls after this long (simulated time)
    speed: float = 1.0
    seed: int = 12345
    username: str = "hotline"
    secret: str = "hotline-secret"
    epoch: float | None = None  # simulated start time (default: now)
    noise: bool = False
    wrapup_s: float = 2.0
    callback_ring_s: float = 3.0  # the citizen's phone rings this long before answering
    callback_talk_s: float = 6.0
    noanswer_numbers: tuple[str, ...] = ("15907311234",)
    busy_numbers: tuple[str, ...] = ("18673125566",)
    cdr_url: str | None = None  # write Asterisk's CDR rows (cdr_pgsql's table) to this PostgreSQL database
    cdr_table: str = "cdr"
    recordings_spool: str | None = None  # write MixMonitor's file per answered call here (`<pbx>-<linkedid>.wav`)
    pbx: str = "default"  # the PBX's name in those files (the dialplan's HOTLINE_PBX)


@dataclass
class _Chan:
    name: str
    uid: str
    linkedid: str
    context: str
    exten: str
    caller: str = "<unknown>"
    connected: str = "<unknown>"
    state: str = "Down"
    priority: int = 1
    app: str = ""
    app_data: str = ""
    bridge: str = ""
    created: float = 0.0

    def fields(self, prefix: str = "") -> list[tuple[str, str]]:
        return [(prefix + "Channel", self.name), (prefix + "ChannelState", STATE_CODES[self.state]),
                (prefix + "ChannelStateDesc", self.state), (prefix + "CallerIDNum", self.caller),
                (prefix + "CallerIDName", self.caller), (prefix + "ConnectedLineNum", self.connected),
                (prefix + "ConnectedLineName", self.connected), (prefix + "Language", "en"),
                (prefix + "AccountCode", ""), (prefix + "Context", self.context), (prefix + "Exten", self.exten),
                (prefix + "Priority", str(self.priority)), (prefix + "Uniqueid", self.uid),
                (prefix + "Linkedid", self.linkedid)]

    def dest(self) -> list[tuple[str, str]]:
        return self.fields("Dest")


@dataclass
class _Member:
    seat: str
    paused: bool = False
    busy_until: float = 0.0
    reason: str = ""
    calls_taken: int = 0
    last_pause: int = 0
    login_time: int = 0

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
    impatient: bool
    position: int = 0
    member: _Member | None = None
    ringing: tuple[_Chan, _Chan] | None = None
    phones: tuple[_Chan, _Chan] | None = None  # the member's pair once connected
    answered_at: float | None = None
    hold: int = 0
    transferred: bool = False
    done: bool = False


@dataclass(order=True)
class _Timer:
    at: float
    seq: int
    fn: Callable[[], None] = field(compare=False)


class PBXSimulator:
    """The simulated PBX. `await start(host, port)`; `await stop()`. Stats in `self.stats`,
    one entry per call placed in `self.record` (Linkedid → direction, number, outcome)."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.rng = random.Random(self.config.seed)
        self.members = [_Member(str(8001 + i)) for i in range(self.config.operators)]
        self._rr = 0
        self.channels: dict[str, _Chan] = {}
        self.queue: list[_Caller] = []
        self.connected: dict[str, _Caller] = {}  # trunk uid → an answered inbound call
        self.trunk_in_use: set[str] = set()
        self._seq = itertools.count()
        self._uid_seq = itertools.count()
        self._chan_seq = itertools.count()
        self._timers: list[_Timer] = []
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._t0_real = 0.0
        self._epoch = self.config.epoch
        self.generating = True
        self.hold_arrivals = False  # arrivals due meanwhile wait (tests: no call begins and ends unseen)
        self.logins = 0
        self.stats = {"offered": 0, "answered": 0, "abandoned": 0, "refused": 0, "callbacks": 0, "events": 0}
        self.record: dict[str, dict[str, Any]] = {}
        self.cdr_rows: list[dict[str, Any]] = []  # every CDR row written, as cdr_pgsql would
        self._cdr_pending: list[dict[str, Any]] = []
        self._cdr_task: asyncio.Task[None] | None = None

    # ---- clock ---------------------------------------------------------------------------------

    def now(self) -> float:
        """Simulated seconds since the start."""
        return (time.monotonic() - self._t0_real) * self.config.speed

    def epoch_now(self) -> float:
        return (self._epoch or 0.0) + self.now()

    def _at(self, delay: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._timers, _Timer(self.now() + delay, next(self._seq), fn))

    def _uid(self) -> str:
        return f"{int(self.epoch_now())}.{next(self._uid_seq)}"

    @property
    def idle(self) -> bool:
        """No channel up and nothing scheduled but arrivals."""
        return not self.channels and all(t.fn == self._arrival for t in self._timers)

    async def wait_idle(self, poll: float = 0.05) -> None:
        """After `duration_s` (or `generating = False`): wait until the calls in progress end."""
        while not (self.idle and (not self.generating or self._done_generating())):
            await asyncio.sleep(poll)

    def _done_generating(self) -> bool:
        return self.config.duration_s is not None and self.now() >= self.config.duration_s

    # ---- network -------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 5038) -> int:
        self._t0_real = time.monotonic()
        if self._epoch is None:
            self._epoch = time.time()
        for m in self.members:
            m.login_time = int(self._epoch)
        self._server = await asyncio.start_server(self._client, host, port)
        self._task = asyncio.create_task(self._run())
        if self.config.cdr_url:
            self._cdr_task = asyncio.create_task(self._cdr_writer())
        if self.generating:
            self._at(self._next_gap(), self._arrival)
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._cdr_task:
            await self.flush_cdr()
            self._cdr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._cdr_task
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
                self.logins += 1
                self._reply(w, [("Response", "Success"), ("ActionID", aid), ("Message", "Authentication accepted")])
                w._hotline_logged_in = True  # type: ignore[attr-defined]
                self._reply(w, [("Event", "FullyBooted"), ("Privilege", "system,all"),
                                ("Uptime", str(int(self.now()))), ("LastReload", str(int(self.now()))),
                                ("Status", "Fully Booted")])
                tv = datetime.fromtimestamp(self.epoch_now(), UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
                peer = w.get_extra_info("peername") or ("127.0.0.1", 0)
                local = w.get_extra_info("sockname") or ("127.0.0.1", 5038)
                self._reply(w, [("Event", "SuccessfulAuth"), ("Privilege", "security,all"), ("EventTV", tv),
                                ("Severity", "Informational"), ("Service", "AMI"), ("EventVersion", "1"),
                                ("AccountID", self.config.username), ("SessionID", f"0x{id(w):012x}"),
                                ("LocalAddress", f"IPV4/TCP/{local[0]}/{local[1]}"),
                                ("RemoteAddress", f"IPV4/TCP/{peer[0]}/{peer[1]}"), ("UsingPassword", "0"),
                                ("SessionTV", tv)])
            else:
                # Asterisk answers a wrong password after 1 s, then closes the connection (06a)
                loop = asyncio.get_running_loop()
                loop.call_later(min(1.0, 1.0 / self.config.speed), self._refuse_login, w, aid)
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
            self._core_show_channels(w, aid)
        elif act == "queuestatus":
            self._queue_status(w, aid, a.get("Member"))
        elif act == "queuepause":
            self._queue_pause(w, aid, a)
        elif act == "originate":
            if str(a.get("Async", "")).lower() != "true":
                self._reply(w, [("Response", "Error"), ("ActionID", aid), ("Message", "Use Async: true")])
                return
            self._reply(w, ok + [("Message", "Originate successfully queued")])
            self._originate(a, aid)
        elif act == "redirect":
            caller = next((c for c in self.connected.values() if c.trunk.name == a.get("Channel")), None)
            if caller is None or caller.transferred:
                self._reply(w, [("Response", "Error"), ("ActionID", aid), ("Message", "Channel specified does not exist")])
                return
            self._reply(w, ok + [("Message", "Redirect successful")])
            self._redirect(caller, str(a.get("Context", "transfer")), str(a.get("Exten", "")))
        elif act == "blindtransfer":
            caller = next((c for c in self.connected.values()
                           if c.phones is not None and c.phones[0].name == a.get("Channel")), None)
            if caller is None or caller.transferred:
                self._reply(w, [("Response", "Error"), ("ActionID", aid), ("Message", "No such channel")])
                return
            self._reply(w, ok + [("Message", "Transfer succeeded")])
            self._blind_transfer(caller, str(a.get("Context", "transfer")), str(a.get("Exten", "")))
        else:
            self._reply(w, [("Response", "Error"), ("ActionID", aid),
                            ("Message", f"Invalid/unknown command: {a.get('Action')}. Use Action: ListCommands "
                                        "to show available commands.")])

    def _refuse_login(self, w: asyncio.StreamWriter, aid: str) -> None:
        if not w.is_closing():
            self._reply(w, [("Response", "Error"), ("ActionID", aid), ("Message", "Authentication failed")])
            w.close()

    def _core_show_channels(self, w: asyncio.StreamWriter, aid: str) -> None:
        self._reply(w, [("Response", "Success"), ("ActionID", aid), ("EventList", "start"),
                        ("Message", "Channels will follow")])
        now = self.now()
        for c in self.channels.values():
            secs = int(max(now - c.created, 0))
            self._reply(w, [("Event", "CoreShowChannel"), ("ActionID", aid), *c.fields(), ("Application", c.app),
                            ("ApplicationData", c.app_data),
                            ("Duration", f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"),
                            ("BridgeId", c.bridge)])
        self._reply(w, [("Event", "CoreShowChannelsComplete"), ("ActionID", aid), ("EventList", "Complete"),
                        ("ListItems", str(len(self.channels)))])

    def _member_fields(self, m: _Member, name_key: str = "MemberName") -> list[tuple[str, str]]:
        in_call = m.busy_until > self.now()
        head = ([("MemberName", m.name), ("Interface", m.interface)] if name_key == "MemberName"
                else [("Name", m.name), ("Location", m.interface)])
        tail = [("StateInterface", m.interface), ("Membership", "static"), ("Penalty", "0"),
                ("CallsTaken", str(m.calls_taken)), ("LastCall", "0"), ("LastPause", str(m.last_pause)),
                ("LoginTime", str(m.login_time)), ("InCall", "1" if in_call else "0"),
                ("Status", "2" if in_call else "1"), ("Paused", "1" if m.paused else "0"),
                ("PausedReason", m.reason)]
        return head + tail

    def _queue_pause(self, w: asyncio.StreamWriter, aid: str, a: dict[str, Any]) -> None:
        m = next((m for m in self.members if m.interface == a.get("Interface")), None)
        if m is None:
            self._reply(w, [("Response", "Error"), ("ActionID", aid), ("Message", "Interface not found")])
            return
        m.paused = str(a.get("Paused", "")).lower() in ("true", "1", "yes")
        m.reason = str(a.get("Reason", "")) if m.paused else ""
        m.last_pause = int(self.epoch_now()) if m.paused else m.last_pause
        self._reply(w, [("Response", "Success"), ("ActionID", aid),
                        ("Message", "Interface paused successfully" if m.paused else "Interface unpaused successfully")])
        self._emit([("Event", "QueueMemberPause"), ("Privilege", "agent,all"), ("Queue", "hotline"),
                    *self._member_fields(m), ("Ringinuse", "0"), ("Wrapuptime", "0")])
        if not m.paused:
            self._dispatch()

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
            self._reply(w, [("Event", "QueueMember"), ("Queue", "hotline"), *self._member_fields(m, "Name"),
                            ("Wrapuptime", "0"), ("ActionID", aid)])
        if not member:
            for pos, c in enumerate(self.queue, 1):
                items += 1
                self._reply(w, [("Event", "QueueEntry"), ("Queue", "hotline"), ("Position", str(pos)),
                                ("Channel", c.trunk.name), ("Uniqueid", c.trunk.uid), ("CallerIDNum", c.number),
                                ("CallerIDName", c.number), ("ConnectedLineNum", c.number),
                                ("ConnectedLineName", c.number), ("Wait", str(int(self.now() - c.joined_at))),
                                ("Priority", "0"), ("ActionID", aid)])
        self._reply(w, [("Event", "QueueStatusComplete"), ("ActionID", aid), ("EventList", "Complete"),
                        ("ListItems", str(items))])

    # ---- channels ------------------------------------------------------------------------------

    def _local_pair(self, exten: str, context: str, linkedid: str | None = None,
                    caller: str = "<unknown>") -> tuple[_Chan, _Chan]:
        n = f"{next(self._chan_seq):08x}"
        uid1 = self._uid()
        lid = linkedid or uid1
        now = self.now()
        one = _Chan(f"Local/{exten}@{context}-{n};1", uid1, lid, context, exten, caller=caller, created=now)
        two = _Chan(f"Local/{exten}@{context}-{n};2", self._uid(), lid, context, exten, caller=caller,
                    state="Ring", created=now)
        for c in (one, two):
            self.channels[c.uid] = c
            self._event("Newchannel", c)
        self._emit([("Event", "LocalBridge"), ("Privilege", "call,all"), *one.fields("LocalOne"),
                    *two.fields("LocalTwo"), ("Context", context), ("Exten", exten), ("LocalOptimization", "Yes")])
        return one, two

    def _state(self, c: _Chan, state: str) -> None:
        c.state = state
        self._event("Newstate", c)

    def _hangup(self, c: _Chan, cause: int = 16) -> None:
        if self.channels.pop(c.uid, None) is None:
            return
        self.trunk_in_use.discard(c.uid)
        self._event("Hangup", c, ("Cause", str(cause)), ("Cause-txt", CAUSES.get(cause, "Normal Clearing")))

    def _newexten(self, c: _Chan, app: str, data: str, priority: int | None = None) -> None:
        c.app, c.app_data = app, data
        if priority is not None:
            c.priority = priority
        if self.config.noise or app in ("Busy", "Congestion", "Queue", "Dial", "NoOp"):
            self._event("Newexten", c, ("Extension", c.exten), ("Application", app), ("AppData", data),
                        privilege="dialplan,all")

    def _bridge(self, *chans: _Chan) -> None:
        bid = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        for i, c in enumerate(chans, 1):
            c.bridge = bid
            self._emit([("Event", "BridgeEnter"), ("Privilege", "call,all"), *self._bridge_fields(bid, i), *c.fields()])

    def _unbridge(self, c: _Chan) -> None:
        if not c.bridge:
            return
        bid, c.bridge = c.bridge, ""
        left = sum(1 for x in self.channels.values() if x.bridge == bid)
        self._emit([("Event", "BridgeLeave"), ("Privilege", "call,all"), *self._bridge_fields(bid, left), *c.fields()])

    @staticmethod
    def _bridge_fields(bid: str, n: int) -> list[tuple[str, str]]:
        return [("BridgeUniqueid", bid), ("BridgeType", "basic"), ("BridgeTechnology", "simple_bridge"),
                ("BridgeCreator", "<unknown>"), ("BridgeName", "<unknown>"), ("BridgeNumChannels", str(n)),
                ("BridgeVideoSourceMode", "none")]

    def _connect_line(self, number: str, *chans: _Chan) -> None:
        for c in chans:
            c.caller = c.connected = number

    # ---- inbound calls -------------------------------------------------------------------------

    def _next_gap(self) -> float:
        rate = max(self.config.rate_per_min, 0.001) / 60.0
        return self.rng.expovariate(rate)

    # ---- CDR (as Asterisk's cdr_pgsql writes them: whole seconds, UTC) ------------------------------

    def _record(self, linkedid: str, seconds: float) -> None:
        """MixMonitor's file of an answered call (the dialplan records from the queue's connect or
        the callback's answer to the hangup): a tone as long as the talk, 8 kHz 16-bit mono."""
        if not self.config.recordings_spool:
            return
        d = Path(self.config.recordings_spool)
        d.mkdir(parents=True, exist_ok=True)
        write_tone_wav(d / f"{self.config.pbx}-{linkedid}.wav", seconds, 300 + (zlib.crc32(linkedid.encode()) % 8) * 50)
        self.record.setdefault(linkedid, {})["recording_s"] = seconds

    def _cdr_time(self, t: float | None) -> datetime | None:
        if t is None:
            return None
        return datetime.fromtimestamp(int((self._epoch or 0.0) + t), UTC).replace(tzinfo=None)

    def _cdr(self, chan: _Chan, *, dcontext: str, answer: float | None, disposition: str, userfield: str = "",
             dstchannel: str = "", lastapp: str = "", lastdata: str = "", src: str = "") -> None:
        row = {"linkedid": chan.linkedid, "uniqueid": chan.uid, "channel": chan.name, "dstchannel": dstchannel,
               "dcontext": dcontext, "src": src, "clid": f'"{src}" <{src}>', "lastapp": lastapp,
               "lastdata": lastdata, "start": self._cdr_time(chan.created), "answer": self._cdr_time(answer),
               "end": self._cdr_time(self.now()), "disposition": disposition, "userfield": userfield}
        self.cdr_rows.append(row)
        if self.config.cdr_url:
            self._cdr_pending.append(row)

    async def flush_cdr(self) -> None:
        if not self._cdr_pending or not self.config.cdr_url:
            return
        import psycopg  # only with a CDR database (cdr_pgsql); the adapter runs without it
        from psycopg import sql  # only with a CDR database

        rows, self._cdr_pending = self._cdr_pending, []
        cols = list(rows[0])
        stmt = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            sql.Identifier(self.config.cdr_table), sql.SQL(", ").join(sql.Identifier(c) for c in cols),
            sql.SQL(", ").join(sql.Placeholder() for _ in cols))
        async with await psycopg.AsyncConnection.connect(self.config.cdr_url, autocommit=True) as conn:
            async with conn.cursor() as cur:
                await cur.executemany(stmt, [[r[c] for c in cols] for r in rows])

    async def _cdr_writer(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            try:
                await self.flush_cdr()
            except Exception:  # noqa: BLE001 - a simulator: say it and go on
                log.exception("simulator: cannot write CDR rows")

    def _number(self) -> str:
        prefix = self.rng.choice(["138", "139", "159", "186", "177", "0731"])
        return prefix + "".join(self.rng.choice("0123456789") for _ in range(11 - len(prefix) + (prefix == "0731")))

    def _arrival(self) -> None:
        if not self.generating or self._done_generating():
            return
        if self.hold_arrivals:
            self._at(0.05, self._arrival)
            return
        self.inbound_call(self._number())
        self._at(self._next_gap(), self._arrival)

    def inbound_call(self, number: str, patience: float | None = None, impatient: bool | None = None) -> str:
        """A citizen calls the hotline (like the capture client's Originate Local/N@inbound).

        Returns the call's Linkedid. `patience` (seconds in the queue) makes the caller give up
        after exactly that long; `impatient` overrides the draw against `abandon_pct`."""
        self.stats["offered"] += 1
        citizen, trunk = self._local_pair(number, "inbound")
        self.record[citizen.linkedid] = {"direction": "in", "number": number, "outcome": "in_progress"}
        self._event("DialBegin", None, *citizen.dest(), ("DialString", f"{number}@inbound"))
        self._connect_line(number, citizen, trunk)
        self._newexten(trunk, "NoOp", f"12345 hotline: inbound call from {number}", 2)
        if len(self.trunk_in_use) >= self.config.lines:
            self.stats["refused"] += 1
            self.record[citizen.linkedid]["outcome"] = "refused"
            self._newexten(trunk, "NoOp", f"All {self.config.lines} trunk lines busy - refusing call from {number}", 12)
            self._newexten(trunk, "Busy", "5", 13)
            self._state(trunk, "Busy")
            self._event("DialEnd", None, *citizen.dest(), ("DialStatus", "BUSY"))
            self._hangup(citizen, 0)
            self._hangup(trunk, 17)
            self._cdr(trunk, dcontext="inbound", answer=None, disposition="BUSY", userfield="hotline-linelimit",
                      lastapp="Busy", lastdata="5", src=number)
            return citizen.linkedid
        self.trunk_in_use.add(trunk.uid)
        self._newexten(trunk, "Answer", "", 7)
        self._state(citizen, "Up")
        self._state(trunk, "Up")
        self._event("DialEnd", None, *citizen.dest(), ("DialStatus", "ANSWER"))
        citizen.context, citizen.exten, citizen.priority = "citizen", number, 2
        if impatient is None:
            impatient = patience is not None or self.rng.random() * 100 < self.config.abandon_pct
        if patience is None:
            patience = self.rng.uniform(self.config.patience_min_s, self.config.patience_max_s) if impatient else 1e9
        self._at(0.5, lambda: self._join(number, citizen, trunk, patience, impatient))
        return citizen.linkedid

    def _join(self, number: str, citizen: _Chan, trunk: _Chan, patience: float, impatient: bool) -> None:
        if trunk.uid not in self.channels:
            return
        self._newexten(trunk, "Queue", QUEUE_APP_DATA, 8)
        caller = _Caller(number, trunk, citizen, self.now(), impatient, position=len(self.queue) + 1)
        self.queue.append(caller)
        self._event("QueueCallerJoin", trunk, ("Queue", "hotline"), ("Position", str(caller.position)),
                    ("Count", str(len(self.queue))), privilege="agent,all")
        self._event("MusicOnHoldStart", trunk, ("Class", "default"))
        if patience < 1e8:
            self._at(patience, lambda: self._citizen_gives_up(caller))
        self._dispatch()

    def _citizen_gives_up(self, caller: _Caller) -> None:
        if caller not in self.queue or caller.done:
            return
        caller.done = True
        self.stats["abandoned"] += 1
        self.record[caller.citizen.linkedid].update(outcome="abandoned", wait=self.now() - caller.trunk.created)
        pos = self.queue.index(caller) + 1
        self._hangup(caller.citizen, 16)
        if caller.ringing is not None:
            p1, p2 = caller.ringing
            self._event("DialEnd", caller.trunk, *p1.dest(), ("DialStatus", "CANCEL"))
            self._hangup(p1, 0)
            self._hangup(p2, 0)
            caller.member, caller.ringing = None, None
        self.queue.remove(caller)
        self._event("QueueCallerAbandon", caller.trunk, ("Queue", "hotline"), ("Position", str(pos)),
                    ("OriginalPosition", str(caller.position)), ("HoldTime", str(int(self.now() - caller.joined_at))),
                    privilege="agent,all")
        self._event("QueueCallerLeave", caller.trunk, ("Queue", "hotline"), ("Position", str(pos)),
                    ("Count", str(len(self.queue))), privilege="agent,all")
        self._event("MusicOnHoldStop", caller.trunk)
        self._hangup(caller.trunk, 16)
        self._cdr(caller.trunk, dcontext="inbound", answer=caller.trunk.created, disposition="ANSWERED",
                  userfield="hotline-inbound", lastapp="Queue", lastdata=QUEUE_APP_DATA, src=caller.number)
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
            p1, p2 = self._local_pair(m.seat, "agents", linkedid=caller.trunk.linkedid, caller=caller.number)
            self._connect_line(caller.number, p1, p2)
            p1.exten = caller.number
            caller.ringing = (p1, p2)
            self._event("AgentCalled", caller.trunk, *p1.dest(), ("Queue", "hotline"),
                        ("Interface", m.interface), ("MemberName", m.name), privilege="agent,all")
            self._event("DialBegin", caller.trunk, *p1.dest(), ("DialString", m.interface))
            self._newexten(p2, "NoOp", f"Operator {m.seat} phone ringing for queue call", 2)
            self._state(p1, "Ringing")
            self._at(self.config.ring_s, functools.partial(self._connect, caller, caller.ringing))
            if caller.impatient:
                # an impatient citizen does not wait for the phone to be picked up (02b)
                self._at(self.config.ring_s * self.rng.uniform(0.2, 0.8), functools.partial(self._citizen_gives_up, caller))

    def _connect(self, caller: _Caller, ring: tuple[_Chan, _Chan]) -> None:
        if caller not in self.queue or caller.ringing is not ring or caller.member is None or caller.done:
            return
        m = caller.member
        p1, p2 = ring
        self._state(p2, "Up")
        self._state(p1, "Up")
        pos = self.queue.index(caller) + 1
        self.queue.remove(caller)
        caller.ringing, caller.phones = None, ring
        caller.hold = int(self.now() - caller.joined_at)
        caller.answered_at = self.now()
        self._event("DialEnd", caller.trunk, *p1.dest(), ("DialStatus", "ANSWER"))
        self._event("QueueCallerLeave", caller.trunk, ("Queue", "hotline"), ("Position", str(pos)),
                    ("Count", str(len(self.queue))), privilege="agent,all")
        self._event("AgentConnect", caller.trunk, *p1.dest(), ("Queue", "hotline"), ("Interface", m.interface),
                    ("MemberName", m.name), ("HoldTime", str(caller.hold)), ("RingTime", str(int(self.config.ring_s))),
                    privilege="agent,all")
        self._event("MusicOnHoldStop", caller.trunk)
        self._bridge(p1, caller.trunk)
        self.stats["answered"] += 1
        self.record[caller.citizen.linkedid].update(outcome="answered", seat=m.seat,
                                                    wait=self.now() - caller.trunk.created)
        self.connected[caller.trunk.uid] = caller
        m.calls_taken += 1
        talk = self.rng.uniform(self.config.talk_min_s, self.config.talk_max_s)
        m.busy_until = self.now() + talk + self.config.wrapup_s
        self._at(talk, lambda: self._complete(caller))
        self._at(talk + self.config.wrapup_s + 0.01, self._dispatch)

    def _complete(self, caller: _Caller) -> None:
        if caller.transferred or caller.trunk.uid not in self.channels or caller.phones is None:
            return
        m, (p1, p2) = caller.member, caller.phones
        assert m is not None
        self._hangup(p2, 16)
        self._event("AgentComplete", caller.trunk, *p1.dest(), ("Queue", "hotline"), ("Interface", m.interface),
                    ("MemberName", m.name), ("HoldTime", str(caller.hold)),
                    ("TalkTime", str(int(round(self.now() - (caller.answered_at or 0))))), ("Reason", "agent"),
                    privilege="agent,all")
        self._unbridge(p1)
        self._hangup(p1, 16)
        self._unbridge(caller.trunk)
        self._hangup(caller.citizen, 16)
        self._hangup(caller.trunk, 16)
        self.connected.pop(caller.trunk.uid, None)
        self._record(caller.trunk.linkedid, self.now() - (caller.answered_at or self.now()))
        self._cdr(caller.trunk, dcontext="inbound", answer=caller.trunk.created, disposition="ANSWERED",
                  userfield="hotline-inbound", dstchannel=p1.name, lastapp="Queue", lastdata=QUEUE_APP_DATA,
                  src=caller.number)
        self._cdr(p2, dcontext="agents", answer=caller.answered_at, disposition="ANSWERED", lastapp="Wait",
                  src=caller.number)

    # ---- transfers (三方通话) -------------------------------------------------------------------

    def _transfer_dial(self, caller: _Caller, context: str, exten: str, *, reason: str) -> None:
        """The citizen's trunk channel dials the target from the transfer context (04a, 04b)."""
        trunk = caller.trunk
        trunk.context, trunk.exten = context, exten
        self._newexten(trunk, "Dial", f"Local/{exten}@agents-direct,20", 2)
        t1, t2 = self._local_pair(exten, "agents-direct", linkedid=trunk.linkedid, caller=caller.number)
        self._connect_line(caller.number, t1, t2)
        self._newexten(t2, "NoOp", f"Operator {exten} phone ringing (direct)", 2)
        self._state(t1, "Ringing")
        self._event("DialBegin", trunk, *t1.dest(), ("DialString", f"{exten}@agents-direct"))
        m = caller.member
        assert m is not None
        m.busy_until = self.now() + self.config.wrapup_s
        self._at(self.config.wrapup_s + 0.01, self._dispatch)
        if reason == "transfer":  # app_queue sees a BlindTransfer at once; a Redirect only at the end
            self._agent_complete_no_dest(caller, reason)
        self.record[trunk.linkedid]["transferred_to"] = exten

        def answered() -> None:
            if trunk.uid not in self.channels:
                return
            self._state(t2, "Up")
            self._state(t1, "Up")
            self._event("DialEnd", trunk, *t1.dest(), ("DialStatus", "ANSWER"))
            self._bridge(t1, trunk)
            self._at(self.rng.uniform(self.config.talk_min_s, self.config.talk_max_s), ended)

        def ended() -> None:
            self._unbridge(t1)
            self._unbridge(trunk)
            self._hangup(t1, 16)
            if reason == "caller":
                self._agent_complete_no_dest(caller, reason)
            self._hangup(t2, 16)
            self._hangup(caller.citizen, 16)
            self._hangup(trunk, 16)
            self.connected.pop(trunk.uid, None)

        self._at(self.config.ring_s, answered)

    def _agent_complete_no_dest(self, caller: _Caller, reason: str) -> None:
        m = caller.member
        assert m is not None
        self._event("AgentComplete", caller.trunk, ("Queue", "hotline"), ("Interface", m.interface),
                    ("MemberName", m.name), ("HoldTime", str(caller.hold)),
                    ("TalkTime", str(int(round(self.now() - (caller.answered_at or 0))))), ("Reason", reason),
                    privilege="agent,all")

    def _redirect(self, caller: _Caller, context: str, exten: str) -> None:
        caller.transferred = True
        p1, p2 = caller.phones or (None, None)
        assert p1 is not None and p2 is not None
        caller.trunk.context, caller.trunk.exten, caller.trunk.priority = context, exten, 1
        self._unbridge(caller.trunk)
        self._unbridge(p1)
        self._hangup(p1, 16)
        self._hangup(p2, 16)
        self._transfer_dial(caller, context, exten, reason="caller")

    def _blind_transfer(self, caller: _Caller, context: str, exten: str) -> None:
        caller.transferred = True
        p1, p2 = caller.phones or (None, None)
        assert p1 is not None and p2 is not None
        bid = p1.bridge
        self._emit([("Event", "BlindTransfer"), ("Privilege", "call,all"), ("Result", "Success"),
                    *p1.fields("Transferer"), *caller.trunk.fields("Transferee"), *self._bridge_fields(bid, 2),
                    ("IsExternal", "Yes"), ("Context", context), ("Extension", exten)])
        self._unbridge(p1)
        self._hangup(p1, 16)
        caller.trunk.context, caller.trunk.exten, caller.trunk.priority = context, exten, 1
        self._unbridge(caller.trunk)
        self._transfer_dial(caller, context, exten, reason="transfer")
        self._hangup(p2, 16)

    # ---- callbacks (回访) ------------------------------------------------------------------------

    def _originate_response(self, aid: str, a: dict[str, Any], ok: bool, channel: str, uid: str,
                            reason: str) -> None:
        cid = str(a.get("CallerID", ""))
        num = cid.rsplit("<", 1)[-1].rstrip(">") if "<" in cid else (cid or "<unknown>")
        name = cid.split('"')[1] if cid.count('"') >= 2 else num
        self._emit([("Event", "OriginateResponse"), ("Privilege", "call,all"), ("ActionID", aid),
                    ("Response", "Success" if ok else "Failure"), ("Channel", channel),
                    ("Context", str(a.get("Context", ""))), ("Exten", str(a.get("Exten", ""))), ("Reason", reason),
                    ("Uniqueid", uid), ("CallerIDNum", num), ("CallerIDName", name)])

    def _originate(self, a: dict[str, Any], aid: str) -> None:
        self.stats["callbacks"] += 1
        channel = str(a.get("Channel", ""))
        tech_exten, _, ctx = channel.partition("/")[2].partition("@")
        variables = a.get("Variable", [])
        variables = [str(v) for v in (variables if isinstance(variables, list) else [variables])]
        timeout = float(a.get("Timeout", "30000") or 30000) / 1000
        if ctx == "operator-phone":
            self._operator_first(a, aid, tech_exten, str(a.get("Exten", "")), timeout, variables)
        else:
            self._citizen_first(a, aid, tech_exten, str(a.get("Exten", "")), timeout, variables)

    def _trunk_out(self, number: str, linkedid: str | None, variables: list[str]) -> tuple[_Chan, _Chan, bool]:
        """The outbound trunk pair `Local/<number>@trunk-out`; False if the line limit refuses it."""
        one, two = self._local_pair(number, "trunk-out", linkedid=linkedid)
        for var in variables:
            k, _, v = var.partition("=")
            for c in (one, two):
                self._event("VarSet", c, ("Variable", k), ("Value", v), privilege="dialplan,all")
        self._event("DialBegin", None, *one.dest(), ("DialString", f"{number}@trunk-out"))
        self._newexten(two, "NoOp", f"Outbound trunk call to {number}", 2)
        if len(self.trunk_in_use) >= self.config.lines:
            self._newexten(two, "NoOp", f"All {self.config.lines} trunk lines busy - cannot place callback to {number}", 4)
            self._newexten(two, "Congestion", "5", 5)
            self._state(two, "Busy")
            self._event("DialEnd", None, *one.dest(), ("DialStatus", "CONGESTION"))
            self._hangup(two, 34)
            return one, two, False
        self.trunk_in_use.add(two.uid)
        two.context = "pstn-sim"
        return one, two, True

    def _citizen_first(self, a: dict[str, Any], aid: str, number: str, seat: str, timeout: float,
                       variables: list[str]) -> None:
        one, two, ok = self._trunk_out(number, None, variables)
        rec = self.record[one.linkedid] = {"direction": "out", "style": "citizen_first", "number": number,
                                           "seat": seat, "outcome": "in_progress"}
        if not ok:
            rec["outcome"] = "callback_failed"
            self._originate_response(aid, a, False, f"Local/{number}@trunk-out", "<unknown>", "8")
            self._hangup(one, 0)
            return
        if number in self.config.busy_numbers:
            rec["outcome"] = "callback_unanswered"
            self._newexten(two, "Busy", "5", 11)
            self._state(two, "Busy")
            self._event("DialEnd", None, *one.dest(), ("DialStatus", "BUSY"))
            self._hangup(two, 17)
            self._originate_response(aid, a, False, f"Local/{number}@trunk-out", "<unknown>", "5")
            self._hangup(one, 0)
            return
        self._state(one, "Ringing")
        if number in self.config.noanswer_numbers:
            def no_answer() -> None:
                rec["outcome"] = "callback_unanswered"
                self._originate_response(aid, a, False, f"Local/{number}@trunk-out", "<unknown>", "3")
                self._hangup(two, 19)
                self._hangup(one, 19)
            self._at(timeout, no_answer)
            return

        def answered() -> None:
            rec["outcome"] = "callback_answered"
            self._newexten(two, "Answer", "", 6)
            self._state(two, "Up")
            self._originate_response(aid, a, True, one.name, one.uid, "4")
            self._state(one, "Up")
            self._event("DialEnd", None, *one.dest(), ("DialStatus", "ANSWER"))
            one.context, one.exten, one.priority = str(a.get("Context", "operator-callback")), seat, 2
            self._newexten(one, "Dial", f"Local/{seat}@agents-direct,20")
            o1, o2 = self._local_pair(seat, "agents-direct", linkedid=one.linkedid, caller=number)
            self._state(o1, "Ringing")
            self._event("DialBegin", one, *o1.dest(), ("DialString", f"{seat}@agents-direct"))

            def operator_answers() -> None:
                self._state(o2, "Up")
                self._state(o1, "Up")
                self._event("DialEnd", one, *o1.dest(), ("DialStatus", "ANSWER"))
                self._bridge(o1, one)
                self._at(self.config.callback_talk_s, ended)

            def ended() -> None:
                self._record(one.linkedid, self.config.callback_talk_s)
                self._hangup(two, 16)
                self._unbridge(one)
                self._hangup(one, 16)
                self._unbridge(o1)
                self._hangup(o1, 16)
                self._hangup(o2, 16)

            self._at(self.config.ring_s, operator_answers)

        self._at(self.config.callback_ring_s, answered)

    def _operator_first(self, a: dict[str, Any], aid: str, seat: str, number: str, timeout: float,
                        variables: list[str]) -> None:
        p1, p2 = self._local_pair(seat, "operator-phone", caller="<unknown>")
        rec = self.record[p1.linkedid] = {"direction": "out", "style": "operator_first", "number": number,
                                          "seat": seat, "outcome": "in_progress"}
        for var in variables:
            k, _, v = var.partition("=")
            for c in (p1, p2):
                self._event("VarSet", c, ("Variable", k), ("Value", v), privilege="dialplan,all")
        self._event("DialBegin", None, *p1.dest(), ("DialString", f"{seat}@operator-phone"))
        self._newexten(p2, "NoOp", f"Operator {seat} places a callback", 2)

        def operator_answers() -> None:
            self._state(p2, "Up")
            self._state(p1, "Up")
            self._originate_response(aid, a, True, p1.name, p1.uid, "4")
            self._event("DialEnd", None, *p1.dest(), ("DialStatus", "ANSWER"))
            p1.context, p1.exten, p1.priority = str(a.get("Context", "callback-dial")), number, 3
            self._newexten(p1, "Dial", f"Local/{number}@trunk-out,20")
            one, two, ok = self._trunk_out_dialled(p1, number, variables)
            if not ok:
                rec["outcome"] = "callback_failed"
                return self._operator_done(p1, p2, one, two, "CONGESTION")
            if number in self.config.busy_numbers:
                rec["outcome"] = "callback_unanswered"
                self._state(two, "Busy")
                self._hangup(two, 17)
                return self._operator_done(p1, p2, one, None, "BUSY")
            self._state(one, "Ringing")
            if number in self.config.noanswer_numbers:
                def no_answer() -> None:
                    rec["outcome"] = "callback_unanswered"
                    self._operator_done(p1, p2, one, two, "NOANSWER")
                self._at(min(timeout, 20.0), no_answer)
                return None

            def citizen_answers() -> None:
                rec["outcome"] = "callback_answered"
                self._state(two, "Up")
                self._state(one, "Up")
                self._event("DialEnd", p1, *one.dest(), ("DialStatus", "ANSWER"))
                self._bridge(one, p1)

                def ended() -> None:
                    self._record(p1.linkedid, self.config.callback_talk_s)
                    self._hangup(two, 16)
                    self._unbridge(one)
                    self._hangup(one, 16)
                    self._unbridge(p1)
                    self._hangup(p1, 16)
                    self._hangup(p2, 16)
                self._at(self.config.callback_talk_s, ended)

            self._at(self.config.callback_ring_s, citizen_answers)
            return None

        self._at(1.0, operator_answers)

    def _trunk_out_dialled(self, p1: _Chan, number: str, variables: list[str]) -> tuple[_Chan, _Chan, bool]:
        one, two = self._local_pair(number, "trunk-out", linkedid=p1.linkedid)
        self._event("DialBegin", p1, *one.dest(), ("DialString", f"{number}@trunk-out"))
        self._newexten(two, "NoOp", f"Outbound trunk call to {number}", 2)
        if len(self.trunk_in_use) >= self.config.lines:
            self._newexten(two, "Congestion", "5", 5)
            self._state(two, "Busy")
            self._hangup(two, 34)
            return one, two, False
        self.trunk_in_use.add(two.uid)
        two.context = "pstn-sim"
        return one, two, True

    def _operator_done(self, p1: _Chan, p2: _Chan, one: _Chan, two: _Chan | None, status: str) -> None:
        self._event("DialEnd", p1, *one.dest(), ("DialStatus", status))
        self._hangup(one, 0)
        self._newexten(p1, "NoOp", f"Callback result {status}", 5)
        self._hangup(p1, 16)
        self._hangup(p2, 16)
        if two is not None:
            self._hangup(two, 0)
