"""One contract suite over the recorded Asterisk sessions and the simulator's stream.

Each test runs over every capture in tests/fixtures/ami ("capture:NAME") and over a session
recorded from the PBX simulator over TCP ("simulator"), and asserts the shape the tracker
relies on: banner, Login reply, FullyBooted, field names and their order per event and per
action reply, value formats, the event sequence of each inbound call (Newchannel ;1/;2 with
Linkedid, QueueCallerJoin on the trunk ;2, AgentCalled/AgentConnect/AgentComplete, abandons,
line-limit refusals), OriginateResponse shapes, DialEnd on the operator's ;1 for click-to-call
callbacks, QueuePause/QueueMemberPause, list actions, Redirect and BlindTransfer. Field shapes
are taken from the recordings, so the simulator cannot drift into a shape only our tracker
accepts. `test_the_suite_exercises_every_contract` makes sure no check passes vacuously.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cache

import pytest

from telephony.simulator import PBXSimulator, SimConfig
from telephony.tracker import CallTracker
from tests.ami_capture import CAPTURES, Record, records

CAPTURE_NAMES = sorted(p.stem for p in CAPTURES.glob("*.jsonl"))
SOURCES = [f"capture:{n}" for n in CAPTURE_NAMES] + ["simulator"]
STATES = {"0": "Down", "4": "Ring", "5": "Ringing", "6": "Up", "7": "Busy"}
UID = re.compile(r"^\d{10}\.\d+$")
CHANNEL = re.compile(r"^Local/[^@/;]+@[a-z-]+-[0-9a-f]{8};[12]$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
INTS = ("HoldTime", "TalkTime", "RingTime", "Position", "Count", "OriginalPosition", "Cause", "Priority",
        "ListItems", "Uptime", "LastReload", "Penalty", "CallsTaken", "InCall", "Wait", "Paused")
TRUNK_CONTEXT = "inbound"


@dataclass
class Msg:
    t: float
    dir: str
    raw: str
    keys: tuple[str, ...]
    f: dict[str, str]

    @property
    def event(self) -> str | None:
        return self.f.get("Event")


@dataclass
class Session:
    name: str
    banner: str | None
    msgs: list[Msg]

    @property
    def ins(self) -> list[Msg]:
        return [m for m in self.msgs if m.dir == "in"]

    def events(self, *names: str) -> list[Msg]:
        return [m for m in self.msgs if m.dir == "in" and m.event in names]

    def reply_to(self, action: Msg) -> Msg | None:
        aid = action.f.get("ActionID")
        return next((m for m in self.ins if "Response" in m.f and m.f.get("ActionID") == aid), None)

    def actions(self, name: str) -> list[Msg]:
        return [m for m in self.msgs if m.dir == "out" and m.f.get("Action", "").lower() == name.lower()]


def _msg(r: Record) -> Msg:
    keys, f = [], {}
    for line in r.raw.split("\r\n"):
        k, sep, v = line.partition(": ")
        if sep:
            keys.append(k)
            f.setdefault(k, v)
    return Msg(r.t, r.dir, r.raw, tuple(keys), f)


def _session(name: str, recs: list[Record]) -> Session:
    banner = next((r.raw for r in recs if r.dir == "in" and r.raw.startswith("Asterisk Call Manager")), None)
    return Session(name, banner, [_msg(r) for r in recs if not r.raw.startswith("Asterisk Call Manager")])


# ---- the simulator's session --------------------------------------------------------------------

class Recorder:
    """A raw-TCP AMI client that keeps every byte like the capture client did."""

    def __init__(self) -> None:
        self.recs: list[Record] = []
        self.t0 = time.monotonic()
        self.n = 0

    async def open(self, port: int) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        banner = await self.reader.readline()
        self.recs.append(Record(0.0, "in", banner.decode()))
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        buf = b""
        while chunk := await self.reader.read(65536):
            buf += chunk
            while b"\r\n\r\n" in buf:
                raw, buf = buf.split(b"\r\n\r\n", 1)
                self.recs.append(Record(time.monotonic() - self.t0, "in", raw.decode() + "\r\n\r\n"))

    async def send(self, action: str, **fields: str) -> str:
        self.n += 1
        aid = f"hl-{self.n:05d}"
        raw = f"Action: {action}\r\nActionID: {aid}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
        self.recs.append(Record(time.monotonic() - self.t0, "out", raw))
        self.writer.write(raw.encode())
        await self.writer.drain()
        await asyncio.sleep(0.01)
        return aid


async def _until(cond, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.005)


async def simulator_session() -> tuple[list[Record], PBXSimulator]:
    """Drive the simulator through every flow of the captures, recording the AMI session."""
    sim = PBXSimulator(SimConfig(speed=40, seed=7, abandon_pct=0))
    sim.generating = False
    port = await sim.start("127.0.0.1", 0)
    c = Recorder()
    await c.open(port)
    await c.send("Login", Username="hotline", Secret="hotline-secret")
    await c.send("Ping")
    await c.send("FooBarBaz", Foo="bar")
    ops = [f"Local/{8001 + i}@agents" for i in range(5)]
    for op in ops:  # 02: every operator paused, the caller gives up in the queue
        await c.send("QueuePause", Queue="hotline", Interface=op, Paused="true", Reason="会议 meeting")
    sim.inbound_call("073152310539", patience=12)
    await _until(lambda: sim.stats["abandoned"] == 1)
    for op in ops:
        await c.send("QueuePause", Queue="hotline", Interface=op, Paused="false")
    await c.send("QueuePause", Queue="hotline", Interface="Local/8999@agents", Paused="true")
    # 04a/04b: two answered calls, one redirected, one blind-transferred to 8005
    sim.inbound_call("13607315566", impatient=False)
    sim.inbound_call("13607315577", impatient=False)
    await _until(lambda: len(sim.connected) == 2)
    first, second = sorted(sim.connected.values(), key=lambda x: x.trunk.uid)
    await c.send("Redirect", Channel=first.trunk.name, Context="transfer", Exten="8005", Priority="1")
    assert second.phones is not None
    await c.send("BlindTransfer", Channel=second.phones[0].name, Context="transfer", Exten="8005")
    sim.inbound_call("15873190266", impatient=True)  # 02b: hangs up while the phone rings
    await _until(lambda: sim.idle)
    # 03 + 09: ten calls fill the lines, an eleventh and a callback are refused
    for i in range(10):
        sim.inbound_call(f"1380000{i:04d}", impatient=False)
    await _until(lambda: len(sim.queue) == 5 and len(sim.connected) == 5)
    sim.inbound_call("13548967012", impatient=False)
    await c.send("Originate", Channel="Local/17579061252@trunk-out", Context="operator-callback", Exten="8003",
                 Priority="1", CallerID='"12345" <12345>', Timeout="20000", Async="true",
                 Variable="HOTLINE_TICKET=GD20261126-0009")
    await c.send("CoreShowChannels")
    await c.send("QueueStatus", Queue="hotline")
    await c.send("QueueStatus", Queue="hotline", Member="Local/8003@agents")
    await _until(lambda: sim.idle)
    # 05a: citizen first — answered, no answer, busy; 05b: operator first — answered, no answer
    for number, seat in (("13812345678", "8002"), ("15907311234", "8002"), ("18673125566", "8003")):
        await c.send("Originate", Channel=f"Local/{number}@trunk-out", Context="operator-callback", Exten=seat,
                     Priority="1", CallerID='"12345" <12345>', Timeout="20000", Async="true",
                     Variable="HOTLINE_TICKET=GD20261126-0001")
    for number in ("13812345678", "15907311234"):
        await c.send("Originate", Channel="Local/8002@operator-phone", Context="callback-dial", Exten=number,
                     Priority="1", CallerID='"operator 8002" <8002>', Timeout="20000", Async="true")
    await asyncio.sleep(0.1)
    await _until(lambda: sim.idle)
    await c.send("CoreShowChannels")
    await c.send("Logoff")
    await asyncio.sleep(0.05)
    c.task.cancel()
    c.writer.close()
    await sim.stop()
    return c.recs, sim


_SIM: dict[str, tuple[list[Record], PBXSimulator]] = {}


@pytest.fixture(params=SOURCES)
async def session(request: pytest.FixtureRequest) -> Session:
    src = request.param
    if src == "simulator":
        if "sim" not in _SIM:
            _SIM["sim"] = await simulator_session()
        return _session(src, _SIM["sim"][0])
    return _session(src, records(src.split(":", 1)[1]))


# ---- what the recordings say ----------------------------------------------------------------------

@cache
def recorded() -> dict[str, dict]:  # type: ignore[type-arg]
    shapes: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    privileges: dict[str, set[str]] = defaultdict(set)
    replies: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    messages: dict[str, set[str]] = defaultdict(set)
    causes: dict[str, str] = {}
    for name in CAPTURE_NAMES:
        s = _session(name, records(name))
        for m in s.ins:
            if m.event:
                shapes[m.event].add(m.keys)
                if "Privilege" in m.f:
                    privileges[m.event].add(m.f["Privilege"])
                if "Cause-txt" in m.f:
                    causes[m.f["Cause"]] = m.f["Cause-txt"]
        for a in (m for m in s.msgs if m.dir == "out"):
            r = s.reply_to(a)
            if r is not None:
                act = a.f["Action"].lower()
                replies[act].add(r.keys)
                messages[act].add(r.f.get("Message", ""))
    return {"shapes": shapes, "privileges": privileges, "replies": replies, "messages": messages, "causes": causes}


# ---- the contracts --------------------------------------------------------------------------------

def test_banner_and_login(session: Session) -> None:
    assert session.banner == "Asterisk Call Manager/11.0.0\r\n"
    login = session.actions("Login")[0]
    reply = session.reply_to(login)
    assert reply is not None
    if reply.f["Response"] == "Error":
        assert reply.f["Message"] == "Authentication failed"
        assert not [m for m in session.ins if m.event]
        return
    assert (reply.keys, reply.f["Response"], reply.f["Message"]) == (
        ("Response", "ActionID", "Message"), "Success", "Authentication accepted")
    after = session.ins[session.ins.index(reply) + 1:]
    if login.f.get("Username") == "hotline":  # read=all; 06c's user lacks `system` and sees none
        boot = after[0]
        assert boot.event == "FullyBooted" and boot.f["Status"] == "Fully Booted" and boot.f["Privilege"] == "system,all"
        assert "SuccessfulAuth" in [m.event for m in after[1:4]]


def test_every_event_has_a_recorded_field_list_and_privilege(session: Session) -> None:
    rec = recorded()
    for m in session.ins:
        if not m.event:
            continue
        assert m.event in rec["shapes"], f"{session.name}: {m.event} never seen from Asterisk"
        assert m.keys in rec["shapes"][m.event], f"{session.name}: {m.event} fields {m.keys}"
        if "Privilege" in m.f:
            assert m.f["Privilege"] in rec["privileges"][m.event]


def test_every_action_reply_has_a_recorded_shape_and_message(session: Session) -> None:
    rec = recorded()
    for a in (m for m in session.msgs if m.dir == "out"):
        act = a.f["Action"].lower()
        r = session.reply_to(a)
        if r is None or act not in rec["replies"]:
            continue
        assert r.keys in rec["replies"][act], f"{session.name}: reply to {act}: {r.keys}"
        msg = r.f.get("Message", "")
        assert msg in rec["messages"][act] or msg.startswith("Invalid/unknown command"), (act, msg)


def test_value_formats(session: Session) -> None:
    causes = recorded()["causes"]
    for m in session.ins:
        f = m.f
        failed_origination = m.event == "OriginateResponse" and f.get("Response") == "Failure"
        global_var = m.event == "VarSet" and f.get("Channel") == "none"
        if m.event in ("Cdr", "CEL"):  # records, not channel snapshots: their own formats
            continue
        for k, v in f.items():
            if k.endswith("BridgeUniqueid"):
                assert UUID.match(v), (m.event, k, v)
            elif k.endswith(("Uniqueid", "Linkedid")) and not global_var:
                assert UID.match(v) or (failed_origination and v == "<unknown>"), (m.event, k, v)
            elif k.endswith("Channel") and k != "Channel" or (k == "Channel" and m.event not in ("QueueEntry",)):
                if global_var or (failed_origination and k == "Channel"):
                    continue
                assert CHANNEL.match(v), (m.event, k, v)
            elif k.endswith("ChannelState"):
                assert STATES.get(v) == f[k + "Desc"], (m.event, k, v)
            elif k in INTS:
                assert v.isdigit(), (m.event, k, v)
            elif k == "BridgeUniqueid" or k == "BridgeId" and v:
                assert UUID.match(v), (m.event, k, v)
            elif k == "Cause-txt":
                assert causes.get(f["Cause"]) == v, (f["Cause"], v)
            elif k == "Duration":
                assert re.match(r"^\d\d:\d\d:\d\d$", v)
            elif k.endswith("CallerIDNum"):
                assert v == "<unknown>" or v.isdigit(), (m.event, k, v)
        if m.event == "FullyBooted":
            assert f["Uptime"].isdigit()
        if "Ping" in f:
            assert f["Ping"] == "Pong" and re.match(r"^\d{10}\.\d{6}$", f["Timestamp"])


def inbound_calls(session: Session) -> dict[str, list[Msg]]:
    """Linkedid → its events, for every call whose ;2 starts in the trunk context."""
    calls: dict[str, list[Msg]] = {}
    trunks = {m.f["Linkedid"] for m in session.events("Newchannel")
              if m.f["Context"] == TRUNK_CONTEXT and m.f["Channel"].endswith(";2")}
    for m in session.ins:
        lid = m.f.get("Linkedid") or m.f.get("DestLinkedid")
        if m.event and lid in trunks:
            calls.setdefault(lid, []).append(m)
    return calls


def test_each_inbound_call_has_the_recorded_sequence(session: Session) -> None:
    for lid, evs in inbound_calls(session).items():
        new = [m for m in evs if m.event == "Newchannel" and m.f["Uniqueid"] in (lid,) or
               m.event == "Newchannel" and m.f["Context"] == TRUNK_CONTEXT]
        one, two = new[0], new[1]
        assert one.f["Channel"].endswith(";1") and one.f["Uniqueid"] == lid == one.f["Linkedid"] == two.f["Linkedid"]
        assert two.f["Channel"] == one.f["Channel"][:-1] + "2" and two.f["Context"] == TRUNK_CONTEXT
        trunk = two.f["Uniqueid"]
        joins = [m for m in evs if m.event == "QueueCallerJoin"]
        ended = any(m.event == "Hangup" and m.f["Uniqueid"] == trunk for m in evs)
        if not joins:  # refused by the line limit
            assert any(m.event == "Newstate" and m.f["Uniqueid"] == trunk and m.f["ChannelStateDesc"] == "Busy"
                       for m in evs), lid
            hang = [m for m in evs if m.event == "Hangup" and m.f["Uniqueid"] == trunk]
            assert [h.f["Cause"] for h in hang] == ["17"]
            assert not [m for m in evs if m.event in ("QueueCallerAbandon", "AgentConnect", "AgentCalled")]
            continue
        assert len(joins) == 1 and joins[0].f["Uniqueid"] == trunk and joins[0].f["Channel"] == two.f["Channel"]
        assert joins[0].f["Queue"] == "hotline"
        connect = [m for m in evs if m.event == "AgentConnect"]
        abandon = [m for m in evs if m.event == "QueueCallerAbandon"]
        leaves = [m for m in evs if m.event == "QueueCallerLeave"]
        assert len(connect) + len(abandon) == (1 if ended else len(connect) + len(abandon)) <= 1
        assert len(leaves) == len(connect) + len(abandon)
        for q in (*connect, *abandon, *leaves):
            assert q.f["Uniqueid"] == trunk and evs.index(q) > evs.index(joins[0])
        if abandon:
            queue_events = [m for m in evs if m.event and m.event.startswith("QueueCaller")]
            assert leaves[0] is queue_events[queue_events.index(abandon[0]) + 1]
            assert abandon[0].f["HoldTime"].isdigit() and int(abandon[0].f["OriginalPosition"]) >= 1
            assert not [m for m in evs if m.event == "AgentComplete"]
        for c in connect:
            called = [m for m in evs[:evs.index(c)] if m.event == "AgentCalled"
                      and m.f["Interface"] == c.f["Interface"]]
            assert called and called[-1].f["DestUniqueid"] == c.f["DestUniqueid"]
            assert c.f["MemberName"] == "operator " + re.match(r"Local/(\d+)@agents$", c.f["Interface"])[1]  # type: ignore[index]
            assert int(c.f["RingTime"]) < 1000 and c.f["HoldTime"].isdigit()  # seconds, unlike AgentRingNoAnswer
            # AgentComplete may come without channel fields (10_mini_load, 07a's race): by Interface
            rest = session.ins[session.ins.index(c):]
            complete = [m for m in rest if m.event == "AgentComplete" and m.f["Interface"] == c.f["Interface"]][:1]
            if ended:
                assert complete and complete[0].f.get("Linkedid", lid) == lid
                assert complete[0].f["Reason"] in ("agent", "caller", "transfer")
                assert complete[0].f["Interface"] == c.f["Interface"] and complete[0].f["TalkTime"].isdigit()
        if ended:
            assert [m.f["Cause"] for m in evs if m.event == "Hangup" and m.f["Uniqueid"] == trunk] == ["16"]


def test_originate_responses(session: Session) -> None:
    for a in session.actions("Originate"):
        assert a.f["Async"] == "true"
        reply = session.reply_to(a)
        assert reply is not None and reply.f["Message"] == "Originate successfully queued"
        resp = [m for m in session.events("OriginateResponse") if m.f["ActionID"] == a.f["ActionID"]]
        if not resp:
            continue  # the session ended first (07a)
        (r,) = resp
        assert r.f["Context"] == a.f["Context"] and r.f["Exten"] == a.f["Exten"]
        if r.f["Response"] == "Success":
            assert r.f["Reason"] == "4" and r.f["Channel"].startswith(a.f["Channel"] + "-")
            assert r.f["Channel"].endswith(";1") and UID.match(r.f["Uniqueid"])
            new = [m for m in session.events("Newchannel") if m.f["Uniqueid"] == r.f["Uniqueid"]]
            assert new and new[0].f["Channel"] == r.f["Channel"] and new[0].f["Linkedid"] == r.f["Uniqueid"]
        else:
            assert (r.f["Channel"], r.f["Uniqueid"]) == (a.f["Channel"], "<unknown>")
            assert r.f["Reason"] in ("1", "3", "5", "8")
        if "@operator-phone" in a.f["Channel"] and r.f["Response"] == "Success":
            # click-to-call: the citizen's result is the DialEnd on the operator's ;1 (05b)
            ends = [m for m in session.events("DialEnd") if m.f.get("Channel") == r.f["Channel"]
                    and "@trunk-out" in m.f["DestChannel"]]
            assert len(ends) == 1 and ends[0].f["DialStatus"] in ("ANSWER", "NOANSWER", "BUSY", "CONGESTION")


def test_line_limit_refusals_of_callbacks_are_congestion(session: Session) -> None:
    for r in session.events("OriginateResponse"):
        if r.f["Reason"] == "8":
            number = r.f["Channel"].split("/")[1].split("@")[0]
            chans = [m for m in session.events("Newstate", "Hangup") if m.f["Channel"].startswith(r.f["Channel"] + "-")
                     and m.f["Channel"].endswith(";2") and m.f["Exten"] == number]
            assert [m.f.get("ChannelStateDesc") for m in chans][:1] == ["Busy"]
            assert [m.f["Cause"] for m in chans if m.event == "Hangup"] == ["34"]


def test_queue_pause_replies_and_member_events(session: Session) -> None:
    for a in session.actions("QueuePause"):
        reply = session.reply_to(a)
        if reply is None:
            continue
        if reply.f["Response"] == "Error":
            assert reply.f["Message"] in ("Interface not found", "Permission denied")
            continue
        paused = a.f["Paused"] == "true"
        assert reply.f["Message"] == ("Interface paused successfully" if paused else "Interface unpaused successfully")
        later = session.ins[session.ins.index(reply) - 3:]
        ev = [m for m in later if m.event == "QueueMemberPause" and m.f["Interface"] == a.f["Interface"]
              and m.f["Paused"] == ("1" if paused else "0")]
        assert ev, a.raw
        if paused and a.f.get("Reason"):
            assert ev[0].f["PausedReason"] == a.f["Reason"]  # Chinese text whole


def test_list_actions(session: Session) -> None:
    for name, complete in (("QueueStatus", "QueueStatusComplete"), ("CoreShowChannels", "CoreShowChannelsComplete")):
        for a in session.actions(name):
            reply = session.reply_to(a)
            assert reply is not None
            if reply.f["Response"] == "Error":
                assert reply.f["Message"] == "Permission denied"  # 06c: no `system`/`reporting` class
                continue
            assert reply.f["EventList"] == "start"
            items = [m for m in session.ins if m.event and m.f.get("ActionID") == a.f["ActionID"]]
            assert items[-1].event == complete and items[-1].f["EventList"] == "Complete"
            assert int(items[-1].f["ListItems"]) == len(items) - 1
            for m in items[:-1]:
                if m.event == "CoreShowChannel" and m.f["Context"] == TRUNK_CONTEXT and m.f["Channel"].endswith(";2"):
                    assert m.f["Application"] in ("Queue", "Busy", "NoOp", "Answer", "Wait", "AppQueue")


def test_transfers(session: Session) -> None:
    for a in session.actions("Redirect"):
        assert session.reply_to(a).f["Message"] == "Redirect successful"  # type: ignore[union-attr]
        dials = [m for m in session.events("DialBegin") if m.f.get("Channel") == a.f["Channel"]
                 and m.f["Context"] == a.f["Context"]]
        assert dials and dials[0].f["Exten"] == a.f["Exten"]
        done = [m for m in session.events("AgentComplete") if m.f.get("Linkedid") == dials[0].f["Linkedid"]]
        assert [m.f["Reason"] for m in done] == ["caller"]  # app_queue does not see a Redirect as a transfer
    for a in session.actions("BlindTransfer"):
        assert session.reply_to(a).f["Message"] == "Transfer succeeded"  # type: ignore[union-attr]
        (bt,) = [m for m in session.events("BlindTransfer") if m.f["TransfererChannel"] == a.f["Channel"]]
        assert (bt.f["Result"], bt.f["Extension"], bt.f["Context"]) == ("Success", a.f["Exten"], a.f["Context"])
        assert bt.f["TransfereeContext"] == TRUNK_CONTEXT or bt.f["TransfereeChannel"].endswith(";2")
        done = [m for m in session.events("AgentComplete") if m.f.get("Linkedid") == bt.f["TransfereeLinkedid"]]
        assert [m.f["Reason"] for m in done] == ["transfer"]


# ---- coverage: no contract passes vacuously -------------------------------------------------------

def _kinds(s: Session) -> Counter[str]:
    k: Counter[str] = Counter()
    for evs in inbound_calls(s).values():
        names = {m.event for m in evs}
        if "QueueCallerJoin" not in names:
            k["refused"] += 1
        elif "AgentConnect" in names:
            k["answered"] += 1
        elif "QueueCallerAbandon" in names:
            k["abandoned-ringing" if "AgentCalled" in names else "abandoned-queue"] += 1
    for r in s.events("OriginateResponse"):
        style = "operator-first" if "@operator-phone" in r.f["Channel"] else "other"
        k[f"originate-{style}-{r.f['Response']}-{r.f['Reason']}"] += 1
    for m in s.events("DialEnd"):
        if "@operator-phone" in m.f.get("Channel", "") and "@trunk-out" in m.f["DestChannel"]:
            k[f"operator-first-{m.f['DialStatus']}"] += 1
    for m in s.events("QueueMemberPause"):
        k[f"pause-{m.f['Paused']}"] += 1
    for m in s.events("QueueEntry", "CoreShowChannel", "BlindTransfer", "FullyBooted"):
        k[m.event] += 1  # type: ignore[index]
    k.update(f"action-{a.f['Action']}" for a in s.msgs if a.dir == "out")
    return k


REQUIRED = {"refused", "answered", "abandoned-ringing", "abandoned-queue", "originate-other-Success-4",
            "originate-other-Failure-3", "originate-other-Failure-5", "originate-other-Failure-8",
            "originate-operator-first-Success-4", "operator-first-ANSWER", "operator-first-NOANSWER", "pause-1",
            "pause-0", "QueueEntry", "CoreShowChannel", "BlindTransfer", "FullyBooted", "action-Redirect",
            "action-QueueStatus", "action-CoreShowChannels", "action-Ping"}


async def test_the_suite_exercises_every_contract_on_the_captures_and_on_the_simulator() -> None:
    captured: Counter[str] = Counter()
    for n in CAPTURE_NAMES:
        captured += _kinds(_session(n, records(n)))
    assert REQUIRED <= set(captured), REQUIRED - set(captured)
    if "sim" not in _SIM:
        _SIM["sim"] = await simulator_session()
    simulated = _kinds(_session("simulator", _SIM["sim"][0]))
    assert REQUIRED <= set(simulated), REQUIRED - set(simulated)


async def test_the_tracker_reads_the_simulators_calls_as_the_simulator_placed_them() -> None:
    if "sim" not in _SIM:
        _SIM["sim"] = await simulator_session()
    recs, sim = _SIM["sim"]
    tracker = CallTracker()
    finals = {}
    for r in recs:
        if r.dir == "in" and r.raw.startswith("Event:"):
            for u in tracker.feed(_msg(r).f, 1_795_721_400 + r.t):
                if u.fact.is_final:
                    finals[u.fact.linkedid] = u.fact
    # originate failures before any channel have no Linkedid on the PBX: compare by outcome counts
    assert Counter(f.outcome for f in finals.values()) == Counter(r["outcome"] for r in sim.record.values())
    for lid, r in sim.record.items():
        if lid in finals:
            assert finals[lid].outcome == r["outcome"], (lid, r)
            if r.get("transferred_to"):
                assert finals[lid].transferred_to == r["transferred_to"]
