"""A TCP server that plays a recorded Asterisk AMI session to a real client (panoramisk).

The test double for the PBX (STACK.md: never panoramisk.testing). The banner and every
recorded event go out byte for byte, in order, after the client's Login; actions get the
replies Asterisk gives (Ping → Pong, list actions → EventList start … Complete, Originate →
queued + OriginateResponse), with the client's own ActionID. CoreShowChannels lists the
channels that are up at that point of the recording, as a real PBX would.

Options: drop event types, split every multi-byte UTF-8 character across two TCP writes,
drop the connection after N events (the next connection resumes where it stopped), inject
garbage frames, refuse the login, stop answering Pings (a half-open connection).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.ami_capture import parse, records

EOM = b"\r\n\r\n"


def frame(*pairs: tuple[str, str]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode()


@dataclass
class ReplayServer:
    capture: str
    drop_events: Iterable[str] = ()
    split_utf8: bool = False
    drop_after: int | None = None  # close the connection after sending this many events (once)
    garbage_at: dict[int, bytes] = field(default_factory=dict)  # event index → raw bytes sent before it
    bad_secret: bool = False
    answer_pings: bool = True
    originate_response: str | None = None  # raw OriginateResponse body template for our Originates
    batch: int = 200  # events written per drain: "as fast as possible" without one huge write
    extra_events: list[bytes] = field(default_factory=list)  # appended after the recording
    events_per_second: float | None = None  # None: as fast as the client reads
    silent_actions: tuple[str, ...] = ()  # actions (lower case) that never get a reply
    fullybooted_on_login: bool = False

    def __post_init__(self) -> None:
        recs = records(self.capture)
        ins = [r for r in recs if r.dir == "in"]
        self.banner = next((r.raw for r in ins if r.raw.startswith("Asterisk Call Manager")),
                           "Asterisk Call Manager/11.0.0\r\n").encode()
        drop = {f"Event: {name}\r\n" for name in self.drop_events}
        self.events: list[bytes] = [r.raw.encode() for r in ins if r.raw.startswith("Event:")
                                    and not any(r.raw.startswith(d) for d in drop)]
        self.events += self.extra_events
        self.pos = 0
        self.actions: list[dict[str, str]] = []
        self.connections = 0
        self.finished = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._live: dict[str, dict[str, str]] = {}  # channels up at `pos`, for CoreShowChannels

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def __aenter__(self) -> ReplayServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in self._writers:
                w.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    def drop_connections(self) -> None:
        for w in self._writers:
            w.transport.abort()

    # ---- one client connection ---------------------------------------------------------------

    async def _write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        if not self.split_utf8:
            writer.write(data)
            return
        # cut inside every multi-byte character: the client sees its bytes in two reads
        start = 0
        for i, b in enumerate(data):
            if b >= 0xC0 and i + 1 < len(data):  # lead byte of a multi-byte sequence
                writer.write(data[start:i + 1])
                await writer.drain()
                await asyncio.sleep(0.002)  # let the bytes leave as their own TCP segment
                start = i + 1
        writer.write(data[start:])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        logged_in = asyncio.Event()
        self._lock = asyncio.Lock()  # a reply never lands inside a message being written in pieces
        writer.write(self.banner)
        reader_task = asyncio.create_task(self._read_actions(reader, writer, logged_in))
        try:
            await asyncio.wait_for(logged_in.wait(), 10)
            await self._play(writer)
            await reader_task
        except (TimeoutError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            reader_task.cancel()
            writer.close()

    async def _play(self, writer: asyncio.StreamWriter) -> None:
        sent_here = 0
        delay = 1 / self.events_per_second if self.events_per_second else 0.0
        while self.pos < len(self.events):
            if self.drop_after is not None and self.pos >= self.drop_after:
                self.drop_after = None
                await writer.drain()
                while writer.transport.get_write_buffer_size():
                    await asyncio.sleep(0.001)
                writer.transport.abort()  # the client must reconnect; the next connection resumes here
                raise ConnectionError("dropped on purpose")
            i = self.pos
            if i in self.garbage_at:
                writer.write(self.garbage_at.pop(i))
            ev = self.events[i]
            self._track_channels(ev)
            async with self._lock:
                await self._write(writer, ev)
            self.pos += 1
            sent_here += 1
            if delay:
                await writer.drain()
                await asyncio.sleep(delay)
            elif sent_here % self.batch == 0:
                await writer.drain()
                await asyncio.sleep(0)  # let the action reader answer, as a PBX would meanwhile
        await writer.drain()
        self.finished.set()

    def _track_channels(self, raw: bytes) -> None:
        head = raw[:24]
        if head.startswith((b"Event: Newchannel", b"Event: Hangup\r", b"Event: Newstate")):
            m = parse(raw.decode())
            if m["Event"] == "Hangup":
                self._live.pop(m.get("Uniqueid", ""), None)
            else:
                self._live[m.get("Uniqueid", "")] = m

    async def _read_actions(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                            logged_in: asyncio.Event) -> None:
        buf = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            buf += chunk
            while EOM in buf:
                raw, buf = buf.split(EOM, 1)
                a = parse(raw.decode("utf-8", "replace"))
                self.actions.append(a)
                async with self._lock:
                    await self._answer(a, writer, logged_in)
                await writer.drain()

    async def _answer(self, a: dict[str, str], writer: asyncio.StreamWriter, logged_in: asyncio.Event) -> None:
        act, aid = a.get("Action", "").lower(), a.get("ActionID", "")
        if act in self.silent_actions:
            return
        if act == "login":
            if self.bad_secret:
                await asyncio.sleep(0.05)
                writer.write(frame(("Response", "Error"), ("ActionID", aid), ("Message", "Authentication failed")))
                await writer.drain()
                writer.close()
                return
            writer.write(frame(("Response", "Success"), ("ActionID", aid), ("Message", "Authentication accepted")))
            if self.fullybooted_on_login:
                writer.write(frame(("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", "100"),
                                   ("LastReload", "100"), ("Status", "Fully Booted")))
            logged_in.set()
        elif act == "ping":
            if self.answer_pings:
                writer.write(frame(("Response", "Success"), ("ActionID", aid), ("Ping", "Pong"),
                                   ("Timestamp", "1795721429.000000")))
        elif act == "coreshowchannels":
            writer.write(frame(("Response", "Success"), ("ActionID", aid), ("EventList", "start"),
                               ("Message", "Channels will follow")))
            for m in list(self._live.values()):
                writer.write(frame(("Event", "CoreShowChannel"), ("ActionID", aid), ("Channel", m.get("Channel", "")),
                                   ("ChannelStateDesc", m.get("ChannelStateDesc", "")),
                                   ("CallerIDNum", m.get("CallerIDNum", "")), ("Context", m.get("Context", "")),
                                   ("Exten", m.get("Exten", "")), ("Uniqueid", m.get("Uniqueid", "")),
                                   ("Linkedid", m.get("Linkedid", "")), ("Application", ""), ("BridgeId", ""),
                                   ("Duration", "00:00:01")))
            writer.write(frame(("Event", "CoreShowChannelsComplete"), ("ActionID", aid),
                               ("EventList", "Complete"), ("ListItems", str(len(self._live)))))
        elif act == "queuestatus":
            writer.write(frame(("Response", "Success"), ("ActionID", aid), ("EventList", "start"),
                               ("Message", "Queue status will follow")))
            writer.write(frame(("Event", "QueueStatusComplete"), ("ActionID", aid), ("EventList", "Complete"),
                               ("ListItems", "0")))
        elif act == "originate":
            writer.write(frame(("Response", "Success"), ("ActionID", aid), ("Message", "Originate successfully queued")))
            if self.originate_response is not None:
                writer.write(self.originate_response.replace("{aid}", aid).encode())
        elif act == "getvar":
            writer.write(frame(("Response", "Success"), ("ActionID", aid), ("Variable", a.get("Variable", "")),
                               ("Value", "")))
        elif act == "logoff":
            writer.write(frame(("Response", "Goodbye"), ("ActionID", aid), ("Message", "Thanks for all the fish.")))
        elif act == "queuepause":
            msg = "Interface paused successfully" if a.get("Paused") == "true" else "Interface unpaused successfully"
            writer.write(frame(("Response", "Success"), ("ActionID", aid), ("Message", msg)))
        else:
            writer.write(frame(("Response", "Success"), ("ActionID", aid), ("Message", "Queued")))
